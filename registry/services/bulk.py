"""Bulk screening: a whole manifest against the registry, in chunks that any worker can take.

1. ``submit_manifest`` stores the uploaded file byte-exact and creates the job.
2. ``prepare_job`` reads it (``services.manifests``), reports unusable lines without stopping,
   cuts the usable ones into chunks of ``CHUNK_LINES`` stored as blobs, builds a text-only
   engine from the current registry and saves it once under its snapshot id; every worker
   loads that file, so all of a job's lines are screened against the same registry.
3. ``drain`` is a worker's loop: claim a chunk (with a lease), screen its lines, commit its
   hits together with the chunk's "done" and the job's counters, repeat. A worker that dies
   mid-chunk commits nothing; when its lease runs out another worker takes the chunk, so no
   line is lost or counted twice. Cancelling stops workers between blocks of lines.

The same ``drain`` runs in a thread of the app (no Redis) or in RQ workers (``REDIS_URL``).
"""

from __future__ import annotations

import gzip
import itertools
import json
import os
import socket
import threading
import time
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import IO, Any, Callable

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from matchers import Engine, Query
from registry.models import BulkChunk, BulkHit, BulkJob, Role, User
from registry.models.base import as_utc
from registry.services import audit, manifests
from registry.services.auth import require_role
from registry.services.errors import Conflict, NotFound, ValidationError
from registry.services.notifications import plain_number
from registry.services.snapshot import registry_references, right_id_of
from registry.storage import BlobStore, BlobTooLarge

CHUNK_LINES = 5_000
LEASE = timedelta(seconds=120)
CHECK_EVERY = 500  # lines: look for a cancel request (a read, which never waits for writers)
HIT_RECOMMENDATIONS = ("detain", "inspect")
TERMINAL = ("done", "cancelled", "failed")


def _update(model):
    """An UPDATE that does not try to mirror itself into loaded objects (SQLite's naive
    datetimes cannot be compared in Python with aware ones; callers re-read what they need)."""
    return update(model).execution_options(synchronize_session=False)


def _now() -> datetime:
    return datetime.now(timezone.utc)


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}"


# -- submitting -------------------------------------------------------------------------------

def submit_manifest(session: Session, actor: User, blobs: BlobStore, stream: IO[bytes], filename: str,
                    *, max_bytes: int) -> BulkJob:
    """Keep the manifest as uploaded and open a job for it; the caller commits, then starts it."""
    require_role(actor, Role.OFFICER)
    name = os.path.basename((filename or "").replace("\\", "/"))[:255]
    if not name.lower().endswith((".csv", ".txt", ".jsonl", ".ndjson", ".json")):
        raise ValidationError({"manifest": "choose a CSV (.csv) or JSON Lines (.jsonl) file"})
    try:
        digest, size = blobs.put_stream(stream, max_bytes=max_bytes)
    except BlobTooLarge:
        raise ValidationError({"manifest": f"the file is larger than {max_bytes // (1024 * 1024)} MB; "
                                           "split it into several manifests"}) from None
    if size == 0:
        raise ValidationError({"manifest": "the file is empty"})
    job = BulkJob(officer_id=actor.id, filename=name, manifest_sha256=digest, manifest_bytes=size)
    session.add(job)
    session.flush()
    audit.record(session, actor, "bulk.submit", object_type="bulk_job", object_id=job.id, organisation_id=None,
                 after={"file": name, "sha256": digest, "bytes": size})
    return job


def get_job(session: Session, actor: User, job_id: int) -> BulkJob:
    """Bulk jobs are customs records: officers and legal staff read them."""
    require_role(actor, Role.OFFICER, Role.LEGAL)
    job = session.get(BulkJob, job_id)
    if job is None:
        raise NotFound(f"bulk job {job_id}")
    return job


def list_jobs(session: Session, actor: User, limit: int = 50) -> list[BulkJob]:
    require_role(actor, Role.OFFICER, Role.LEGAL)
    return list(session.scalars(select(BulkJob).order_by(BulkJob.id.desc()).limit(limit)))


