"""Engine: end-to-end screening, bad input, determinism, saving and loading."""

from __future__ import annotations

import math
import random
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from matchers import (
    Engine,
    PriceRange,
    Query,
    Reference,
    Screening,
    ScreeningError,
    Supplier,
    Thresholds,
)

ACME = Reference(
    "acme", "ACME", aliases=("Acme Sport",),
    authorized_suppliers=(Supplier("Acme Manufactoring Company Limited", "CN"),
                          Supplier("Acme Europe GmbH", "DE"), Supplier("Acme Italia S.p.A.", "IT"),
                          Supplier("Acme Vietnam Co., Ltd.", "VN")),
    price_range=PriceRange(40, 120, "EUR"), hs_codes=("6403.99", "6404.11"),
    gtins=("4006381333931",), gs1_prefixes=("400638",), production_countries=("CN", "VN", "IT"),
)
REFS = [
    ACME,
    Reference("adidas", "Adidas", production_countries=("VN",)),
    Reference("nike", "Nike", protected=False),
    Reference("rayban", "Ray-Ban", hs_codes=("9004.10",)),
    Reference("lv", "Louis Vuitton", price_range=PriceRange(500, 3000, "EUR")),
    Reference("apple", "Apple"),
    Reference("prada", "Prada"),
]


@pytest.fixture(scope="module")
def engine() -> Engine:
    return Engine(REFS, images=False)


def test_genuine_shipment_is_released(engine: Engine) -> None:
    q = Query(declared_brand="ACME", description="ACME leather shoes", supplier="ACME MANUFACTORING CO., LTD.",
              supplier_country="China", origin_country="CN", unit_price=60, currency="EUR",
              hs_code="6403.99", gtins=("4006381333931",))
    result = engine.screen(q)
    assert isinstance(result, Screening)
    assert result[0].brand_id == "acme"
    assert result[0].recommendation == "release"
    assert result[0].identity > 0.99


def test_counterfeit_is_detained_with_reasons(engine: Engine) -> None:
    q = Query(declared_brand="ACNE", description="sport shoes acme", supplier="Shenzen Sportwear Co",
              origin_country="China", unit_price=6.5, currency="EUR", hs_code="640399")
    m = engine.screen(q)[0]
    assert m.brand_id == "acme" and m.recommendation == "detain"
    reasons = {s.name: s.reason for s in m.signals}
    assert reasons["supply_chain"] == ("declared supplier 'Shenzen Sportwear Co' is not among "
                                       "the 4 authorised suppliers of ACME")
    assert "below the genuine range" in reasons["price"]
    names = [s.name for s in m.signals]
    for expected in ("declared_brand", "description", "ocr", "image", "barcode", "supply_chain",
                     "price", "origin", "goods_type", "barcode_check", "validity"):
        assert expected in names
    assert all(s.reason for s in m.signals)


def test_unprotected_brand_is_reported_but_never_detained(engine: Engine) -> None:
    q = Query(declared_brand="N1KE", supplier="Fake Factory", unit_price=1, currency="EUR")
    m = engine.screen(q)[0]
    assert m.brand_id == "nike" and m.recommendation != "detain"
    assert "not in force" in m.signal("validity").reason  # type: ignore[union-attr]


def test_unregistered_brand_gives_nothing(engine: Engine) -> None:
    assert engine.screen(Query(declared_brand="Zorblax", description="plastic toys")) == []
    assert engine.screen(Query()) == []


@pytest.mark.parametrize(
    ("text", "brand"),
    [("Adibas", "adidas"), ("N1KE", "nike"), ("Ray Bam", "rayban"), ("Louis Vuiton", "lv"),
     ("\u0391CME", "acme")],
)
def test_lookalike_declared_brand_ranks_first(engine: Engine, text: str, brand: str) -> None:
    assert engine.screen(Query(declared_brand=text))[0].brand_id == brand


def test_pineapple_and_prado(engine: Engine) -> None:
    assert all(m.brand_id != "apple" for m in engine.screen(Query(supplier="Pineapple Co., Ltd",
                                                                 description="Pineapple Co., Ltd")))
    for m in engine.screen(Query(declared_brand="Prado", unit_price=1)):
        assert m.recommendation != "detain" and m.identity < 0.5


def test_gtin_finds_brand(engine: Engine) -> None:
    m = engine.screen(Query(gtins=("4006381999991",)))
    assert m and m[0].brand_id == "acme"  # company prefix 400638
    bad = engine.screen(Query(gtins=("4006381333932",)))
    assert "wrong check digit" in " ".join(bad.notes)


