"""The JSON API: tokens, scopes, errors, idempotency, and the contract of its OpenAPI document."""

from __future__ import annotations

import base64
import io
import json
from contextlib import contextmanager

import pytest
from sqlalchemy import func, select

from registry.models import ApiToken, BulkJob, Check, Product, Role
from registry.services import api_tokens, users
from tests.registry.conftest import png_bytes, suspect_check


@pytest.fixture
def token_for(session):
    def make(user) -> dict[str, str]:
        _, secret = api_tokens.create_token(session, user, "test system")
        session.commit()
        return {"Authorization": f"Bearer {secret}"}
    return make


@pytest.fixture
def api(app):
    client = app.test_client()

    def call(method: str, path: str, headers=None, **kwargs):
        with app.app_context():
            response = getattr(client, method)(path, headers=headers or {}, **kwargs)
            response.get_data()
        return response
    return call


def assert_error(response, status: int, code: str | None = None):
    assert response.status_code == status, response.get_data(as_text=True)[:300]
    body = response.get_json()
    assert set(body) == {"error"} and {"code", "message", "details"} <= set(body["error"])
    if code:
        assert body["error"]["code"] == code
    return body["error"]


def test_screening_a_declaration(api, world, token_for, session):
    officer = token_for(world.officer)
    response = api("post", "/api/v1/screenings", officer, json={
        "declared_brand": "A1pha", "description": "running shoes", "quantity": "100", "declared_value": "300",
        "currency": "EUR", "origin_country": "China", "photos": [base64.b64encode(png_bytes()).decode()]})
    assert response.status_code == 201, response.get_data(as_text=True)
    body = response.get_json()
    assert body["suggestions"][0]["brand"] == "ALPHA" and body["suggestions"][0]["signals"]
    assert body["photos"][0]["sha256"] and body["snapshot_id"]
    again = api("get", f"/api/v1/checks/{body['id']}", officer)
    assert again.status_code == 200 and again.get_json()["id"] == body["id"]
    # The reply to the screening was serialised from what was written: it matches a fresh read.
    assert again.get_json() == body
    for reply in (response, again):  # confidential: never kept by a cache on the way
        assert reply.headers["Cache-Control"] == "no-store" and reply.headers["X-Content-Type-Options"] == "nosniff"

    multipart = api("post", "/api/v1/screenings", officer, data={
        "declared_brand": "A1pha", "photos": (io.BytesIO(png_bytes()), "p.png")}, content_type="multipart/form-data")
    assert multipart.status_code == 201 and len(multipart.get_json()["photos"]) == 1


@pytest.mark.parametrize("body, field", [
    ({"quantity": "many", "declared_brand": "x"}, "quantity"),
    ({"declared_brand": ["a", "b"]}, "declared_brand"),
    ({"declared_brand": "x", "colour": "red"}, "colour"),
    ({"photos": ["%%%not base64"], "declared_brand": "x"}, "photos"),
    ({"declared_value": "10", "declared_brand": "x"}, "currency"),
    ({}, "description"),
])
def test_bad_screening_bodies(api, world, token_for, session, body, field):
    before = session.scalar(select(func.count(Check.id)))
    error = assert_error(api("post", "/api/v1/screenings", token_for(world.officer), json=body), 422)
    assert field in json.dumps(error["details"]), error
    assert session.scalar(select(func.count(Check.id))) == before


def test_non_json_and_oversized_bodies(api, world, token_for, app):
    officer = token_for(world.officer)
    error = assert_error(api("post", "/api/v1/screenings", officer, data="{not json", content_type="application/json"), 400)
    assert "not valid JSON" in error["message"]
    app.config["API_MAX_BODY_BYTES"] = 1024 * 1024
    big = {"declared_brand": "x", "description": "y" * (2 * 1024 * 1024)}
    assert_error(api("post", "/api/v1/screenings", officer, json=big), 413, "too_large")


CHUNKED = {"HTTP_TRANSFER_ENCODING": "chunked", "wsgi.input_terminated": True}


class _Chunks(io.RawIOBase):
    """A request body sent chunked (no Content-Length), produced as it is read: ``size`` bytes of
    a JSON string that never ends. Counts what the server read."""

    def __init__(self, size: int, head: bytes = b'{"declared_brand": "x", "description": "') -> None:
        self.left, self.read_bytes, self.head = size, 0, head

    def readable(self) -> bool:
        return True

    def tell(self) -> int:  # the test client measures its body; a chunked one has no length
        return 0

    def seek(self, *_) -> int:
        return 0

    def readinto(self, buffer) -> int:
        if self.head:
            n = min(len(buffer), len(self.head))
            buffer[:n], self.head = self.head[:n], self.head[n:]
        else:
            n = min(len(buffer), self.left)
            buffer[:n] = b"y" * n
            self.left -= n
        self.read_bytes += n
        return n


