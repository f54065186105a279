"""Application fixtures: a migrated database per backend, a test client that keeps its CSRF
token, and a small two-tenant world built through the services."""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone

from pathlib import Path

import pytest
from PIL import Image
from sqlalchemy import select, text

from registry import create_app
from registry.extensions import db
from registry.models import Base, Check, OrganisationStatus, Role, Suggestion
from registry.services import organisations, products, rights, suppliers, users

PASSWORD = "correct-horse-battery"


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def database_url(request, tmp_path_factory) -> str:
    """A database brought to the current schema by the migrations, once per backend."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'registry.sqlite3'}"
    else:
        # The run's own database (tests/conftest.py); migrating it again is a no-op.
        url = request.getfixturevalue("postgres_url").replace("postgresql://", "postgresql+psycopg://", 1)
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "migrate",
                      "BLOB_DIR": str(tmp_path_factory.mktemp("blobs")),
                      "SIGNING_KEY_FILE": str(tmp_path_factory.mktemp("keys") / "signing_key.pem")})
    from flask_migrate import upgrade

    with app.app_context():
        upgrade()
        db.engine.dispose()
    if request.param == "postgresql":
        # Migrated by the owner; the application connects as production's does: a role that
        # owns no table, is no superuser, and is held to the row-level security policies.
        from tests.pgroles import as_application_role

        return as_application_role(url)
    return url


def _empty_tables() -> None:
    # Children before parents; the audit head goes back to its genesis row.
    for table in reversed(Base.metadata.sorted_tables):
        db.session.execute(table.delete())
    db.session.execute(text("INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, :h)"), {"h": "0" * 64})
    db.session.commit()


@pytest.fixture
def app(database_url, tmp_path):
    app = create_app({
        "TESTING": True,
        "SQLALCHEMY_DATABASE_URI": database_url,
        "SECRET_KEY": "test-secret",
        "BLOB_DIR": str(tmp_path / "blobs"),
        "SIGNING_KEY_FILE": str(tmp_path / "signing_key.pem"),
        "MAIL_OUTBOX_DIR": str(tmp_path / "outbox"),
        "RATELIMIT_ENABLED": False,
    })
    with app.app_context():
        _empty_tables()
        yield app
        db.session.remove()
        db.engine.dispose()


class CanaryWatch:
    """Searches what the app gives out for other tenants' canaries (see ``canary_sweep``)."""

    def __init__(self, app) -> None:
        self.app = app
        self.leaks: list[str] = []

    def served(self, sender, response, **_) -> None:
        from flask import g, request
        from flask_login import current_user

        if not CANARY_OWNERS or response.direct_passthrough or response.is_streamed:
            return  # files sent as they are read: downloads are checked by the tests that make them
        user = g.get("api_user") or (current_user if current_user.is_authenticated else None)
        if user is not None and user.role != Role.HOLDER:
            return
        own = user.organisation_id if user is not None else None
        body = response.get_data()
        for canary, owner in CANARY_OWNERS.items():
            if owner != own and canary.encode() in body:
                who = f"{user.email} (organisation {own})" if user is not None else "a visitor signed out"
                self.leaks.append(f"{request.method} {request.full_path} showed {canary} to {who}")

    def read_outbox(self) -> None:
        from email import message_from_bytes
        from email.policy import default

        from registry.models import ContactPerson

        outbox = Path(self.app.config["MAIL_OUTBOX_DIR"])
        if not CANARY_OWNERS or not outbox.is_dir():
            return
        with self.app.app_context():
            contacts = {c.email.lower(): c.organisation_id for c in db.session.scalars(select(ContactPerson))}
        for letter in sorted(outbox.glob("*.eml")):
            message = message_from_bytes(letter.read_bytes(), policy=default)
            text = "".join(part.get_content() for part in message.walk() if part.get_content_maintype() == "text")
            for recipient in message.get_all("To", []):
                own = contacts.get(recipient.strip().lower())
                self.leaks.extend(f"e-mail {letter.name} to {recipient} carries {canary}"
                                  for canary, owner in CANARY_OWNERS.items() if owner != own and canary in text)

    def read_logs(self, records) -> None:
        self.leaks.extend(f"log record {record.name}: {canary}" for record in records
                          for canary in CANARY_OWNERS if canary in record.getMessage())


