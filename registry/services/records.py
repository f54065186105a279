"""Create, update and delete with an audit event each, shared by the dossier services."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from sqlalchemy.orm import Session

from registry.models import User
from registry.services import audit
from registry.services.tenancy import owner_id

T = TypeVar("T")


def create_record(session: Session, actor: User | None, obj: T, object_type: str) -> T:
    session.add(obj)
    session.flush()
    audit.record(session, actor, f"{object_type}.create", object_type=object_type,
                 object_id=obj.id, organisation_id=owner_id(obj), after=audit.snapshot(obj))
    return obj


def update_record(session: Session, actor: User | None, obj: Any, values: Mapping[str, Any],
                  object_type: str) -> bool:
    """Apply ``values``; audit only the fields that changed. Returns whether anything did."""
    before = audit.snapshot(obj)
    for key, value in values.items():
        setattr(obj, key, value)
    session.flush()
    after = audit.snapshot(obj)
    changed = {k for k in after if after[k] != before.get(k)}
    if not changed:
        return False
    audit.record(session, actor, f"{object_type}.update", object_type=object_type,
                 object_id=obj.id, organisation_id=owner_id(obj),
                 before={k: before.get(k) for k in sorted(changed)},
                 after={k: after[k] for k in sorted(changed)})
    return True


def delete_record(session: Session, actor: User | None, obj: Any, object_type: str) -> None:
    before = audit.snapshot(obj)
    audit.record(session, actor, f"{object_type}.delete", object_type=object_type,
                 object_id=obj.id, organisation_id=owner_id(obj), before=before)
    session.delete(obj)
    session.flush()