def cancel(session: Session, actor: User, job_id: int) -> BulkJob:
    require_role(actor, Role.OFFICER)
    job = get_job(session, actor, job_id)
    if job.state in TERMINAL:
        raise Conflict(f"the job is already {job.state}")
    job.cancel_requested = True
    audit.record(session, actor, "bulk.cancel", object_type="bulk_job", object_id=job.id, organisation_id=None)
    return job


# -- preparing --------------------------------------------------------------------------------

class _ReadingTakenOver(Exception):
    """Another process holds the reading now (this one's lease ran out): stop, write nothing."""


def _hold_reading(session: Session, job_id: int, me: str, lease: timedelta, *, take: bool = False) -> bool:
    """Renew this process's claim on reading a job's manifest (or, with ``take``, claim it when
    nobody holds it or the holder's lease has run out). Not committed: the caller commits it
    with the chunk it writes, so a chunk is only ever written under a live claim."""
    holds = BulkJob.reader == me
    if take:
        holds = holds | (BulkJob.reader == "") | BulkJob.reader_lease_until.is_(None) | (BulkJob.reader_lease_until < _now())
    claimed = session.execute(_update(BulkJob).where(BulkJob.id == job_id, holds)
                              .values(reader=me, reader_lease_until=_now() + lease))
    return claimed.rowcount == 1


def _reading_abandoned(session: Session, job_id: int) -> bool:
    read_complete, until = session.execute(select(BulkJob.read_complete, BulkJob.reader_lease_until)
                                           .where(BulkJob.id == job_id)).one()
    session.commit()
    return not read_complete and (until is None or as_utc(until) < _now())


def prepare_job(session: Session, blobs: BlobStore, engine_dir: str | os.PathLike[str], job_id: int, *,
                chunk_lines: int = CHUNK_LINES, on_running: Callable[[BulkJob], None] | None = None,
                me: str | None = None, lease: timedelta = LEASE) -> BulkJob:
    """Read the manifest into chunks that workers screen while the reading goes on.

    Once the header is accepted, the engine snapshot is fixed and the job turns "running"
    (``on_running`` is called then, to start workers); each chunk is committed as soon as it is
    full, so other workers screen it while this one reads on. Idempotent: reading a job again
    (after the reader died) skips the chunks already written, which hold the same lines since
    the file and the chunk size are the same; a job already read is returned as it is.

    One process reads at a time, under a lease renewed with every chunk; while another holds a
    live lease this returns at once. A worker with nothing left to screen takes the reading
    over when the reader's lease has run out (``drain``), so a reader that died mid-file stops
    nothing.
    """
    me = me or worker_name()
    job = session.get(BulkJob, job_id)
    if job is None or job.read_complete or job.state in TERMINAL:
        return job
    if not _hold_reading(session, job_id, me, lease, take=True):
        session.rollback()
        return job
    if not job.chunk_lines:
        job.chunk_lines = chunk_lines
    session.commit()
    session.refresh(job)
    chunk_lines = job.chunk_lines
    existing = set(session.scalars(select(BulkChunk.position).where(BulkChunk.job_id == job.id)))
    report = manifests.ReadReport()
    buffer: list[dict[str, Any]] = []
    position = 0

    def flush() -> None:
        nonlocal position, buffer
        if not buffer:
            return
        if not _hold_reading(session, job_id, me, lease):
            session.rollback()
            raise _ReadingTakenOver
        if position not in existing:
            payload = gzip.compress("\n".join(json.dumps(line, separators=(",", ":")) for line in buffer).encode(),
                                    compresslevel=1, mtime=0)
            session.add(BulkChunk(job_id=job.id, position=position, lines_sha256=blobs.put(payload),
                                  line_count=len(buffer)))
        position += 1
        buffer = []
        job.lines_read, job.lines_usable, job.lines_rejected = report.lines, report.usable, report.error_count
        session.commit()  # workers can take the chunk; the progress page shows the reading

    try:
        with open(blobs.path_for(job.manifest_sha256), "rb") as stream:
            lines = manifests.read_manifest(stream, report, filename=job.filename)
            first = next(lines, None)  # reads and checks the header: a refused file stops here
            job.columns, job.format = dict(report.columns), report.format
            if job.state == "validating":
                job.snapshot_id, job.engine_file = save_text_engine(session, blobs, engine_dir)
                job.state, job.started_at = "running", _now()
            if not _hold_reading(session, job_id, me, lease):  # building the engine can take a while
                session.rollback()
                raise _ReadingTakenOver
            session.commit()
            if on_running is not None:
                on_running(job)
            for line in (itertools.chain((first,), lines) if first is not None else ()):
                if job.cancel_requested:
                    break
                buffer.append(line.as_dict())
                if len(buffer) >= chunk_lines:
                    flush()
                    session.refresh(job, ["cancel_requested"])
        flush()
    except _ReadingTakenOver:
        return session.get(BulkJob, job_id)
    except manifests.ManifestRefused as exc:
        session.rollback()
        job = session.get(BulkJob, job_id)
        job.state, job.error, job.finished_at = "failed", f"The manifest was refused: {exc}", _now()
        session.commit()
        return job
    job.lines_read, job.lines_usable, job.lines_rejected = report.lines, report.usable, report.error_count
    job.rejects = report.rejects()
    job.columns = dict(report.columns)
    job.format = report.format
    job.chunks_total = position
    if not _hold_reading(session, job_id, me, lease):
        session.rollback()
        return session.get(BulkJob, job_id)
    job.read_complete = True
    if job.cancel_requested:
        job.state, job.finished_at = "cancelled", _now()
    session.commit()
    _finish_if_complete(session, job.id)
    session.refresh(job)
    return job


