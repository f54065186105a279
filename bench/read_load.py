"""Officers reading, at a fixed rate: registry search, case view and check results under gunicorn.

    .venv/bin/python -m bench.read_load                        # SQLite, 100 requests/s for 5 minutes
    .venv/bin/python -m bench.read_load --database postgresql://postgres@127.0.0.1:5432/apibench
    .venv/bin/python -m bench.read_load --rate 100 --seconds 60

A registry of ``--marks`` word marks, ``--checks`` officer checks (a tenth of them imitating a
mark) and a detention case for each check that found a brand are made in a fresh database;
gunicorn serves the app factory with 2 sync workers on loopback; an officer signs in through
the login form like anyone else. Then requests are started at ``--rate`` a second for
``--seconds``, whatever the server does, in equal thirds: ``/registry?q=`` with a word from a
mark, ``/cases/<id>`` (which records the officer's view in the audit chain, as every case view
does) and ``/checks/<id>``. Latency counts from when a request was due, so a stall shows.

Printed: the figures of that read mix, and in the same run the same rate on a static file
(the server's floor), so the two can be compared.
"""

from __future__ import annotations

import argparse
import random
import re
import shutil
import sys
import tempfile
import urllib.parse
import urllib.request
from http.cookiejar import CookieJar
from pathlib import Path

from bench.appsetup import BENCH_OFFICER, BENCH_PASSWORD, fresh_app, seed_registry
from bench.cases import lookalike, make_brand_name
from bench.httpload import Gunicorn, fixed_rate, report, request_bytes
from bench.text_bench import make_marks


def make_checks_and_cases(app, marks: list[str], count: int, seed: int) -> tuple[list[int], list[int]]:
    """``count`` checks made as an officer makes them, and a case for each that found a brand."""
    from registry.extensions import db
    from registry.models import User
    from registry.services import tenancy
    from registry.services.cases import open_detention
    from registry.services.checks import screen_declaration
    from registry.services.profiles import load_profiles
    from registry.web.common import upload_policy

    rng = random.Random(f"reads:{seed}")
    profiles = load_profiles()
    checks, cases = [], []
    with app.test_request_context():
        officer = db.session.query(User).filter_by(email=BENCH_OFFICER).one()
        tenancy.bind_actor(db.session, officer)  # as signing in does
        for _ in range(count):
            brand = lookalike(rng.choice(marks), rng) if rng.random() < 0.1 else make_brand_name(rng)
            check = screen_declaration(db.session, officer, app.extensions["blobs"], app.extensions["engine"],
                                       upload_policy(), {"declared_brand": brand, "description": f"sports shoes {brand}",
                                                         "quantity": "200", "declared_value": "600", "currency": "EUR",
                                                         "origin_country": "CN"})
            db.session.commit()
            checks.append(check.id)
            if check.suggestions and check.suggestions[0].right_id:
                case = open_detention(db.session, officer, profiles, check.id, {
                    "jurisdiction": "EU", "legal_basis": "application", "office": "Hamburg",
                    "office_country": "DE", "goods_description": f"sports shoes {brand}"})
                db.session.commit()
                cases.append(case.id)
    return checks, cases


def read_paths(marks: list[str], checks: list[int], cases: list[int], rng: random.Random, count: int) -> list[str]:
    """``count`` paths of the read mix, in turn: a registry search for a word from a mark, a
    case view and a check's results."""
    paths = []
    for index in range(count):
        kind = index % 3
        if kind == 0:
            word = urllib.parse.quote(rng.choice(marks).split()[0][:6].lower())
            paths.append(f"/registry?q={word}")
        elif kind == 1:
            paths.append(f"/cases/{rng.choice(cases)}")
        else:
            paths.append(f"/checks/{rng.choice(checks)}")
    return paths


def sign_in(port: int) -> str:
    """Sign in through the form, as a browser does; returns the session cookie header."""
    jar = CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    page = opener.open(f"http://127.0.0.1:{port}/login").read().decode()
    token = re.search(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"', page).group(1)
    form = urllib.parse.urlencode({"email": BENCH_OFFICER, "password": BENCH_PASSWORD, "csrf_token": token}).encode()
    opener.open(f"http://127.0.0.1:{port}/login", data=form).read()
    cookie = "; ".join(f"{c.name}={c.value}" for c in jar)
    if "/checks" not in opener.open(f"http://127.0.0.1:{port}/checks").geturl():
        raise SystemExit("the officer could not sign in")
    return cookie


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--marks", type=int, default=10_000)
    ap.add_argument("--checks", type=int, default=300)
    ap.add_argument("--database", default="", help="SQLAlchemy URL (default: a fresh SQLite file)")
    ap.add_argument("--redis", default="redis://127.0.0.1:6379/13")
    ap.add_argument("--rate", type=float, default=100)
    ap.add_argument("--seconds", type=float, default=300)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)

    work = Path(tempfile.mkdtemp(prefix="read-load-"))
    try:
        app, env = fresh_app(work, args.database, args.redis)
        marks = make_marks(args.marks, args.seed)
        seed_registry(app, marks, args.seed)
        checks, cases = make_checks_and_cases(app, marks, args.checks, args.seed)
        print(f"registry: {len(marks):,} word marks, {len(checks)} checks, {len(cases)} cases; "
              f"database {app.config['SQLALCHEMY_DATABASE_URI'].split('://')[0]}; gunicorn 2 sync workers")
        rng = random.Random(args.seed)
        with Gunicorn(env, workers=2) as port:
            cookie = sign_in(port)
            mix = [request_bytes("GET", path, cookie=cookie) for path in read_paths(marks, checks, cases, rng, 3000)]
            fixed_rate(port, mix[:200], args.rate, 5)  # warm-up: each worker builds its caches
            report(f"read mix at {args.rate:.0f}/s for {args.seconds:.0f} s", fixed_rate(port, mix, args.rate, args.seconds))
            static = [request_bytes("GET", "/static/css/app.css")]
            report("baseline: a static file at the same rate", fixed_rate(port, static, args.rate, min(args.seconds, 30)))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
