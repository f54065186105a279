"""The audit log as a hash chain with signed checkpoints: every kind of tampering is found."""

from __future__ import annotations

import copy
import random

import pytest
from sqlalchemy import select, text, update

from registry.evidence_verifier import checkpoint_message, event_hash, verify_chain_events
from registry.extensions import db
from registry.models import AuditCheckpoint, AuditEvent, AuditHead
from registry.services import audit
from registry.services.signing import Signer, load_or_create


def _append(session, count: int, start: int = 0) -> None:
    for i in range(start, start + count):
        audit.record(session, None, f"test.event{i % 7}", object_type="case", object_id=i % 13,
                     organisation_id=None, before={"n": i} if i % 3 else None,
                     after={"n": i + 1, "note": f"entry {i} ünïcode", "amount": i * 0.25})
    session.commit()


@pytest.fixture
def signer(app) -> Signer:
    return app.extensions["signer"]


@pytest.fixture
def chain(session, signer):
    """250 events through the service: checkpoints at 100 and 200 come by themselves."""
    _append(session, 250)
    events = [audit.event_record(e) for e in session.scalars(select(AuditEvent).order_by(AuditEvent.seq))]
    checkpoints = [audit.checkpoint_record(c) for c in session.scalars(select(AuditCheckpoint).order_by(AuditCheckpoint.seq))]
    return events, checkpoints


def test_checkpoints_every_hundred_events_and_verify(session, signer, chain):
    events, checkpoints = chain
    assert [c["seq"] for c in checkpoints] == [100, 200]
    assert all(c["key_fingerprint"] == signer.fingerprint for c in checkpoints)
    report = audit.verify_chain(session, signer)
    assert report.ok and report.events == 250 and report.last_checkpoint_seq == 200
    # Signing the head on demand (the CLI's "audit checkpoint", and every export).
    signed = audit.checkpoint(session, signer)
    session.commit()
    assert signed.seq == 250 and audit.verify_chain(session, signer).last_checkpoint_seq == 250
    assert audit.checkpoint(session, signer).id == signed.id  # the head is signed once


def _rewrite_from(session, seq: int) -> None:
    """What someone with write access to the database would do: change an event and recompute
    every later hash and the head so that the chain links again."""
    events = session.scalars(select(AuditEvent).where(AuditEvent.seq >= seq).order_by(AuditEvent.seq)).all()
    prev = session.scalar(select(AuditEvent.hash).where(AuditEvent.seq == seq - 1)) or "0" * 64
    for event in events:
        event.prev_hash = prev
        event.hash = event_hash(prev, audit.event_content(event))
        prev = event.hash
    session.get(AuditHead, 1).hash = prev
    session.commit()


def test_database_rewrite_before_a_checkpoint_is_found(session, signer, chain):
    event = session.scalar(select(AuditEvent).where(AuditEvent.seq == 42))
    event.after = {**event.after, "note": "nothing happened"}
    session.commit()
    report = audit.verify_chain(session, signer)
    assert not report.ok and report.first_broken_seq == 42 and "altered" in report.problem

    _rewrite_from(session, 42)
    assert verify_chain_events((audit.event_record(e) for e in session.scalars(
        select(AuditEvent).order_by(AuditEvent.seq))), [], None).ok  # links again without checkpoints...
    report = audit.verify_chain(session, signer)
    assert not report.ok and report.first_broken_seq == 100  # ...but not with the signed one
    assert "checkpoint" in report.problem


def test_deleted_or_forged_checkpoints_are_found(session, signer, chain, tmp_path):
    session.execute(AuditCheckpoint.__table__.delete().where(AuditCheckpoint.seq == 100))
    session.commit()
    report = audit.verify_chain(session, signer)
    assert not report.ok and report.first_broken_seq == 100 and "missing" in report.problem

    other = load_or_create(tmp_path / "other.pem")
    row = session.scalar(select(AuditEvent).where(AuditEvent.seq == 100))
    at = "2026-01-01T00:00:00.000000+00:00"
    session.add(AuditCheckpoint(seq=100, hash=row.hash, at=at, key_fingerprint=signer.fingerprint,
                                signature=other.sign(checkpoint_message(100, row.hash, at)).hex()))
    session.commit()
    report = audit.verify_chain(session, signer)
    assert not report.ok and "does not verify" in report.problem


def test_deleted_and_reordered_events_in_the_database(session, signer, chain):
    session.execute(AuditEvent.__table__.delete().where(AuditEvent.seq == 250))
    session.commit()
    assert "removed" in audit.verify_chain(session, signer).problem  # truncation after the last checkpoint
    session.execute(update(AuditEvent).where(AuditEvent.seq == 7).values(seq=-7))
    session.execute(update(AuditEvent).where(AuditEvent.seq == 8).values(seq=7))
    session.execute(update(AuditEvent).where(AuditEvent.seq == -7).values(seq=8))
    session.commit()
    report = audit.verify_chain(session, signer)
    assert not report.ok and report.first_broken_seq == 7


