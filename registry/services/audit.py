"""Audit events, written in the same transaction as the change they record.

Events form a hash chain: each stores the hash of the previous one, and its own hash covers
its content and that link, so editing, deleting, inserting or reordering an event breaks the
chain from that point on. ``verify_chain`` finds the first broken link.

Every ``CHECKPOINT_EVERY`` events, and on every evidence export, the chain head is signed
with the installation's Ed25519 key (``checkpoint``). The key is outside the database, so even
someone who rewrites the events and recomputes every hash is caught at the next checkpoint.
The hashing and the verification are those of ``registry.evidence_verifier``, the script
shipped in every evidence package.
"""

from __future__ import annotations

import enum
from datetime import date, datetime, timezone
from decimal import Decimal
from typing import Any

from sqlalchemy import bindparam, insert, inspect, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.util import identity_key

from registry.evidence_verifier import GENESIS, ChainResult, checkpoint_message, event_hash, verify_chain_events
from registry.models import AuditCheckpoint, AuditEvent, AuditHead, User
from registry.models.base import as_utc
from registry.services.signing import Signer

CHECKPOINT_EVERY = 100


def snapshot(obj: Any, *, exclude: tuple[str, ...] = ()) -> dict[str, Any]:
    """The column values of a model instance as JSON-safe values, for before/after."""
    mapper = inspect(obj).mapper
    return {
        attr.key: _jsonable(getattr(obj, attr.key))
        for attr in mapper.column_attrs
        if attr.key not in exclude and attr.key not in ("created_at", "updated_at")
    }


def _jsonable(value: Any) -> Any:
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    return value


def event_content(event: AuditEvent) -> dict[str, Any]:
    """The fields an event's hash covers, as the verifier recomputes them."""
    at = as_utc(event.at)
    return {
        "seq": event.seq,
        "at": at.isoformat(timespec="microseconds"),
        "actor_id": event.actor_id,
        "organisation_id": event.organisation_id,
        "action": event.action,
        "object_type": event.object_type,
        "object_id": event.object_id,
        "before": event.before,
        "after": event.after,
    }


_events = AuditEvent.__table__
_head = AuditHead.__table__
# The statements of an append, built once: the chain is extended by every change and every
# audited read. Plain table statements, not ORM units of work: an append is two statements on
# PostgreSQL (three on SQLite) whatever else the session holds. The event's id comes from the
# table's own sequence, with no RETURNING (which row-level security would refuse a rights
# holder) and no separate round trip.
_TAKE_WRITE_LOCK = update(_head).where(_head.c.id == 1).values(seq=_head.c.seq)
_READ_HEAD = select(_head.c.seq, _head.c.hash).where(_head.c.id == 1).with_for_update()
_NEW_HEAD = insert(_head).values(id=1, seq=bindparam("new_seq"), hash=bindparam("new_hash"))
_MOVE_HEAD = update(_head).where(_head.c.id == 1).values(seq=bindparam("new_seq"), hash=bindparam("new_hash"))
_APPEND = insert(_events).inline()
#: On PostgreSQL the head moves in the statement that appends the event (a data-modifying WITH,
#: which SQLite lacks): one round trip fewer for every audited change or read.
_APPEND_MOVING_HEAD = _APPEND.add_cte(_MOVE_HEAD.cte("moved_head"))
_EVENT_COLUMNS = tuple(c.key for c in _events.columns if c.key != "id")


