"""Tenant isolation, generated from the application's URL map.

Every route that takes an object id is called, with every method it accepts, by a rights
holder of another organisation, using the ids of organisation A's objects. Each call must
answer 404 (403 for routes the role may never use), leak none of A's confidential values, and
change nothing in the database. A route whose id parameter this test does not know fails the
test, so a new route cannot be added without isolation coverage.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select
from werkzeug.routing import IntegerConverter

from registry.models import AuditEvent, Base

# How to find organisation A's object for each id parameter a route may take.
OBJECT_IDS = {
    "product_id": lambda w: w.a.product.id,
    "image_id": lambda w: w.a.image.id,
    "right_id": lambda w: w.a.right.id,
    "supplier_id": lambda w: w.a.supplier.id,
    "contact_id": lambda w: w.a.contact.id,
    "organisation_id": lambda w: w.a.organisation.id,
    "user_id": lambda w: w.a.holder.id,
    # Checks are customs records: a holder's role never reaches them (403 below).
    "check_id": lambda w: w.check.id,
    "suggestion_id": lambda w: w.check.suggestions[0].id,
    "photo_id": lambda w: w.check.photos[0].id,
    "case_id": lambda w: w.case.id,
    "sample_id": lambda w: w.case.samples[0].id,
    "export_id": lambda w: w.export.id,
    "job_id": lambda w: w.job.id,
    "token_id": lambda w: w.token.id,
}
# Endpoints a rights holder's role may never use, whatever the object: a 403 there is a role
# denial decided before any lookup, not a leak.
ROLE_DENIED_BLUEPRINTS = ("admin.", "checks.", "bulk.")
ROLE_DENIED_ENDPOINTS = {"cases.detain", "cases.add_note", "cases.add_photos", "cases.add_sample",
                         "cases.declarant_answer", "cases.return_sample", "evidence.export", "evidence.download",
                         "images.check_photo"}
# The one write legal staff make: exporting evidence (tested in test_evidence.py).
LEGAL_WRITES = {"evidence.export"}


def role_denied_for_holders(rule) -> bool:
    return rule.endpoint.startswith(ROLE_DENIED_BLUEPRINTS) or rule.endpoint in ROLE_DENIED_ENDPOINTS
CANARIES = ("COVERT-CANARY-ALPHA", "SUPPLIER-CANARY-ALPHA")


def object_routes(app, *, api: bool = False):
    """Routes with an id: the pages (cookie sessions), or with ``api`` the JSON API (tokens)."""
    routes = []
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/api/") != api:
            continue
        params = [p for p in rule.arguments if isinstance(rule._converters[p], IntegerConverter)]
        if not params or rule.endpoint == "static":
            continue
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            routes.append((rule, method, params))
    return routes


AUDIT_TABLES = {"audit_events", "audit_head", "audit_checkpoints"}


def database_state(session) -> dict:
    """Every row of every table but the audit log (reads of confidential data add to it)."""
    session.expire_all()
    return {table.name: sorted(map(repr, session.execute(select(table)).all()))
            for table in Base.metadata.sorted_tables if table.name not in AUDIT_TABLES}


def audit_actions_since(session, seq: int) -> set[str]:
    return set(session.scalars(select(AuditEvent.action).where(AuditEvent.seq > seq)))


def last_seq(session) -> int:
    return session.scalar(select(func.coalesce(func.max(AuditEvent.seq), 0)))


def test_every_object_route_is_covered(app):
    unknown = {(rule.rule, p) for rule, _, params in object_routes(app) + object_routes(app, api=True)
               for p in params if p not in OBJECT_IDS}
    assert not unknown, f"routes with id parameters the isolation test cannot fill: {unknown}"
    assert len(object_routes(app)) >= 20


def object_url(rule, world) -> str:
    """The rule's URL with organisation A's objects (and the customs records) for its ids."""
    url = rule.rule
    for param in rule.arguments:
        url = url.replace(f"<int:{param}>", str(OBJECT_IDS[param](world)))
    return url


def _call(client, rule, method, world):
    url = object_url(rule, world)
    if method == "GET":
        return url, client.get(url)
    return url, client.post(url, {"name": "changed", "role": "manufacturer", "country": "DE",
                                  "kind": "word", "mark_text": "X"})


@pytest.fixture
def world_with_check(app, session, world, blobs):
    """The world plus an officer's check of ALPHA look-alikes, with a photo, and its case."""
    from registry.services.checks import screen_declaration
    from registry.web.common import upload_policy
    from tests.registry.conftest import png_bytes

    with app.test_request_context():
        world.check = screen_declaration(session, world.officer, blobs, app.extensions["engine"], upload_policy(),
                                         {"declared_brand": "A1pha"}, [(png_bytes(), "p.png")])
    session.commit()
    from registry.services.cases import open_detention
    from registry.services.profiles import load_profiles

    world.case = open_detention(session, world.officer, load_profiles(), world.check.id, {
        "jurisdiction": "EU", "legal_basis": "application", "office": "Hamburg", "office_country": "DE",
        "goods_description": "shoes"})
    session.commit()
    from registry.services.cases import record_sample

    record_sample(session, world.officer, world.case.id, {"reference": "S-1", "quantity": "1 pair",
                                                          "handed_to": "ALPHA lab"})
    session.commit()
    from registry.services.evidence import export_evidence

    world.export = export_evidence(session, world.legal, blobs, app.extensions["signer"], world.case.id,
                                   profiles=load_profiles())
    import io

    from registry.services.bulk import submit_manifest

    world.job = submit_manifest(session, world.officer, blobs, io.BytesIO(b"brand\nA1pha\n"), "m.csv", max_bytes=10**6)
    world.job.state = "done"  # a finished job: reading it starts nothing
    from registry.services.api_tokens import create_token

    world.token, _ = create_token(session, world.a.holder, "A's system")
    session.commit()
    assert world.case.organisation_id == world.a.organisation.id
    return world