@pytest.mark.parametrize(
    "query",
    [
        Query(photos=(b"",)),
        Query(photos=(b"not an image at all",)),
        Query(photos=(b"\x89PNG\r\n\x1a\n" + b"\x00" * 20,)),
        Query(photos=("/nonexistent/photo.jpg",)),
        Query(description="ACME " * 250_000, declared_brand="x" * 10_000),
        Query(declared_brand="ACME", unit_price=float("nan"), currency="EUR"),
        Query(declared_brand="ACME", unit_price=-5),
        Query(declared_brand="ACME", unit_price=math.inf),
        Query(declared_brand="ACME", origin_country="Atlantis", hs_code="shoes"),
        Query(declared_brand="ACME", currency="euros", unit_price=3),
        Query(declared_brand=123, description=["x"], gtins="4006381333931"),  # type: ignore[arg-type]
        Query(declared_brand="ACME", gtins=(None, 5, "abc")),  # type: ignore[arg-type]
    ],
)
def test_bad_input_never_crashes(engine: Engine, query: Query) -> None:
    result = engine.screen(query)
    assert isinstance(result, Screening)
    for m in result:
        assert 0.0 <= m.score <= 1.0


def test_bad_input_is_noted(engine: Engine) -> None:
    r = engine.screen(Query(declared_brand="ACME", unit_price=float("nan"), origin_country="Atlantis"))
    assert any("unit price" in n for n in r.notes)
    assert any("Atlantis" in n for n in r.notes)
    r = engine.screen(Query(description="ACME " * 10_000))
    assert any("cut" in n for n in r.notes)


def test_not_a_query_raises() -> None:
    with pytest.raises(ScreeningError, match="needs a Query"):
        Engine(REFS, images=False).screen("ACME")  # type: ignore[arg-type]


def test_duplicate_brand_ids_raise() -> None:
    with pytest.raises(ScreeningError, match="more than once"):
        Engine([ACME, ACME], images=False)


_queries = st.builds(
    Query,
    description=st.one_of(st.none(), st.text(max_size=40), st.sampled_from(["acme shoes", "louis vuiton bag"])),
    declared_brand=st.one_of(st.none(), st.sampled_from(["ACME", "Adibas", "N1KE", "Prado", "Apple"]),
                             st.text(max_size=12)),
    supplier=st.one_of(st.none(), st.sampled_from(["Acme Europe GmbH", "Acme Manufacturing Co Ltd", "X"])),
    origin_country=st.one_of(st.none(), st.sampled_from(["CN", "Italy", "Atlantis"])),
    unit_price=st.one_of(st.none(), st.floats(allow_nan=True, allow_infinity=True)),
    currency=st.one_of(st.none(), st.sampled_from(["EUR", "USD", "x"])),
    hs_code=st.one_of(st.none(), st.sampled_from(["6403.99", "9503", "abc"])),
    gtins=st.lists(st.sampled_from(["4006381333931", "4006381333932", "036000291452"]), max_size=2).map(tuple),
)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(query=_queries, seed=st.integers(0, 1000))
def test_screening_is_deterministic_and_order_independent(query: Query, seed: int) -> None:
    shuffled = REFS[:]
    random.Random(seed).shuffle(shuffled)
    a = Engine(REFS, images=False)
    b = Engine(shuffled, images=False)
    ra, rb = a.screen(query), b.screen(query)
    assert list(ra) == list(rb) and ra.notes == rb.notes
    assert a.snapshot_id == b.snapshot_id
    assert list(a.screen(query)) == list(ra)
    for m in ra:
        assert 0 <= m.score <= 1 and 0 <= m.identity <= 1
        assert m.recommendation in ("detain", "inspect", "release")


def test_save_and_load(tmp_path: Path, engine: Engine) -> None:
    engine.save(tmp_path / "engine")
    loaded = Engine.load(tmp_path / "engine")
    assert loaded.snapshot_id == engine.snapshot_id
    q = Query(declared_brand="Adibas", supplier="X", unit_price=1, currency="EUR")
    assert list(loaded.screen(q)) == list(engine.screen(q))
    with pytest.raises(ScreeningError):
        Engine.load(tmp_path / "missing")


def test_thresholds_are_configuration() -> None:
    strict = Engine(REFS, images=False, thresholds=Thresholds(detain=0.99, inspect=0.98, version="t"))
    r = strict.screen(Query(declared_brand="ACME", supplier="Unknown Ltd", unit_price=1, currency="EUR"))
    assert r[0].recommendation == "release" and r.thresholds_version == "t"


def test_snapshot_id_changes_with_registry() -> None:
    a = Engine(REFS, images=False).snapshot_id
    b = Engine(REFS[:-1], images=False).snapshot_id
    assert a != b and a.startswith("matchers-")


