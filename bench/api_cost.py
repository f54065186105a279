"""CPU of the app per JSON API request: a screening, a check read, a refused token, a static file.

    .venv/bin/python -m bench.api_cost                        # SQLite (a fresh file)
    .venv/bin/python -m bench.api_cost --database postgresql://postgres@127.0.0.1:5432/apibench
    .venv/bin/python -m bench.api_cost --profile screening    # and where one request's time goes

The same registry, token and declarations as ``bench.api_bench`` (its seeding, its varied
declarations, its rate limit per token in Redis), but no server: the requests are made in this
process through Flask's test client, one at a time. What is timed:

* ``screening``: ``POST /api/v1/screenings``, text only, one varied declaration each (about one
  in ten imitates a registered mark); each is screened, stored as a check with its
  suggestions and an audit event, as in api_bench;
* ``check``: ``GET /api/v1/checks/<id>`` of the checks the screenings stored;
* ``refused``: a request refused for a bad token (401), api_bench's floor;
* ``static``: a static file, the floor of Flask, its extensions' hooks and the headers.

After ``--warmup`` requests of each (the first screening builds the engine, as a worker does
in api_bench's warm-up), ``--requests`` of each are timed in ``--rounds`` rounds, kinds in turn:
the CPU time of this process per request (with SQLite the database's work is in it; with
PostgreSQL it is not, and the CPU of this database's client backends is printed beside it, read
from /proc), the wall time and the SQL statements sent. The best round's mean is printed.

Every response must have its expected status; anything else stops the run. ``--profile
KIND...`` then runs that kind's requests again under cProfile (counting CPU time) and prints
the functions taking the most time.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import shutil
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from bench.api_bench import declarations
from bench.appsetup import BENCH_OFFICER, fresh_app, seed_registry
from bench.text_bench import make_marks

KINDS = ("screening", "check", "refused", "static")
LABELS = {"screening": "POST /api/v1/screenings", "check": "GET /api/v1/checks/<id>",
          "refused": "refused for its token (401)", "static": "static file"}
STATUS = {"screening": 201, "check": 200, "refused": 401, "static": 200}
#: What api_bench's client sends.
ACCEPT = "application/json, text/html"
STATIC_PATH = "/static/css/app.css"


@dataclass
class Figures:
    cpu_ms: float
    wall_ms: float
    db_cpu_ms: float | None
    statements: float


class Requests:
    """The requests of each kind, made one at a time through the test client."""

    def __init__(self, app, token: str, bodies: list[bytes]) -> None:
        self.app = app
        self.client = app.test_client()
        self.token = token
        self.bodies = bodies
        self.next_body = 0
        self.check_ids: list[int] = []
        self.next_check = 0
        self.statements = 0

    def make(self, kind: str) -> None:
        headers = {"Accept": ACCEPT}
        if kind == "screening":
            body = self.bodies[self.next_body % len(self.bodies)]
            self.next_body += 1
            headers["Authorization"] = f"Bearer {self.token}"
            response = self.client.post("/api/v1/screenings", data=body, headers=headers,
                                        content_type="application/json")
        elif kind == "check":
            check_id = self.check_ids[self.next_check % len(self.check_ids)]
            self.next_check += 1
            headers["Authorization"] = f"Bearer {self.token}"
            response = self.client.get(f"/api/v1/checks/{check_id}", headers=headers)
        elif kind == "refused":
            headers["Authorization"] = "Bearer cgr_not-a-token"
            response = self.client.get("/api/v1/cases", headers=headers)
        else:
            response = self.client.get(STATIC_PATH, headers=headers)
        data = response.get_data()
        if response.status_code != STATUS[kind]:
            raise SystemExit(f"{kind}: answered {response.status_code}: {data[:300]!r}")
        if kind == "screening" and len(self.check_ids) < 2000:
            self.check_ids.append(response.get_json()["id"])
        response.close()


def database_cpu_seconds(app) -> float | None:
    """CPU seconds used so far by the PostgreSQL server processes serving the bench database
    (None on SQLite, or when /proc does not tell)."""
    from registry.extensions import db

    with app.app_context():
        if db.engine.dialect.name != "postgresql":
            return None
        name = db.engine.url.database
        with db.engine.connect() as connection:  # the pool's: the requests' own backend is among them
            # Client backends only: autovacuum's workers come and go with the tables' growth.
            pids = [pid for (pid,) in connection.exec_driver_sql(
                "SELECT pid FROM pg_stat_activity WHERE datname = %s AND backend_type = 'client backend'", (name,))]
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    try:
        for pid in pids:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime
    except (OSError, IndexError, ValueError):
        return None
    return total / ticks


def timed(requests: Requests, kind: str, count: int) -> Figures:
    db_before = database_cpu_seconds(requests.app)
    statements_before = requests.statements
    cpu = wall = 0.0
    for _ in range(count):
        c, w = time.process_time(), time.perf_counter()
        requests.make(kind)
        cpu += time.process_time() - c
        wall += time.perf_counter() - w
    statements = (requests.statements - statements_before) / count
    db_after = database_cpu_seconds(requests.app)
    db_cpu = None if db_before is None or db_after is None else (db_after - db_before) / count * 1e3
    return Figures(cpu / count * 1e3, wall / count * 1e3, db_cpu, statements)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--marks", type=int, default=10_000)
    ap.add_argument("--database", default="", help="SQLAlchemy URL (default: a fresh SQLite file); "
                                                   "a PostgreSQL database given is emptied first")
    ap.add_argument("--redis", default="redis://127.0.0.1:6379/13", help="rate-limit counters ('' for none)")
    ap.add_argument("--requests", type=int, default=600, help="timed requests per kind")
    ap.add_argument("--warmup", type=int, default=50, help="untimed requests per kind first")
    ap.add_argument("--rounds", type=int, default=3, help="the timed requests in this many rounds, "
                                                          "kinds in turn; the best round's mean is printed")
    ap.add_argument("--profile", choices=KINDS, nargs="+", default=[], help="then profile these kinds' requests")
    ap.add_argument("--top", type=int, default=40, help="functions printed by --profile")
    ap.add_argument("--profile-file", default="", help="also save each profile as FILE.KIND (for pstats)")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)

    work = Path(tempfile.mkdtemp(prefix="api-cost-"))
    try:
        # As api_bench's server: the limit is per token, in Redis, sized to the traffic.
        app, _env = fresh_app(work, args.database, args.redis, API_RATE_LIMIT="1000000 per minute",
                                API_AUTH_FAILURE_LIMIT="1000000 per minute")
        marks = make_marks(args.marks, args.seed)
        seed_registry(app, marks, args.seed)

        from sqlalchemy import event

        from registry.extensions import db
        from registry.models import User
        from registry.services import api_tokens

        with app.app_context():
            officer = db.session.query(User).filter_by(email=BENCH_OFFICER).one()
            _, token = api_tokens.create_token(db.session, officer, "cost benchmark")
            db.session.commit()
            engine = db.engine
        bodies = declarations(marks, 2000, args.seed)
        requests = Requests(app, token, bodies)

        @event.listens_for(engine, "before_cursor_execute")
        def _count(*_args) -> None:
            requests.statements += 1

        print(f"registry: {len(marks):,} word marks; database {engine.dialect.name}; "
              f"rate limits in {args.redis or 'memory'}; in-process test client")
        for kind in KINDS:  # screenings first: the check reads read what they stored
            for _ in range(args.warmup):
                requests.make(kind)
        best: dict[str, Figures] = {}
        per_round = max(1, args.requests // args.rounds)
        for _ in range(args.rounds):
            for kind in KINDS:
                figures = timed(requests, kind, per_round)
                if kind not in best or figures.cpu_ms < best[kind].cpu_ms:
                    best[kind] = figures
        floor = best["static"].cpu_ms
        for kind in KINDS:
            f = best[kind]
            db_cpu = "" if f.db_cpu_ms is None else f"  database CPU {f.db_cpu_ms:5.2f} ms"
            print(f"{LABELS[kind]:<30} CPU {f.cpu_ms:6.2f} ms ({f.cpu_ms / floor:5.1f}x static)  "
                  f"wall {f.wall_ms:6.2f} ms  {f.statements:4.1f} statements{db_cpu}  "
                  f"(best of {args.rounds} rounds of {per_round})")
        screening = best["screening"]
        machine = screening.cpu_ms + (screening.db_cpu_ms or 0.0)
        print(f"a screening costs {screening.cpu_ms / best['refused'].cpu_ms:.2f}x a refused request and "
              f"{screening.cpu_ms / best['check'].cpu_ms:.2f}x a check read; with the database's share, "
              f"{machine:.2f} ms of machine time: at most {2 * 1000 / machine:,.0f} screenings/s on 2 cores "
              f"before HTTP parsing and gunicorn")
        for kind in args.profile:
            # CPU time, as above: time waiting for the database is not the app's cost.
            profiler = cProfile.Profile(time.process_time)
            count = args.requests
            profiler.enable()
            for _ in range(count):
                requests.make(kind)
            profiler.disable()
            if args.profile_file:
                profiler.dump_stats(f"{args.profile_file}.{kind}")
            print(f"\ncProfile (CPU time) of {count} requests: {LABELS[kind]}")
            stats = pstats.Stats(profiler, stream=sys.stdout).strip_dirs()
            stats.sort_stats("tottime").print_stats(args.top)
            stats.sort_stats("cumulative").print_stats(args.top)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