def test_a_chunked_body_is_stopped_at_the_limit(api, world, token_for, app, session):
    officer = token_for(world.officer)
    app.config["API_MAX_BODY_BYTES"] = 1024 * 1024
    body = _Chunks(512 * 1024 * 1024)  # half a gigabyte, never held anywhere
    before = session.scalar(select(func.count(Check.id)))
    error = assert_error(api("post", "/api/v1/screenings", officer, input_stream=body,
                             content_type="application/json", environ_overrides=CHUNKED),
                         413, "too_large")
    assert "larger than 1 MB" in error["message"]
    assert body.read_bytes <= 2 * 1024 * 1024  # stopped at the limit, not read to the end
    assert session.scalar(select(func.count(Check.id))) == before
    # Under the limit, a chunked body is screened like any other.
    small = io.BytesIO(json.dumps({"declared_brand": "Alpha", "description": "running shoes"}).encode())
    assert _Chunks(0, small.getvalue()).read() == small.getvalue()
    reply = api("post", "/api/v1/screenings", officer, input_stream=_Chunks(0, small.getvalue()),
                content_type="application/json", environ_overrides=CHUNKED)
    assert reply.status_code == 201, reply.get_data(as_text=True)[:300]


def test_tokens_scope_and_revocation(api, world, token_for, session):
    missing = assert_error(api("get", "/api/v1/cases"), 401, "unauthorised")
    assert "Bearer" in missing["message"]
    holder = token_for(world.a.holder)
    assert_error(api("post", "/api/v1/screenings", holder, json={"declared_brand": "x"}), 403, "forbidden")
    assert_error(api("get", "/api/v1/registry/products", holder), 403)
    officer = token_for(world.officer)
    assert api("get", "/api/v1/registry/products?q=runner", officer).status_code == 200

    token = session.scalar(select(ApiToken).where(ApiToken.user_id == world.a.holder.id))
    api_tokens.revoke_token(session, world.a.holder, token.id)
    session.commit()
    assert_error(api("get", "/api/v1/dossier/products", holder), 401)

    legal = token_for(world.legal)
    world.legal.role = Role.OFFICER
    session.commit()
    assert_error(api("get", "/api/v1/cases", legal), 401)  # the token kept the old role: it is void
    disabled = token_for(world.b.holder)
    users.set_user_active(session, world.admin, world.b.holder, False)
    session.commit()
    assert_error(api("get", "/api/v1/dossier/products", disabled), 401)
    # Only the hash is stored.
    assert all(len(t.token_hash) == 64 for t in session.scalars(select(ApiToken)))


def test_holder_dossier_is_its_own(api, world, token_for, session):
    a, b = token_for(world.a.holder), token_for(world.b.holder)
    listed = api("get", "/api/v1/dossier/products", a).get_json()
    assert [p["id"] for p in listed] == [world.a.product.id]
    assert_error(api("get", f"/api/v1/dossier/products/{world.a.product.id}", b), 404)
    assert_error(api("put", f"/api/v1/dossier/products/{world.a.product.id}", b, json={"name": "stolen"}), 404)
    created = api("post", "/api/v1/dossier/products", a, json={
        "name": "ALPHA Trail", "gtins": ["4006381333931"], "price_min": "40", "price_max": "80", "currency": "EUR",
        "covert_features": ["UV mark"]})
    assert created.status_code == 201, created.get_data(as_text=True)
    product_id = created.get_json()["id"]
    bad = assert_error(api("post", "/api/v1/dossier/products", a, json={"name": "X", "gtins": ["4006381333932"]}), 422)
    assert "gtins" in bad["details"]
    # A right id past the database's integer range is a field error, not an overflow in the driver.
    for huge in (2**31, 2**63):
        bad = assert_error(api("post", "/api/v1/dossier/products", a, json={"name": "X", "right_id": huge}), 422)
        assert "right_id" in bad["details"]
    image = api("post", f"/api/v1/dossier/products/{product_id}/images", a, json={
        "kind": "packaging", "data": base64.b64encode(png_bytes(colour=(1, 2, 3))).decode(), "filename": "box.png"})
    assert image.status_code == 201 and image.get_json()["sha256"]
    fake = assert_error(api("post", f"/api/v1/dossier/products/{product_id}/images", a, json={
        "kind": "packaging", "data": base64.b64encode(b"<svg onload=alert(1)>").decode()}), 422)
    assert "SVG" in json.dumps(fake)
    supplier = api("post", "/api/v1/dossier/suppliers", a, json={"role": "manufacturer", "name": "Alpha Works",
                                                                 "country": "PT"})
    assert supplier.status_code == 201
    assert all(s["name"] != "Alpha Works" for s in api("get", "/api/v1/dossier/suppliers", b).get_json())


def test_idempotency_key(api, world, token_for, session):
    officer = token_for(world.officer)
    headers = {**officer, "Idempotency-Key": "decl-0001"}
    first = api("post", "/api/v1/screenings", headers, json={"declared_brand": "A1pha"})
    second = api("post", "/api/v1/screenings", headers, json={"declared_brand": "A1pha"})
    assert first.status_code == second.status_code == 201
    assert second.get_json() == first.get_json() and second.headers["Idempotent-Replayed"] == "true"
    assert session.scalar(select(func.count(Check.id))) == 1
    assert_error(api("post", "/api/v1/screenings", headers, json={"declared_brand": "Other"}), 422,
                 "idempotency_key_reused")
    failed = {**officer, "Idempotency-Key": "decl-0002"}
    assert api("post", "/api/v1/screenings", failed, json={}).status_code == 422
    assert api("post", "/api/v1/screenings", failed, json={"declared_brand": "A1pha"}).status_code == 201