def test_weaker_image_hit_on_the_same_region_is_explained_away() -> None:
    from dataclasses import dataclass

    from matchers.engine import _explain_away
    from matchers.types import ImageEvidence

    @dataclass(frozen=True)
    class Hit:
        brand_id: str
        score: float
        evidence: ImageEvidence
        reason: str = ""

    box = ((10.0, 10.0), (110.0, 10.0), (110.0, 90.0), (10.0, 90.0))
    other = ((300.0, 300.0), (400.0, 300.0), (400.0, 380.0), (300.0, 380.0))
    strong = Hit("a", 0.99, ImageEvidence(0, 1, 0.99, box, "orb+ransac", 80))
    weak_same = Hit("b", 0.7, ImageEvidence(0, 0, 0.7, box, "orb+ransac", 20))
    weak_elsewhere = Hit("c", 0.7, ImageEvidence(0, 0, 0.7, other, "orb+ransac", 20))
    weak_other_photo = Hit("d", 0.7, ImageEvidence(1, 0, 0.7, box, "orb+ransac", 20))
    kept = _explain_away([weak_same, strong, weak_elsewhere, weak_other_photo])
    assert [h.brand_id for h in kept] == ["a", "c", "d"]


def test_reasons_quote_the_declared_spelling(engine: Engine) -> None:
    m = engine.screen(Query(declared_brand="N1KE"))[0]
    assert m.signal("declared_brand").reason == (  # type: ignore[union-attr]
        "declared brand 'N1KE' reads as 'nike', the word mark 'Nike'")


def test_ocr_switched_off_is_reported_unavailable() -> None:
    from PIL import Image

    photo = Image.new("RGB", (64, 64), (200, 30, 30))
    r = Engine(REFS, images=False, ocr=False).screen(Query(declared_brand="ACME", photos=(photo,)))
    ocr = r[0].signal("ocr")
    assert ocr is not None and not ocr.available and "switched off" in ocr.reason


def _png(size: tuple[int, int]) -> bytes:
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.new("L", size, 128).save(buf, "PNG")
    return buf.getvalue()


def test_huge_and_truncated_photos_do_not_stop_screening(engine: Engine) -> None:
    wide = _png((20_000, 8))
    truncated = _png((300, 300))[:60]
    r = engine.screen(Query(declared_brand="ACME", photos=(wide, truncated)))
    assert r[0].brand_id == "acme"
    # A 20,000 px wide strip is small enough to decode (and is reduced); the broken one is noted.
    assert any(n.startswith("photo 2") for n in r.notes)


def test_each_photo_is_decoded_once_and_shared(monkeypatch: pytest.MonkeyPatch) -> None:
    import matchers.barcode
    import matchers.photos

    calls: list[int] = []
    seen: list[object] = []
    real = matchers.photos.decode_all

    def counting(sources, **kw):  # type: ignore[no-untyped-def]
        calls.append(len(sources))
        return real(sources, **kw)

    def gtins(photo):  # type: ignore[no-untyped-def]
        seen.append(photo)
        return ["4006381333931"]

    monkeypatch.setattr(matchers.photos, "decode_all", counting)
    monkeypatch.setattr(matchers.barcode, "read_gtins", gtins)
    r = Engine(REFS, images=False, ocr=False).screen(Query(photos=(_png((64, 64)), _png((80, 60)))))
    assert calls == [2]
    assert len(seen) == 2 and seen[0] is not seen[1]
    assert r[0].brand_id == "acme"  # the GTIN read from the photo found the brand
    assert r[0].signal("barcode").score == 1.0  # type: ignore[union-attr]


_anything = st.one_of(
    st.none(), st.text(max_size=30), st.integers(), st.floats(), st.booleans(),
    st.binary(max_size=40), st.lists(st.one_of(st.text(max_size=15), st.integers(), st.binary(max_size=20)), max_size=3),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.fixed_dictionaries({name: _anything for name in (
    "description", "declared_brand", "supplier", "origin_country", "unit_price", "currency",
    "quantity", "hs_code", "gtins", "photos", "supplier_country")}))
def test_screen_survives_fields_of_any_type(engine: Engine, fields: dict[str, object]) -> None:
    result = engine.screen(Query(**fields))  # type: ignore[arg-type]
    assert isinstance(result, Screening)
    assert all(isinstance(n, str) for n in result.notes)


