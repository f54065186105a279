"""PostgreSQL row-level security: the database's own tenant line, behind the application's.

The application's tests on PostgreSQL connect as production's application does (see
``as_application_role`` in tests/pgroles.py): a member of ``registry_app`` that owns no table
and is no superuser. These tests show that the policies of migration 0014 are in force for that
role, that a query without the tenant setting reaches no tenant row, that each tenant setting
reaches exactly its own rows, and that the pages and the API still keep one holder out of
another's dossier when the application's own check is switched off.
"""

from __future__ import annotations

import importlib
from datetime import date

import psycopg
import pytest
from sqlalchemy import select
from sqlalchemy.engine import make_url

from registry.extensions import db
from registry.models import Base, Check, Product, Suggestion, User
from registry.services import api_tokens, cases, tenancy
from registry.services.profiles import load_profiles
from tests.registry.conftest import CANARY_OWNERS

migration = importlib.import_module("registry.migrations.versions.0014_row_level_security")

#: Tables that hold an organisation's id, or point at a covered table, but are deliberately not
#: covered, with the reason. Anything else of that kind without a policy fails the build.
NOT_COVERED = {
    "users": "read by e-mail address to sign in, before anyone is known",
    "user_sessions": "read by session token to recognise a signed-in user",
    "api_tokens": "read by token hash to recognise a calling system",
}
COVERED = set(migration.POLICIES) | {"audit_events"}


def _is_postgres(database_url: str) -> bool:
    return database_url.startswith("postgresql")


@pytest.fixture
def postgres_only(database_url):
    if not _is_postgres(database_url):
        pytest.skip("row-level security is PostgreSQL's")


def _connect(database_url: str, *, owner: bool = False) -> psycopg.Connection:
    url = make_url(database_url).set(drivername="postgresql")
    if owner:  # the migrating role: the tables' owner (and here a superuser)
        from tests.conftest import POSTGRES_URL

        url = url.set(username=make_url(POSTGRES_URL).username)
    return psycopg.connect(url.render_as_string(hide_password=False), autocommit=True)


@pytest.fixture
def with_a_case(session, world):
    """A check that suggested both tenants' marks, detained on ALPHA's right: a case, its
    events, a notice-free timeline, two suggestions (one per tenant)."""
    check = Check(officer_id=world.officer.id, declared_brand="A1pha", description="running shoes",
                  quantity=10, quantity_unit="pairs")
    check.suggestions.append(Suggestion(rank=1, right_id=world.a.right.id, brand_name="ALPHA", score=0.9,
                                        recommendation="detain", signals=[], evidence=[]))
    check.suggestions.append(Suggestion(rank=2, right_id=world.b.right.id, brand_name="BETA", score=0.4,
                                        recommendation="review", signals=[], evidence=[]))
    session.add(check)
    session.commit()
    case = cases.open_detention(session, world.officer, load_profiles(), check.id, {
        "jurisdiction": "EU", "procedure": "standard", "legal_basis": "application",
        "office": "Hamburg customs office", "office_country": "DE"}, today=date.today())
    session.commit()
    return case


