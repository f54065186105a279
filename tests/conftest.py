"""Fixtures shared by every test package.

Database tests run once per backend: SQLite always, and PostgreSQL when it is reachable at
``TEST_DATABASE_URL`` (default ``postgresql://postgres@127.0.0.1:5432/test``). CI sets
``REQUIRE_POSTGRES=1`` so that an unreachable PostgreSQL fails the run instead of skipping.
"""

from __future__ import annotations

import os

import pytest

POSTGRES_URL = os.environ.get("TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")


def postgres_reachable(url: str = POSTGRES_URL) -> bool:
    import psycopg

    try:
        with psycopg.connect(url, connect_timeout=3):
            return True
    except psycopg.OperationalError:
        return False


@pytest.fixture(scope="session")
def postgres_url() -> str:
    """A PostgreSQL database of this test run's own, dropped at the end.

    Runs that share a server (a developer's and CI's, or parallel helpers) never see or lock
    each other's tables. Where the role may not create databases, the configured database's
    public schema is reset instead.
    """
    import secrets

    import psycopg
    from sqlalchemy.engine import make_url

    if not postgres_reachable():
        if os.environ.get("REQUIRE_POSTGRES"):
            pytest.fail(f"PostgreSQL is required (REQUIRE_POSTGRES=1) but not reachable at {POSTGRES_URL}")
        pytest.skip(f"PostgreSQL not reachable at {POSTGRES_URL}")
    name = f"registry_test_{os.getpid()}_{secrets.token_hex(3)}"
    with psycopg.connect(POSTGRES_URL, autocommit=True) as admin:
        try:
            admin.execute(f'CREATE DATABASE "{name}"')
        except psycopg.errors.InsufficientPrivilege:
            admin.execute("DROP SCHEMA IF EXISTS public CASCADE")
            admin.execute("CREATE SCHEMA public")
            yield POSTGRES_URL
            return
    yield make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)
    with psycopg.connect(POSTGRES_URL, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session", autouse=True)
def cheap_password_hashing():
    """Argon2 at its cheapest parameters: tests create many accounts, and the strength of
    the production parameters is not what they check."""
    from argon2 import PasswordHasher
    from argon2.profiles import CHEAPEST

    from registry.services import auth

    strong = auth._hasher
    auth._hasher = PasswordHasher.from_parameters(CHEAPEST)
    yield
    auth._hasher = strong


REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


@pytest.fixture(scope="session")
def redis_url() -> str:
    """The Redis of the machine, for the RQ worker tests; CI sets ``REQUIRE_REDIS=1``."""
    from redis import Redis
    from redis.exceptions import RedisError

    try:
        Redis.from_url(REDIS_URL, socket_connect_timeout=3).ping()
    except RedisError:
        if os.environ.get("REQUIRE_REDIS"):
            pytest.fail(f"Redis is required (REQUIRE_REDIS=1) but not reachable at {REDIS_URL}")
        pytest.skip(f"Redis not reachable at {REDIS_URL}")
    return REDIS_URL
