"""The API's rate limit per token: one window shared by every process through Redis, and a limit
per process (not none) while the store is unreachable."""

from __future__ import annotations

import secrets

import pytest

from registry.api import ratelimit
from registry.api.ratelimit import TokenRateLimit


def test_processes_share_one_window_in_redis(redis_url):
    key = f"token:{secrets.token_hex(8)}"
    worker_a, worker_b = TokenRateLimit(redis_url), TokenRateLimit(redis_url)  # two app processes
    assert worker_a.hit("3 per minute", key) is None
    assert worker_b.hit("3 per minute", key) is None
    assert worker_a.hit("3 per minute", key) is None
    retry_after = worker_b.hit("3 per minute", key)  # the fourth, whichever process gets it
    assert retry_after is not None and 1 <= retry_after <= 61  # the window, and a second for the store's whole-second rounding
    assert worker_a.hit("3 per minute", f"token:{secrets.token_hex(8)}") is None  # another token


def test_every_limit_of_the_text_holds():
    limit = TokenRateLimit("memory://")
    key = "token:several"
    replies = [limit.hit("5 per minute;2 per second", key) for _ in range(3)]
    assert replies[:2] == [None, None]
    assert replies[2] is not None  # the per-second limit bites first


def test_unreachable_store_limits_per_process_and_is_tried_again(monkeypatch):
    limit = TokenRateLimit("redis://127.0.0.1:1/0")  # nothing listens there
    key = "token:store-down"
    replies = [limit.hit("2 per minute", key) for _ in range(3)]
    assert replies[:2] == [None, None]
    assert replies[2] is not None  # still limited, in this process's memory
    # After the retry delay the store is asked again (and found still down: counted locally).
    clock = [0.0]
    monkeypatch.setattr(ratelimit.time, "monotonic", lambda: clock[0])
    limit._shared_down_until = 10.0
    calls = []
    real = limit._shared.hit
    monkeypatch.setattr(limit._shared, "hit", lambda *a, **k: calls.append(a) or real(*a, **k))
    clock[0] = 5.0
    limit.hit("100 per minute", "token:other")
    assert calls == []  # within the delay: not asked
    clock[0] = 11.0
    assert limit.hit("100 per minute", "token:other") is None
    assert len(calls) == 1


def test_retry_after_covers_every_full_window():
    """With 1 a second and 2 a minute both used up, a retry after one second would be refused
    again (and counted): the client is told to wait for the minute."""
    limit = TokenRateLimit("memory://")
    key = "token:two-windows"
    assert limit.hit("1 per second;2 per minute", key) is None
    first_refusal = limit.hit("1 per second;2 per minute", key)
    assert first_refusal is not None and first_refusal <= 2  # only the second's window is full
    ratelimit.time.sleep(1.05)
    assert limit.hit("1 per second;2 per minute", key) is None  # the second one of the minute
    refused = limit.hit("1 per second;2 per minute", key)
    assert refused is not None and refused >= 55  # both full: wait for the minute's window


def test_after_the_store_failed_one_request_probes_it_the_others_count_locally(monkeypatch):
    limit = TokenRateLimit("redis://127.0.0.1:1/0")
    clock = [100.0]
    monkeypatch.setattr(ratelimit.time, "monotonic", lambda: clock[0])
    limit.hit("100 per minute", "token:a")  # fails over to memory for STORE_RETRY_SECONDS
    clock[0] += ratelimit.STORE_RETRY_SECONDS + 1
    probes = []
    real = limit._shared.hit
    monkeypatch.setattr(limit._shared, "hit", lambda *a, **k: probes.append(a) or real(*a, **k))
    for _ in range(5):  # the delay is over: the first asks the store (still down), the rest do not
        assert limit.hit("100 per minute", "token:a") is None
    assert len(probes) == 1


def test_a_rate_limit_that_cannot_be_read_stops_the_start(tmp_path):
    from registry import create_app

    with pytest.raises(ValueError, match="API_RATE_LIMIT '6000 a minute' is not a rate limit"):
        create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'x.sqlite3'}", "SECRET_KEY": "x",
                    "BLOB_DIR": str(tmp_path / "blobs"), "SIGNING_KEY_FILE": str(tmp_path / "key.pem"),
                    "API_RATE_LIMIT": "6000 a minute"})
