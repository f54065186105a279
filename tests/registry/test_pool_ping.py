"""Pooled PostgreSQL connections: one left idle is pinged before reuse (and replaced when the
database closed it meanwhile); one handed back moments ago is reused without a round trip."""

from __future__ import annotations

import psycopg
import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError

from registry import config


@pytest.fixture
def engine(postgres_url):
    url = postgres_url.replace("postgresql://", "postgresql+psycopg://", 1)
    engine = create_engine(url, pool_size=1, max_overflow=0)
    yield engine
    engine.dispose()


def backend_pid(engine) -> int:
    with engine.connect() as connection:
        return connection.execute(text("SELECT pg_backend_pid()")).scalar_one()


def terminate(postgres_url: str, pid: int) -> None:
    with psycopg.connect(postgres_url, autocommit=True) as admin:
        assert admin.execute("SELECT pg_terminate_backend(%s)", (pid,)).fetchone()[0]


def test_idle_connection_closed_by_the_database_is_replaced(engine, postgres_url, monkeypatch):
    monkeypatch.setattr(config, "POOL_PING_AFTER_IDLE_SECONDS", 0.0)  # every checkout counts as idle
    first = backend_pid(engine)
    terminate(postgres_url, first)  # as a restart or a failover would
    second = backend_pid(engine)  # no error: the ping found it closed and the pool opened another
    assert second != first


def test_connection_used_moments_ago_is_not_pinged(engine, postgres_url, monkeypatch):
    monkeypatch.setattr(config, "POOL_PING_AFTER_IDLE_SECONDS", 3600.0)
    pid = backend_pid(engine)
    terminate(postgres_url, pid)
    # No ping: the request meets the closed connection itself (the app answers that with a 503),
    # and the pool then drops it, so the next request gets a working one.
    with pytest.raises(OperationalError):
        backend_pid(engine)
    assert backend_pid(engine) != pid


def test_ping_opens_no_transaction(engine, monkeypatch):
    monkeypatch.setattr(config, "POOL_PING_AFTER_IDLE_SECONDS", 0.0)
    backend_pid(engine)
    with engine.connect() as connection:
        raw = connection.connection.dbapi_connection
        # Checked out and pinged, but nothing asked of it yet: no transaction begun by the ping.
        assert raw.info.transaction_status == psycopg.pq.TransactionStatus.IDLE
        assert raw.autocommit is False
