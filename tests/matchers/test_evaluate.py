"""Evaluation: per-kind figures, the threshold sweep and the baseline."""

from __future__ import annotations

import pytest

from matchers import Engine, PriceRange, Query, Reference, Supplier
from matchers.evaluate import BaselineEngine, LabelledQuery, evaluate

REFS = [
    Reference("acme", "Acme", authorized_suppliers=(Supplier("Acme Factory Ltd", "IT"),),
              price_range=PriceRange(50, 100, "EUR"), production_countries=("IT",)),
    Reference("zento", "Zento", authorized_suppliers=(Supplier("Zento SpA", "IT"),),
              price_range=PriceRange(20, 40, "EUR"), production_countries=("IT",)),
]
CASES = [
    LabelledQuery(Query(declared_brand="Acrne", supplier="Fake Co", unit_price=2, currency="EUR",
                        origin_country="KP"), "acme", "counterfeit"),
    LabelledQuery(Query(declared_brand="Zent0", supplier="Other Ltd", unit_price=1, currency="EUR"),
                  "zento", "counterfeit"),
    LabelledQuery(Query(declared_brand="Acme", supplier="Acme Factory Ltd", unit_price=70,
                        currency="EUR", origin_country="IT"), "acme", "genuine"),
    LabelledQuery(Query(declared_brand="Quorbil", unit_price=3), None, "unregistered"),
    (Query(declared_brand="Z E N T O"), "zento", "lookalike_name"),
]


def test_evaluate_reports_per_kind_and_sweep() -> None:
    report = evaluate(Engine(REFS, images=False), CASES)
    assert report.kinds["counterfeit"].top1 == 1.0
    assert report.kinds["counterfeit"].detain_rate == 1.0
    assert report.kinds["genuine"].detain_rate == 0.0
    assert report.kinds["unregistered"].top1 == 1.0  # nothing reported
    assert report.kinds["lookalike_name"].n == 1
    # The sweep is monotone: a higher bar never detains more.
    recalls = [p.recall for p in report.sweep]
    assert recalls == sorted(recalls, reverse=True)
    assert all(0 <= p.precision <= 1 for p in report.sweep)
    assert "counterfeit" in report.table()


def test_sweep_precision_counts_false_detentions() -> None:
    report = evaluate(Engine(REFS, images=False), CASES, sweep=(0.0,))
    point = report.sweep[0]
    # At a threshold of 0 every case with a sure brand is detained, genuine ones included.
    assert point.recall == 1.0 and point.precision < 1.0


def test_baseline_detains_whatever_it_finds() -> None:
    base = BaselineEngine(REFS)
    assert base.screen(Query(declared_brand="ACME"))[0].recommendation == "detain"
    assert base.screen(Query(declared_brand="Quorbil")) == []
    report = evaluate(base, CASES)
    assert report.kinds["genuine"].detain_rate == 1.0


def test_cases_with_attributes_are_accepted() -> None:
    class Case:
        kind = "counterfeit"
        query = Query(declared_brand="Acme", unit_price=1, currency="EUR")
        expected_brand_id = "acme"

    report = evaluate(Engine(REFS, images=False), [Case()])
    assert report.kinds["counterfeit"].top1 == pytest.approx(1.0)
