"""Signals -> score and recommendation."""

from __future__ import annotations

import pytest

from matchers.scoring import (
    FLOOR,
    combine,
    goods_signal,
    origin_signal,
    price_signal,
    recommend,
    text_identity,
    validity_signal,
)
from matchers.types import PriceRange, Reference, Signal, Thresholds

REF = Reference("acme", "ACME", price_range=PriceRange(40, 120, "EUR"), hs_codes=("6403.99",),
                production_countries=("IT", "Viet Nam"))


def test_text_identity_mapping_is_monotone() -> None:
    values = [text_identity(x / 100) for x in range(101)]
    assert values == sorted(values)
    assert text_identity(1.0) == 1.0 and text_identity(0.8) == pytest.approx(0.3)
    assert text_identity(0.7) == 0.0


def test_price() -> None:
    assert price_signal(60, "EUR", REF).score == 0.0
    low = price_signal(5, "eur", REF)
    assert low.score == 1.0 and "below the genuine range" in low.reason
    assert 0 < price_signal(36, "EUR", REF).score < 0.5
    usd = price_signal(5, "USD", REF)
    assert not usd.available and "USD" in usd.reason and "EUR" in usd.reason
    assert not price_signal(None, None, REF).available
    assert "currency not declared" in price_signal(60, None, REF).reason
    assert price_signal(500, "EUR", REF).score < 0.2


def test_origin() -> None:
    assert origin_signal("VN", REF).score == 0.0
    far = origin_signal("CN", REF)
    assert far.score > 0.5 and "IT, VN" in far.reason
    assert not origin_signal(None, REF).available


def test_goods_type() -> None:
    assert goods_signal("640399", REF).score == 0.0
    assert goods_signal("640311", REF).score == 0.0
    assert goods_signal("640200", REF).score == pytest.approx(0.2)
    assert goods_signal("950300", REF).score > 0.5
    assert not goods_signal(None, REF).available


def test_validity() -> None:
    assert validity_signal(REF).score == 1.0
    off = validity_signal(Reference("x", "X", protected=False))
    assert off.score == 0.0 and "not in force" in off.reason


def _sig(name: str, score: float, kind: str = "identity") -> Signal:
    return Signal(name, score, "r", kind=kind)  # type: ignore[arg-type]


def test_genuine_facts_keep_score_below_floor() -> None:
    signals = [_sig("declared_brand", 1.0), _sig("image", 1.0),
               _sig("supply_chain", 0.0, "suspicion"), _sig("price", 0.0, "suspicion"),
               _sig("origin", 0.0, "suspicion")]
    identity, suspicion, score = combine(signals)
    assert identity == 1.0 and suspicion < 0.1 and score <= FLOOR + 0.1
    assert recommend(identity, score, True, Thresholds()) == "release"


def test_counterfeit_facts_detain() -> None:
    signals = [_sig("declared_brand", 0.9), _sig("supply_chain", 0.8, "suspicion"),
               _sig("price", 1.0, "suspicion")]
    identity, _, score = combine(signals)
    assert recommend(identity, score, True, Thresholds()) == "detain"
    assert recommend(identity, score, False, Thresholds()) == "inspect"


def test_unknown_facts_inspect() -> None:
    identity, suspicion, score = combine([_sig("image", 1.0)])
    assert suspicion == 0.5
    assert recommend(identity, score, True, Thresholds()) == "inspect"


def test_suspicion_alone_never_detains() -> None:
    identity, _, score = combine([_sig("declared_brand", 0.3), _sig("price", 1.0, "suspicion")])
    assert recommend(identity, score, True, Thresholds(detain=0.0)) != "detain"


def test_unavailable_signals_do_not_count() -> None:
    a = combine([_sig("image", 0.9)])
    b = combine([_sig("image", 0.9), Signal("price", 1.0, "x", available=False, kind="suspicion")])
    assert a == b


def test_spelling_signal() -> None:
    from matchers.scoring import spelling_signal
    from matchers.text import MarkHit

    ref = Reference("nike", "Nike")
    exact = MarkHit("nike", "Nike", "nike", 1.0, "exact")
    assert not spelling_signal((("declared brand", exact, "NIKE"),), ref).available
    assert not spelling_signal((("declared brand", exact, "N I K E"),), ref).available
    leet = spelling_signal((("declared brand", exact, "N1KE"),), ref)
    assert leet.score == 0.8 and "'N1KE'" in leet.reason
    typo = spelling_signal((("declared brand", MarkHit("nike", "Nike", "nikke", 0.92, "look-alike"), "Nikke"),), ref)
    assert typo.score == 0.6 and "look-alike" in typo.reason
    faint = spelling_signal((("declared brand", MarkHit("nike", "Nike", "nice", 0.8, "look-alike"), "Nice"),), ref)
    assert not faint.available


def test_unusable_registered_price_range() -> None:
    bad = Reference("x", "X", price_range=PriceRange(float("nan"), 10, "EUR"))
    assert not price_signal(5, "EUR", bad).available
    swapped = Reference("x", "X", price_range=PriceRange(50, 10, "EUR"))
    assert "not usable" in price_signal(5, "EUR", swapped).reason
