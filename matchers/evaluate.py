"""Precision, recall and a threshold sweep on labelled cases, and a simple baseline to beat.

A labelled case is a query, the brand it really imitates (or None for goods of a brand that
is not registered) and a kind ("counterfeit", "photo_only", "lookalike_name", "genuine",
"unregistered", or any other label). :func:`evaluate` screens every case once and reports per
kind:

* **top-1**: the first match is the expected brand; for a case whose expected brand is None,
  that nothing is reported at all;
* **detain rate**: at least one match is recommended "detain";
* **inspect-or-detain rate**.

and a sweep over detain thresholds: for each threshold, the share of each kind that would be
detained, and the precision / recall of detention taking ``positive_kinds`` as the cases that
should be detained and ``negative_kinds`` as the ones that should not. The sweep re-applies
the recommendation rule to the stored matches, so one screening serves every threshold.

:class:`BaselineEngine` is what a first attempt would do (declared brand against the names
with RapidFuzz WRatio >= 90, else the nearest pHash of the photos within 10 bits, and detain
whatever is found); it has the same ``screen`` method, so it is evaluated the same way.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from .types import Match, Query, Reference, Screening, Signal, Thresholds

__all__ = [
    "DEFAULT_SWEEP",
    "BaselineEngine",
    "EvaluationReport",
    "KindReport",
    "LabelledQuery",
    "SweepPoint",
    "evaluate",
]

#: Detain thresholds tried by default.
DEFAULT_SWEEP = tuple(round(0.40 + 0.05 * i, 2) for i in range(12))


class _Screens(Protocol):
    def screen(self, query: Query) -> Sequence[Match]: ...


@dataclass(frozen=True)
class LabelledQuery:
    """A query with the brand it imitates (None: a brand that is not registered) and a kind."""

    query: Query
    expected_brand_id: str | None
    kind: str


@dataclass(frozen=True)
class KindReport:
    """Figures for the cases of one kind."""

    kind: str
    n: int
    top1: float
    detain_rate: float
    flag_rate: float  #: inspect or detain
    mean_ms: float


@dataclass(frozen=True)
class SweepPoint:
    """Detention figures at one detain threshold."""

    threshold: float
    precision: float
    recall: float
    detain_rate: dict[str, float]


@dataclass
class EvaluationReport:
    """The outcome of :func:`evaluate`."""

    kinds: dict[str, KindReport]
    sweep: list[SweepPoint]
    thresholds: Thresholds
    #: (kind, expected, got) for every case whose top-1 was wrong, for error analysis.
    errors: list[tuple[str, str | None, str | None]] = field(default_factory=list)

    def table(self) -> str:
        """A plain-text table of the per-kind figures and the sweep."""
        lines = [f"{'kind':<16}{'n':>5}{'top-1':>8}{'detain':>8}{'flagged':>9}{'ms/case':>9}"]
        for k in self.kinds.values():
            lines.append(f"{k.kind:<16}{k.n:>5}{k.top1:>8.3f}{k.detain_rate:>8.3f}"
                         f"{k.flag_rate:>9.3f}{k.mean_ms:>9.1f}")
        if self.sweep:
            kinds = list(self.kinds)
            lines.append("")
            lines.append(f"{'detain at':<10}{'precision':>10}{'recall':>8}"
                         + "".join(f"{k[:12]:>14}" for k in kinds))
            for p in self.sweep:
                lines.append(f"{p.threshold:<10.2f}{p.precision:>10.3f}{p.recall:>8.3f}"
                             + "".join(f"{p.detain_rate.get(k, 0.0):>14.3f}" for k in kinds))
        return "\n".join(lines)


def _as_labelled(case: Any) -> LabelledQuery:
    if isinstance(case, LabelledQuery):
        return case
    if isinstance(case, tuple) and len(case) == 3:
        return LabelledQuery(case[0], case[1], case[2])
    # Objects with the same attribute names (e.g. the benchmark generator's cases).
    return LabelledQuery(case.query, case.expected_brand_id, case.kind)


def _detain_score(matches: Sequence[Match], thresholds: Thresholds) -> float:
    """The highest score among matches that could be detained (protected, sure of the brand)."""
    best = 0.0
    for m in matches:
        validity = next((s for s in m.signals if s.name == "validity"), None)
        protected = validity is None or validity.score > 0
        if protected and m.identity >= thresholds.detain_identity:
            best = max(best, m.score)
    return best


def evaluate(engine: _Screens, cases: Iterable[Any], *, thresholds: Thresholds | None = None,
             sweep: Sequence[float] = DEFAULT_SWEEP,
             positive_kinds: Sequence[str] = ("counterfeit",),
             negative_kinds: Sequence[str] = ("genuine", "unregistered")) -> EvaluationReport:
    """Screen every labelled case once and report top-1, detain rates and a threshold sweep.

    ``cases`` are :class:`LabelledQuery` objects, ``(query, expected_brand_id, kind)`` tuples,
    or any objects with those three attributes. ``thresholds`` are the ones the engine uses
    (for the sweep's identity rule); by default the engine's own.
    """
    th = thresholds or getattr(engine, "thresholds", None) or Thresholds()
    per_kind: dict[str, list[tuple[bool, bool, bool, float, float]]] = {}
    errors: list[tuple[str, str | None, str | None]] = []
    for raw in cases:
        case = _as_labelled(raw)
        t0 = time.perf_counter()
        matches = engine.screen(case.query)
        ms = (time.perf_counter() - t0) * 1000
        top = matches[0].brand_id if matches else None
        ok = top == case.expected_brand_id
        if not ok:
            errors.append((case.kind, case.expected_brand_id, top))
        detained = any(m.recommendation == "detain" for m in matches)
        flagged = any(m.recommendation in ("detain", "inspect") for m in matches)
        per_kind.setdefault(case.kind, []).append(
            (ok, detained, flagged, _detain_score(matches, th), ms))
    kinds = {}
    for kind, rows in per_kind.items():
        n = len(rows)
        kinds[kind] = KindReport(kind, n, sum(r[0] for r in rows) / n, sum(r[1] for r in rows) / n,
                                 sum(r[2] for r in rows) / n, sum(r[4] for r in rows) / n)
    points = []
    for t in sweep:
        rates = {k: sum(r[3] >= t for r in rows) / len(rows) for k, rows in per_kind.items()}
        tp = sum(r[3] >= t for k in positive_kinds for r in per_kind.get(k, ()))
        pos = sum(len(per_kind.get(k, ())) for k in positive_kinds)
        fp = sum(r[3] >= t for k in negative_kinds for r in per_kind.get(k, ()))
        precision = tp / (tp + fp) if tp + fp else 1.0
        recall = tp / pos if pos else 0.0
        points.append(SweepPoint(t, round(precision, 4), round(recall, 4), rates))
    return EvaluationReport(kinds, points, th, errors)


class BaselineEngine:
    """A first attempt to beat: declared brand by WRatio >= 90, else nearest photo pHash.

    Whatever it finds it recommends detaining (it knows nothing of suppliers or prices);
    a brand whose protection is not in force is only inspected.
    """

    def __init__(self, references: Iterable[Reference], *, max_phash_distance: int = 10):
        import numpy as np

        self.thresholds = Thresholds()
        self._refs = sorted(references, key=lambda r: r.brand_id)
        self._names = [r.name for r in self._refs]
        self._max = max_phash_distance
        hashes, owners = [], []
        for i, r in enumerate(self._refs):
            for src in r.images:
                h = self._phash(src)
                if h is not None:
                    hashes.append(h)
                    owners.append(i)
        self._hashes = np.array(hashes, dtype=bool).reshape(len(hashes), 64)
        self._owners = owners

    @staticmethod
    def _phash(src: Any) -> Any:
        import imagehash

        from .photos import decode

        try:
            photo = decode(src)
        except Exception:
            return None
        return imagehash.phash(photo.image).hash.flatten()

    def screen(self, query: Query) -> Screening:
        """Return at most one match: the brand found, recommended "detain"."""
        from rapidfuzz import fuzz, process, utils

        found: tuple[int, float, str] | None = None
        if isinstance(query.declared_brand, str) and query.declared_brand.strip():
            best = process.extractOne(query.declared_brand, self._names, scorer=fuzz.WRatio,
                                      processor=utils.default_process, score_cutoff=90)
            if best is not None:
                found = (best[2], best[1] / 100, f"declared brand matches {best[0]!r} (WRatio {best[1]:.0f})")
        if found is None and len(self._hashes):
            for src in query.photos:
                h = self._phash(src)
                if h is None:
                    continue
                dist = (self._hashes != h).sum(axis=1)
                i = int(dist.argmin())
                if dist[i] <= self._max and (found is None or 1 - dist[i] / 64 > found[1]):
                    found = (self._owners[i], 1 - dist[i] / 64, f"photo pHash {dist[i]} bits from a reference")
        if found is None:
            return Screening([])
        ref = self._refs[found[0]]
        rec = "detain" if ref.protected else "inspect"
        sig = Signal("baseline", found[1], found[2])
        validity = Signal("validity", 1.0 if ref.protected else 0.0, "", kind="validity")
        return Screening([Match(ref.brand_id, 1.0, rec, (sig, validity), identity=1.0,
                                suspicion=1.0, name=ref.name)])
