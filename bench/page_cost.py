"""CPU of the app per page, for the three pages of the read mix: registry search, case view, check.

    .venv/bin/python -m bench.page_cost                       # SQLite (a fresh file)
    .venv/bin/python -m bench.page_cost --database postgresql://postgres@127.0.0.1:5432/apibench
    .venv/bin/python -m bench.page_cost --profile check       # and where one page's time goes

The same registry, checks and cases as ``bench.read_load`` (its seeding and its mix of paths),
the same officer signed in through the login form, but no server: the pages are asked for
in this process through Flask's test client, one at a time. After ``--warmup`` requests of
each page (each process builds its caches, as a worker does during read_load's warm-up),
``--requests`` of each are timed: the CPU time of this process per request (with PostgreSQL
the database server's own CPU is not in it; with SQLite it is), and the wall time.

Every response must be a 200; anything else stops the run. ``--profile PAGE...`` then runs that
page's requests again under cProfile (counting CPU time) and prints the functions taking the
most time.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import random
import re
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

from bench.appsetup import BENCH_OFFICER, BENCH_PASSWORD, fresh_app, seed_registry
from bench.read_load import make_checks_and_cases, read_paths
from bench.text_bench import make_marks

PAGES = ("search", "case", "check")
#: What read_load's client sends.
HEADERS = {"Accept": "application/json, text/html"}


def signed_in_client(app):
    client = app.test_client()
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"', page).group(1)
    client.post("/login", data={"email": BENCH_OFFICER, "password": BENCH_PASSWORD, "csrf_token": token})
    if client.get("/checks").status_code != 200:
        raise SystemExit("the officer could not sign in")
    return client


def fetch(client, path: str) -> None:
    response = client.get(path, headers=HEADERS)
    response.get_data()
    if response.status_code != 200:
        raise SystemExit(f"GET {path} answered {response.status_code}")
    response.close()


def timed(client, paths: list[str]) -> tuple[float, float]:
    """Mean CPU and wall milliseconds per request over ``paths``."""
    cpu, wall = [], []
    for path in paths:
        c, w = time.process_time(), time.perf_counter()
        fetch(client, path)
        cpu.append(time.process_time() - c)
        wall.append(time.perf_counter() - w)
    return statistics.fmean(cpu) * 1e3, statistics.fmean(wall) * 1e3


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--marks", type=int, default=10_000)
    ap.add_argument("--checks", type=int, default=300)
    ap.add_argument("--database", default="", help="SQLAlchemy URL (default: a fresh SQLite file); "
                                                   "a PostgreSQL database given is emptied first")
    ap.add_argument("--redis", default="redis://127.0.0.1:6379/13")
    ap.add_argument("--requests", type=int, default=300, help="timed requests per page")
    ap.add_argument("--warmup", type=int, default=50, help="untimed requests per page first")
    ap.add_argument("--rounds", type=int, default=3, help="the timed requests in this many rounds, "
                                                          "pages in turn; the best round's mean is printed")
    ap.add_argument("--profile", choices=PAGES, nargs="+", default=[], help="then profile these pages' requests")
    ap.add_argument("--top", type=int, default=40, help="functions printed by --profile")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)

    work = Path(tempfile.mkdtemp(prefix="page-cost-"))
    try:
        app, _env = fresh_app(work, args.database, args.redis)
        marks = make_marks(args.marks, args.seed)
        seed_registry(app, marks, args.seed)
        checks, cases = make_checks_and_cases(app, marks, args.checks, args.seed)
        print(f"registry: {len(marks):,} word marks, {len(checks)} checks, {len(cases)} cases; "
              f"database {app.config['SQLALCHEMY_DATABASE_URI'].split('://')[0]}; in-process test client")
        mix = read_paths(marks, checks, cases, random.Random(args.seed), 3 * (args.warmup + args.requests))
        by_page = {page: mix[index::3] for index, page in enumerate(PAGES)}
        client = signed_in_client(app)
        for page in PAGES:
            for path in by_page[page][:args.warmup]:
                fetch(client, path)
        best: dict[str, tuple[float, float]] = {}
        per_round = max(1, args.requests // args.rounds)
        for round_ in range(args.rounds):
            for page in PAGES:
                start = args.warmup + round_ * per_round
                cpu, wall = timed(client, by_page[page][start:start + per_round])
                if page not in best or cpu < best[page][0]:
                    best[page] = (cpu, wall)
        labels = {"search": "registry search /registry?q=", "case": "case view /cases/<id>",
                  "check": "check results /checks/<id>"}
        for page in PAGES:
            cpu, wall = best[page]
            print(f"{labels[page]:<32} CPU {cpu:5.1f} ms  wall {wall:5.1f} ms per request "
                  f"(best of {args.rounds} rounds of {per_round})")
        total = statistics.fmean(best[p][0] for p in PAGES)
        print(f"{'mean of the three':<32} CPU {total:5.1f} ms: at most {2 * 1000 / total:,.0f} req/s on 2 cores "
              f"for the app alone")
        for page in args.profile:
            # CPU time, as above: time waiting for the database is not the app's cost.
            profiler = cProfile.Profile(time.process_time)
            paths = by_page[page][args.warmup:]
            profiler.enable()
            for path in paths:
                fetch(client, path)
            profiler.disable()
            print(f"\ncProfile (CPU time) of {len(paths)} requests of the {page} page:")
            stats = pstats.Stats(profiler, stream=sys.stdout).strip_dirs()
            stats.sort_stats("tottime").print_stats(args.top)
            stats.sort_stats("cumulative").print_stats(args.top)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