def record(
    session: Session,
    actor: User | None,
    action: str,
    *,
    object_type: str,
    object_id: int | None,
    organisation_id: int | None,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> AuditEvent:
    """Append an event to the chain. Call inside the transaction that makes the change.

    Returns the event as appended (not attached to the session; its ``id`` is not read back)."""
    # The change being recorded reaches the database before the head is locked, as it always
    # has: every writer takes its row locks in the same order, so none waits for another in a
    # circle.
    session.flush()
    connection = session.connection()
    if connection.dialect.name == "sqlite":
        # SQLite ignores FOR UPDATE, and Python's driver begins a transaction only at the first
        # write: two requests could both read head N and both append N + 1. Writing the head
        # row first takes SQLite's write lock (waiting for the other writer's commit).
        connection.execute(_TAKE_WRITE_LOCK)
    head = connection.execute(_READ_HEAD).first()
    seq, prev_hash = (head.seq, head.hash) if head is not None else (0, GENESIS)
    event = AuditEvent(
        seq=seq + 1,
        at=datetime.now(timezone.utc),
        actor_id=actor.id if actor is not None else None,
        organisation_id=organisation_id,
        action=action,
        object_type=object_type,
        object_id=object_id,
        before=_jsonable(before) if before is not None else None,
        after=_jsonable(after) if after is not None else None,
        prev_hash=prev_hash,
    )
    event.hash = event_hash(event.prev_hash, event_content(event))
    values = {key: getattr(event, key) for key in _EVENT_COLUMNS}
    moved = {"new_seq": event.seq, "new_hash": event.hash}
    if head is not None and connection.dialect.name == "postgresql":
        connection.execute(_APPEND_MOVING_HEAD, {**values, **moved})
    else:
        connection.execute(_APPEND, values)
        connection.execute(_NEW_HEAD if head is None else _MOVE_HEAD, moved)
    held = session.identity_map.get(identity_key(AuditHead, 1))
    if held is not None:
        session.expire(held)  # a head read before through the ORM is read again when next used
    if event.seq % CHECKPOINT_EVERY == 0:
        signer = current_signer()
        if signer is not None:
            checkpoint(session, signer, event)
    return event


def current_signer() -> Signer | None:
    """The running application's key; None outside an application (a bare script)."""
    from flask import current_app, has_app_context

    return current_app.extensions.get("signer") if has_app_context() else None


def checkpoint(session: Session, signer: Signer, event: AuditEvent | None = None) -> AuditCheckpoint | None:
    """Sign the chain head (or ``event``, the head just appended) in the current transaction.

    Returns the existing checkpoint when the head is already signed, None on an empty chain.
    """
    if event is None:
        head = session.execute(select(AuditHead).where(AuditHead.id == 1).with_for_update()).scalar_one_or_none()
        if head is None or head.seq == 0:
            return None
        seq, head_hash = head.seq, head.hash
    else:
        seq, head_hash = event.seq, event.hash
    existing = session.scalar(select(AuditCheckpoint).where(AuditCheckpoint.seq == seq))
    if existing is not None:
        return existing
    at = datetime.now(timezone.utc).isoformat(timespec="microseconds")
    signed = AuditCheckpoint(seq=seq, hash=head_hash, at=at, key_fingerprint=signer.fingerprint,
                             signature=signer.sign(checkpoint_message(seq, head_hash, at)).hex())
    session.add(signed)
    session.flush()
    return signed


def checkpoint_record(item: AuditCheckpoint) -> dict[str, Any]:
    return {"seq": item.seq, "hash": item.hash, "at": item.at, "key_fingerprint": item.key_fingerprint,
            "signature": item.signature}


def event_record(event: AuditEvent, *, with_content: bool = True) -> dict[str, Any]:
    """An event as the verifier reads it; without content it is only a link in the chain."""
    record_: dict[str, Any] = {"seq": event.seq, "prev_hash": event.prev_hash, "hash": event.hash}
    if with_content:
        record_["content"] = event_content(event)
    return record_


def verify_chain(session: Session, signer: Signer | None = None) -> ChainResult:
    """Walk the whole chain and report the first event whose link, content or checkpoint
    does not hold. With ``signer`` (the installation's key) the checkpoints' signatures are
    checked too, and one must exist every ``CHECKPOINT_EVERY`` events."""
    events = (event_record(e) for e in session.scalars(select(AuditEvent).order_by(AuditEvent.seq)).yield_per(1000))
    checkpoints = [checkpoint_record(c) for c in session.scalars(select(AuditCheckpoint).order_by(AuditCheckpoint.seq))]
    head = session.get(AuditHead, 1)
    return verify_chain_events(events, checkpoints, signer.public_key if signer else None,
                               checkpoint_every=CHECKPOINT_EVERY if signer else None,
                               head=(head.seq, head.hash) if head is not None else None)