@pytest.mark.parametrize("who", ["other_holder", "legal"])
def test_other_tenant_and_read_only_roles_change_nothing(app, session, world_with_check, signed_in, who):
    world = world_with_check
    user = world.b.holder if who == "other_holder" else world.legal
    client = signed_in(user)
    before, seq = database_state(session), last_seq(session)
    failures = []
    for rule, method, _ in object_routes(app):
        if who == "legal" and rule.endpoint in LEGAL_WRITES:
            continue
        url, response = _call(client, rule, method, world)
        body = response.get_data().decode("utf-8", "replace")
        if who == "other_holder":
            allowed = {403} if role_denied_for_holders(rule) else {404}
        else:
            # Legal staff read the registry but change nothing: every write is refused.
            allowed = {200, 403} if method == "GET" else {403, 404}
        if response.status_code not in allowed:
            failures.append(f"{method} {url} -> {response.status_code}, expected {sorted(allowed)}")
        if who == "other_holder" and any(c in body for c in CANARIES):
            failures.append(f"{method} {url} leaked a confidential value")
    assert not failures, "\n".join(failures)
    assert database_state(session) == before
    # The only trace left is the audit of legitimate reads (legal staff reading the registry).
    assert audit_actions_since(session, seq) <= ({"product.read", "case.view", "case.photo_view",
                                                  "case.evidence_download"} if who == "legal" else set())


def test_api_routes_refuse_other_tenants(app, session, world_with_check):
    """The same, through the JSON API with another holder's token: 404 (403 for customs-only
    endpoints), no state change, no canary."""
    import base64

    from registry.services import api_tokens
    from tests.registry.conftest import png_bytes

    world = world_with_check
    _, secret = api_tokens.create_token(session, world.b.holder, "other tenant")
    session.commit()
    headers = {"Authorization": f"Bearer {secret}"}
    client = app.test_client()
    with app.app_context():  # the token's first use records when it was last used
        assert client.get("/api/v1/dossier/products", headers=headers).status_code == 200
    before, seq = database_state(session), last_seq(session)
    routes = object_routes(app, api=True)
    assert len(routes) >= 5
    failures = []
    for rule, method, _ in routes:
        url = object_url(rule, world)
        body = {"kind": "packaging", "data": base64.b64encode(png_bytes()).decode()} if url.endswith("/images") \
            else {"name": "changed"}
        with app.app_context():
            response = client.open(url, method=method, headers=headers, json=body)
            body = response.get_data(as_text=True)
        customs_only = any(part in url for part in ("/checks/", "/bulk-jobs/", "/registry/"))
        allowed = {403} if customs_only else {404}
        if response.status_code not in allowed or not response.is_json or "error" not in response.get_json():
            failures.append(f"{method} {url} -> {response.status_code}, expected {sorted(allowed)}")
        if any(c in body for c in CANARIES):
            failures.append(f"{method} {url} leaked a confidential value")
    assert not failures, "\n".join(failures)
    assert database_state(session) == before
    assert audit_actions_since(session, seq) == set()