@contextmanager
def _committed_states(app, key: str):
    """After every commit of the app's sessions: (checks, status of the claim of ``key``) as
    another connection sees them, which is what a crash at that moment would leave."""
    from sqlalchemy import event
    from sqlalchemy.orm import Session

    from registry.extensions import db
    from registry.models import IdempotentReply

    states: list[tuple[int, int | None]] = []

    def look(committed) -> None:
        if committed.info.get("observer"):
            return
        with app.app_context(), Session(db.engine, info={"observer": True}) as other:
            states.append((other.scalar(select(func.count(Check.id))),
                           other.scalar(select(IdempotentReply.status).where(IdempotentReply.key == key))))

    event.listen(Session, "after_commit", look)
    try:
        yield states
    finally:
        event.remove(Session, "after_commit", look)


def test_an_idempotent_screening_is_committed_with_its_reply(api, app, world, token_for, session, monkeypatch):
    """No committed moment holds the check without the reply to replay, or a claim without
    the check: a worker killed at any point leaves a retry either a fresh start or a replay."""
    from registry.api import v1

    officer = token_for(world.officer)
    with _committed_states(app, "decl-0003") as states:
        headers = {**officer, "Idempotency-Key": "decl-0003"}
        # Killed mid-view (as a worker's timeout ends it) after the check was written: nothing stays.
        real = v1.check_service.screen_declaration

        def screened_then_killed(*args, **kwargs):
            real(*args, **kwargs)
            raise SystemExit(1)

        monkeypatch.setattr(v1.check_service, "screen_declaration", screened_then_killed)
        with pytest.raises(SystemExit):
            api("post", "/api/v1/screenings", headers, json={"declared_brand": "A1pha"})
        monkeypatch.setattr(v1.check_service, "screen_declaration", real)
        first = api("post", "/api/v1/screenings", headers, json={"declared_brand": "A1pha"})
        assert first.status_code == 201, first.get_data(as_text=True)[:300]
        again = api("post", "/api/v1/screenings", headers, json={"declared_brand": "A1pha"})
    assert again.get_json() == first.get_json() and again.headers["Idempotent-Replayed"] == "true"
    assert session.scalar(select(func.count(Check.id))) == 1
    assert states and all(state in ((0, None), (1, 201)) for state in states), states
    assert (1, 201) in states


def test_an_idempotent_bulk_job_is_committed_with_its_reply(api, app, world, token_for, session):
    from tests.registry.test_bulk import _wait_until_finished, manifest_csv

    officer = {**token_for(world.officer), "Idempotency-Key": "manifest-7"}

    def submit(lines: int = 20):
        return api("post", "/api/v1/bulk-jobs", officer, data={"manifest": (io.BytesIO(manifest_csv(lines)), "m.csv")},
                   content_type="multipart/form-data")

    first = submit()
    assert first.status_code == 202, first.get_data(as_text=True)
    _wait_until_finished(session, first.get_json()["id"])
    # The retry's body has a new multipart boundary, as any client's has: it is the same request.
    again = submit()
    assert again.status_code == 202 and again.headers["Idempotent-Replayed"] == "true"
    assert again.get_json()["id"] == first.get_json()["id"]
    assert_error(submit(21), 422, "idempotency_key_reused")
    assert session.scalar(select(func.count(BulkJob.id))) == 1

def test_old_idempotency_keys_are_forgotten(api, app, world, token_for, session):
    from datetime import datetime, timedelta, timezone

    from registry.models import IdempotentReply

    officer = token_for(world.officer)
    for key in ("old-1", "new-1"):
        assert api("post", "/api/v1/screenings", {**officer, "Idempotency-Key": key},
                   json={"declared_brand": "A1pha"}).status_code == 201
    old = session.scalar(select(IdempotentReply).where(IdempotentReply.key == "old-1"))
    old.created_at = datetime.now(timezone.utc) - timedelta(days=8)
    session.commit()
    result = app.test_cli_runner().invoke(args=["api", "prune-keys"])
    assert result.exit_code == 0 and "Forgot 1 Idempotency-Key reply older than 7 day(s)" in result.output
    assert set(session.scalars(select(IdempotentReply.key))) == {"new-1"}
    # A key forgotten is a new request; one remembered is still replayed.
    again = api("post", "/api/v1/screenings", {**officer, "Idempotency-Key": "old-1"}, json={"declared_brand": "A1pha"})
    assert again.status_code == 201 and "Idempotent-Replayed" not in again.headers
    replayed = api("post", "/api/v1/screenings", {**officer, "Idempotency-Key": "new-1"}, json={"declared_brand": "A1pha"})
    assert replayed.headers["Idempotent-Replayed"] == "true"
    assert session.scalar(select(func.count(Check.id))) == 3


