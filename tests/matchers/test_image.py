"""The image index on generated photos: accuracy, false matches, geometry, determinism.

Thresholds were set from measurements on these exact generated sets (seeded, so the
measurement is repeatable) and sit a little below them, so that a regression fails.
"""

from __future__ import annotations

import io
import random

import numpy as np
import pytest
from PIL import Image, ImageDraw

from bench.cases import make_case_set, make_photo
from matchers.image import ImageHit, ImageIndex
from matchers.photos import decode, decode_all
from matchers.types import ImageEvidence

N_BRANDS = 40


@pytest.fixture(scope="module")
def case_set():
    return make_case_set(
        N_BRANDS, seed=3, cases_per_kind=36, kinds=("photo_only", "unregistered")
    )


def _items(references):
    return [(r.brand_id, i, im) for r in references for i, im in enumerate(r.images)]


@pytest.fixture(scope="module")
def index(case_set):
    return ImageIndex(_items(case_set.references))


@pytest.fixture(scope="module")
def results(case_set, index):
    """search() of every case's photos, decoded once."""
    out = []
    for case in case_set.cases:
        photos, notes = decode_all(case.query.photos)
        assert notes == []
        out.append((case, photos, index.search(photos)))
    return out


def _polygon_mask(poly, size):
    img = Image.new("L", size, 0)
    ImageDraw.Draw(img).polygon([tuple(p) for p in poly], fill=1)
    return np.asarray(img, bool)


def _iou(a, b, size):
    ma, mb = _polygon_mask(a, size), _polygon_mask(b, size)
    union = (ma | mb).sum()
    return (ma & mb).sum() / union if union else 0.0


def test_photo_only_top1_accuracy(results):
    pos = [(c, hits) for c, _, hits in results if c.expected_brand_id is not None]
    right = sum(
        1 for c, hits in pos if hits and hits[0].brand_id == c.expected_brand_id
    )
    wrong = sum(
        1 for c, hits in pos if hits and hits[0].brand_id != c.expected_brand_id
    )
    # Measured: 34/36 right, 0 wrong (rotation, perspective, blur, recolouring, occlusion,
    # partial crops, mirror images, clutter); both misses are retrieval misses.
    assert right >= 33, f"{right}/{len(pos)} photo-only cases matched"
    assert wrong == 0


def test_unregistered_brands_are_rarely_accepted(results):
    neg = [hits for c, _, hits in results if c.expected_brand_id is None]
    accepted = sum(1 for hits in neg if hits)
    # Measured: 0/36. One accepted photo in 36 is the most this may regress to.
    assert accepted <= 1, (
        f"{accepted}/{len(neg)} unregistered photos matched a registered brand"
    )


def test_hits_are_well_formed(results):
    for case, photos, hits in results:
        assert hits == sorted(hits, key=lambda h: -h.score)
        seen = set()
        for hit in hits:
            assert isinstance(hit, ImageHit) and isinstance(hit.evidence, ImageEvidence)
            assert 0.5 <= hit.score <= 1.0
            assert hit.evidence.score == hit.score
            key = (hit.brand_id, hit.evidence.photo_index)
            assert key not in seen
            seen.add(key)
            assert hit.reason.startswith(f"photo {hit.evidence.photo_index + 1} ")
            assert hit.evidence.method in ("orb+ransac", "pdq")
            assert len(hit.evidence.polygon) == 4


def test_polygon_is_where_the_reference_was_pasted(results):
    ious = []
    for case, photos, hits in results:
        if (
            case.expected_brand_id is None
            or not hits
            or hits[0].brand_id != case.expected_brand_id
        ):
            continue
        hit = hits[0]
        placement = case.placements[hit.evidence.photo_index]
        if hit.evidence.reference_image_index != placement.reference_image_index:
            continue  # the logo found inside the packaging: a different outline
        size = photos[hit.evidence.photo_index].original_size
        ious.append(_iou(hit.evidence.polygon, placement.polygon, size))
    assert len(ious) >= 25
    assert min(ious) > 0.5, sorted(ious)[:5]
    assert np.median(ious) > 0.85


def test_mirrored_photos_match(case_set, results):
    mirrored = [
        (c, hits)
        for c, _, hits in results
        if c.expected_brand_id and c.placements[0].mirrored
    ]
    assert len(mirrored) >= 4, "the set should contain mirrored photos"
    found = [
        hits[0]
        for c, hits in mirrored
        if hits and hits[0].brand_id == c.expected_brand_id
    ]
    # Measured: 6 of 7 hard mirrored photos (one retrieval miss).
    assert len(found) >= len(mirrored) - 1
    assert all("mirrored" in h.reason for h in found)


def test_mirror_image_of_a_clean_photo(case_set, index):
    ref = case_set.references[2]
    img = Image.open(io.BytesIO(ref.images[1])).convert("RGB")
    data, quad, _ = make_photo(img, random.Random(5), size=(800, 600), hard=False)
    flipped = Image.open(io.BytesIO(data)).transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    hits = index.search([decode(flipped)])
    assert hits and hits[0].brand_id == ref.brand_id and "mirrored" in hits[0].reason
    mirrored_quad = [(800 - x, y) for x, y in quad]
    assert _iou(hits[0].evidence.polygon, mirrored_quad, (800, 600)) > 0.8


def test_polygon_maps_to_original_coordinates_of_a_large_photo(case_set, index):
    ref = case_set.references[5]
    rng = random.Random(9)
    logo = Image.open(io.BytesIO(ref.images[1])).convert("RGB")
    data, quad, _mirrored = make_photo(logo, rng, size=(4000, 3000), hard=False)
    photo = decode(data)
    assert photo.size == (1000, 750) and photo.original_size == (4000, 3000)
    hits = index.search([photo])
    assert hits and hits[0].brand_id == ref.brand_id
    assert _iou(hits[0].evidence.polygon, quad, (4000, 3000)) > 0.8