# -- generated tampering, on the chain as the verifier reads it ------------------------------

def _relink(events: list[dict], start: int) -> None:
    for index in range(start, len(events)):
        prev = events[index - 1]["hash"] if index else "0" * 64
        events[index]["prev_hash"] = prev
        if "content" in events[index]:
            events[index]["hash"] = event_hash(prev, events[index]["content"])


def _mutate(events: list[dict], checkpoints: list[dict], rng: random.Random) -> str:
    """Apply one random tampering; positions are before the last checkpoint (event 200), where
    the chain promises detection even against someone who recomputes hashes."""
    kind = rng.choice(["edit", "edit-relink", "delete", "delete-relink", "swap", "swap-relink",
                       "insert-relink", "renumber", "checkpoint-hash", "checkpoint-at", "drop-checkpoint",
                       "edit-link"])
    i = rng.randrange(0, 199)
    if kind.startswith("edit"):
        content = events[i]["content"]
        field = rng.choice(["action", "at", "actor_id", "object_id", "after", "before", "object_type"])
        content[field] = {"forged": rng.random()} if field in ("after", "before") else f"x{rng.random()}"
        if kind == "edit-relink":
            _relink(events, i)
        elif kind == "edit-link":
            events[i]["prev_hash"] = format(rng.getrandbits(256), "064x")
    elif kind.startswith("delete"):
        del events[i]
        if kind == "delete-relink":
            _relink(events, i)
    elif kind.startswith("swap"):
        j = min(i + rng.randrange(1, 5), 198)
        j = j if j != i else i + 1
        events[i], events[j] = events[j], events[i]
        if kind == "swap-relink":
            _relink(events, min(i, j))
    elif kind == "insert-relink":
        forged = copy.deepcopy(events[i])
        forged["content"]["action"] = "forged"
        events.insert(i + 1, forged)
        for index in range(i + 1, len(events)):
            events[index]["content"]["seq"] = events[index]["seq"] = index + 1
        _relink(events, i + 1)
    elif kind == "renumber":
        events[i]["seq"] += rng.choice([-1, 1, 1000])
    elif kind == "checkpoint-hash":
        checkpoints[0]["hash"] = events[i]["hash"]
    elif kind == "checkpoint-at":
        checkpoints[rng.randrange(2)]["at"] = "2020-01-01T00:00:00.000000+00:00"
    elif kind == "drop-checkpoint":
        del checkpoints[rng.randrange(2)]
    return kind


def test_six_hundred_random_tamperings_are_all_found(signer, chain):
    events, checkpoints = chain
    assert verify_chain_events(events, checkpoints, signer.public_key, checkpoint_every=100).ok
    rng = random.Random(20261123)
    kinds: dict[str, int] = {}
    for _ in range(600):
        tampered, signed = copy.deepcopy(events), copy.deepcopy(checkpoints)
        kind = _mutate(tampered, signed, rng)
        kinds[kind] = kinds.get(kind, 0) + 1
        result = verify_chain_events(tampered, signed, signer.public_key, checkpoint_every=100)
        assert not result.ok, f"{kind} was not detected"
        assert result.problem
    assert len(kinds) == 12 and min(kinds.values()) >= 25


def test_cli_verify_and_checkpoint(app, session, chain):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["audit", "verify"])
    assert result.exit_code == 0, result.output
    assert "250 events" in result.output and "up to event 200" in result.output
    result = runner.invoke(args=["audit", "checkpoint"])
    assert result.exit_code == 0 and "event 250" in result.output
    session.execute(text("UPDATE audit_events SET action = 'edited' WHERE seq = 3"))
    session.commit()
    result = runner.invoke(args=["audit", "verify"])
    assert result.exit_code == 1 and "event 3" in result.output and "altered" in result.output


def test_concurrent_writers_extend_the_chain_in_turn(app, session, world):
    """Requests in several threads, each reading first (as every page does) and then recording
    an event, at the same moment: every event gets its own place in the chain and it verifies.
    (SQLite ignores FOR UPDATE; the head must still be taken before it is read.)"""
    import threading

    from registry.models import User

    writers, rounds = 4, 8
    barrier = threading.Barrier(writers)
    failures: list[BaseException] = []
    start = session.scalar(select(AuditHead.seq).where(AuditHead.id == 1))

    def writer(number: int) -> None:
        with app.app_context():
            try:
                for _ in range(rounds):
                    officer = db.session.get(User, world.officer.id)
                    barrier.wait(timeout=30)
                    audit.record(db.session, officer, "case.view", object_type="case", object_id=number,
                                 organisation_id=None)
                    db.session.commit()
            except BaseException as exc:  # noqa: BLE001 - reported by the test below
                failures.append(exc)
                barrier.abort()
            finally:
                db.session.remove()

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not failures, failures
    session.expire_all()
    seqs = session.scalars(select(AuditEvent.seq).where(AuditEvent.seq > start).order_by(AuditEvent.seq)).all()
    assert seqs == list(range(start + 1, start + 1 + writers * rounds))
    assert audit.verify_chain(session).ok