def limited_get(app, **limits):
    """GET /api/v1/cases on a second app over the same database, its rate limits on and set to
    ``limits`` (the test app has them off)."""
    from registry import create_app

    limited = create_app({**{k: app.config[k] for k in ("SQLALCHEMY_DATABASE_URI", "BLOB_DIR", "SIGNING_KEY_FILE",
                                                          "SECRET_KEY")},
                          "TESTING": True, "RATELIMIT_ENABLED": True, **limits})
    client = limited.test_client()

    def get(headers):
        with limited.app_context():
            return client.get("/api/v1/cases", headers=headers)

    return get


def test_rate_limit_per_token(app, world, token_for):
    get = limited_get(app, API_RATE_LIMIT="3 per minute")
    first, second = token_for(world.officer), token_for(world.legal)
    assert [get(first).status_code for _ in range(4)] == [200, 200, 200, 429]
    refused = get(first)
    assert_error(refused, 429, "rate_limited")
    # The client is told when to come back: within the minute's window, not after it.
    assert 1 <= int(refused.headers["Retry-After"]) <= 61  # and a second for rounding
    assert get(second).status_code == 200  # another token has its own allowance


def test_made_up_tokens_are_limited_per_address(app, world, token_for):
    """A new made-up token on every request never meets the limit per token, but each costs a
    lookup: unknown tokens count against the client's address too. A known token from the same
    address still works."""
    import secrets

    get = limited_get(app, API_AUTH_FAILURE_LIMIT="3 per minute")
    made_up = [get({"Authorization": f"Bearer cgr_{secrets.token_urlsafe(24)}"}) for _ in range(5)]
    assert [r.status_code for r in made_up] == [401, 401, 401, 429, 429]
    assert_error(made_up[-1], 429, "rate_limited")
    assert 1 <= int(made_up[-1].headers["Retry-After"]) <= 61
    assert get(token_for(world.officer)).status_code == 200


def test_bulk_job_through_the_api(api, world, token_for, session, app):
    from tests.registry.test_bulk import _wait_until_finished, manifest_csv

    officer = token_for(world.officer)
    response = api("post", "/api/v1/bulk-jobs", officer, data={"manifest": (io.BytesIO(manifest_csv(50)), "m.csv")},
                   content_type="multipart/form-data")
    assert response.status_code == 202, response.get_data(as_text=True)
    job_id = response.get_json()["id"]
    _wait_until_finished(session, job_id)
    status = api("get", f"/api/v1/bulk-jobs/{job_id}", officer).get_json()
    assert status["state"] == "done" and status["lines_done"] == 50 and status["hits"] == 5
    hits = api("get", f"/api/v1/bulk-jobs/{job_id}/hits?per_page=2", officer).get_json()
    assert hits["total"] == 5 and len(hits["hits"]) == 2 and hits["hits"][0]["brand"] == "ALPHA"
    assert api("get", f"/api/v1/bulk-jobs/{job_id}/hits?brand=BETA", officer).get_json()["total"] == 0
    assert api("get", f"/api/v1/bulk-jobs/{job_id}/hits?brand=ALPHA&min_score=0.01", officer).get_json()["total"] == 5
    assert_error(api("get", f"/api/v1/bulk-jobs/{job_id}/hits?recommendation=maybe", officer), 422)
    assert_error(api("post", "/api/v1/bulk-jobs", officer, data={}, content_type="multipart/form-data"), 422)


def test_a_bulk_job_whose_queue_cannot_be_reached_is_failed_and_its_key_let_go(api, app, world, token_for, session):
    from tests.registry.test_bulk import _wait_until_finished, manifest_csv

    officer = {**token_for(world.officer), "Idempotency-Key": "manifest-9"}

    def submit():
        return api("post", "/api/v1/bulk-jobs", officer, data={"manifest": (io.BytesIO(manifest_csv(10)), "m.csv")},
                   content_type="multipart/form-data")

    app.config["REDIS_URL"] = "redis://127.0.0.1:1/0"  # nothing listens there
    try:
        refused = assert_error(submit(), 503, "unavailable")
    finally:
        app.config["REDIS_URL"] = None
    assert "could not be queued" in refused["message"]
    stuck = session.get(BulkJob, refused["details"]["job_id"])
    assert stuck.state == "failed" and "could not be queued" in stuck.error and stuck.finished_at is not None
    # The key was let go: the same request, once the queue is back, is a new job that runs.
    again = submit()
    assert again.status_code == 202 and "Idempotent-Replayed" not in again.headers
    assert again.get_json()["id"] != stuck.id
    _wait_until_finished(session, again.get_json()["id"])


