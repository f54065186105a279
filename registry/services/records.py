"""Create, update and delete with an audit event each, shared by the dossier services."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

from sqlalchemy import Insert, Table
from sqlalchemy.orm import Session, make_transient_to_detached

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


class LoadedInsert:
    """``INSERT ... RETURNING id`` for new instances of one model, built once, after which the
    instances are in the session as if just read: every column set, nothing to flush.

    For rows written on every request (a screening's check and suggestions): one prebuilt
    statement each instead of a unit of work, and the reply made from the objects in hand
    without reading them back. A column the instance leaves unset gets its default here, as a
    flush would give it (columns with defaults the database computes are refused up front).
    """

    def __init__(self, model: type) -> None:
        table: Table = model.__table__
        self.statement: Insert = table.insert().returning(table.c.id, sort_by_parameter_order=True)
        self.columns: list[tuple[str, Callable[[], Any]]] = []
        for column in table.columns:
            if column.primary_key:
                continue
            if column.server_default is not None or (column.default is not None and not (
                    column.default.is_scalar or column.default.is_callable)):
                raise TypeError(f"{table.name}.{column.key}: a default the database computes")
            default = column.default
            if default is None:
                self.columns.append((column.key, lambda: None))
            elif default.is_scalar:
                self.columns.append((column.key, lambda arg=default.arg: arg))
            else:
                self.columns.append((column.key, lambda arg=default.arg: arg(None)))

    def insert(self, session: Session, objects: Sequence[Any]) -> None:
        """Insert ``objects`` (new, not added to ``session``); each gets its id and becomes
        detached-with-identity, ready for ``session.add`` to make it persistent."""
        if not objects:
            return
        rows = []
        for obj in objects:
            values = obj.__dict__
            for key, default in self.columns:
                if key not in values:
                    setattr(obj, key, default())
            rows.append({key: values[key] for key, _ in self.columns})
        ids = session.connection().execute(self.statement, rows).scalars().all()
        for obj, id_ in zip(objects, ids, strict=True):
            obj.id = id_
            make_transient_to_detached(obj)
