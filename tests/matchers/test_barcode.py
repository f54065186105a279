"""GTINs read from barcodes in photos, normalised to 14 digits."""

from __future__ import annotations

import random

import numpy as np
import pytest
from PIL import Image

from bench.cases import ean13_image, make_photo
from matchers.barcode import gtin_check_digit_ok, read_gtins, to_gtin14
from matchers.photos import decode


def _on_canvas(img: Image.Image, size=(800, 600), at=(200, 200)) -> Image.Image:
    canvas = Image.new("RGB", size, (235, 230, 220))
    canvas.paste(img, at)
    return canvas


def test_check_digit_and_normalisation():
    assert gtin_check_digit_ok("4006381333931")
    assert not gtin_check_digit_ok("4006381333932")
    assert not gtin_check_digit_ok("12ab")
    assert to_gtin14("4006381333931") == "04006381333931"
    assert to_gtin14("96385074") == "00000096385074"  # EAN-8
    assert to_gtin14("036000291452") == "00036000291452"  # UPC-A
    assert to_gtin14("01234565", "UPCE") == "00012345000065"  # UPC-E expanded
    assert to_gtin14("4006381333932") is None
    assert to_gtin14("123") is None


def test_reads_ean13_drawn_by_the_case_generator():
    photo = decode(_on_canvas(ean13_image("4006381333931")))
    assert read_gtins(photo) == ["04006381333931"]


def test_reads_other_retail_symbologies():
    zxingcpp = pytest.importorskip("zxingcpp")
    cases = [
        (zxingcpp.BarcodeFormat.EAN8, "96385074", "00000096385074"),
        (zxingcpp.BarcodeFormat.UPCA, "036000291452", "00036000291452"),
        (zxingcpp.BarcodeFormat.UPCE, "01234565", "00012345000065"),
        (zxingcpp.BarcodeFormat.ITF, "10012345000017", "10012345000017"),
    ]
    for fmt, text, want in cases:
        sym = zxingcpp.create_barcode(text, fmt)
        img = Image.fromarray(np.asarray(sym.to_image(scale=3))).convert("RGB")
        assert read_gtins(decode(_on_canvas(img))) == [want], fmt


def test_two_codes_in_order_without_duplicates():
    canvas = Image.new("RGB", (900, 400), "white")
    canvas.paste(ean13_image("4006381333931"), (20, 20))
    canvas.paste(ean13_image("5901234123457"), (480, 200))
    canvas.paste(ean13_image("4006381333931"), (20, 250))
    got = read_gtins(decode(canvas))
    assert sorted(got) == ["04006381333931", "05901234123457"]


def test_reads_barcode_on_a_photographed_box():
    rng = random.Random(4)
    box = Image.new("RGB", (400, 300), (250, 250, 240))
    box.paste(ean13_image("5901234123457", module=2), (40, 120))
    data, _, _ = make_photo(box, rng, size=(1000, 750), hard=False)
    assert read_gtins(decode(data)) == ["05901234123457"]


def test_no_barcode_and_junk_never_raise():
    assert read_gtins(decode(Image.new("RGB", (300, 200), (30, 30, 30)))) == []
    noise = np.random.default_rng(0).integers(0, 255, (400, 600, 3), dtype=np.uint8)
    assert read_gtins(decode(Image.fromarray(noise))) == []
