"""How a request's transaction ends: a request that only read ends it with COMMIT on
PostgreSQL (psycopg forgets the connection's prepared statements on ROLLBACK); anything that
wrote, left a change pending or failed still rolls back, so nothing of it is kept."""

from __future__ import annotations

import pytest
from sqlalchemy import event, func, select

from registry.extensions import db
from registry.models import Organisation, Product
from registry.services import api_tokens, tenancy


@pytest.fixture
def ends(app):
    """The ways the app's transactions end, in order."""
    seen: list[str] = []
    listeners = [(name, lambda _conn, name=name: seen.append(name)) for name in ("commit", "rollback")]
    for name, listener in listeners:
        event.listen(db.engine, name, listener)
    yield seen
    for name, listener in listeners:
        event.remove(db.engine, name, listener)


def test_a_read_only_request_commits_and_keeps_prepared_statements(app, world, session, ends, database_url):
    _, secret = api_tokens.create_token(session, world.officer, "reader")
    session.commit()
    client = app.test_client()

    def get(token: str) -> int:
        with app.app_context():  # as a served request: its own context, its own session
            return client.get("/api/v1/cases", headers={"Authorization": f"Bearer {token}"}).status_code

    assert get(secret) == 200  # the first use notes last_used_at: a write, committed
    postgres = database_url.startswith("postgresql")
    for _ in range(8):  # psycopg prepares a statement on its fifth run
        ends.clear()
        assert (get(secret), get("cgr_unknown")) == (200, 401)
        assert ends == (["commit", "commit"] if postgres else ["rollback", "rollback"])
    if postgres:
        with app.app_context():
            prepared = db.session.scalar(select(func.count()).select_from(db.text("pg_prepared_statements")))
            db.session.rollback()
        assert prepared > 0


def test_a_request_that_wrote_or_left_a_change_pending_still_rolls_back(app, world, session, ends):
    product_id, name = world.a.product.id, world.a.product.name

    def wrote_then_refused():
        tenancy.bind(db.session, tenancy.EVERY_TENANT)
        db.session.execute(Organisation.__table__.update().where(Organisation.id == world.b.organisation.id)
                           .values(name="Renamed by a failed request"))
        return {"error": "refused"}, 422

    def changed_then_refused():
        tenancy.bind(db.session, tenancy.EVERY_TENANT)
        db.session.get(Product, product_id).name = "Pending, never flushed"
        return {"error": "refused"}, 422

    app.add_url_rule("/test/wrote", view_func=wrote_then_refused)
    app.add_url_rule("/test/changed", view_func=changed_then_refused)
    client = app.test_client()
    for path in ("/test/wrote", "/test/changed"):
        ends.clear()
        with app.app_context():
            assert client.get(path).status_code == 422
        assert ends == ["rollback"], path
    session.expire_all()
    assert session.get(Organisation, world.b.organisation.id).name != "Renamed by a failed request"
    assert session.get(Product, product_id).name == name