def test_the_application_role_owns_nothing_and_every_tenant_table_is_forced(postgres_only, database_url, app):
    with _connect(database_url) as conn:
        role, superuser, bypass = conn.execute(
            "SELECT current_user, rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user").fetchone()
        assert (superuser, bypass) == (False, False)
        owned = conn.execute("SELECT relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                             "WHERE n.nspname = 'public' AND pg_get_userbyid(c.relowner) = current_user").fetchall()
        assert owned == [], f"{role} owns {owned}"
        flags = dict(((name, (rls, forced)) for name, rls, forced in conn.execute(
            "SELECT relname, relrowsecurity, relforcerowsecurity FROM pg_class c "
            "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public' AND c.relkind = 'r'")))
        assert {table: flags[table] for table in COVERED} == {table: (True, True) for table in COVERED}
        # And it cannot simply take the policies off.
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("ALTER TABLE products DISABLE ROW LEVEL SECURITY")


def test_every_table_of_a_tenants_rows_is_covered_or_exempt_with_a_reason(postgres_only, database_url, app):
    """A new table holding an organisation's rows must get a policy (or a stated reason)."""
    with _connect(database_url) as conn:
        forced = {name for (name,) in conn.execute(
            "SELECT relname FROM pg_class WHERE relrowsecurity AND relforcerowsecurity")}
    tenant_rows = set()
    changed = True
    while changed:  # a table pointing at a covered table holds tenant rows too
        changed = False
        for table in Base.metadata.sorted_tables:
            if table.name in tenant_rows or table.name in NOT_COVERED:
                continue
            pointing = {fk.column.table.name for fk in table.foreign_keys}
            if "organisation_id" in table.c or table.name == "organisations" or pointing & tenant_rows:
                tenant_rows.add(table.name)
                changed = True
    assert tenant_rows - forced == set(), "tables of tenant rows without row-level security"
    assert {"products", "suppliers", "detention_cases", "bulk_hits", "suggestions", "evidence_exports"} <= tenant_rows


def _rows(conn, table: str, tenant: str | None) -> list[dict]:
    with conn.transaction():
        if tenant is not None:
            conn.execute("SELECT set_config('registry.tenant', %s, true)", (tenant,))
        cursor = conn.cursor(row_factory=psycopg.rows.dict_row)
        return cursor.execute(f"SELECT * FROM {table}").fetchall()


def test_a_raw_query_reaches_only_the_tenant_it_was_told(postgres_only, database_url, app, world, with_a_case, session):
    a, b = world.a.organisation.id, world.b.organisation.id
    api_tokens.create_token(session, world.a.holder, "their system")
    session.commit()
    with _connect(database_url) as conn, _connect(database_url, owner=True) as owner:
        for table in sorted(COVERED):
            everything = _rows(owner, table, None)
            assert everything or table.startswith(("bulk_", "samples", "holder_responses", "evidence_exports",
                                                   "idempotent", "notices", "check_photos")), \
                f"{table} is empty: the test would prove nothing for it"
            # No setting at all (someone with the application's password and a SQL prompt).
            assert _rows(conn, table, None) == [], table
            assert _rows(conn, table, "") == [], table
            assert _rows(conn, table, "not a number") == [], table
            assert len(_rows(conn, table, "*")) == len(everything), table
            for tenant in (a, b):
                seen = _rows(conn, table, str(tenant))
                if everything and "organisation_id" in everything[0]:
                    assert {row["organisation_id"] for row in seen} <= {tenant}, table
                text = repr(seen)
                foreign = [canary for canary, owner_id in CANARY_OWNERS.items() if owner_id != tenant]
                assert not [c for c in foreign if c in text], f"{table} showed {tenant} another's canary"
        # What each holder reaches of the case world: ALPHA its case, check and own suggestion;
        # BETA, whose mark the engine also suggested, nothing of it.
        assert [r["id"] for r in _rows(conn, "detention_cases", str(a))] == [with_a_case.id]
        assert [r["brand_name"] for r in _rows(conn, "suggestions", str(a))] == ["ALPHA"]
        assert len(_rows(conn, "checks", str(a))) == 1
        for table in ("detention_cases", "case_events", "checks", "suggestions"):
            assert _rows(conn, table, str(b)) == [], table
        # Writing into another tenant's rows is refused, not silently skipped.
        with pytest.raises(psycopg.errors.InsufficientPrivilege), conn.transaction():
            conn.execute("SELECT set_config('registry.tenant', %s, true)", (str(b),))
            conn.execute("INSERT INTO suppliers (organisation_id, role, name, country, address, identifiers, "
                         "created_at, updated_at) VALUES (%s, 'manufacturer', 'Planted Co', 'VN', '', '', now(), now())",
                         (a,))
        with conn.transaction():
            conn.execute("SELECT set_config('registry.tenant', %s, true)", (str(b),))
            assert conn.execute("UPDATE products SET name = 'taken' WHERE organisation_id = %s", (a,)).rowcount == 0
            assert conn.execute("DELETE FROM suppliers WHERE organisation_id = %s", (a,)).rowcount == 0


def test_a_request_reaches_nothing_until_it_knows_whom_it_serves(postgres_only, app, world):
    everything = db.session.scalars(select(Product)).all()  # outside a request: a job, every tenant
    assert len(everything) == 2
    holder_id, beta = world.b.holder.id, world.b.organisation.id
    db.session.remove()
    with app.test_request_context("/"):
        assert db.session.scalars(select(Product)).all() == []
        tenancy.bind_actor(db.session, db.session.get(User, holder_id))
        assert [p.organisation_id for p in db.session.scalars(select(Product))] == [beta]
        db.session.commit()  # the next transaction starts with the same tenant
        assert [p.organisation_id for p in db.session.scalars(select(Product))] == [beta]
        with tenancy.for_every_tenant(db.session):
            assert len(db.session.scalars(select(Product)).all()) == 2
        assert [p.organisation_id for p in db.session.scalars(select(Product))] == [beta]
        db.session.remove()


@pytest.fixture
def applications_own_check_off(monkeypatch):
    """Every tenant check of the application itself answers "yes, may see"."""
    monkeypatch.setattr(tenancy, "can_see", lambda actor, obj: True)
    for module in ("registry.services.registry_search", "registry.services.reminders",
                   "registry.web.registry_browse"):
        monkeypatch.setattr(importlib.import_module(module), "scoped", lambda statement, actor, model: statement)


def test_with_the_applications_check_off_the_database_still_keeps_holders_apart(
        database_url, applications_own_check_off, signed_in, world, session, app):
    """On PostgreSQL the policies alone keep BETA out of ALPHA's dossier. On SQLite, which has
    no policies, the same requests do reach it: the switch really turns the application's
    check off, so what stops them on PostgreSQL is the database."""
    token = api_tokens.create_token(session, world.b.holder, "beta's system")[1]
    session.commit()
    alpha_product = world.a.product.id
    if not _is_postgres(database_url):
        CANARY_OWNERS.clear()  # the leak below is the point on SQLite, not a finding
    beta = signed_in(world.b.holder)
    page = beta.get(f"/dossier/products/{alpha_product}")
    call = app.test_client().get(f"/api/v1/dossier/products/{alpha_product}",
                                 headers={"Authorization": f"Bearer {token}"})
    if _is_postgres(database_url):
        assert page.status_code == 404
        assert call.status_code == 404 and call.get_json()["error"]["code"] == "not_found"
        # Lists, and the registry view, also show only BETA's (the canary sweep checks every page).
        assert "BETA Runner" in beta.get("/dossier/products").get_data(as_text=True)
        assert "ALPHA Runner" not in beta.get("/dossier/products").get_data(as_text=True)
    else:
        assert page.status_code == 200 and "COVERT-CANARY-ALPHA" in page.get_data(as_text=True)
        assert call.status_code == 200 and call.get_json()["name"] == "ALPHA Runner"


def test_the_engine_is_never_built_from_one_tenants_view(postgres_only, app, world):
    from registry.services.registry_search import RegistryIndex
    from registry.services.snapshot import registry_references

    holder_id, officer_id = world.a.holder.id, world.officer.id
    db.session.remove()
    with app.test_request_context("/"):
        tenancy.bind_actor(db.session, db.session.get(User, holder_id))
        with pytest.raises(PermissionError, match="every tenant"):
            registry_references(db.session, app.extensions["blobs"])
        with pytest.raises(PermissionError, match="every tenant"):
            RegistryIndex().matching_ids(db.session, "runner", limit=10)
        tenancy.bind_actor(db.session, db.session.get(User, officer_id))
        references, _ = registry_references(db.session, app.extensions["blobs"])
        assert {r.name for r in references} >= {"ALPHA", "BETA"}
        db.session.remove()


def test_the_token_lookup_sets_exactly_the_tenant_its_user_reaches(postgres_only, app, session, world):
    """On PostgreSQL an API token's lookup sets the transaction's tenant in the same statement
    (no second round trip per request); it must be the tenant ``tenant_of`` its user gives, and
    a token that does not hold must leave the request reaching no tenant at all."""
    from sqlalchemy import event, text
    from sqlalchemy.orm import Session

    secrets = {user.email: api_tokens.create_token(session, user, "system")[1]
               for user in (world.officer, world.legal, world.a.holder, world.b.holder)}
    revoked_token, revoked = api_tokens.create_token(session, world.a.holder, "old system")
    api_tokens.revoke_token(session, world.a.holder, revoked_token.id)
    moved = world.b.holder
    moved_secret = api_tokens.create_token(session, moved, "moved system")[1]
    session.commit()
    statements = []
    event.listen(db.engine, "before_cursor_execute", lambda *args: statements.append(args[2]))

    def authenticate(secret):
        with app.test_request_context("/api/v1/cases"), Session(db.engine) as fresh:
            statements.clear()
            found = api_tokens.authenticate(fresh, secret)
            sent = len(statements)
            setting = fresh.execute(text("SELECT current_setting('registry.tenant', true)")).scalar()
            return found, sent, setting or ""

    for user in (world.officer, world.legal, world.a.holder, world.b.holder):
        with app.test_request_context("/api/v1/cases"), Session(db.engine) as first_use:
            api_tokens.authenticate(first_use, secrets[user.email])  # notes last_used_at
            first_use.commit()
        found, sent, setting = authenticate(secrets[user.email])
        assert found is not None and found.user.id == user.id
        assert setting == tenancy.tenant_of(user), user.email
        assert sent == 1, statements  # the lookup alone (the token was used moments ago: no touch)
    assert authenticate(secrets[world.a.holder.email])[2] == str(world.a.organisation.id)

    found, _, setting = authenticate(revoked)
    assert found is None and setting == ""
    # A role change ends the token: the lookup's own tenant (the token's, an organisation's) is undone.
    session.execute(User.__table__.update().where(User.id == moved.id).values(role="officer"))
    session.commit()
    found, _, setting = authenticate(moved_secret)
    assert found is None and setting == ""