def test_registry_search_never_shows_other_tenants_to_a_holder(world, signed_in):
    client = signed_in(world.b.holder)
    page = client.get("/registry?q=runner").get_data(as_text=True)
    assert "BETA Runner" in page and "ALPHA Runner" not in page
    page = client.get("/registry/holders").get_data(as_text=True)
    assert "Beta Goods" in page and "Alpha Brands" not in page


def test_officer_sees_covert_features_and_suppliers_of_every_holder(world, signed_in):
    client = signed_in(world.officer)
    page = client.get(f"/registry/products/{world.a.product.id}").get_data(as_text=True)
    assert "COVERT-CANARY-ALPHA" in page and "SUPPLIER-CANARY-ALPHA" in page
    assert "ALPHA Contact" in page
    page = client.get("/registry?q=runner").get_data(as_text=True)
    assert "ALPHA Runner" in page and "BETA Runner" in page


def test_officer_reading_confidential_data_is_audited(world, signed_in, session):
    from registry.models import AuditEvent

    client = signed_in(world.officer)
    client.get(f"/registry/products/{world.a.product.id}")
    session.expire_all()
    event = session.scalars(select(AuditEvent).order_by(AuditEvent.seq.desc())).first()
    assert (event.action, event.actor_id, event.object_id) == ("product.read", world.officer.id, world.a.product.id)


def test_thumbnail_served_only_to_those_who_may_see_it(world, signed_in):
    url = f"/images/{world.a.image.id}/thumbnail"
    own = signed_in(world.a.holder).get(url)
    assert own.status_code == 200 and own.mimetype == "image/png"
    assert own.headers["X-Content-Type-Options"] == "nosniff"
    assert signed_in(world.b.holder).get(url).status_code == 404
    assert signed_in(world.officer).get(url).status_code == 200


def test_the_canary_sweep_catches_a_leak_in_a_page_an_e_mail_and_a_log(app, world, signed_in, canary_sweep):
    """The sweep that every functional test runs under (tests/registry/conftest.py) finds a
    confidential value shown to the wrong holder, e-mailed to the wrong contact, or logged."""
    import logging

    from email.message import EmailMessage

    from registry.mail import mailer_from_config

    def send(to: str, subject: str, body: str) -> None:
        message = EmailMessage()
        message["To"], message["From"], message["Subject"] = to, "customs@registry.example", subject
        message.set_content(body)
        mailer_from_config(app.config).send(message)

    app.add_url_rule("/leaky", "leaky", lambda: "covert: COVERT-CANARY-ALPHA")
    beta, alpha = signed_in(world.b.holder), signed_in(world.a.holder)
    alpha.get("/leaky")
    assert canary_sweep.leaks == []  # Alpha's own secret, shown to Alpha
    beta.get("/leaky")
    assert canary_sweep.leaks == [f"GET /leaky? showed COVERT-CANARY-ALPHA to {world.b.holder.email} "
                                  f"(organisation {world.b.organisation.id})"]
    canary_sweep.leaks.clear()

    send("contact@beta.example", "Notice", "Your goods: CLUE-CANARY-ALPHA")
    send("contact@alpha.example", "Notice", "Your goods: CLUE-CANARY-ALPHA")
    canary_sweep.read_outbox()
    assert [leak.split(" carries ")[1] for leak in canary_sweep.leaks] == ["CLUE-CANARY-ALPHA"]
    assert "to contact@beta.example" in canary_sweep.leaks[0]
    canary_sweep.leaks.clear()

    record = logging.LogRecord("registry", logging.INFO, __file__, 1, "supplier %s", ("ADDRESS-CANARY-BETA",), None)
    canary_sweep.read_logs([record])
    assert canary_sweep.leaks == ["log record registry: ADDRESS-CANARY-BETA"]
    canary_sweep.leaks.clear()
    # Emptied, so that this test's own planted leaks do not fail it at teardown.
    for letter in Path(app.config["MAIL_OUTBOX_DIR"]).glob("*.eml"):
        letter.unlink()
