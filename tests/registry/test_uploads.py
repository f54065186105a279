"""Hostile and broken image uploads: each refused with a reason, nothing stored."""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import pytest
from PIL import Image
from sqlalchemy import func, select

from registry.models import ReferenceImage
from registry.services import products
from registry.services.errors import ValidationError
from registry.services.uploads import inspect_image, make_thumbnail
from tests.registry.conftest import png_bytes

LIMITS = {"max_bytes": 5 * 1024 * 1024, "max_pixels": 50_000_000}


def png_header_only(width: int, height: int) -> bytes:
    """A PNG that claims huge dimensions; its few bytes of data would expand enormously."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    # A compressed stream of zeros: a real decompression bomb, a few KB on disk.
    idat = zlib.compress(b"\x00" * (2 * 1024 * 1024), 9)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def jpeg_bytes(**kwargs) -> bytes:
    return png_bytes(fmt="JPEG", **kwargs)


HOSTILE = {
    "empty": (b"", "is empty"),
    "html named jpg": (b"<html><script>alert(1)</script></html>", "not a photo"),
    "svg with script": (b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>', "SVG"),
    "svg without prolog": (b'<svg onload="alert(1)"></svg>', "SVG"),
    "truncated jpeg": (jpeg_bytes(size=(400, 300))[:300], "damaged or truncated"),
    "truncated png": (png_bytes(size=(400, 300))[:60], "damaged or truncated"),
    "gif": (b"GIF89a\x01\x00\x01\x00\x00\x00\x00;", "not a JPEG, PNG or WebP"),
    "random bytes": (bytes(range(256)) * 10, "not a JPEG, PNG or WebP"),
    "50000x50000 png bomb": (png_header_only(50_000, 50_000), "decompression bomb"),
    "pdf": (b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF", "not a JPEG, PNG or WebP"),
}


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_file_is_refused_with_a_reason(name):
    data, message = HOSTILE[name]
    with pytest.raises(ValidationError) as error:
        inspect_image(data, **LIMITS)
    assert message in str(error.value)


def test_byte_limit():
    with pytest.raises(ValidationError, match="larger than the limit of 1 MB"):
        inspect_image(b"\xff\xd8" + b"\x00" * 2_000_000, max_bytes=1_000_000, max_pixels=10**8)


def test_pixel_limit_below_pillows_own():
    data = png_bytes(size=(3000, 3000))
    with pytest.raises(ValidationError, match="3000×3000"):
        inspect_image(data, max_bytes=10**8, max_pixels=8_000_000)


def test_decompression_bomb_warning_range_is_an_error(monkeypatch):
    # Pillow only warns between its limit and twice it; here that warning must be an error.
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100_000)
    data = png_bytes(size=(400, 300))  # 120,000 px: in the warning range
    with pytest.raises(ValidationError, match="decompression bomb"):
        inspect_image(data, max_bytes=10**8, max_pixels=10**9)


def test_polyglot_is_accepted_as_image_but_only_reencoded_copy_is_served():
    polyglot = jpeg_bytes(size=(64, 64)) + b"<script>alert(document.cookie)</script>"
    info = inspect_image(polyglot, **LIMITS)
    assert info.content_type == "image/jpeg"
    thumb = make_thumbnail(polyglot, size=32)
    assert b"<script>" not in thumb
    assert Image.open(io.BytesIO(thumb)).format == "PNG"


def test_thumbnail_drops_exif_and_gps():
    exif = Image.Exif()
    exif[0x010F] = "CameraMaker"
    exif.get_ifd(0x8825)[2] = (52.0, 31.0, 0.0)  # GPS latitude
    data = png_bytes(size=(200, 100), fmt="JPEG", exif=exif.tobytes())
    assert b"CameraMaker" in data
    thumb = make_thumbnail(data, size=50)
    assert b"CameraMaker" not in thumb
    assert not Image.open(io.BytesIO(thumb)).getexif()


def test_accepted_formats(tmp_path):
    for fmt, content_type in (("PNG", "image/png"), ("JPEG", "image/jpeg"), ("WEBP", "image/webp")):
        info = inspect_image(png_bytes(fmt=fmt), **LIMITS)
        assert (info.format, info.content_type, info.width, info.height) == (fmt, content_type, 120, 80)


# -- through the service and the page ------------------------------------------------------

def test_original_stored_byte_exact_under_its_hash(session, world, blobs):
    data = jpeg_bytes(size=(300, 200), colour=(10, 200, 10))
    image, new = products.add_reference_image(session, world.a.holder, blobs, products.UploadPolicy(),
                                              kind="label", data=data, filename="../../etc/passwd.jpg",
                                              product_id=world.a.product.id)
    session.commit()
    assert new and blobs.get(image.sha256) == data and blobs.verify(image.sha256)
    assert image.original_filename == "passwd.jpg"
    path = blobs.path_for(image.sha256)
    assert path.is_relative_to(Path(blobs.root)) and path.name == image.sha256
    again, new = products.add_reference_image(session, world.a.holder, blobs, products.UploadPolicy(),
                                              kind="label", data=data, filename="x.jpg",
                                              product_id=world.a.product.id)
    assert not new and again.id == image.id


def test_upload_page_refuses_hostile_files_and_stores_nothing(signed_in, session, world, blobs):
    client = signed_in(world.a.holder)
    before = session.scalar(select(func.count(ReferenceImage.id)))
    blob_files = sorted(p.name for p in Path(blobs.root).rglob("*") if p.is_file())
    for name in ("html named jpg", "svg with script", "50000x50000 png bomb", "truncated jpeg", "empty"):
        data, message = HOSTILE[name]
        response = client.post(f"/dossier/products/{world.a.product.id}/images",
                               {"kind": "packaging", "image": (io.BytesIO(data), "photo.jpg", "image/jpeg")},
                               content_type="multipart/form-data")
        assert response.status_code == 400, name
        assert message in response.get_data(as_text=True) or name == "empty"
    assert session.scalar(select(func.count(ReferenceImage.id))) == before
    assert sorted(p.name for p in Path(blobs.root).rglob("*") if p.is_file()) == blob_files


def test_upload_page_stores_a_good_image_and_shows_its_thumbnail(signed_in, session, world):
    client = signed_in(world.a.holder)
    response = client.post(f"/dossier/products/{world.a.product.id}/images",
                           {"kind": "label", "image": (io.BytesIO(png_bytes(size=(640, 480))), "label.png")},
                           content_type="multipart/form-data")
    assert response.status_code == 302
    page = client.get(f"/dossier/products/{world.a.product.id}").get_data(as_text=True)
    assert "label.png" in page and "640×480 px" in page


def test_a_page_reads_an_upload_only_one_byte_past_the_limit(app, signed_in, world, session):
    # A 120 MB "photo" is refused as too large after reading the limit and one byte, not held
    # whole in a worker's memory first.
    from werkzeug.datastructures import FileStorage

    from registry.web.common import image_bytes

    limit = app.config["MAX_IMAGE_BYTES"]
    stream = io.BytesIO(b"\xff\xd8" + bytes(limit * 4))
    with app.test_request_context():
        data = image_bytes(FileStorage(stream=stream, filename="big.jpg"))
    assert len(data) == limit + 1 and stream.tell() == limit + 1
    with pytest.raises(ValidationError, match=f"larger than the limit of {limit / 1e6:.0f} MB"):
        inspect_image(data, max_bytes=limit, max_pixels=10**8)

    officer = signed_in(world.officer)
    page = officer.post("/checks/new", {"declared_brand": "ALPHA", "description": "shoes",
                                        "photos": [(io.BytesIO(b"\xff\xd8" + bytes(limit + 10)), "big.jpg")]},
                        content_type="multipart/form-data")
    assert page.status_code == 400 and "larger than the limit" in page.get_data(as_text=True)


def test_a_display_copy_is_a_jpeg_for_a_photo_and_keeps_a_logos_transparency():
    from registry.services.uploads import inspect_image, make_display_copy

    exif = Image.Exif()
    exif[0x8825] = {2: (52.0, 31.0, 12.0)}  # GPS latitude
    photo = io.BytesIO()
    Image.new("RGB", (3000, 1500), (30, 120, 200)).save(photo, "JPEG", exif=exif.tobytes())
    inspect_image(photo.getvalue(), max_bytes=25_000_000, max_pixels=50_000_000)
    data, content_type = make_display_copy(photo.getvalue(), size=2048)
    shown = Image.open(io.BytesIO(data))
    assert (content_type, shown.format, shown.size) == ("image/jpeg", "JPEG", (2048, 1024))
    assert not shown.getexif()

    logo = io.BytesIO()
    Image.new("RGBA", (400, 200), (200, 0, 0, 0)).save(logo, "PNG")  # fully transparent
    data, content_type = make_display_copy(logo.getvalue(), size=2048)
    shown = Image.open(io.BytesIO(data))
    assert (content_type, shown.format, shown.size) == ("image/png", "PNG", (400, 200))
    assert shown.convert("RGBA").getpixel((10, 10))[3] == 0  # still transparent, not black