def save_text_engine(session: Session, blobs: BlobStore, engine_dir: str | os.PathLike[str]) -> tuple[str, str]:
    """Build the text-only engine of the registry as it is now, saved once per snapshot."""
    references, _ = registry_references(session, blobs)
    engine = Engine([replace(r, images=()) for r in references], ocr=False)
    target = Path(engine_dir) / engine.snapshot_id.replace(":", "_")
    if not (target / "engine.json").exists():
        engine.save(target)
    return engine.snapshot_id, str(target)


_loaded: dict[str, Engine] = {}
_loaded_lock = threading.Lock()


def load_engine(path: str) -> Engine:
    """A worker loads each saved engine once and keeps it."""
    with _loaded_lock:
        engine = _loaded.get(path)
        if engine is None:
            engine = Engine.load(path, ocr=False)
            _loaded.clear()  # one snapshot at a time is plenty
            _loaded[path] = engine
        return engine


# -- screening --------------------------------------------------------------------------------

def screen_line(engine: Engine, line: dict[str, Any]) -> dict[str, Any] | None:
    """The hit for one manifest line, or None when nothing calls for a look."""
    quantity, value = line.get("quantity"), line.get("declared_value")
    unit_price = value / quantity if value is not None and quantity else None
    result = engine.screen(Query(
        description=line.get("description") or None, declared_brand=line.get("declared_brand") or None,
        supplier=line.get("manufacturer") or line.get("consignor") or None,
        origin_country=line.get("origin_country") or None, unit_price=unit_price,
        currency=line.get("currency") or None, quantity=quantity, hs_code=line.get("hs_code") or None,
        gtins=tuple(line.get("gtins") or ())))
    if not result:
        return None
    best = result[0]
    if best.recommendation not in HIT_RECOMMENDATIONS:
        return None
    strongest = sorted((s for s in best.signals if s.available and s.score > 0), key=lambda s: -s.score)
    return {"line_no": line["line_no"], "line_ref": line.get("ref", ""), "brand_id": best.brand_id,
            "right_id": right_id_of(best.brand_id), "score": round(float(best.score), 4),
            "recommendation": best.recommendation, "reasons": [s.reason for s in strongest[:4]],
            "line": {k: v for k, v in line.items() if k not in ("line_no",)}}


