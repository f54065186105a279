"""PostgreSQL stopped and started under load: only 503s while it is down, nothing half-saved,
and the running app serves again once it is back, without being restarted.

The database is a private cluster (tests/pgcluster.py), never the machine's shared one. The
app runs under gunicorn as in production; client threads keep writing (API screenings with a
token) and reading (signed-in pages) while the cluster is stopped with ``pg_ctl stop -m fast``
and started again.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import threading
import time
import urllib.parse
from dataclasses import dataclass, field

import pytest
from sqlalchemy import func, select

from tests.pgcluster import PgCluster, require_or_skip

pytestmark = pytest.mark.outage

CLIENTS = 3
REQUEST_TIMEOUT = 15  # seconds: a request still unanswered by then counts as a hang
RECOVERY_LIMIT = 10  # seconds after the database is back, by the requirement
OUTAGE_SECONDS = 3  # how long the database stays down
OUTAGE_RESPONSES = 6  # answered while the database is fully down, per kind, at least


@dataclass
class Reply:
    kind: str  # "write" (API screening) or "read" (signed-in page)
    started: float
    ended: float
    status: int | None  # None: no answer (connection failed or timed out)
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    error: str = ""
    sent: str = ""  # the write's description, to find it in the database


def request(port: int, method: str, path: str, *, headers: dict[str, str] | None = None,
            body: bytes | None = None) -> tuple[int, dict[str, str], bytes, list[str]]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=REQUEST_TIMEOUT)
    try:
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        data = response.read()
        return (response.status, {k.lower(): v for k, v in response.getheaders()}, data,
                response.headers.get_all("Set-Cookie") or [])
    finally:
        connection.close()


def sign_in(port: int, email: str, password: str) -> str:
    """The Cookie header of a signed-in browser session."""
    cookies: dict[str, str] = {}

    def keep(set_cookies: list[str]) -> None:
        for line in set_cookies:
            name, _, value = line.split(";", 1)[0].partition("=")
            cookies[name.strip()] = value.strip()

    status, _, page, set_cookies = request(port, "GET", "/login")
    assert status == 200
    keep(set_cookies)
    token = re.search(rb'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1).decode()
    form = urllib.parse.urlencode({"email": email, "password": password, "csrf_token": token}).encode()
    status, _, _, set_cookies = request(port, "POST", "/login", body=form, headers={
        "Content-Type": "application/x-www-form-urlencoded",
        "Cookie": "; ".join(f"{k}={v}" for k, v in cookies.items())})
    assert status == 302, "signing in failed"
    keep(set_cookies)
    return "; ".join(f"{k}={v}" for k, v in cookies.items())


class Load:
    """Client threads alternating an API write and a page read until stopped."""

    def __init__(self, port: int, token: str, cookie: str) -> None:
        self.port, self.token, self.cookie = port, token, cookie
        self.replies: list[Reply] = []
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.threads = [threading.Thread(target=self._client, args=(n,), daemon=True) for n in range(CLIENTS)]

    def _send(self, kind: str, method: str, path: str, headers: dict[str, str], body: bytes | None = None,
              sent: str = "") -> None:
        started = time.monotonic()
        try:
            status, reply_headers, data, _ = request(self.port, method, path, headers=headers, body=body)
            reply = Reply(kind, started, time.monotonic(), status, reply_headers, data, sent=sent)
        except (OSError, http.client.HTTPException) as exc:
            reply = Reply(kind, started, time.monotonic(), None, error=repr(exc), sent=sent)
        with self.lock:
            self.replies.append(reply)

    def _client(self, number: int) -> None:
        sequence = 0
        while not self.stopping.is_set():
            sequence += 1
            description = f"outage client {number} write {sequence}"
            body = json.dumps({"description": description, "declared_brand": "ALPHA", "quantity": "10",
                               "declared_value": "100", "currency": "EUR"}).encode()
            self._send("write", "POST", "/api/v1/screenings", {
                "Authorization": f"Bearer {self.token}", "Content-Type": "application/json",
                "Accept": "application/json"}, body, sent=description)
            self._send("read", "GET", "/checks", {"Cookie": self.cookie, "Accept": "text/html"})
            # Pacing, not timing: while the database is down, answers come back at once.
            self.stopping.wait(0.05)

    def __enter__(self) -> Load:
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stopping.set()
        for thread in self.threads:
            thread.join(REQUEST_TIMEOUT + 5)

    def snapshot(self) -> list[Reply]:
        with self.lock:
            return list(self.replies)

    def wait_for(self, condition, what: str, timeout: float) -> float:
        """Poll until ``condition(replies)`` holds; the time it held, or fail after ``timeout``."""
        deadline = time.monotonic() + timeout
        while True:
            if condition(self.snapshot()):
                return time.monotonic()
            if time.monotonic() > deadline:
                pytest.fail(f"{what} did not happen within {timeout} s")
            time.sleep(0.05)


def ok(reply: Reply) -> bool:
    return reply.status is not None and 200 <= reply.status < 300


@pytest.fixture
def private_database():
    require_or_skip()
    with PgCluster(durable=False) as cluster:
        yield cluster, cluster.create_database("registry")


@pytest.fixture
def served(private_database, tmp_path):
    """The app migrated and seeded on the private cluster, served by gunicorn (2 workers)."""
    from flask_migrate import upgrade

    from bench.httpload import Gunicorn
    from registry import create_app
    from registry.extensions import db
    from registry.models import Role
    from registry.services import api_tokens, users
    from tests.registry.conftest import PASSWORD, make_tenant

    cluster, url = private_database
    config = {"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "outage-test", "BLOB_DIR": str(tmp_path / "blobs"),
              "SIGNING_KEY_FILE": str(tmp_path / "signing_key.pem"), "MAIL_OUTBOX_DIR": str(tmp_path / "outbox")}
    app = create_app(config)
    with app.app_context():
        upgrade()
        admin = users.create_user(db.session, None, email="admin@outage.example", name="Admin",
                                  password=PASSWORD, role=Role.ADMIN)
        officer = users.create_user(db.session, None, email="officer@outage.example", name="Officer",
                                    password=PASSWORD, role=Role.OFFICER)
        make_tenant(db.session, app.extensions["blobs"], admin, "Alpha Brands GmbH", "DE", "ALPHA", (200, 0, 0))
        _, token = api_tokens.create_token(db.session, officer, "outage test")
        db.session.commit()
        db.engine.dispose()
    # Served as production's app connects: each transaction after the restart must set its
    # tenant again, or the role that owns nothing would read nothing.
    from tests.pgroles import as_application_role

    env = {**os.environ, "DATABASE_URL": as_application_role(url), "SECRET_KEY": config["SECRET_KEY"], "BLOB_DIR": config["BLOB_DIR"],
           "SIGNING_KEY_FILE": config["SIGNING_KEY_FILE"], "MAIL_OUTBOX_DIR": config["MAIL_OUTBOX_DIR"],
           "RATELIMIT_STORAGE_URI": "memory://"}
    env.pop("REDIS_URL", None)
    with Gunicorn(env, workers=2) as port:
        yield app, cluster, port, token, sign_in(port, "officer@outage.example", PASSWORD)


def test_database_outage_answers_503_saves_nothing_half_and_recovers(served):
    app, cluster, port, token, cookie = served
    with Load(port, token, cookie) as load:
        load.wait_for(lambda rs: sum(ok(r) for r in rs if r.kind == "write") >= 5
                      and sum(ok(r) for r in rs if r.kind == "read") >= 5, "writes and reads before the outage", 60)
        stopping = time.monotonic()
        cluster.stop("fast")
        down = time.monotonic()
        load.wait_for(lambda rs: time.monotonic() - down >= OUTAGE_SECONDS and all(
            sum(1 for r in rs if r.kind == kind and r.started >= down) >= OUTAGE_RESPONSES
            for kind in ("write", "read")), "answers during the outage", 60)
        starting = time.monotonic()
        cluster.start()
        up = time.monotonic()
        recovered = load.wait_for(
            lambda rs: all(any(ok(r) and r.started >= up for r in rs if r.kind == kind) for kind in ("write", "read")),
            "a served write and read after the database came back", RECOVERY_LIMIT + REQUEST_TIMEOUT)
        load.wait_for(lambda rs: sum(ok(r) for r in rs if r.started >= recovered) >= 4, "steady service", 30)
    replies = load.snapshot()

    # Never a 500, never a hang: every request is answered, with success or 503.
    unanswered = [r for r in replies if r.status is None]
    assert not unanswered, f"{len(unanswered)} request(s) not answered, e.g. {unanswered[0].error}"
    wrong = [(r.kind, r.status, r.body[:200]) for r in replies if not ok(r) and r.status != 503]
    assert not wrong, f"answers other than success or 503: {wrong[:3]}"

    # While the database was down, only 503s, readable by people and by programs.
    outage = [r for r in replies if r.started >= down and r.ended <= starting]
    assert {r.kind for r in outage} == {"write", "read"}
    assert all(r.status == 503 for r in outage), [(r.kind, r.status) for r in outage if r.status != 503]
    for reply in outage:
        assert reply.headers.get("retry-after"), "a 503 without Retry-After"
        if reply.kind == "write":
            assert reply.headers["content-type"].startswith("application/json")
            error = json.loads(reply.body)["error"]
            assert error["code"] == "unavailable" and "database is unavailable" in error["message"]
            assert set(error) == {"code", "message", "details"}
        else:
            assert reply.headers["content-type"].startswith("text/html")
            assert b"The database is unavailable; nothing was saved" in reply.body

    # Back within the limit, by the same workers (the app was not restarted).
    first_ok = {kind: min(r.ended for r in replies if ok(r) and r.kind == kind and r.started >= up)
                for kind in ("write", "read")}
    for kind, moment in first_ok.items():
        assert moment - up <= RECOVERY_LIMIT, f"first {kind} served {moment - up:.1f} s after the database was back"

    # Nothing acknowledged is lost; nothing is half-saved.
    acknowledged = {json.loads(r.body)["id"]: r.sent for r in replies if r.kind == "write" and ok(r)}
    assert any(r.started > up for r in replies if r.kind == "write" and ok(r))
    from registry.extensions import db
    from registry.models import AuditEvent, Check
    from registry.services import audit

    with app.app_context():
        stored = dict(db.session.execute(select(Check.id, Check.description)).all())
        assert {i: stored.get(i) for i in acknowledged} == acknowledged
        audited = set(db.session.scalars(select(AuditEvent.object_id).where(AuditEvent.action == "check.create")))
        assert set(stored) == audited, "a check without its audit event, or an event without its check"
        assert db.session.scalar(select(func.count()).select_from(AuditEvent)) >= len(stored)
        report = audit.verify_chain(db.session, app.extensions["signer"])
        assert report.ok, report.problem
        db.session.remove()
        db.engine.dispose()
    assert stopping < down < starting < up
