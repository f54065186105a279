"""Quality targets on generated labelled cases, our engine beside the simple baseline.

    .venv/bin/python -m bench.quality [--brands 300] [--per-kind 60] [--seed 0] [--ocr]

Generates ``--brands`` registered brands and ``--per-kind`` cases of each kind with
``bench.cases.make_case_set``, builds the engine and the baseline on the same references,
screens every case with both and prints the targets table, the per-kind figures and the
detain-threshold sweep. OCR is off unless ``--ocr`` is given (it is the slowest signal and
the targets do not depend on it).
"""

from __future__ import annotations

import argparse
import sys
import time

from bench.cases import make_case_set
from matchers import Engine
from matchers.evaluate import BaselineEngine, EvaluationReport, evaluate

#: (label, kind, measure, target, direction): measure is "top1" or "detain".
TARGETS = (
    ("brand top-1 on counterfeit cases, all signals", "counterfeit", "top1", 0.97, ">="),
    ("brand top-1 from the photos alone", "photo_only", "top1", 0.90, ">="),
    ("brand top-1 from a look-alike declared brand alone", "lookalike_name", "top1", 0.97, ">="),
    ("counterfeits recommended detain (recall)", "counterfeit", "detain", 0.95, ">="),
    ("genuine shipments recommended detain", "genuine", "detain", 0.005, "<="),
    ("unregistered brands recommended detain", "unregistered", "detain", 0.01, "<="),
)


def figure(report: EvaluationReport, kind: str, measure: str) -> float:
    """One figure of a report (NaN when the kind is missing)."""
    k = report.kinds.get(kind)
    if k is None:
        return float("nan")
    return k.top1 if measure == "top1" else k.detain_rate


def targets_table(ours: EvaluationReport, base: EvaluationReport | None) -> tuple[str, bool]:
    """The targets table and whether every target is met by ours."""
    lines = [f"{'measure':<52}{'target':>9}{'ours':>8}{'baseline':>10}  met"]
    all_met = True
    for label, kind, measure, target, direction in TARGETS:
        v = figure(ours, kind, measure)
        b = figure(base, kind, measure) if base else float("nan")
        met = v >= target if direction == ">=" else v <= target
        all_met &= met
        lines.append(f"{label:<52}{direction + ' ' + format(target, 'g'):>9}{v:>8.3f}{b:>10.3f}  "
                     f"{'yes' if met else 'NO'}")
    return "\n".join(lines), all_met


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--brands", type=int, default=300)
    ap.add_argument("--per-kind", type=int, default=60)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--ocr", action="store_true")
    ap.add_argument("--no-baseline", action="store_true")
    args = ap.parse_args(argv)

    t0 = time.perf_counter()
    cs = make_case_set(args.brands, seed=args.seed, cases_per_kind=args.per_kind)
    t_gen = time.perf_counter() - t0
    t0 = time.perf_counter()
    engine = Engine(cs.references, ocr=args.ocr, workers=args.workers)
    t_build = time.perf_counter() - t0
    ours = evaluate(engine, cs.cases)
    base = None
    if not args.no_baseline:
        base = evaluate(BaselineEngine(cs.references), cs.cases)
    print(f"{len(cs.references)} brands, {len(cs.cases)} cases ({args.per_kind} per kind), "
          f"seed {args.seed}, OCR {'on' if args.ocr else 'off'}; generated in {t_gen:.0f} s, "
          f"engine built in {t_build:.0f} s")
    print()
    table, ok = targets_table(ours, base)
    print(table)
    print()
    print("ours:")
    print(ours.table())
    if base is not None:
        print()
        print("baseline (declared brand WRatio >= 90, else nearest pHash):")
        print(base.table())
    wrong = [e for e in ours.errors]
    if wrong:
        print()
        print(f"top-1 misses ({len(wrong)}): " + ", ".join(f"{k}:{e}->{g}" for k, e, g in wrong[:30]))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
