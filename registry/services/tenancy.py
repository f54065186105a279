"""The one path by which any tenant-owned object is looked up for an actor.

Rights holders see only their own organisation's objects; anything else is reported as not
found, exactly as if it did not exist, so ids cannot be probed. Officers, legal staff and
administrators read the whole registry; only a holder edits its own dossier.

On PostgreSQL the database enforces the same line a second time (row-level security, migration
0014): every transaction starts by setting ``registry.tenant`` from what ``bind`` was told,
and the policies let it reach only that tenant's rows. A request binds its session to the
signed-in user (or API token) as soon as it knows them; until then it reaches no tenant row.
Work outside any request (command-line jobs, workers, the background bulk thread) acts for
every tenant, as customs staff do.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from sqlalchemy import Select, event, text
from sqlalchemy.orm import Session, scoped_session

from registry.models import Organisation, Role, User
from registry.services.errors import Forbidden, NotFound

T = TypeVar("T")


def owner_id(obj: Any) -> int | None:
    if isinstance(obj, Organisation):
        return obj.id
    return getattr(obj, "organisation_id", None)


def can_see(actor: User, obj: Any) -> bool:
    if actor.sees_whole_registry:
        return True
    return actor.organisation_id is not None and owner_id(obj) == actor.organisation_id


def get_visible(session: Session, actor: User, model: type[T], object_id: int) -> T:
    """The object if the actor may see it; ``NotFound`` otherwise (never a 403 that leaks)."""
    obj = session.get(model, object_id)
    if obj is None or not can_see(actor, obj):
        raise NotFound(f"{model.__name__} {object_id}")
    return obj


def get_editable(session: Session, actor: User, model: type[T], object_id: int) -> T:
    """The object if the actor may change it: its own organisation's holder, once approved."""
    obj = get_visible(session, actor, model, object_id)
    require_dossier_editor(actor, owner_id(obj))
    return obj


def require_dossier_editor(actor: User, organisation_id: int | None) -> None:
    if actor.role != Role.HOLDER:
        raise Forbidden("only the rights holder can change its dossier")
    if organisation_id is None or actor.organisation_id != organisation_id:
        raise NotFound("organisation")
    if actor.organisation is None or not actor.organisation.is_approved:
        raise Forbidden("your organisation is awaiting approval by an administrator")


def scoped(statement: Select[Any], actor: User, model: Any) -> Select[Any]:
    """Restrict a ``select()`` of a tenant-owned model to what the actor may see."""
    if actor.sees_whole_registry:
        return statement
    column = model.id if model is Organisation else model.organisation_id
    return statement.where(column == (actor.organisation_id or -1))


# --- The database's own line (PostgreSQL row-level security) -----------------------------

#: The tenant that reaches every row: customs staff, command-line jobs and workers.
EVERY_TENANT = "*"
#: The tenant of a request nobody has signed in to: no tenant row at all.
NO_TENANT = ""
SETTING_NAME = "registry.tenant"
_SETTING = text(f"SELECT set_config('{SETTING_NAME}', :tenant, true)")


def tenant_of(actor: User | None) -> str:
    """The tenant setting for what ``actor`` may read."""
    if actor is None:
        return NO_TENANT
    if actor.sees_whole_registry:
        return EVERY_TENANT
    return str(actor.organisation_id) if actor.organisation_id is not None else NO_TENANT


def bind(session: Session, tenant: str, *, already_set: str | None = None) -> None:
    """From now on, ``session``'s transactions reach only ``tenant``'s rows (this one included).

    ``already_set``: what a statement of this transaction has just set the setting to itself
    (the API token's lookup does, see ``api_tokens.authenticate``); when it is ``tenant``, no
    statement is needed to set it again."""
    if isinstance(session, scoped_session):
        session = session()  # the request's own session, behind Flask-SQLAlchemy's proxy
    session.info["tenant"] = tenant
    if session.in_transaction():
        connection = session.connection()
        if connection.dialect.name == "postgresql" and already_set != tenant:
            connection.execute(_SETTING, {"tenant": tenant})


def bind_actor(session: Session, actor: User | None) -> None:
    bind(session, tenant_of(actor))


@contextmanager
def for_every_tenant(session: Session) -> Iterator[None]:
    """A step the system takes across tenants on someone's behalf (a sign-up must find a name
    free among every organisation); the session's own tenant is restored afterwards."""
    previous = session.info.get("tenant", _default_tenant())
    bind(session, EVERY_TENANT)
    try:
        yield
    finally:
        bind(session, previous)


def sees_every_tenant(session: Session) -> bool:
    """Whether the session's transactions reach every tenant's rows (always on SQLite)."""
    if session.get_bind().dialect.name != "postgresql":
        return True
    return session.info.get("tenant", _default_tenant()) == EVERY_TENANT


def _default_tenant() -> str:
    from flask import has_request_context

    # A request is served for someone, and until it knows whom it reaches nothing; any other
    # work (a command, a worker, a job's thread) is the system's own.
    return NO_TENANT if has_request_context() else EVERY_TENANT


@event.listens_for(Session, "after_begin")
def _set_tenant(session: Session, _transaction, connection) -> None:
    tenant = session.info.get("tenant", _default_tenant())
    # A transaction starts with no setting, which reaches no tenant row exactly as NO_TENANT
    # does (the policies read both alike; the tests prove it), and the application never sets
    # it beyond a transaction. So a request that does not know yet whom it serves (its first
    # query finds the API token or the session) costs no statement: it binds once it knows.
    if tenant != NO_TENANT and connection.dialect.name == "postgresql":
        connection.execute(_SETTING, {"tenant": tenant})