def test_openapi_document_and_its_page(api, world, signed_in):
    spec = api("get", "/api/v1/openapi.json").get_json()
    assert spec["openapi"].startswith("3.") and "/api/v1/screenings" in spec["paths"]
    assert "ErrorOut" in json.dumps(spec["components"])
    page = signed_in(world.officer).get("/api/v1/docs").get_data(as_text=True)
    assert "Idempotency-Key" in page
    # Every operation of the document is on the page, with its anchor in the contents.
    for path, item in spec["paths"].items():
        for method in set(item) & {"get", "post", "put", "patch", "delete"}:
            assert f'href="#{method}-' in page and f"{method.upper()} {path}</a>" in page, (method, path)
    # Parameters with their limits and meaning; bodies and responses link to their schemas.
    hits = page[page.index('id="get-api-v1-bulk-jobs-job-id-hits"'):]
    hits = hits[:hits.index("</section>")]
    assert "<code>per_page</code>" in hits and "1–1000; default 100" in hits and "Items per page" in hits
    assert "one of detain, inspect" in hits
    assert hits.index("<strong>200</strong>") < hits.index("<strong>404</strong>") < hits.index("<strong>default</strong>")
    assert 'href="#schema-BulkHitsOut"' in hits and 'id="schema-BulkHitsOut"' in page
    screening = page[page.index('id="post-api-v1-screenings"'):]
    assert 'href="#schema-DeclarationIn"' in screening[:screening.index("</section>")]
    # Docstring `code` is set as code; everything else is escaped.
    assert "strings in <code>photos</code>" in page
    # Fields that serialise an enum say which values they take, in the document and on the page.
    suppliers = spec["components"]["schemas"]["SupplierOut"]["properties"]["role"]
    assert suppliers["type"] == "string" and "manufacturer" in suppliers["enum"]
    assert ">any<" not in page.replace(" ", "")
    tokens_page = signed_in(world.officer)
    tokens_page.refresh_token("/account/tokens")
    created = tokens_page.post("/account/tokens", {"name": "customs system"}).get_data(as_text=True)
    assert "cgr_" in created and "not shown again" in created


def test_a_token_is_recognised_in_one_query_and_its_use_noted_every_five_minutes(app, world, token_for, session):
    """The token's row and its user's come in one plain query; the user is the request
    session's object, the same as the ORM reads, with no second query; ``last_used_at`` is
    written on first use and then at most every five minutes."""
    from datetime import datetime, timedelta, timezone

    from freezegun import freeze_time
    from sqlalchemy import event

    from registry.extensions import db
    from registry.models import User

    secret = token_for(world.officer)["Authorization"].split()[1]
    columns = [c.key for c in User.__table__.columns]
    expected = {key: getattr(world.officer, key) for key in columns}
    start = datetime.now(timezone.utc)

    def use(at):
        with freeze_time(at), app.app_context():
            statements = []
            listener = lambda *args: statements.append(args[2])  # noqa: E731
            event.listen(db.engine, "before_cursor_execute", listener)
            try:
                found = api_tokens.authenticate(db.session, secret)
                user = found.user
                assert db.session.get(User, user.id) is user and {k: getattr(user, k) for k in columns} == expected
                assert not db.session.dirty and not db.session.new
            finally:
                event.remove(db.engine, "before_cursor_execute", listener)
            db.session.commit()
            return found.touched, [s.split()[0] for s in statements if not s.startswith("SELECT set_config")]

    assert use(start) == (True, ["SELECT", "UPDATE"])
    assert use(start + timedelta(minutes=4)) == (False, ["SELECT"])
    assert use(start + timedelta(minutes=6)) == (True, ["SELECT", "UPDATE"])
    session.expire_all()
    last_used = session.scalar(select(ApiToken.last_used_at))
    assert abs((last_used.replace(tzinfo=timezone.utc) - (start + timedelta(minutes=6))).total_seconds()) < 1


def test_a_check_read_is_the_check_as_its_relationships_load_it(api, app, world, token_for, session):
    """GET /checks/<id> reads a check with no photo and no suggestion in one query (and one
    more for each it has); the reply is what the schema makes of the check loaded plainly."""
    from registry.api.schemas import CheckOut
    from registry.extensions import db

    officer = token_for(world.officer)
    ids = [api("post", "/api/v1/screenings", officer, json=body).get_json()["id"] for body in (
        {"declared_brand": "A1pha", "description": "running shoes",
         "photos": [base64.b64encode(png_bytes()).decode()]},
        {"declared_brand": "Zzyzx", "description": "plain socks"})]
    for check_id in ids:
        read = api("get", f"/api/v1/checks/{check_id}", officer)
        assert read.status_code == 200
        with app.app_context():
            expected = CheckOut().dump(db.session.get(Check, check_id))  # lazy loads, as before
            db.session.remove()
        assert read.get_json() == json.loads(json.dumps(expected))
    assert api("get", f"/api/v1/checks/{ids[-1] + 1000}", officer).status_code == 404
    assert_error(api("get", f"/api/v1/checks/{ids[0]}", token_for(world.a.holder)), 403)


# -- the request's shape: multipart like JSON, content types, numbers, unknown fields ------------

