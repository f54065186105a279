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
request refused for a bad token (the floor: HTTP, rate limit, one token lookup, a JSON error).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.appsetup import BENCH_OFFICER, fresh_app, seed_registry
from bench.cases import lookalike, make_brand_name
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


def _request(method: str, path: str, token: str, body: bytes = b"") -> bytes:
    head = (f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\n"
            f"Accept: application/json\r\n")
    if body:
        head += f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
    return head.encode() + b"\r\n" + body


class _Connection:
    """One client's HTTP/1.1 connection, kept open while the server keeps it (gunicorn's sync
    workers close it after every response; threaded workers keep it alive)."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def send(self, payload: bytes) -> int:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
        try:
            self.writer.write(payload)
            await self.writer.drain()
            status_line = await self.reader.readline()
            if not status_line:
                raise ConnectionResetError("the server closed the connection")
            status = int(status_line.split()[1])
            length, close = None, False
            while (line := await self.reader.readline()) not in (b"\r\n", b""):
                name, _, value = line.partition(b":")
                name = name.strip().lower()
                if name == b"content-length":
                    length = int(value)
                elif name == b"connection" and value.strip().lower() == b"close":
                    close = True
            if length is None:
                await self.reader.read()
                close = True
            else:
                await self.reader.readexactly(length)
        except BaseException:
            self.close()
            raise
        if close:
            self.close()
        return status

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


async def _load(port: int, payloads: list[bytes], clients: int, seconds: float) -> tuple[list[float], dict, float]:
    """Closed-loop load: each client sends its next request when the last is answered."""
    latencies: list[float] = []
    statuses: dict[str, int] = {}
    stop = time.perf_counter() + seconds
    counter = iter(range(10**12))

    async def client() -> None:
        connection = _Connection(port)
        while time.perf_counter() < stop:
            payload = payloads[next(counter) % len(payloads)]
            started = time.perf_counter()
            try:
                status = str(await connection.send(payload))
            except (OSError, ValueError, IndexError, asyncio.IncompleteReadError) as exc:
                status = type(exc).__name__
            latencies.append(time.perf_counter() - started)
            statuses[status] = statuses.get(status, 0) + 1
        connection.close()

    began, cpu = time.perf_counter(), time.process_time()
    await asyncio.gather(*(client() for _ in range(clients)))
    elapsed = time.perf_counter() - began
    statuses["client CPU %"] = round(100 * (time.process_time() - cpu) / elapsed)
    return latencies, statuses, elapsed


def _report(label: str, latencies: list[float], statuses: dict, elapsed: float) -> float:
    ordered = sorted(latencies)

    def pct(p: float) -> float:
        return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))] * 1e3

    client_cpu = statuses.pop("client CPU %")
    ok = sum(n for s, n in statuses.items() if (s.isdigit() and 200 <= int(s) < 300) or s == "refused as expected")
    rate = len(latencies) / elapsed
    print(f"{label}: {len(latencies):,} requests in {elapsed:.1f} s = {rate:,.0f} req/s; "
          f"latency p50 {pct(50):.0f} ms, p90 {pct(90):.0f} ms, p99 {pct(99):.0f} ms, max {ordered[-1] * 1e3:.0f} ms, "
          f"mean {statistics.fmean(ordered) * 1e3:.0f} ms; {len(latencies) - ok} errors {statuses}; "
          f"the load generator used {client_cpu}% of a core")
    return rate


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_until_serving(port: int, server: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"gunicorn exited with {server.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.2)
    raise SystemExit("gunicorn did not start listening")


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

    port = _free_port()
    # The limit is per token; a customs system's token is given one sized to its traffic.
    server_env = {**env, "API_RATE_LIMIT": "1000000 per minute", "REDIS_URL": args.redis}
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "--workers", str(args.workers), "--threads", str(args.threads),
         "--bind", f"127.0.0.1:{port}",
         "--backlog", "2048", "--log-level", "warning", "registry:create_app()"],
        env=server_env, start_new_session=True)
    try:
        _wait_until_serving(port, server)
        payloads = [_request("POST", "/api/v1/screenings", token, body)
                    for body in declarations(marks, 2000, args.seed)]
        # Warm-up: every worker builds its engine from the registry on its first screening.
        asyncio.run(_load(port, payloads[:50], args.clients, args.warmup))
        latencies, statuses, elapsed = asyncio.run(_load(port, payloads, args.clients, args.seconds))
        screening_rate = _report("POST /api/v1/screenings", latencies, statuses, elapsed)

        with app.app_context():
            from registry.models import Check

            check_ids = [cid for (cid,) in db.session.query(Check.id).order_by(Check.id.desc()).limit(500)]
        reads = [_request("GET", f"/api/v1/checks/{cid}", token) for cid in check_ids]
        latencies, statuses, elapsed = asyncio.run(_load(port, reads, args.clients, min(args.seconds, 15)))
        read_rate = _report("baseline GET /api/v1/checks/<id>", latencies, statuses, elapsed)
        refused = [_request("GET", "/api/v1/cases", "cgr_not-a-token")]
        latencies, statuses, elapsed = asyncio.run(_load(port, refused, args.clients, min(args.seconds, 10)))
        statuses = {("refused as expected" if s == "401" else s): n for s, n in statuses.items()}
        floor_rate = _report("floor: a request refused for its token (401)", latencies, statuses, elapsed)
        print(f"screening and storing a declaration runs at {screening_rate / read_rate:.2f}x the rate of reading "
              f"a check and {screening_rate / floor_rate:.2f}x the rate of refusing a bad token")
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
