"""Full-size views are made once and kept: the next look reads the kept copy; a damaged copy is
made again; ``flask blobs clean`` drops copies of images no longer stored and copies unused."""

from __future__ import annotations

import io
import os
import time

from PIL import Image

from registry.storage import DisplayCopies
from registry.web import images
from tests.registry.conftest import png_bytes


def test_the_second_look_reads_the_kept_copy_and_a_damaged_one_is_made_again(app, world, signed_in, monkeypatch):
    officer = signed_in(world.officer)
    url = f"/images/{world.a.image.id}"
    first = officer.get(url)
    assert first.status_code == 200
    copies: DisplayCopies = app.extensions["display_copies"]
    kept = copies.path_for(world.a.image.sha256, images.FULL_SIZE)
    assert kept.read_bytes() == first.get_data()
    assert not str(kept).startswith(str(app.extensions["blobs"].root) + os.sep)  # not in the evidence store

    made = []
    real = images.make_display_copy
    monkeypatch.setattr(images, "make_display_copy", lambda *a, **k: made.append(1) or real(*a, **k))
    again = officer.get(url)
    assert (again.status_code, again.get_data(), again.mimetype, made) == (200, first.get_data(), first.mimetype, [])
    assert "no-store" in again.headers["Cache-Control"]

    kept.write_bytes(first.get_data()[:100])  # cut short, as by a full disk
    mended = officer.get(url)
    assert made == [1] and mended.get_data() == first.get_data()
    assert Image.open(io.BytesIO(kept.read_bytes())).size == Image.open(io.BytesIO(first.get_data())).size
    # Another holder still finds no such image: the copy is reached only through the image's rules.
    assert signed_in(world.b.holder).get(url).status_code == 404


def test_copies_are_named_by_source_size_and_version(tmp_path):
    copies = DisplayCopies(tmp_path)
    sha = "ab" * 32
    assert copies.path_for(sha, 2048) != copies.path_for(sha, 1024)
    assert copies.path_for(sha, 2048).name == f"{sha}-2048-v{DisplayCopies.VERSION}"
    for bad in ("../" + sha[3:], sha.upper(), ""):
        try:
            copies.path_for(bad, 2048)
        except ValueError:
            continue
        raise AssertionError(f"{bad!r} became a path")


def test_clean_drops_copies_of_images_gone_and_copies_unused(app, blobs, tmp_path):
    copies: DisplayCopies = app.extensions["display_copies"]
    jpeg = io.BytesIO()
    Image.new("RGB", (8, 8)).save(jpeg, format="JPEG")
    kept_source, gone_source, idle_source = (blobs.put(png_bytes(colour=(c, 0, 0))) for c in (1, 2, 3))
    for sha in (kept_source, gone_source, idle_source):
        copies.get_or_make(sha, 2048, lambda: (jpeg.getvalue(), "image/jpeg"))
    blobs.path_for(gone_source).unlink()
    idle = copies.path_for(idle_source, 2048)
    then = time.time() - 31 * 86400
    os.utime(idle, (then, then))
    crashed = copies.path_for(kept_source, 2048).parent / ".tmp-crashed"
    crashed.write_bytes(b"half")
    os.utime(crashed, (then, then))

    result = app.test_cli_runner().invoke(args=["blobs", "clean"])
    assert result.exit_code == 0, result.output
    assert "Removed 3 display copies" in result.output
    assert copies.path_for(kept_source, 2048).exists()
    assert not copies.path_for(gone_source, 2048).exists() and not idle.exists() and not crashed.exists()
