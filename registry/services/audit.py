"""Audit events, written in the same transaction as the change they record.

Events form a hash chain: each stores the hash of the previous one, and its own hash covers
its content and that link, so editing, deleting, inserting or reordering an event breaks the
chain from that point on. ``verify_chain`` finds the first broken link.
"""

from __future__ import annotations

import enum
import hashlib
import json
from dataclasses import dataclass
from datetime import date, datetime, timezone
from decimal import Decimal
from typing import Any

from sqlalchemy import inspect, select
from sqlalchemy.orm import Session

from registry.models import AuditEvent, AuditHead, User

GENESIS = "0" * 64


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


def _event_hash(prev_hash: str, content: dict[str, Any]) -> str:
    canonical = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256((prev_hash + canonical).encode("utf-8")).hexdigest()


def _content(event: AuditEvent) -> dict[str, Any]:
    at = event.at
    if at.tzinfo is None:  # SQLite hands back naive datetimes; they were written as UTC
        at = at.replace(tzinfo=timezone.utc)
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
    """Append an event to the chain. Call inside the transaction that makes the change."""
    head = session.execute(
        select(AuditHead).where(AuditHead.id == 1).with_for_update()
    ).scalar_one_or_none()
    if head is None:
        head = AuditHead(id=1, seq=0, hash=GENESIS)
        session.add(head)
        session.flush()
    event = AuditEvent(
        seq=head.seq + 1,
        at=datetime.now(timezone.utc),
        actor_id=actor.id if actor is not None else None,
        organisation_id=organisation_id,
        action=action,
        object_type=object_type,
        object_id=object_id,
        before=_jsonable(before) if before is not None else None,
        after=_jsonable(after) if after is not None else None,
        prev_hash=head.hash,
    )
    event.hash = _event_hash(event.prev_hash, _content(event))
    head.seq, head.hash = event.seq, event.hash
    session.add(event)
    session.flush()
    return event


@dataclass(frozen=True)
class ChainReport:
    events: int
    ok: bool
    first_broken_seq: int | None = None
    problem: str = ""


def verify_chain(session: Session) -> ChainReport:
    """Walk the whole chain and report the first event whose link or content does not hold."""
    prev_hash, expected_seq, count = GENESIS, 1, 0
    for event in session.scalars(select(AuditEvent).order_by(AuditEvent.seq)).yield_per(1000):
        count += 1
        if event.seq != expected_seq:
            return ChainReport(count, False, expected_seq,
                               f"event {expected_seq} is missing (found {event.seq} next)")
        if event.prev_hash != prev_hash:
            return ChainReport(count, False, event.seq,
                               f"event {event.seq} does not link to event {event.seq - 1}")
        if _event_hash(event.prev_hash, _content(event)) != event.hash:
            return ChainReport(count, False, event.seq, f"event {event.seq} was altered")
        prev_hash, expected_seq = event.hash, expected_seq + 1
    head = session.get(AuditHead, 1)
    if head is not None and (head.seq != expected_seq - 1 or head.hash != prev_hash):
        return ChainReport(count, False, expected_seq - 1 if count else None,
                           "the chain ends before its recorded head: events were removed")
    return ChainReport(count, True)
