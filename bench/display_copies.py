"""A full-size photo view: made from the original on the first look, read back afterwards.

    .venv/bin/python -m bench.display_copies                 # a 12-megapixel photo, 30 looks
    .venv/bin/python -m bench.display_copies --megapixels 24 --looks 50

A check with one photo of ``--megapixels`` (a generated scene, JPEG quality 92) is screened
through the app; the officer then opens its full-size view (``/images/checks/<id>/photos/<id>``)
``--looks`` times through Flask's test client, in this process. Printed: the first look (the
copy is made: the original decoded, shrunk to 2048 pixels a side, encoded as JPEG), the median
of the later looks (the kept copy read back), and as the baseline in the same run, the making
alone (``make_display_copy`` on the original), which is what every look cost before copies
were kept.
"""

from __future__ import annotations

import argparse
import io
import random
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

from PIL import Image, ImageDraw

from bench.appsetup import fresh_app
from bench.page_cost import signed_in_client


def photo(megapixels: float, seed: int) -> bytes:
    rng = random.Random(seed)
    width = int((megapixels * 1e6 * 4 / 3) ** 0.5)
    height = int(width * 3 / 4)
    image = Image.new("RGB", (width, height), (rng.randrange(256), rng.randrange(256), rng.randrange(256)))
    draw = ImageDraw.Draw(image)
    for _ in range(400):  # boxes and labels: detail for the encoder, as a photo of a crate has
        x, y = rng.randrange(width), rng.randrange(height)
        draw.rectangle((x, y, x + rng.randrange(20, 600), y + rng.randrange(20, 400)),
                       fill=(rng.randrange(256), rng.randrange(256), rng.randrange(256)))
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=92)
    return out.getvalue()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--megapixels", type=float, default=12)
    ap.add_argument("--looks", type=int, default=30)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)

    work = Path(tempfile.mkdtemp(prefix="display-bench-"))
    try:
        app, _ = fresh_app(work, "", "")
        data = photo(args.megapixels, args.seed)
        from registry.extensions import db
        from registry.models import Check, User
        from registry.services.checks import screen_declaration
        from registry.services.uploads import make_display_copy
        from registry.web.common import upload_policy
        from registry.web.images import FULL_SIZE

        with app.app_context():
            officer = db.session.query(User).one()
            check = screen_declaration(db.session, officer, app.extensions["blobs"], app.extensions["engine"],
                                       upload_policy(), {"declared_brand": "Acme", "description": "crate"},
                                       [(data, "crate.jpg")])
            db.session.commit()
            check = db.session.get(Check, check.id)
            url = f"/images/checks/{check.id}/photos/{check.photos[0].id}"
            original = app.extensions["blobs"].get(check.photos[0].sha256)
        client = signed_in_client(app)

        def look() -> float:
            started = time.perf_counter()
            response = client.get(url)
            assert response.status_code == 200, response.status_code
            return time.perf_counter() - started

        first = look()
        later = [look() for _ in range(args.looks)]
        made = []
        for _ in range(5):
            started = time.perf_counter()
            make_display_copy(original, size=FULL_SIZE)
            made.append(time.perf_counter() - started)
        baseline = statistics.median(made)
        print(f"photo: {args.megapixels:g} megapixels, {len(original) / 1e6:.1f} MB; full size {FULL_SIZE} px a side")
        print(f"first look (copy made): {first * 1e3:.0f} ms; later looks (kept copy): median "
              f"{statistics.median(later) * 1e3:.1f} ms over {len(later)}")
        print(f"baseline, making the copy on every look: {baseline * 1e3:.0f} ms; a later look is "
              f"{baseline / statistics.median(later):.0f}x faster")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