def test_a_multipart_screening_is_read_as_its_json_twin(api, app, world, token_for, session):
    """Multipart form fields are the same declaration as a JSON body, validated by the same
    schema: a brand sent as a form field is screened, not dropped for a false "no match"."""
    officer = token_for(world.officer)
    fields = {"declared_brand": "A1pha", "description": "running shoes", "origin_country": "CN", "quantity": "100",
              "declared_value": "300", "currency": "EUR", "gtins": ["4006381333931", "4006381333948"]}
    as_json = api("post", "/api/v1/screenings", officer, json=fields)
    assert as_json.status_code == 201, as_json.get_data(as_text=True)[:300]
    for photos in ([], [(io.BytesIO(png_bytes()), "p.png")]):
        reply = api("post", "/api/v1/screenings", officer, data={**fields, "photos": photos},
                    content_type="multipart/form-data")
        assert reply.status_code == 201, reply.get_data(as_text=True)[:300]
        body = reply.get_json()
        assert body["declared_brand"] == "A1pha" and body["description"] == "running shoes"
        assert body["suggestions"] and body["suggestions"][0]["brand"] == "ALPHA"
        assert [s["brand"] for s in body["suggestions"]] == [s["brand"] for s in as_json.get_json()["suggestions"]]
        assert len(body["photos"]) == len(photos)
    stored = session.get(Check, reply.get_json()["id"])
    assert stored.currency == "EUR" and stored.origin_country == "CN" and len(stored.gtins) == 2
    # The schema's rules hold for form fields and files as for JSON, each error naming its field.
    for data, field in (({"declared_brand": "A1pha", "colour": "red"}, "colour"),
                        ({"declared_brand": "A1pha", "quantity": "many"}, "quantity"),
                        ({"declared_brand": "x" * 201}, "declared_brand"),
                        ({"declared_brand": ["A1pha", "Alpha"]}, "declared_brand"),
                        ({"declared_brand": "A1pha", "invoice": (io.BytesIO(b"%PDF"), "i.pdf")}, "invoice"),
                        ({"declared_brand": (io.BytesIO(b"A1pha"), "brand.txt")}, "declared_brand"),
                        ({"declared_brand": "A1pha", "photos": [(io.BytesIO(png_bytes()), f"{i}.png")
                                                               for i in range(11)]}, "photos")):
        error = assert_error(api("post", "/api/v1/screenings", officer, data=data,
                                 content_type="multipart/form-data"), 422, "validation_failed")
        assert field in error["details"], error
    # Retried under a new boundary, a keyed multipart screening is the same request.
    keyed = {**officer, "Idempotency-Key": "multipart-1"}
    first, again = (api("post", "/api/v1/screenings", keyed, content_type="multipart/form-data",
                        data={**fields, "photos": [(io.BytesIO(png_bytes()), "p.png")]}) for _ in range(2))
    assert first.status_code == again.status_code == 201 and again.headers["Idempotent-Replayed"] == "true"
    assert again.get_json()["id"] == first.get_json()["id"]
    # Both forms are in the OpenAPI document, the multipart one with its photos as files.
    spec = api("get", "/api/v1/openapi.json").get_json()
    content = spec["paths"]["/api/v1/screenings"]["post"]["requestBody"]["content"]
    assert set(content) == {"application/json", "multipart/form-data"}
    form = spec["components"]["schemas"][content["multipart/form-data"]["schema"]["$ref"].rsplit("/", 1)[1]]
    assert form["properties"]["photos"]["items"] == {"type": "string", "format": "binary"}
    assert set(form["properties"]) == set(spec["components"]["schemas"]["DeclarationIn"]["properties"])


@pytest.mark.parametrize("body", [
    '{"declared_brand": "A1pha", "declared_value": ' + "1" * 5000 + ', "currency": "EUR"}',
    '{"declared_brand": "A1pha", "gtins": ' + "[" * 100_000 + "]" * 100_000 + "}",
])
def test_json_that_cannot_be_read_is_a_bad_request(api, world, token_for, session, body):
    before = session.scalar(select(func.count(Check.id)))
    error = assert_error(api("post", "/api/v1/screenings", token_for(world.officer), data=body,
                             content_type="application/json"), 400, "bad_request")
    assert "not valid JSON" in error["message"], error
    assert session.scalar(select(func.count(Check.id))) == before


def test_a_body_of_a_content_type_not_accepted_is_refused(api, world, token_for, session):
    """A JSON body sent as text/plain, as a form, or with no Content-Type is a 415 naming the
    accepted types, on every operation that takes a body, not a body silently ignored."""
    officer, holder = token_for(world.officer), token_for(world.a.holder)
    product = world.a.product.id
    operations = [("post", "/api/v1/screenings", officer, {"declared_brand": "A1pha"},
                   ["application/json", "multipart/form-data"]),
                  ("post", "/api/v1/dossier/products", holder, {"name": "ALPHA Trail"}, ["application/json"]),
                  ("put", f"/api/v1/dossier/products/{product}", holder, {"name": "ALPHA Trail"}, ["application/json"]),
                  ("post", f"/api/v1/dossier/products/{product}/images", holder,
                   {"kind": "packaging", "data": base64.b64encode(png_bytes()).decode()}, ["application/json"]),
                  ("post", "/api/v1/dossier/suppliers", holder, {"role": "manufacturer", "name": "W", "country": "PT"},
                   ["application/json"]),
                  ("post", "/api/v1/bulk-jobs", officer, {"manifest": "brand\nA1pha\n"}, ["multipart/form-data"])]
    before = (session.scalar(select(func.count(Check.id))), session.scalar(select(func.count(Product.id))),
              session.scalar(select(func.count(BulkJob.id))))
    for method, path, token, values, accepted in operations:
        text = json.dumps(values)
        for kwargs in ({"data": text, "content_type": "text/plain"}, {"data": text},
                       {"data": values}, {"data": text, "content_type": "application/x-www-form-urlencoded"}):
            headers = {**token, "Idempotency-Key": f"{path}-{len(kwargs)}"}
            error = assert_error(api(method, path, headers, **kwargs), 415, "unsupported_media_type")
            assert error["details"]["accepted"] == accepted, (path, kwargs, error)
            assert all(kind in error["message"] for kind in accepted)
        if accepted == ["application/json"]:  # and a JSON endpoint takes no multipart form either
            assert_error(api(method, path, token, data=values, content_type="multipart/form-data"), 415)
    assert before == (session.scalar(select(func.count(Check.id))), session.scalar(select(func.count(Product.id))),
                      session.scalar(select(func.count(BulkJob.id))))
    # A refused request let its Idempotency-Key go: the same key works with the right type.
    headers = {**officer, "Idempotency-Key": "/api/v1/screenings-2"}
    assert api("post", "/api/v1/screenings", headers, json={"declared_brand": "A1pha"}).status_code == 201


