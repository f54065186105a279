"""The JSON API under load: ``POST /api/v1/screenings`` (text only) served by gunicorn.

    .venv/bin/python -m bench.api_bench                     # SQLite, 10,000 marks, 2 workers, 50 clients
    .venv/bin/python -m bench.api_bench --database postgresql://postgres@127.0.0.1:5432/apibench
    .venv/bin/python -m bench.api_bench --marks 1000 --seconds 20 --clients 50 --workers 2

A registry of ``--marks`` word marks (with products: price ranges, HS codes) is seeded into a
fresh database, an officer's API token is made, and gunicorn serves the app factory with
``--workers`` sync workers on loopback. ``--clients`` clients, each sending its next request
as soon as the last one is answered (a closed loop, one connection per request), post varied
declarations (about one in ten imitates a registered mark) for ``--seconds`` after a warm-up
in which every worker builds its engine. Every screening is what an officer's is: screened
against the whole registry, stored as a check with its suggestions, and an audit event.

Printed: requests per second, latency percentiles, errors; and, in the same run, the same load
on two baselines: ``GET /api/v1/checks/<id>`` (token check, a check read, JSON out), and a
request refused for a bad token (the floor: HTTP, the rate limits, one token lookup, a JSON error).
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import sys
import tempfile
from pathlib import Path

from bench.appsetup import BENCH_OFFICER, fresh_app, seed_registry
from bench.cases import lookalike, make_brand_name
from bench.httpload import Gunicorn, closed_loop, report, request_bytes
from bench.text_bench import make_marks

_GOODS = ("sports shoes", "leather handbag", "sunglasses", "cotton t-shirts", "wrist watch", "perfume 100ml",
          "baseball caps", "phone cases", "wallets", "denim jeans", "headphones", "backpacks")


def declarations(marks: list[str], count: int, seed: int) -> list[bytes]:
    """Request bodies: varied declarations, about one in ten naming a look-alike of a mark."""
    rng = random.Random(f"api:{seed}")
    bodies = []
    for _ in range(count):
        brand = lookalike(rng.choice(marks), rng) if rng.random() < 0.1 else make_brand_name(rng)
        quantity = rng.randint(1, 500)
        bodies.append(json.dumps({
            "description": f"{rng.choice(_GOODS)} {brand}", "declared_brand": brand,
            "consignor": f"{make_brand_name(rng)} Trading Co", "origin_country": rng.choice(("CN", "VN", "TR", "IN")),
            "quantity": quantity, "declared_value": f"{quantity * rng.uniform(2, 90):.2f}", "currency": "EUR",
            "hs_code": rng.choice(("6403.99", "4202.21", "9004.10", "6109.10", "8518.30")),
        }).encode())
    return bodies


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--marks", type=int, default=10_000)
    ap.add_argument("--database", default="", help="SQLAlchemy URL (default: a fresh SQLite file)")
    ap.add_argument("--redis", default="redis://127.0.0.1:6379/13", help="rate-limit counters ('' for none)")
    ap.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    ap.add_argument("--threads", type=int, default=1, help="threads per worker (more than 1: gthread workers)")
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--seconds", type=float, default=30)
    ap.add_argument("--warmup", type=float, default=10)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)

    work = Path(tempfile.mkdtemp(prefix="api-bench-"))
    app, env = fresh_app(work, args.database, args.redis)
    marks = make_marks(args.marks, args.seed)
    seed_registry(app, marks, args.seed)

    from registry.extensions import db
    from registry.models import User
    from registry.services import api_tokens

    with app.app_context():
        officer = db.session.query(User).filter_by(email=BENCH_OFFICER).one()
        _, token = api_tokens.create_token(db.session, officer, "load benchmark")
        db.session.commit()
    print(f"registry: {len(marks):,} word marks; database {app.config['SQLALCHEMY_DATABASE_URI'].split('://')[0]}; "
          f"gunicorn {args.workers} workers x {args.threads} threads; {args.clients} clients")

    # The limit is per token; a customs system's token is given one sized to its traffic.
    server_env = {**env, "API_RATE_LIMIT": "1000000 per minute", "API_AUTH_FAILURE_LIMIT": "1000000 per minute",
                  "REDIS_URL": args.redis}
    try:
        with Gunicorn(server_env, workers=args.workers, threads=args.threads) as port:
            payloads = [request_bytes("POST", "/api/v1/screenings", token=token, body=body)
                        for body in declarations(marks, 2000, args.seed)]
            # Warm-up: every worker builds its engine from the registry on its first screening.
            closed_loop(port, payloads[:50], args.clients, args.warmup)
            screening_rate = report("POST /api/v1/screenings",
                                    closed_loop(port, payloads, args.clients, args.seconds))

            with app.app_context():
                from registry.models import Check

                check_ids = [cid for (cid,) in db.session.query(Check.id).order_by(Check.id.desc()).limit(500)]
            reads = [request_bytes("GET", f"/api/v1/checks/{cid}", token=token) for cid in check_ids]
            read_rate = report("baseline GET /api/v1/checks/<id>",
                               closed_loop(port, reads, args.clients, min(args.seconds, 15)))
            refused = [request_bytes("GET", "/api/v1/cases", token="cgr_not-a-token")]
            floor_rate = report("floor: a request refused for its token (401)",
                                closed_loop(port, refused, args.clients, min(args.seconds, 10)), expected={"401"})
            print(f"screening and storing a declaration runs at {screening_rate / read_rate:.2f}x the rate of reading "
                  f"a check and {screening_rate / floor_rate:.2f}x the rate of refusing a bad token")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
