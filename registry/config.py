"""Configuration: defaults, then environment variables, then explicit overrides.

The embedded default needs nothing installed: SQLite in WAL mode and a blob directory, both
under the instance folder. ``DATABASE_URL`` switches to PostgreSQL in production.
"""

from __future__ import annotations

import os
import secrets
import time
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.pool import Pool

# Environment variables read, with the config key each one sets.
_ENVIRONMENT = {
    "DATABASE_URL": "SQLALCHEMY_DATABASE_URI",
    # PostgreSQL: the role that owns the tables and runs ``flask db upgrade``; the application
    # itself connects (DATABASE_URL) as a member of ``registry_app``, which owns nothing.
    "MIGRATION_DATABASE_URL": "MIGRATION_DATABASE_URI",
    "SECRET_KEY": "SECRET_KEY",
    "BLOB_DIR": "BLOB_DIR",
    "DISPLAY_COPY_DIR": "DISPLAY_COPY_DIR",
    "SIGNING_KEY_FILE": "SIGNING_KEY_FILE",
    "BULK_ENGINE_DIR": "BULK_ENGINE_DIR",
    "BULK_QUEUE": "BULK_QUEUE",
    "BULK_CHUNK_LINES": "BULK_CHUNK_LINES",
    "BULK_LEASE_SECONDS": "BULK_LEASE_SECONDS",
    "REDIS_URL": "REDIS_URL",
    "JURISDICTION_PROFILES_FILE": "JURISDICTION_PROFILES_FILE",
    "MAIL_SERVER": "MAIL_SERVER",
    "MAIL_PORT": "MAIL_PORT",
    "MAIL_USERNAME": "MAIL_USERNAME",
    "MAIL_PASSWORD": "MAIL_PASSWORD",
    "MAIL_SENDER": "MAIL_SENDER",
    "MAIL_OUTBOX_DIR": "MAIL_OUTBOX_DIR",
    "RATELIMIT_STORAGE_URI": "RATELIMIT_STORAGE_URI",
    "API_RATE_LIMIT": "API_RATE_LIMIT",
    "API_AUTH_FAILURE_LIMIT": "API_AUTH_FAILURE_LIMIT",
    "SESSION_COOKIE_SECURE": "SESSION_COOKIE_SECURE",
    "FORCE_HTTPS": "FORCE_HTTPS",
    "ENGINE_OCR": "ENGINE_OCR",
    "TIMEZONE": "TIMEZONE",
}

_BOOLEAN_KEYS = {"SESSION_COOKIE_SECURE", "FORCE_HTTPS", "ENGINE_OCR"}
_INTEGER_KEYS = {"BULK_CHUNK_LINES", "BULK_LEASE_SECONDS"}

#: Seconds a new PostgreSQL connection may take. With the database down or unreachable, a request
#: fails within this (answered 503) instead of holding a worker until the OS gives up on the
#: connection; ``_ping_if_idle`` below makes the first request after a restart reconnect.
POSTGRES_CONNECT_TIMEOUT = 5

#: Seconds a pooled connection may lie unused before it is pinged on its next checkout.
POOL_PING_AFTER_IDLE_SECONDS = 2.0


@event.listens_for(Engine, "do_connect")
def _postgres_connect_timeout(dialect, _record, _args, params) -> None:
    # A connect hook rather than a static engine option: the URL (and so the backend) may come
    # from the environment or from create_app's overrides, and SQLite's driver refuses the
    # argument. A connect_timeout in DATABASE_URL's query string wins.
    if dialect.name == "postgresql":
        params.setdefault("connect_timeout", POSTGRES_CONNECT_TIMEOUT)


@event.listens_for(Pool, "checkin")
def _note_checkin(_dbapi_connection, record) -> None:
    record.info["checked_in_at"] = time.monotonic()


@event.listens_for(Pool, "checkout")
def _ping_if_idle(dbapi_connection, record, _proxy) -> None:
    """A connection that lay unused for a while is pinged before a request gets it: the
    database may have been restarted, failed over, or closed it meanwhile, and the pool then
    opens a fresh one (DisconnectionError) instead of the request failing. SQLAlchemy's
    ``pool_pre_ping`` pings on every checkout, a round trip costing about a tenth of a cheap API
    request; a connection handed back moments ago is used unpinged. Should the database go away
    under steady load, the request that meets the closed connection is answered 503 (nothing
    was saved), and that error makes the pool drop every connection opened before it."""
    last = record.info.get("checked_in_at")
    if last is None or time.monotonic() - last < POOL_PING_AFTER_IDLE_SECONDS:
        return
    # As SQLAlchemy's own ping: in autocommit, so that the ping opens no transaction (psycopg
    # would otherwise begin one and the request's statements would run inside it).
    autocommit = getattr(dbapi_connection, "autocommit", None)
    try:
        if autocommit is False:
            dbapi_connection.autocommit = True
        try:
            cursor = dbapi_connection.cursor()
            try:
                cursor.execute("SELECT 1")
            finally:
                cursor.close()
        finally:
            if autocommit is False:
                dbapi_connection.autocommit = False
    except Exception as exc:  # noqa: BLE001 - any failure of the ping means: not this connection
        raise DisconnectionError(f"pooled connection failed its ping: {exc}") from exc