def _claim(session: Session, job_id: int, me: str, lease: timedelta) -> BulkChunk | None:
    now = _now()
    candidates = select(BulkChunk.id).where(
        BulkChunk.job_id == job_id,
        (BulkChunk.state == "pending") | ((BulkChunk.state == "claimed") & (BulkChunk.lease_until < now)),
    ).order_by(BulkChunk.position).limit(8)
    if session.get_bind().dialect.name == "postgresql":
        candidates = candidates.with_for_update(skip_locked=True)
    for chunk_id in session.scalars(candidates).all():
        claimed = session.execute(
            _update(BulkChunk).where(
                BulkChunk.id == chunk_id,
                (BulkChunk.state == "pending") | ((BulkChunk.state == "claimed") & (BulkChunk.lease_until < now)))
            .values(state="claimed", claimed_by=me, lease_until=now + lease, attempts=BulkChunk.attempts + 1))
        if claimed.rowcount == 1:
            session.commit()
            return session.get(BulkChunk, chunk_id)
    session.commit()
    return None


def _renew(session: Session, chunk_id: int, me: str, lease: timedelta) -> bool:
    renewed = session.execute(_update(BulkChunk).where(BulkChunk.id == chunk_id, BulkChunk.claimed_by == me,
                                                      BulkChunk.state == "claimed")
                              .values(lease_until=_now() + lease))
    session.commit()
    return renewed.rowcount == 1


def _cancelled(session: Session, job_id: int) -> bool:
    cancelled = bool(session.scalar(select(BulkJob.cancel_requested).where(BulkJob.id == job_id)))
    session.commit()  # end the read: an open read transaction keeps SQLite from checkpointing its WAL
    return cancelled


def process_chunk(session: Session, blobs: BlobStore, job: BulkJob, chunk: BulkChunk, me: str, *,
                  lease: timedelta = LEASE, names: dict[str, str] | None = None,
                  on_line: Callable[[int], None] | None = None) -> bool:
    """Screen one claimed chunk and commit its hits with its completion. False when the claim
    was lost (another worker took over) or the job was cancelled: nothing is committed then."""
    engine = load_engine(job.engine_file)
    names = names if names is not None else {r.brand_id: r.name for r in engine.references}
    lines = [json.loads(text) for text in gzip.decompress(blobs.get(chunk.lines_sha256)).decode().splitlines()]
    chunk_id, job_id = chunk.id, job.id
    hits = []
    # The lease is renewed by time, when a third of it is gone: a write per few hundred lines
    # made workers queue for the database's write lock (SQLite) instead of screening.
    renewed = time.monotonic()
    for index, line in enumerate(lines, start=1):
        hit = screen_line(engine, line)
        if hit is not None:
            hits.append(hit)
        if on_line is not None:
            on_line(index)
        if index % CHECK_EVERY == 0:
            if _cancelled(session, job_id):
                session.rollback()
                return False
            if time.monotonic() - renewed > lease.total_seconds() / 3:
                if not _renew(session, chunk_id, me, lease):
                    return False
                renewed = time.monotonic()
    done = session.execute(_update(BulkChunk).where(BulkChunk.id == chunk_id, BulkChunk.claimed_by == me,
                                                   BulkChunk.state == "claimed")
                           .values(state="done", finished_at=_now()))
    if done.rowcount != 1:
        session.rollback()
        return False
    if hits:
        session.execute(BulkHit.__table__.insert(), [
            {"job_id": job_id, "line_no": h["line_no"], "line_ref": h["line_ref"], "right_id": h["right_id"],
             "brand_name": names.get(h["brand_id"], h["brand_id"]), "score": h["score"],
             "recommendation": h["recommendation"], "reasons": h["reasons"], "line": h["line"]} for h in hits])
    session.execute(_update(BulkJob).where(BulkJob.id == job_id).values(
        lines_done=BulkJob.lines_done + len(lines), hits=BulkJob.hits + len(hits)))
    session.commit()
    return True


def _finish_if_complete(session: Session, job_id: int) -> None:
    remaining = session.scalar(select(func.count(BulkChunk.id)).where(BulkChunk.job_id == job_id,
                                                                      BulkChunk.state != "done"))
    if remaining == 0:
        session.execute(_update(BulkJob).where(BulkJob.id == job_id, BulkJob.state == "running",
                                               BulkJob.read_complete.is_(True))
                        .values(state="done", finished_at=_now()))
    session.commit()


