"""The registry as the engine sees it, and screening a declaration from the command line."""

from __future__ import annotations

import io
from datetime import date, timedelta

from PIL import Image, ImageDraw, ImageFilter

from registry.services import rights
from registry.services.snapshot import registry_references, right_id_of


def test_references_carry_marks_images_codes_suppliers_and_validity(session, world, blobs):
    references, image_ids = registry_references(session, blobs)
    by_name = {r.name: r for r in references}
    alpha = by_name["ALPHA"]
    assert right_id_of(alpha.brand_id) == world.a.right.id
    assert alpha.gtins == ("4006381333931",) and alpha.hs_codes == ("640411",)
    assert alpha.price_range.min == 50 and alpha.price_range.max == 90 and alpha.price_range.currency == "EUR"
    assert [(s.name, s.country) for s in alpha.authorized_suppliers] == [("ALPHA Factory Co., Ltd.", "VN")]
    assert alpha.production_countries == ("VN",) and alpha.protected
    assert image_ids[alpha.brand_id] == [world.a.image.id]
    assert open(alpha.images[0], "rb").read() == blobs.get(world.a.image.sha256)
    # Each brand carries only its own holder's supply chain.
    assert all("ALPHA" not in s.name for s in by_name["BETA"].authorized_suppliers)


def test_protection_outside_its_dates_is_not_protected(session, world, blobs):
    today = date.today()
    rights.register_right(session, world.a.holder, world.a.organisation.id, {
        "kind": "word", "mark_text": "LATER", "registration_number": "L-1", "office": "EUIPO",
        "nice_classes": "25", "protection_number": "AFA-L", "protection_jurisdictions": "EU",
        "protection_valid_from": today + timedelta(days=30), "protection_valid_until": today + timedelta(days=300)})
    references, _ = registry_references(session, blobs)
    assert not {r.name: r for r in references}["LATER"].protected
    references, _ = registry_references(session, blobs, today=today + timedelta(days=31))
    assert {r.name: r for r in references}["LATER"].protected


def test_screen_command_explains_a_lookalike_declaration(app, session):
    runner = app.test_cli_runner()
    assert runner.invoke(args=["demo", "seed"]).exit_code == 0
    result = runner.invoke(args=["screen", "--brand", "Ve1orun", "--supplier", "Velorun Shoes Trading Co",
                                 "--origin", "China", "--price", "12", "--currency", "EUR"])
    assert result.exit_code == 0, result.output
    first = result.output.splitlines()[0]
    assert first.startswith("VELORUN: DETAIN")
    assert "look-alike of the word mark 'VELORUN'" in result.output
    assert "not among the" in result.output and "below the genuine range" in result.output
    genuine = runner.invoke(args=["screen", "--brand", "Velorun", "--supplier", "Velorun Manufacturing Co., Ltd.",
                                  "--origin", "CN", "--price", "120", "--currency", "EUR"])
    assert genuine.output.splitlines()[0].startswith("VELORUN: RELEASE"), genuine.output


def test_screen_command_finds_the_packaging_in_a_photo(app, session, blobs, tmp_path):
    from sqlalchemy import select

    from registry.models import ReferenceImage

    runner = app.test_cli_runner()
    runner.invoke(args=["demo", "seed"])
    box = session.scalar(select(ReferenceImage).where(ReferenceImage.original_filename == "kobalt-kb-pro2-box.png"))
    packaging = Image.open(io.BytesIO(blobs.get(box.sha256))).convert("RGB")
    photo = Image.new("RGB", (1600, 1200), "#8a7f70")
    draw = ImageDraw.Draw(photo)
    for i in range(40):  # clutter around the goods
        draw.rectangle((37 * i % 1500, 53 * i % 1100, 37 * i % 1500 + 90, 53 * i % 1100 + 60),
                       fill=((i * 40) % 256, (i * 90) % 256, (i * 150) % 256))
    photo.paste(packaging.rotate(17, expand=True, fillcolor="#8a7f70").resize((520, 640)), (500, 300))
    path = tmp_path / "suspect.jpg"
    photo.filter(ImageFilter.GaussianBlur(1.2)).save(path, quality=80)
    result = runner.invoke(args=["screen", "--photo", str(path)])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[0].startswith("KOBALT:")
    assert "geometrically consistent feature matches" in result.output
