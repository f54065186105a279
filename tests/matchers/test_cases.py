"""The generator of labelled cases: deterministic, valid, and as varied as it claims."""

from __future__ import annotations

import io
import random
import unicodedata

import numpy as np
import pytest
from PIL import Image
from rapidfuzz import fuzz
from stdnum import ean

from bench.cases import KINDS, ean13_image, lookalike, make_case_set, make_photo
from matchers.types import Query, Reference


@pytest.fixture(scope="module")
def case_set():
    return make_case_set(15, seed=5, cases_per_kind=4)


def test_shape_and_kinds(case_set):
    assert len(case_set.references) == 15
    assert all(isinstance(r, Reference) for r in case_set.references)
    assert [c.kind for c in case_set.cases] == [k for k in KINDS for _ in range(4)]
    ids = {r.brand_id for r in case_set.references}
    for c in case_set.cases:
        assert isinstance(c.query, Query)
        if c.kind == "unregistered":
            assert c.expected_brand_id is None
        else:
            assert c.expected_brand_id in ids


def test_deterministic_from_seed():
    kinds = ("counterfeit", "unregistered")
    a = make_case_set(3, seed=11, cases_per_kind=1, kinds=kinds)
    b = make_case_set(3, seed=11, cases_per_kind=1, kinds=kinds)
    c = make_case_set(3, seed=12, cases_per_kind=1, kinds=kinds)
    assert a.references == b.references
    assert a.cases == b.cases
    assert a.references != c.references


def test_names_are_distinct(case_set):
    names = [r.name.lower() for r in case_set.references] + [
        n.lower() for n in case_set.unregistered_names
    ]
    assert len(set(names)) == len(names)
    for i, x in enumerate(names):
        for y in names[i + 1 :]:
            assert fuzz.ratio(x, y) < 80, (x, y)


def test_reference_fields_are_valid(case_set):
    for r in case_set.references:
        assert len(r.images) == 2
        for img in r.images:
            with Image.open(io.BytesIO(img)) as im:
                assert im.format in ("PNG", "JPEG")
        assert r.gtins and all(ean.is_valid(g) for g in r.gtins)
        assert all(g.startswith(r.gs1_prefixes[0]) for g in r.gtins)
        assert r.price_range is not None and 0 < r.price_range.min < r.price_range.max
        assert r.authorized_suppliers and all(s.country for s in r.authorized_suppliers)
        assert r.hs_codes and r.production_countries


def test_kind_contents(case_set):
    refs = {r.brand_id: r for r in case_set.references}
    for c in case_set.by_kind("photo_only"):
        q = c.query
        assert (
            q.photos
            and q.description is None
            and q.declared_brand is None
            and q.supplier is None
        )
        assert q.unit_price is None
    for c in case_set.by_kind("lookalike_name"):
        ref = refs[c.expected_brand_id]
        assert (
            c.query.declared_brand
            and c.query.declared_brand != ref.name
            and not c.query.photos
        )
    for c in case_set.by_kind("genuine"):
        ref = refs[c.expected_brand_id]
        q = c.query
        assert q.declared_brand == ref.name
        assert q.supplier in {s.name for s in ref.authorized_suppliers}
        assert ref.price_range.min <= q.unit_price <= ref.price_range.max
        assert q.origin_country in ref.production_countries
    for c in case_set.by_kind("counterfeit"):
        ref = refs[c.expected_brand_id]
        q = c.query
        assert q.photos and q.supplier not in {s.name for s in ref.authorized_suppliers}
        assert q.unit_price < ref.price_range.min
        assert q.origin_country not in ref.production_countries
    for c in case_set.by_kind("unregistered"):
        names = {r.name.lower() for r in case_set.references}
        assert c.query.declared_brand.lower() not in names and c.query.photos


def test_lookalike_tricks():
    rng = random.Random(0)
    for how in ("typo", "homoglyph", "leet", "spacing", "rn"):
        for name in ("Marowind", "Kastelo", "Wimbra"):
            out = lookalike(name, rng, how=how)
            assert out != name and out.lower() != name.lower()
    homo = lookalike("Prasko", random.Random(1), how="homoglyph")
    assert any(unicodedata.name(ch).startswith(("GREEK", "CYRILLIC")) for ch in homo)
    assert any(
        ch.isdigit() for ch in lookalike("Tesolia", random.Random(2), how="leet")
    )
    assert "rn" in lookalike("Marowind", random.Random(3), how="rn").lower()


def test_photo_placement_is_recorded():
    ref = Image.new("RGB", (400, 300), (255, 0, 0))
    for seed in range(6):
        data, quad, _mirrored = make_photo(ref, random.Random(seed), size=(800, 600))
        img = np.asarray(Image.open(io.BytesIO(data)).convert("RGB")).astype(int)
        assert img.shape == (600, 800, 3)
        q = np.array(quad)
        centre = q.mean(axis=0)
        cx, cy = int(np.clip(centre[0], 0, 799)), int(np.clip(centre[1], 0, 599))
        # The pasted object (red, though lighting and hue may shift) is at the recorded place:
        # its centre pixel differs from the mean of the photo's corners.
        area = 0.5 * abs(
            np.dot(q[:, 0], np.roll(q[:, 1], 1)) - np.dot(q[:, 1], np.roll(q[:, 0], 1))
        )
        assert 0.15 * 800 * 600 < area < 0.8 * 800 * 600
        assert 0 <= cx < 800 and 0 <= cy < 600


def test_large_photo_size_and_generation_speed():
    import time

    start = time.perf_counter()
    cs = make_case_set(
        3, seed=1, cases_per_kind=1, kinds=("photo_only",), photo_size=(4000, 3000)
    )
    with Image.open(io.BytesIO(cs.cases[0].query.photos[0])) as im:
        assert im.size == (4000, 3000) and im.format == "JPEG"
    assert time.perf_counter() - start < 5


def test_ean13_image_is_scannable():
    zxingcpp = pytest.importorskip("zxingcpp")
    canvas = Image.new("RGB", (500, 200), "white")
    canvas.paste(ean13_image("5901234123457"), (20, 20))
    got = [r.text for r in zxingcpp.read_barcodes(canvas)]
    assert got == ["5901234123457"]
