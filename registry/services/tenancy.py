"""The one path by which any tenant-owned object is looked up for an actor.

Rights holders see only their own organisation's objects; anything else is reported as not
found, exactly as if it did not exist, so ids cannot be probed. Officers, legal staff and
administrators read the whole registry; only a holder edits its own dossier.
"""

from __future__ import annotations

from typing import Any, TypeVar

from sqlalchemy import Select
from sqlalchemy.orm import Session

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
