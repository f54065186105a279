"""Quality targets on a generated labelled set small enough for CI.

The full measurement (300+ brands) is ``bench/quality.py``; here the same targets are checked
on 50 brands with bounds that leave room only for the noise of a small sample, so that a real
regression in any signal fails.
"""

from __future__ import annotations

import pytest

from matchers import Engine
from matchers.evaluate import BaselineEngine, EvaluationReport, evaluate

pytestmark = pytest.mark.slow

cases_mod = pytest.importorskip("bench.cases")


@pytest.fixture(scope="module")
def reports() -> tuple[EvaluationReport, EvaluationReport]:
    cs = cases_mod.make_case_set(50, seed=11, cases_per_kind=16)
    engine = Engine(cs.references, ocr=False)
    return evaluate(engine, cs.cases), evaluate(BaselineEngine(cs.references), cs.cases)


def test_counterfeits_are_recognised_and_detained(reports: tuple[EvaluationReport, EvaluationReport]) -> None:
    ours, _ = reports
    assert ours.kinds["counterfeit"].top1 >= 0.93
    assert ours.kinds["counterfeit"].detain_rate >= 0.9


def test_brand_from_photos_alone(reports: tuple[EvaluationReport, EvaluationReport]) -> None:
    ours, _ = reports
    assert ours.kinds["photo_only"].top1 >= 0.75


def test_brand_from_lookalike_declared_brand_alone(reports: tuple[EvaluationReport, EvaluationReport]) -> None:
    ours, _ = reports
    assert ours.kinds["lookalike_name"].top1 >= 0.93


def test_genuine_and_unregistered_are_not_detained(reports: tuple[EvaluationReport, EvaluationReport]) -> None:
    ours, _ = reports
    assert ours.kinds["genuine"].detain_rate == 0.0
    assert ours.kinds["genuine"].top1 >= 0.9
    assert ours.kinds["unregistered"].detain_rate == 0.0


def test_beats_the_baseline(reports: tuple[EvaluationReport, EvaluationReport]) -> None:
    ours, base = reports
    for kind in ("counterfeit", "photo_only", "lookalike_name"):
        assert ours.kinds[kind].top1 > base.kinds[kind].top1
    assert ours.kinds["genuine"].detain_rate < base.kinds["genuine"].detain_rate
