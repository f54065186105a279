"""HTTP load for the benchmarks: the app under gunicorn on loopback, and clients that measure it.

A small asyncio HTTP/1.1 client, not a library one: at a few hundred requests a second the
load generator must cost little of a 2-core machine it shares with the server (the benchmarks
print how much of a core it used). Two shapes of load:

- ``closed_loop``: N clients, each sending its next request when the last is answered (as
  "50 concurrent clients"); latency is per request.
- ``fixed_rate``: requests started at a fixed rate whatever the server does (as "100
  requests/s"); latency counts from when a request was due, so a stalled server shows in the
  figures instead of slowing the load down.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import statistics
import subprocess
import sys
import time


def request_bytes(method: str, path: str, *, token: str | None = None, cookie: str | None = None,
                  body: bytes = b"") -> bytes:
    head = f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: application/json, text/html\r\n"
    if token:
        head += f"Authorization: Bearer {token}\r\n"
    if cookie:
        head += f"Cookie: {cookie}\r\n"
    if body:
        head += f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
    return head.encode() + b"\r\n" + body


class Connection:
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


class Result:
    def __init__(self) -> None:
        self.latencies: list[float] = []
        self.statuses: dict[str, int] = {}
        self.elapsed = 0.0
        self.client_cpu = 0.0

    def add(self, latency: float, status: str) -> None:
        self.latencies.append(latency)
        self.statuses[status] = self.statuses.get(status, 0) + 1


_ERRORS = (OSError, ValueError, IndexError, asyncio.IncompleteReadError)


async def _closed_loop(port: int, payloads: list[bytes], clients: int, seconds: float) -> Result:
    result = Result()
    stop = time.perf_counter() + seconds
    counter = iter(range(10**12))

    async def client() -> None:
        connection = Connection(port)
        while time.perf_counter() < stop:
            payload = payloads[next(counter) % len(payloads)]
            started = time.perf_counter()
            try:
                status = str(await connection.send(payload))
            except _ERRORS as exc:
                status = type(exc).__name__
            result.add(time.perf_counter() - started, status)
        connection.close()

    began, cpu = time.perf_counter(), time.process_time()
    await asyncio.gather(*(client() for _ in range(clients)))
    result.elapsed = time.perf_counter() - began
    result.client_cpu = (time.process_time() - cpu) / result.elapsed
    return result


async def _fixed_rate(port: int, payloads: list[bytes], rate: float, seconds: float) -> Result:
    result = Result()
    began, cpu = time.perf_counter(), time.process_time()
    tasks = []

    async def one(payload: bytes, due: float) -> None:
        connection = Connection(port)
        try:
            status = str(await connection.send(payload))
        except _ERRORS as exc:
            status = type(exc).__name__
        finally:
            connection.close()
        result.add(time.perf_counter() - due, status)

    for index in range(int(rate * seconds)):
        due = began + index / rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(payloads[index % len(payloads)], due)))
    await asyncio.gather(*tasks)
    result.elapsed = time.perf_counter() - began
    result.client_cpu = (time.process_time() - cpu) / result.elapsed
    return result


def closed_loop(port: int, payloads: list[bytes], clients: int, seconds: float) -> Result:
    return asyncio.run(_closed_loop(port, payloads, clients, seconds))


def fixed_rate(port: int, payloads: list[bytes], rate: float, seconds: float) -> Result:
    return asyncio.run(_fixed_rate(port, payloads, rate, seconds))


def report(label: str, result: Result, *, expected: set[str] | None = None) -> float:
    """Print one line of figures; returns requests per second. Statuses outside ``expected``
    (default: 2xx) count as errors."""
    ordered = sorted(result.latencies)

    def pct(p: float) -> float:
        return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))] * 1e3

    def fine(status: str) -> bool:
        return status in expected if expected else (status.isdigit() and 200 <= int(status) < 300)

    errors = sum(n for s, n in result.statuses.items() if not fine(s))
    rate = len(ordered) / result.elapsed
    print(f"{label}: {len(ordered):,} requests in {result.elapsed:.1f} s = {rate:,.0f} req/s; "
          f"latency p50 {pct(50):.0f} ms, p90 {pct(90):.0f} ms, p99 {pct(99):.0f} ms, max {ordered[-1] * 1e3:.0f} ms, "
          f"mean {statistics.fmean(ordered) * 1e3:.0f} ms; {errors} errors {result.statuses}; "
          f"the load generator used {100 * result.client_cpu:.0f}% of a core")
    return rate


class Gunicorn:
    """``with Gunicorn(env, workers=2) as port:`` serves the app factory on a free loopback port."""

    def __init__(self, env: dict[str, str], *, workers: int = 2, threads: int = 1) -> None:
        self.env, self.workers, self.threads = env, workers, threads
        self.server: subprocess.Popen | None = None

    def __enter__(self) -> int:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        self.server = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "--workers", str(self.workers), "--threads", str(self.threads),
             "--bind", f"127.0.0.1:{port}", "--backlog", "2048", "--log-level", "warning", "registry:create_app()"],
            env=self.env, start_new_session=True)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.server.poll() is not None:
                raise SystemExit(f"gunicorn exited with {self.server.returncode}")
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                return port
            except OSError:
                time.sleep(0.2)
        self.__exit__(None, None, None)
        raise SystemExit("gunicorn did not start listening")

    def __exit__(self, *exc) -> None:
        if self.server is not None and self.server.poll() is None:
            os.killpg(self.server.pid, signal.SIGTERM)
            self.server.wait(timeout=30)