@pytest.fixture(autouse=True)
def canary_sweep(request, caplog):
    """Every test of the functional suite is also a leak test.

    Each tenant of the ``world`` plants canaries in its confidential fields. Whatever a test
    does, every response the app serves is searched: one served to a rights holder may hold
    only their own organisation's canaries, one served to nobody signed in none at all
    (customs staff may read every holder's). So are the e-mails written (a holder's contact
    may receive only their own organisation's) and every log record (none at all).
    """
    CANARY_OWNERS.clear()
    if "app" not in request.fixturenames:
        yield None
        return
    from flask import request_finished

    watch = CanaryWatch(request.getfixturevalue("app"))
    request_finished.connect(watch.served, watch.app)
    try:
        yield watch
    finally:
        request_finished.disconnect(watch.served, watch.app)
    watch.read_outbox()
    watch.read_logs(caplog.records)
    assert not watch.leaks, "confidential values leaked:\n" + "\n".join(watch.leaks)


@pytest.fixture
def session(app):
    return db.session


@pytest.fixture
def blobs(app):
    return app.extensions["blobs"]


class Client:
    """A test client that signs in and sends its CSRF token with every unsafe request."""

    def __init__(self, flask_client) -> None:
        self.raw = flask_client
        self.token: str | None = None

    def _request(self, method: str, path: str, **kwargs):
        # Each request gets an application context of its own, as in production: otherwise
        # it would share the test's ``g`` (and signed-in user) and database session.
        with self.raw.application.app_context():
            response = getattr(self.raw, method)(path, **kwargs)
            response.get_data()
        return response

    def refresh_token(self, path: str = "/login") -> str:
        page = self._request("get", path).get_data(as_text=True)
        match = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page) or \
            re.search(r'name="csrf_token" value="([^"]+)"', page)
        assert match, f"no CSRF token on {path}"
        self.token = match.group(1)
        return self.token

    def login(self, email: str, password: str = PASSWORD):
        self.refresh_token("/login")
        return self._request("post", "/login", data={"email": email, "password": password,
                                                     "csrf_token": self.token})

    def get(self, path: str, **kwargs):
        return self._request("get", path, **kwargs)

    def post(self, path: str, data: dict | None = None, *, csrf: bool = True, **kwargs):
        data = dict(data or {})
        if csrf:
            if self.token is None:
                self.refresh_token()
            data.setdefault("csrf_token", self.token)
        return self._request("post", path, data=data, **kwargs)


@pytest.fixture
def client_factory(app):
    def make() -> Client:
        return Client(app.test_client())
    return make


def png_bytes(size=(120, 80), colour=(200, 30, 30), *, fmt="PNG", exif: bytes | None = None) -> bytes:
    image = Image.new("RGB", size, colour)
    out = io.BytesIO()
    kwargs = {"exif": exif} if exif else {}
    image.save(out, format=fmt, **kwargs)
    return out.getvalue()


@dataclass
class Tenant:
    organisation: object
    holder: object
    right: object
    product: object
    image: object
    supplier: object
    contact: object


@dataclass
class World:
    a: Tenant
    b: Tenant
    officer: object
    legal: object
    admin: object


#: Confidential fields planted with a canary in every tenant: covert features, counterfeit clues,
#: suppliers' identifiers and addresses, contacts' roles. Canary text -> its organisation's id.
CANARY_FIELDS = ("COVERT", "CLUE", "SUPPLIER", "ADDRESS", "ROLE")
CANARY_OWNERS: dict[str, int] = {}


