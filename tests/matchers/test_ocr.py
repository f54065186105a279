"""Printed text read from photos with Tesseract, where it is installed."""

from __future__ import annotations

import pytest
from PIL import Image, ImageDraw, ImageFont

from matchers.ocr import ocr_available, read_text
from matchers.photos import decode

needs_tesseract = pytest.mark.skipif(
    not ocr_available(),
    reason="tesseract is not installed (Debian package tesseract-ocr)",
)


def _label(text: str, size=(900, 300)) -> Image.Image:
    img = Image.new("RGB", size, (250, 250, 245))
    draw = ImageDraw.Draw(img)
    try:
        font = ImageFont.truetype(
            "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf", 72
        )
    except OSError:
        font = ImageFont.load_default(size=72)
    draw.text((40, 100), text, font=font, fill=(20, 20, 20))
    return img


def test_ocr_available_is_a_bool():
    assert isinstance(ocr_available(), bool)


def test_without_tesseract_read_text_is_none(monkeypatch):
    from matchers import ocr

    monkeypatch.setattr(ocr, "ocr_available", lambda: False)
    assert ocr.read_text(decode(_label("ACME"))) is None


@needs_tesseract
def test_reads_a_label():
    text = read_text(decode(_label("GRADROUSTAX 50 ml")))
    assert text is not None
    assert "GRADROUSTAX" in text.upper().replace(" ", "")


@needs_tesseract
def test_blank_photo_gives_empty_text():
    assert read_text(decode(Image.new("RGB", (400, 300), "white"))) == ""


@needs_tesseract
def test_timeout_gives_none_not_an_error():
    assert read_text(decode(_label("SLOW")), timeout=0.0001) is None