def test_near_identical_copy_uses_the_hash_fast_path(case_set, index):
    ref = case_set.references[7]
    img = Image.open(io.BytesIO(ref.images[0])).convert("RGB")
    copy = img.resize((img.width * 2, img.height * 2)).transpose(
        Image.Transpose.ROTATE_90
    )
    buf = io.BytesIO()
    copy.save(buf, "JPEG", quality=70)
    hits = index.search([decode(buf.getvalue())])
    assert hits and hits[0].brand_id == ref.brand_id
    assert hits[0].evidence.method == "pdq" and hits[0].score >= 0.9
    assert "near-identical" in hits[0].reason


def test_deterministic_and_independent_of_reference_order(case_set, index):
    sample = [c for c in case_set.cases][::6]
    photos = [decode_all(c.query.photos)[0] for c in sample]
    first = [index.search(p) for p in photos]
    assert [index.search(p) for p in photos] == first
    items = _items(case_set.references)
    random.Random(1).shuffle(items)
    shuffled = ImageIndex(items)
    assert [shuffled.search(p) for p in photos] == first


def test_save_and_load_round_trip(tmp_path, case_set, index):
    index.save(tmp_path / "idx")
    loaded = ImageIndex.load(tmp_path / "idx")
    assert len(loaded) == len(index) and loaded.notes == index.notes
    for case in case_set.cases[::5]:
        photos, _ = decode_all(case.query.photos)
        assert loaded.search(photos) == index.search(photos)
    # Only plain numpy arrays and JSON on disk: nothing that needs pickle to load.
    for f in (tmp_path / "idx").iterdir():
        assert f.suffix in (".npy", ".json")
        if f.suffix == ".npy":
            np.load(f, allow_pickle=False)


def _unpruned_lsh(index):
    """The hash tables as format 1 stored them: every descriptor, one row per table."""
    from matchers.image import _keys

    keys = _keys(index.desc, index.lsh_selection)
    n_buckets = index.lsh_offsets.shape[1] - 1
    order = np.stack([np.argsort(k, kind="stable") for k in keys]).astype(np.int32)
    offsets = np.zeros((keys.shape[0], n_buckets + 1), np.int32)
    for t, k in enumerate(keys):
        offsets[t, 1:] = np.cumsum(np.bincount(k, minlength=n_buckets))
    return keys, order, offsets


def test_crowded_hash_buckets_are_not_stored(index):
    keys, order, offsets = _unpruned_lsh(index)
    limit = index.params.max_bucket
    stored = np.diff(index.lsh_offsets, axis=1)
    full = np.diff(offsets, axis=1)
    assert (full > limit).any(), "the set should have crowded buckets"
    # Crowded buckets are empty, the others hold exactly the descriptors of that key.
    assert np.array_equal(stored, np.where(full > limit, 0, full))
    assert index.lsh_order.size == stored.sum() < order.size
    for t in range(keys.shape[0]):
        for b in np.flatnonzero(stored[t])[::97]:
            mine = index.lsh_order[index.lsh_offsets[t, b] : index.lsh_offsets[t, b + 1]]
            assert np.array_equal(mine, order[t, offsets[t, b] : offsets[t, b + 1]])


def test_format_1_index_loads_and_finds_the_same(tmp_path, case_set, index):
    import json

    d = tmp_path / "v1"
    index.save(d)
    _, order, offsets = _unpruned_lsh(index)
    np.save(d / "lsh_order.npy", order)
    np.save(d / "lsh_offsets.npy", offsets)
    meta = json.loads((d / "index.json").read_text())
    meta["version"] = 1
    (d / "index.json").write_text(json.dumps(meta))
    old = ImageIndex.load(d)
    for case in case_set.cases[::4]:
        photos, _ = decode_all(case.query.photos)
        assert old.search(photos) == index.search(photos)


def test_several_photos_and_unusable_ones(case_set, index):
    pos = [c for c in case_set.cases if c.expected_brand_id][:2]
    photos = [None] + [decode(c.query.photos[0]) for c in pos]
    hits = index.search(photos, top_k=10)
    by_photo = {h.evidence.photo_index: h.brand_id for h in hits}
    assert 0 not in by_photo
    assert by_photo.get(1) == pos[0].expected_brand_id
    assert by_photo.get(2) == pos[1].expected_brand_id
    assert len(index.search(photos, top_k=1)) == 1


def test_bad_reference_images_are_skipped_and_noted():
    ok = io.BytesIO()
    Image.new("RGB", (200, 200), (255, 255, 255)).save(ok, "PNG")
    idx = ImageIndex(
        [("A", 0, b"<html></html>"), ("A", 1, ok.getvalue()), ("B", 0, b"")]
    )
    assert len(idx) == 1
    assert idx.notes == [
        "reference image 1 of brand A: not an image (HTML file?)",
        "reference image 1 of brand B: empty file (0 bytes)",
    ]
    assert idx.search([None]) == []
    # A blank photo against a blank reference: nothing to match on, and no crash.
    assert idx.search([decode(ok.getvalue())]) == []


def test_empty_index():
    idx = ImageIndex([])
    assert len(idx) == 0
    assert idx.search([decode(Image.new("RGB", (300, 200), (9, 9, 9)))]) == []


def test_parallel_build_gives_the_same_index(case_set, index):
    par = ImageIndex(_items(case_set.references[:10]), workers=2)
    seq = ImageIndex(_items(case_set.references[:10]))
    assert par.brand_ids == seq.brand_ids
    assert np.array_equal(par.desc, seq.desc) and np.array_equal(
        par.lsh_order, seq.lsh_order
    )