def test_json_object_naming_a_key_twice_is_refused(api, world, token_for, session):
    """Which of two values for one key a program reads differs between JSON libraries: the API
    refuses the body, naming the key, instead of screening the last value it happened to keep."""
    officer = token_for(world.officer)
    before = session.scalar(select(func.count(Check.id)))
    body = b'{"declared_brand": "A1pha", "description": "shoes", "declared_brand": "Unrelated"}'
    error = assert_error(api("post", "/api/v1/screenings", officer, data=body, content_type="application/json"),
                         422, "validation_failed")
    assert error["details"] == {"declared_brand": ["Given more than once; it takes one value."]}
    assert session.scalar(select(func.count(Check.id))) == before
    # Inside another field: named under that field, not as a top-level one.
    nested = b'{"declared_brand": "A1pha", "extra": {"k": 1, "k": 2}}'
    error = assert_error(api("post", "/api/v1/screenings", officer, data=nested, content_type="application/json"), 422)
    assert set(error["details"]) == {"extra"} and "Names k more than once." in error["details"]["extra"]
    # A body that is not JSON after a repeated key is told it is not JSON.
    broken = b'{"k": 1, "k": 2}, this is not JSON'
    assert_error(api("post", "/api/v1/screenings", officer, data=broken, content_type="application/json"), 400)
    ok = api("post", "/api/v1/screenings", officer, data=b'{"declared_brand": "A1pha", "description": "shoes"}',
             content_type="application/json")
    assert ok.status_code == 201


def test_a_multipart_part_without_a_name_is_refused_naming_it(api, world, token_for):
    """A part with no name (werkzeug gives it the key None) is an unknown field like any other,
    not a server error when the reply's keys are sorted."""
    body = (b'--b\r\nContent-Disposition: form-data; name=""\r\n\r\nnull\r\n'
            b'--b\r\nContent-Disposition: form-data\r\n\r\nnull\r\n'
            b'--b\r\nContent-Disposition: form-data; name="declared_brand"\r\n\r\nA1pha\r\n--b--\r\n')
    error = assert_error(api("post", "/api/v1/screenings", token_for(world.officer), data=body,
                             content_type="multipart/form-data; boundary=b"), 422, "validation_failed")
    assert set(error["details"]) == {"", "(a part without a name)"}


def test_unknown_and_repeated_parameters_and_fields_are_refused(api, world, token_for, session):
    """The README's promise: an unknown query parameter, form field or file is a 422 naming it
    (webargs ignores them by default), and so is a single-valued parameter given twice."""
    officer = token_for(world.officer)
    session.add(BulkJob(officer_id=world.officer.id, filename="m.csv", manifest_sha256="0" * 64, manifest_bytes=1,
                        state="done"))
    session.commit()
    job_id = session.scalar(select(BulkJob.id))
    hits = f"/api/v1/bulk-jobs/{job_id}/hits"
    for query, field in (("foo=1", "foo"), ("min-score=0.9", "min-score"), ("page=1&page=2", "page"),
                         ("brand=ALPHA&brand=BETA", "brand"), ("per_page=10&Page=2", "Page")):
        error = assert_error(api("get", f"{hits}?{query}", officer), 422, "validation_failed")
        assert field in error["details"], (query, error)
    for path, field in (("/api/v1/cases?sate=open", "sate"), ("/api/v1/registry/products?q=a&q=b", "q"),
                        (f"/api/v1/bulk-jobs/{job_id}?verbose=1", "verbose"),
                        ("/api/v1/checks/1?include=all", "include")):
        error = assert_error(api("get", path, officer), 422, "validation_failed")
        assert field in error["details"], (path, error)
    error = assert_error(api("post", "/api/v1/screenings?dry_run=1", officer, json={"declared_brand": "A1pha"}), 422)
    assert "dry_run" in error["details"]
    # What the API documents still passes, every parameter at once, and none at all.
    for query in ("", "?page=1&per_page=10&brand=ALPHA&recommendation=detain&min_score=0.5"):
        assert api("get", hits + query, officer).status_code == 200
    assert api("get", "/api/v1/cases?state=open", officer).status_code == 200
    assert api("get", f"/api/v1/bulk-jobs/{job_id}", officer).status_code == 200
    # A bulk job's form: the manifest file and nothing else.
    for data, field in (({"manifest": (io.BytesIO(b"brand\nA1pha\n"), "m.csv"), "note": "x"}, "note"),
                        ({"manifest": (io.BytesIO(b"brand\nA1pha\n"), "m.csv"),
                          "extra": (io.BytesIO(b"brand\n"), "n.csv")}, "extra"),
                        ({"manifest": [(io.BytesIO(b"brand\nA1pha\n"), "m.csv"), (io.BytesIO(b"brand\n"), "n.csv")]},
                         "manifest"),
                        ({"manifest": "brand\nA1pha\n"}, "manifest")):
        error = assert_error(api("post", "/api/v1/bulk-jobs", officer, data=data, content_type="multipart/form-data"),
                             422, "validation_failed")
        assert field in error["details"], (data, error)
    assert session.scalar(select(func.count(BulkJob.id))) == 1