def make_tenant(session, blobs, admin, name: str, country: str, mark: str, colour) -> Tenant:
    holder = organisations.register_organisation(
        session, {"name": name, "country": country}, user_name=f"{mark} holder",
        email=f"holder@{mark.lower()}.example", password=PASSWORD)
    organisation = holder.organisation
    organisations.set_organisation_status(session, admin, organisation, OrganisationStatus.APPROVED)
    today = date.today()
    right = rights.register_right(session, holder, organisation.id, {
        "kind": "word", "mark_text": mark, "registration_number": f"{mark}-001", "office": "EUIPO",
        "nice_classes": "25", "protection_number": f"AFA-{mark}", "protection_jurisdictions": "EU",
        "protection_valid_from": today - timedelta(days=10),
        "protection_valid_until": today + timedelta(days=200)})
    product = products.register_product(session, holder, organisation.id, {
        "name": f"{mark} Runner", "model": "R1", "category": "shoes", "right_id": right.id,
        "gtins": "4006381333931", "hs_codes": "6404.11", "price_min": "50", "price_max": "90",
        "currency": "EUR", "production_countries": "VN",
        "overt_features": "embossed logo", "covert_features": f"COVERT-CANARY-{mark}",
        "counterfeit_clues": f"glue stains, CLUE-CANARY-{mark}"})
    image, _ = products.add_reference_image(session, holder, blobs, products.UploadPolicy(),
                                            kind="packaging", data=png_bytes(colour=colour),
                                            filename="box.png", product_id=product.id)
    supplier = suppliers.add_supplier(session, holder, organisation.id, {
        "role": "manufacturer", "name": f"{mark} Factory Co., Ltd.", "country": "VN",
        "address": f"ADDRESS-CANARY-{mark}", "identifiers": f"SUPPLIER-CANARY-{mark}"})
    contact = organisations.add_contact(session, holder, organisation.id, {
        "name": f"{mark} Contact", "role": f"ROLE-CANARY-{mark}", "email": f"contact@{mark.lower()}.example",
        "countries": "DE"})
    for field in CANARY_FIELDS:
        CANARY_OWNERS[f"{field}-CANARY-{mark}"] = organisation.id
    return Tenant(organisation, holder, right, product, image, supplier, contact)


@pytest.fixture
def world(session, blobs) -> World:
    admin = users.create_user(session, None, email="admin@test.example", name="Admin",
                              password=PASSWORD, role=Role.ADMIN)
    officer = users.create_user(session, None, email="officer@test.example", name="Officer",
                                password=PASSWORD, role=Role.OFFICER)
    legal = users.create_user(session, None, email="legal@test.example", name="Legal",
                              password=PASSWORD, role=Role.LEGAL)
    a = make_tenant(session, blobs, admin, "Alpha Brands GmbH", "DE", "ALPHA", (200, 0, 0))
    b = make_tenant(session, blobs, admin, "Beta Goods SA", "FR", "BETA", (0, 0, 200))
    session.commit()
    return World(a, b, officer, legal, admin)


def suspect_check(session, world, *, brand: str = "A1pha", created_at: datetime | None = None, **values) -> Check:
    """A check of running shoes whose first suggestion is organisation A's mark: goods to detain."""
    check = Check(officer_id=world.officer.id, declared_brand=brand, description="running shoes",
                  created_at=created_at or datetime.now(timezone.utc), **values)
    check.suggestions.append(Suggestion(rank=1, right_id=world.a.right.id, brand_name="ALPHA", score=0.9,
                                        recommendation="detain", signals=[], evidence=[]))
    session.add(check)
    session.commit()
    return check


#: Dated tests (legal clocks, evidence) run on fixed days from late 2026 to early 2027: the
#: world's customs protection is pinned over them, so that those tests do not start failing as
#: the real calendar moves past its default (ten days ago to 200 days ahead).
DATED_TESTS_PROTECTION = (date(2026, 11, 1), date(2027, 10, 31))


def pin_protection(session, world, start: date = DATED_TESTS_PROTECTION[0],
                   end: date = DATED_TESTS_PROTECTION[1]) -> None:
    # Written directly: the service refuses dates already gone, as a holder's form must.
    for tenant in (world.a, world.b):
        tenant.right.protection_valid_from, tenant.right.protection_valid_until = start, end
    session.commit()


@pytest.fixture
def signed_in(client_factory, world):
    """``signed_in(user)`` -> a client with that user's session."""
    def make(user) -> Client:
        client = client_factory()
        response = client.login(user.email)
        assert response.status_code == 302, response.get_data(as_text=True)[:500]
        client.refresh_token(_landing(user))
        return client
    return make


def _landing(user) -> str:
    return {Role.HOLDER: "/dossier/profile", Role.ADMIN: "/admin/users/new"}.get(user.role, "/account/password")
