"""Safe decoding of photos: hostile files must be refused with a clear message, never crash."""

from __future__ import annotations

import io
import struct
import time
import zlib

import pytest
from PIL import Image

from matchers.errors import ScreeningError
from matchers.photos import DecodedPhoto, decode, decode_all


def _jpeg(size=(640, 480), colour=(200, 30, 30), **save) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, colour).save(buf, "JPEG", **save)
    return buf.getvalue()


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return (
        struct.pack(">I", len(data))
        + kind
        + data
        + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    )


def _png_bomb(width: int, height: int) -> bytes:
    """A valid PNG of width x height grey pixels, a few kilobytes on disk."""
    comp = zlib.compressobj(9)
    row = b"\x00" + b"\x00" * width  # filter byte + one byte per pixel
    body = b"".join(comp.compress(row) for _ in range(min(height, 64)))
    body += comp.flush()  # truncated stream: the header is what matters
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", ihdr)
        + _png_chunk(b"IDAT", body)
        + _png_chunk(b"IEND", b"")
    )


def test_decodes_jpeg_png_webp_and_pil():
    for fmt in ("JPEG", "PNG", "WEBP"):
        buf = io.BytesIO()
        Image.new("RGB", (120, 80), (1, 2, 3)).save(buf, fmt)
        photo = decode(buf.getvalue())
        assert isinstance(photo, DecodedPhoto)
        assert photo.format == fmt
        assert photo.image.mode == "RGB"
        assert photo.original_size == (120, 80)
    pil = Image.new("RGBA", (50, 40), (0, 0, 0, 0))
    photo = decode(pil)
    assert photo.image.mode == "RGB" and photo.original_size == (50, 40)
    assert photo.image is not pil


def test_path_source(tmp_path):
    p = tmp_path / "photo.jpg"
    p.write_bytes(_jpeg())
    assert decode(str(p)).original_size == (640, 480)
    assert decode(p).original_size == (640, 480)
    with pytest.raises(ScreeningError, match="cannot read"):
        decode(tmp_path / "missing.jpg")