def test_prose_on_the_reference_page_is_escaped_and_only_backquotes_become_code():
    from registry.api.reference import prose

    assert str(prose("send `a<b>` as\n  <script>x</script>")) == \
        "send <code>a&lt;b&gt;</code> as &lt;script&gt;x&lt;/script&gt;"


def test_cases_are_filtered_by_state_and_an_unknown_state_is_refused(api, world, token_for, session):
    from registry.models import DetentionCase
    from registry.services import cases as case_service
    from registry.services.profiles import load_profiles

    officer = token_for(world.officer)
    ids = []
    for brand in ("A1pha", "Alpha"):
        check = suspect_check(session, world, brand=brand, quantity=10)
        case = case_service.open_detention(session, world.officer, load_profiles(), check.id, {
            "jurisdiction": "EU", "procedure": "standard", "legal_basis": "application",
            "office": "Hamburg customs office", "office_country": "DE"})
        session.commit()
        ids.append(case.id)
    session.get(DetentionCase, ids[1]).state = "closed"
    session.commit()

    def listed(query: str) -> list[int]:
        response = api("get", f"/api/v1/cases{query}", officer)
        assert response.status_code == 200, response.get_data(as_text=True)
        return sorted(c["id"] for c in response.get_json())

    assert listed("") == ids and listed("?state=open") == [ids[0]]
    # Each case says in which time zone its days are counted: its office's.
    assert {c["office_zone"] for c in api("get", "/api/v1/cases", officer).get_json()} == {"Europe/Berlin"}
    assert listed("?state=closed") == [ids[1]] and listed("?state=detained") == [ids[0]]
    error = assert_error(api("get", "/api/v1/cases?state=opne", officer), 422, "validation_failed")
    assert "state" in error["details"]


def test_cases_come_a_page_at_a_time_with_the_total_and_a_link_to_the_next(api, world, token_for, session,
                                                                           signed_in):
    from registry.services import cases as case_service
    from registry.services.profiles import load_profiles

    officer = token_for(world.officer)
    ids = []
    for _ in range(3):
        check = suspect_check(session, world)
        ids.append(case_service.open_detention(session, world.officer, load_profiles(), check.id, {
            "jurisdiction": "EU", "procedure": "standard", "legal_basis": "application",
            "office": "Hamburg customs office", "office_country": "DE"}).id)
        session.commit()
    newest_first = sorted(ids, reverse=True)

    first = api("get", "/api/v1/cases?per_page=2&state=open", officer)
    assert [c["id"] for c in first.get_json()] == newest_first[:2] and first.headers["X-Total-Count"] == "3"
    assert first.headers["Link"] == '<http://localhost/api/v1/cases?per_page=2&state=open&page=2>; rel="next"'
    second = api("get", "/api/v1/cases?per_page=2&state=open&page=2", officer)
    assert [c["id"] for c in second.get_json()] == newest_first[2:]
    assert second.headers["Link"] == '<http://localhost/api/v1/cases?per_page=2&state=open&page=1>; rel="prev"'
    everything = api("get", "/api/v1/cases", officer)
    assert len(everything.get_json()) == 3 and "Link" not in everything.headers
    assert api("get", "/api/v1/cases?page=9", officer).get_json() == []
    for query in ("per_page=0", "per_page=1001", "page=0"):
        assert_error(api("get", f"/api/v1/cases?{query}", officer), 422, "validation_failed")
    spec = api("get", "/api/v1/openapi.json").get_json()
    assert "X-Total-Count" in spec["paths"]["/api/v1/cases"]["get"]["responses"]["200"]["headers"]
    page = signed_in(world.officer).get("/api/v1/docs").get_data(as_text=True)
    listing = page[page.index('id="get-api-v1-cases"'):]
    assert "header <code>X-Total-Count</code>: How many cases match" in listing[:listing.index("</section>")]