def defaults(instance_path: str) -> dict[str, Any]:
    """The embedded defaults: everything local, under the instance folder."""
    instance = Path(instance_path)
    return {
        "SQLALCHEMY_DATABASE_URI": f"sqlite:///{instance / 'registry.sqlite3'}",
        "SQLALCHEMY_ENGINE_OPTIONS": {},  # see _ping_if_idle
        # The customs offices' time zone: their "today" starts and ends the legal clocks.
        "TIMEZONE": "UTC",
        "BLOB_DIR": str(instance / "blobs"),
        # Full-size views of stored images, made once and kept (derived data, safe to delete);
        # empty: beside BLOB_DIR, as "<its name>-display-copies".
        "DISPLAY_COPY_DIR": "",
        # Ed25519 key that signs audit checkpoints and evidence packages: outside the database.
        "SIGNING_KEY_FILE": str(instance / "signing_key.pem"),
        # Bulk screening: the largest manifest, lines per chunk (the unit a worker takes), how
        # long a worker's claim on a chunk lasts without renewal, and the saved engines.
        "MAX_MANIFEST_BYTES": 1024 * 1024 * 1024,
        "BULK_CHUNK_LINES": 5_000,
        "BULK_LEASE_SECONDS": 120,
        "BULK_MAX_TASKS": 16,  # drain tasks queued per job: at least the workers you run
        "BULK_QUEUE": "bulk",
        "BULK_ENGINE_DIR": str(instance / "engines"),
        # An uploaded evidence package given to the "Verify a package" page.
        "MAX_PACKAGE_BYTES": 150 * 1024 * 1024,
        # E-mail goes to SMTP when MAIL_SERVER is set, otherwise to .eml files here.
        "MAIL_OUTBOX_DIR": str(instance / "outbox"),
        "MAIL_SENDER": "no-reply@registry.local",
        "SECRET_KEY": None,  # read from or written to instance/secret_key when not set
        "WTF_CSRF_TIME_LIMIT": 8 * 3600,
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": False,
        "FORCE_HTTPS": False,
        "PERMANENT_SESSION_LIFETIME": 12 * 3600,
        # Counters shared by every app process: REDIS_URL when set, else this process's memory.
        "RATELIMIT_STORAGE_URI": None,
        "RATELIMIT_IN_MEMORY_FALLBACK_ENABLED": True,  # Redis down: limit per process rather than not at all
        # No X-RateLimit-* headers: each costs the limiter another round trip to its store on
        # every request. A refused request says when to retry (Retry-After).
        "RATELIMIT_HEADERS_ENABLED": False,
        "LOGIN_RATE_LIMIT": "10 per minute;50 per hour",
        # Per API token.
        "API_RATE_LIMIT": "6000 per minute",
        # Per client address: requests whose token is not known (each costs a lookup). A made-up
        # token on every request would otherwise never meet the limit per token.
        "API_AUTH_FAILURE_LIMIT": "120 per minute",
        # A JSON request's body (ten photos in base64 fit); manifests have their own limit.
        "API_MAX_BODY_BYTES": 64 * 1024 * 1024,
        # Uploads: request size, one image's bytes and pixels, one import ZIP.
        "MAX_CONTENT_LENGTH": 200 * 1024 * 1024,
        "MAX_IMAGE_BYTES": 25 * 1024 * 1024,
        "MAX_IMAGE_PIXELS": 50_000_000,
        "MAX_IMPORT_ROWS": 20_000,
        "MAX_ZIP_UNCOMPRESSED": 1024 * 1024 * 1024,
        "MAX_ZIP_ENTRIES": 5_000,
        "THUMBNAIL_SIZE": 320,
        # Read printed text on photos when Tesseract is installed.
        "ENGINE_OCR": True,
        # Customs protection ending within this many working days raises a reminder.
        "PROTECTION_REMINDER_WORKING_DAYS": 30,
    }


def from_environment(environ: os._Environ[str] | dict[str, str] = os.environ) -> dict[str, Any]:
    """Config keys set by environment variables."""
    config: dict[str, Any] = {}
    for variable, key in _ENVIRONMENT.items():
        value = environ.get(variable)
        if value is None or value == "":
            continue
        if key in _BOOLEAN_KEYS:
            config[key] = value.strip().lower() in {"1", "true", "yes", "on"}
        elif key in _INTEGER_KEYS:
            config[key] = int(value)
        elif key in ("SQLALCHEMY_DATABASE_URI", "MIGRATION_DATABASE_URI"):
            config[key] = normalise_database_url(value)
        else:
            config[key] = value
    return config


def normalise_database_url(url: str) -> str:
    """Use the psycopg 3 driver for plain ``postgres://`` / ``postgresql://`` URLs."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def secret_key(instance_path: str) -> str:
    """A per-installation secret kept in the instance folder, created on first start."""
    path = Path(instance_path) / "secret_key"
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(key)
    return key
