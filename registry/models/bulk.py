"""Bulk screening of whole manifests: the job, its chunks (the unit any worker takes), and the
hits it found."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, DateTime, Float, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from registry.models.base import Base, utcnow
from registry.models.users import User


class BulkJob(Base):
    __tablename__ = "bulk_jobs"

    id: Mapped[int] = mapped_column(primary_key=True)
    officer_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    filename: Mapped[str] = mapped_column(String(255), default="")
    #: The uploaded manifest, byte-exact, in the blob store.
    manifest_sha256: Mapped[str] = mapped_column(String(64))
    manifest_bytes: Mapped[int] = mapped_column(Integer, default=0)
    format: Mapped[str] = mapped_column(String(10), default="")
    #: validating, running, done, cancelled, failed
    state: Mapped[str] = mapped_column(String(20), default="validating", index=True)
    lines_read: Mapped[int] = mapped_column(Integer, default=0)
    lines_usable: Mapped[int] = mapped_column(Integer, default=0)
    lines_rejected: Mapped[int] = mapped_column(Integer, default=0)
    #: The first rejected lines with their reasons, [[line, reason], ...].
    rejects: Mapped[list[Any]] = mapped_column(JSON, default=list)
    columns: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    lines_done: Mapped[int] = mapped_column(Integer, default=0)
    hits: Mapped[int] = mapped_column(Integer, default=0)
    chunks_total: Mapped[int] = mapped_column(Integer, default=0)
    #: The whole manifest has been read into chunks (workers screen chunks while it is read).
    read_complete: Mapped[bool] = mapped_column(default=False)
    #: Who is reading the manifest into chunks, and until when that claim holds. The reader
    #: renews it with every chunk; a reader that died is replaced once it has run out.
    reader: Mapped[str] = mapped_column(String(200), default="")
    reader_lease_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    #: Lines per chunk, fixed by the first reader: a reader taking over must cut the same chunks.
    chunk_lines: Mapped[int] = mapped_column(Integer, default=0)
    #: The registry snapshot the engine was built from, and where the saved engine is.
    snapshot_id: Mapped[str] = mapped_column(String(100), default="")
    engine_file: Mapped[str] = mapped_column(String(500), default="")
    runner: Mapped[str] = mapped_column(String(20), default="")
    cancel_requested: Mapped[bool] = mapped_column(default=False)
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    error: Mapped[str] = mapped_column(Text, default="")

    officer: Mapped[User] = relationship()


class BulkChunk(Base):
    """A run of manifest lines, stored as one blob; done exactly once.

    A worker claims a chunk with a lease and renews it while it works. Its hits and the chunk's
    "done" are committed in one transaction, and only by the worker that holds the claim, so a
    worker that dies mid-chunk loses nothing (the lease runs out and another takes the chunk)
    and counts nothing twice.
    """

    __tablename__ = "bulk_chunks"
    __table_args__ = (UniqueConstraint("job_id", "position", name="job_position"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    job_id: Mapped[int] = mapped_column(ForeignKey("bulk_jobs.id"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    lines_sha256: Mapped[str] = mapped_column(String(64))
    line_count: Mapped[int] = mapped_column(Integer)
    #: pending, claimed, done
    state: Mapped[str] = mapped_column(String(10), default="pending", index=True)
    claimed_by: Mapped[str] = mapped_column(String(100), default="")
    lease_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class BulkHit(Base):
    """A manifest line whose best match calls for inspection or detention."""

    __tablename__ = "bulk_hits"
    __table_args__ = (UniqueConstraint("job_id", "line_no", name="job_line"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    job_id: Mapped[int] = mapped_column(ForeignKey("bulk_jobs.id"), index=True)
    line_no: Mapped[int] = mapped_column(Integer)
    line_ref: Mapped[str] = mapped_column(String(100))
    right_id: Mapped[int | None] = mapped_column(ForeignKey("rights.id"))
    brand_name: Mapped[str] = mapped_column(String(200), index=True)
    score: Mapped[float] = mapped_column(Float, index=True)
    recommendation: Mapped[str] = mapped_column(String(10))
    #: The strongest reasons, as officers read them.
    reasons: Mapped[list[str]] = mapped_column(JSON, default=list)
    #: The line as read (description, brand, parties, value...), to open a check from it.
    line: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