def test_ocr_text_does_not_join_scattered_words(monkeypatch: pytest.MonkeyPatch) -> None:
    from PIL import Image

    import matchers.ocr

    monkeypatch.setattr(matchers.ocr, "ocr_available", lambda: True)
    monkeypatch.setattr(matchers.ocr, "read_text", lambda photo: "sale ray ban ac me 50%")
    refs = [Reference("rb", "Ray-Ban"), Reference("acme", "ACME")]
    r = Engine(refs, images=False, ocr=True).screen(Query(photos=(Image.new("RGB", (32, 32)),)))
    assert [m.brand_id for m in r] == ["rb"]  # two printed words of a two-word mark count
    assert "text read from the photos contains 'ray ban'" in r[0].signal("ocr").reason  # type: ignore[union-attr]


def test_a_single_photo_need_not_be_wrapped_in_a_tuple(engine: Engine) -> None:
    from PIL import Image

    r = engine.screen(Query(declared_brand="ACME", photos=Image.new("RGB", (40, 40))))  # type: ignore[arg-type]
    assert not any("photos ignored" in n for n in r.notes)


def test_ocr_skips_photos_the_images_already_matched_surely() -> None:
    from dataclasses import dataclass

    from matchers.types import ImageEvidence

    @dataclass(frozen=True)
    class Hit:
        brand_id: str
        score: float
        evidence: ImageEvidence
        reason: str = "photo 1 shows reference image 1"

    read: list[int] = []

    class FakeIndex:
        def search(self, photos, top_k=10):  # type: ignore[no-untyped-def]
            return [Hit("acme", 0.97, ImageEvidence(0, 0, 0.97, ((0, 0), (9, 0), (9, 9), (0, 9)), "orb+ransac", 60))]

    from PIL import Image

    import matchers.ocr

    engine = Engine(REFS, images=False, ocr=True)
    engine._images = FakeIndex()
    engine._image_counts["acme"] = 1
    orig_available, orig_read = matchers.ocr.ocr_available, matchers.ocr.read_text
    try:
        matchers.ocr.ocr_available = lambda: True  # type: ignore[assignment]
        matchers.ocr.read_text = lambda photo: read.append(1) or "ACME"  # type: ignore[assignment]
        one = engine.screen(Query(photos=(Image.new("RGB", (30, 30)),)))
        assert read == [] and "already matched" in one[0].signal("ocr").reason  # type: ignore[union-attr]
        engine.screen(Query(photos=(Image.new("RGB", (30, 30)), Image.new("RGB", (30, 30)))))
        assert read == [1]  # only the second photo, which nothing matched, is read
    finally:
        matchers.ocr.ocr_available, matchers.ocr.read_text = orig_available, orig_read


def test_inconsistent_thresholds_are_refused() -> None:
    with pytest.raises(ScreeningError, match="inspect"):
        Engine(REFS, images=False, thresholds=Thresholds(detain=0.4, inspect=0.6))


def test_ordinary_word_in_description_of_other_goods_is_not_the_brand() -> None:
    refs = [Reference("apple", "Apple", hs_codes=("8471.30",), price_range=PriceRange(500, 3000, "EUR"))]
    engine = Engine(refs, images=False)
    juice = engine.screen(Query(description="apple juice concentrate 200 drums", hs_code="2009.71",
                                unit_price=2, currency="EUR"))
    assert all(m.recommendation == "release" for m in juice)
    laptops = engine.screen(Query(description="apple laptops 20 pcs", hs_code="8471.30",
                                  unit_price=40, currency="EUR"))
    assert laptops[0].recommendation != "release"


def test_indexed_screening_agrees_with_a_brute_force_scan() -> None:
    """The engine's indexed candidate search against a plain scan of every word mark."""
    import string

    from matchers.text import best_per_brand, brute_force_hits

    rnd = random.Random(5)
    syl = ["ka", "ri", "to", "ne", "mo", "sa", "lu", "vi", "de", "ro", "ba", "zen", "gor", "fi"]
    names = sorted({"".join(rnd.choice(syl) for _ in range(rnd.randint(2, 4))).capitalize()
                    for _ in range(150)})
    refs = [Reference(f"b{i:03d}", n, price_range=PriceRange(10, 20, "EUR")) for i, n in enumerate(names)]
    fast = Engine(refs, images=False)
    slow = Engine(refs, images=False)
    marks = [(r.brand_id, r.name) for r in refs]
    slow._text.search = lambda text, name=False: best_per_brand(  # type: ignore[method-assign]
        brute_force_hits(text, marks, name=name))
    for _ in range(80):
        word = list(rnd.choice(names))
        word[rnd.randrange(len(word))] = rnd.choice(string.ascii_lowercase)
        q = Query(declared_brand="".join(word), description=f"shoes {''.join(word)} 20 pcs",
                  unit_price=3, currency="EUR")
        a, b = fast.screen(q), slow.screen(q)
        assert a[:1] == b[:1]
        by_id = {m.brand_id: m for m in b}
        for m in a:
            assert by_id[m.brand_id] == m
