"""The image index on generated photos: accuracy, false matches, geometry, determinism."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from bench.cases import make_case_set
from matchers.image import ImageHit, ImageIndex
from matchers.photos import decode, decode_all


@pytest.fixture(scope="module")
def small_set():
    return make_case_set(12, seed=3, cases_per_kind=6, kinds=("photo_only", "unregistered"))


@pytest.fixture(scope="module")
def small_index(small_set):
    items = [(r.brand_id, i, im) for r in small_set.references for i, im in enumerate(r.images)]
    return ImageIndex(items)


def test_smoke_photo_only_matches(small_set, small_index):
    cases = small_set.by_kind("photo_only")
    right = 0
    for case in cases:
        photos, notes = decode_all(case.query.photos)
        hits = small_index.search(photos)
        assert all(isinstance(h, ImageHit) for h in hits)
        if hits and hits[0].brand_id == case.expected_brand_id:
            right += 1
    assert right >= len(cases) - 1


def test_bad_reference_images_are_skipped_and_noted():
    ok = io.BytesIO()
    Image.new("RGB", (200, 200), (255, 255, 255)).save(ok, "PNG")
    idx = ImageIndex([("A", 0, b"<html></html>"), ("A", 1, ok.getvalue()), ("B", 0, b"")])
    assert len(idx) == 1
    assert idx.notes == [
        "reference image 1 of brand A: not an image (HTML file?)",
        "reference image 1 of brand B: empty file (0 bytes)",
    ]
    assert idx.search([None]) == []
    assert idx.search([decode(ok.getvalue())]) is not None