@pytest.mark.parametrize(
    "data, message",
    [
        (b"", "empty"),
        (b"<!DOCTYPE html><html><body>login</body></html>", "HTML"),
        (b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"></svg>', "SVG"),
        (b"<svg width='10' height='10'></svg>", "SVG"),
        (b"%PDF-1.7\n...", "PDF"),
        (b"GIF89a\x01\x00\x01\x00\x00\x00\x00;", "GIF"),
        (b"just some text, not a picture", "not an image"),
    ],
)
def test_refuses_non_images(data, message):
    with pytest.raises(ScreeningError, match=message):
        decode(data)


def test_refuses_truncated_jpeg():
    data = _jpeg((800, 600), quality=95)
    with pytest.raises(ScreeningError, match="truncated|damaged"):
        decode(data[: len(data) // 2])


def test_refuses_tiff_even_though_pillow_reads_it():
    buf = io.BytesIO()
    Image.new("RGB", (10, 10)).save(buf, "TIFF")
    with pytest.raises(ScreeningError, match="TIFF"):
        decode(buf.getvalue())


def test_decompression_bomb_is_an_error_not_a_warning():
    bomb = _png_bomb(50_000, 50_000)
    assert len(bomb) < 100_000
    start = time.perf_counter()
    with pytest.raises(ScreeningError, match="too large"):
        decode(bomb)
    assert time.perf_counter() - start < 1.0  # refused from the header, nothing decoded


def test_pixel_limit_below_pillows_own():
    # 9,000 x 8,000 = 72 Mpx: under Pillow's default limit, over ours.
    with pytest.raises(ScreeningError, match="72,000,000 pixels"):
        decode(_png_bomb(9_000, 8_000))
    with pytest.raises(ScreeningError, match="too large"):
        decode(Image.new("L", (3000, 3000)), max_pixels=1_000_000)


def test_byte_limit(tmp_path):
    data = _jpeg()
    with pytest.raises(ScreeningError, match="file too large"):
        decode(data, max_bytes=len(data) - 1)
    p = tmp_path / "big.jpg"
    p.write_bytes(data)
    with pytest.raises(ScreeningError, match="file too large"):
        decode(p, max_bytes=100)


def test_very_wide_image_is_reduced_and_keeps_original_size():
    buf = io.BytesIO()
    Image.new("RGB", (20_000, 300), (10, 200, 10)).save(buf, "JPEG", quality=70)
    photo = decode(buf.getvalue())
    assert photo.original_size == (20_000, 300)
    assert max(photo.size) <= 1500
    sx, sy = photo.scale
    assert photo.to_original([(photo.size[0], photo.size[1])])[0] == pytest.approx(
        (20_000, 300)
    )
    assert sx > 10 and sy > 10


def test_big_jpeg_uses_draft_and_is_fast():
    import numpy as np

    rng = np.random.default_rng(0)
    img = Image.fromarray(rng.integers(0, 255, (300, 400, 3), dtype=np.uint8)).resize(
        (4000, 3000)
    )
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=85)
    data = buf.getvalue()
    decode(data)  # warm up
    start = time.perf_counter()
    photo = decode(data)
    elapsed = time.perf_counter() - start
    assert photo.size == (1000, 750)
    assert photo.original_size == (4000, 3000)
    assert (
        elapsed < 0.5
    )  # a full decode takes ~3x longer than the draft on this machine


def test_exif_orientation_applied_and_original_size_swapped():
    img = Image.new("RGB", (400, 200), (255, 255, 255))
    img.paste((255, 0, 0), (0, 0, 100, 200))  # red stripe on the left
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to display
    buf = io.BytesIO()
    img.save(buf, "JPEG", exif=exif.tobytes(), quality=95)
    photo = decode(buf.getvalue())
    assert photo.original_size == (200, 400)
    assert photo.size == (200, 400)
    r, g, _b = photo.image.getpixel((100, 20))  # red stripe is now at the top
    assert r > 200 and g < 60


def test_decode_all_never_raises_and_numbers_photos():
    good = _jpeg()
    photos, notes = decode_all(
        [good, b"<html>oops</html>", b"", _png_bomb(50_000, 50_000), 42]
    )  # type: ignore[list-item]
    assert photos[0] is not None
    assert photos[1:] == [None, None, None, None]
    assert notes[0] == "photo 2: not an image (HTML file?)"
    assert notes[1].startswith("photo 3: empty")
    assert notes[2].startswith("photo 4: image too large")
    assert notes[3].startswith("photo 5: unsupported image source")


# Property: whatever bytes arrive, decode() either returns an RGB photo or raises the one
# documented error type; it never crashes with anything else.
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

_VALID = _jpeg((64, 48), quality=80)
_VALID_PNG = io.BytesIO()
Image.new("RGB", (64, 48), (5, 6, 7)).save(_VALID_PNG, "PNG")


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    base=st.sampled_from([_VALID, _VALID_PNG.getvalue()]),
    edits=st.lists(st.tuples(st.integers(0, 10_000), st.integers(0, 255)), max_size=8),
    cut=st.integers(0, 10_000),
)
def test_corrupted_files_raise_screening_error_only(base, edits, cut):
    data = bytearray(base)
    for pos, value in edits:
        data[pos % len(data)] = value
    data = (
        bytes(data[: max(0, len(data) - cut % len(data))])
        if cut % 3 == 0
        else bytes(data)
    )
    try:
        photo = decode(data)
    except ScreeningError:
        return
    assert photo.image.mode == "RGB" and photo.image.size[0] > 0


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=2048))
def test_random_bytes_raise_screening_error_only(data):
    try:
        decode(data)
    except ScreeningError:
        pass