def drain(session: Session, blobs: BlobStore, job_id: int, *, me: str | None = None, lease: timedelta = LEASE,
          poll_seconds: float = 1.0, on_line: Callable[[int], None] | None = None,
          engine_dir: str | os.PathLike[str] | None = None) -> int:
    """Work on a job until none of its chunks is left to do; returns the chunks this worker did.

    While the manifest is still being read, or other workers hold the last chunks, wait: new
    chunks come, and a dead worker's lease runs out so that this one takes its chunk over. A
    reader whose lease ran out is replaced the same way: this worker reads the rest of the
    manifest (``prepare_job`` skips the chunks already written), then screens on.
    """
    me = me or worker_name()
    done = 0
    while True:
        session.expire_all()
        job = session.get(BulkJob, job_id)
        if job is None or job.state != "running":
            return done
        if job.cancel_requested:
            session.execute(_update(BulkJob).where(BulkJob.id == job_id, BulkJob.state == "running")
                            .values(state="cancelled", finished_at=_now()))
            session.commit()
            return done
        chunk = _claim(session, job_id, me, lease)
        if chunk is None:
            _finish_if_complete(session, job_id)
            if session.scalar(select(BulkJob.state).where(BulkJob.id == job_id)) != "running":
                return done
            if engine_dir is not None and _reading_abandoned(session, job_id):
                prepare_job(session, blobs, engine_dir, job_id, me=me, lease=lease)
                continue
            time.sleep(poll_seconds)  # others hold the rest: wait for them, or for their leases
            continue
        if process_chunk(session, blobs, job, chunk, me, lease=lease, on_line=on_line):
            done += 1
            _finish_if_complete(session, job_id)


# -- opening a check from a hit ----------------------------------------------------------------

#: Manifest fields that a check's declaration takes as they are, under the same names.
_CHECK_TEXT_FIELDS = ("declared_brand", "consignor", "consignee", "manufacturer", "origin_country", "hs_code",
                      "currency")


def check_prefill(session: Session, actor: User, hit_id: int) -> dict[str, str]:
    """What a check opened from a bulk hit starts with, by the check form's field names: the
    manifest line as it was read, for the officer to complete (photos, parties) and correct.

    The manifest's transport document (air waybill, bill of lading...), when it has that
    column, is the check's transport document. The line's own id is not one: it goes, with the
    line number and the bulk screening, at the head of the goods description (a check has no
    field of its own for where it came from), so that the check can be traced back to the line
    in the officer's systems.
    """
    require_role(actor, Role.OFFICER)
    hit = session.get(BulkHit, hit_id)
    if hit is None:
        raise NotFound(f"bulk hit {hit_id}")
    line = hit.line or {}
    values = {name: str(line[name]) for name in _CHECK_TEXT_FIELDS if line.get(name)}
    for name in ("declared_value", "quantity"):
        if line.get(name) is not None:
            values[name] = plain_number(line[name])
    if line.get("gtins"):
        values["gtins"] = ", ".join(line["gtins"])
    if line.get("transport_document"):
        values["document_number"] = str(line["transport_document"])[:100]
    origin = f"Bulk screening #{hit.job_id}, manifest {manifests.line_label(hit.line_no, hit.line_ref)}"
    description = str(line.get("description") or "")
    values["description"] = f"{origin}: {description}" if description else f"{origin}."
    return values


# -- progress ---------------------------------------------------------------------------------

def progress(job: BulkJob, *, now: datetime | None = None) -> dict[str, Any]:
    """What the progress bar shows; the estimate comes from the rate so far."""
    now = now or _now()
    started = as_utc(job.started_at)
    total = job.lines_usable if job.read_complete else None
    eta = None
    if job.state == "running" and started and job.lines_done and total:
        rate = job.lines_done / max((now - started).total_seconds(), 1e-6)
        eta = round((total - job.lines_done) / rate) if rate > 0 else None
    return {"id": job.id, "state": job.state, "lines_read": job.lines_read, "lines_usable": job.lines_usable,
            "lines_rejected": job.lines_rejected, "lines_done": job.lines_done, "hits": job.hits,
            "total": total, "reading": not job.read_complete and job.state in ("validating", "running"),
            "percent": round(100 * job.lines_done / total, 1) if total else (100.0 if job.state == "done" else 0.0),
            "eta_seconds": eta, "snapshot_id": job.snapshot_id, "error": job.error,
            "cancel_requested": job.cancel_requested}
