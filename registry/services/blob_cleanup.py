"""Orphan blobs and broken references: what a crash between a blob's write and its row leaves.

A blob is made durable (temporary file, fsync, rename, directory fsync) *before* the row that
names it commits, so a process killed between the two leaves a file that no row names, and a
process killed mid-write leaves a ``.tmp-`` file. Neither is ever read; ``clean_orphans``
removes them once they are older than a grace period, so a blob whose row is still being
committed (an upload in flight) is never taken. ``check_references`` goes the other way: every
row that names a blob must find it, with bytes that still hash to its name.

Which columns name a blob is read from the models: every column called ``sha256`` or ending in
``_sha256``, except those listed in ``NOT_BLOB_COLUMNS`` (hashes of something that is not kept
in the store). A new blob column is therefore protected from cleaning without anyone
remembering to list it here; a new hash column that is *not* a blob must be listed, or
``check_references`` reports its values as missing blobs.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

from sqlalchemy import Column, MetaData, select
from sqlalchemy.orm import Session

from registry.models import Base
from registry.storage import BlobStore

__all__ = ["NOT_BLOB_COLUMNS", "DEFAULT_GRACE", "BrokenReference", "CheckReport", "CleanReport",
           "blob_columns", "referenced_digests", "clean_orphans", "check_references"]

#: ``table.column`` names ending in ``sha256`` that hold a hash, not a blob's name.
NOT_BLOB_COLUMNS = frozenset({
    # The SHA-256 of the signed manifest *inside* the package; the package is the blob.
    "evidence_exports.manifest_sha256",
})

#: Long enough for any upload in flight to commit its row; a crash's leftovers wait this long.
DEFAULT_GRACE = timedelta(hours=1)

_DIGEST = re.compile(r"^[0-9a-f]{64}$")
_TEMP_PREFIX = ".tmp-"  # BlobStore's mkstemp prefix


@dataclass(frozen=True)
class BrokenReference:
    table: str
    column: str
    row_id: object
    sha256: str
    problem: str  # "missing", "mismatch" (bytes no longer hash to the name), "malformed"

    def describe(self) -> str:
        what = {"missing": "is missing from the blob store",
                "mismatch": "no longer matches its SHA-256 (damaged or replaced)",
                "malformed": "is not a SHA-256 digest"}[self.problem]
        return f"{self.table}.{self.column} of row {self.row_id}: blob {self.sha256} {what}"


@dataclass
class CheckReport:
    rows: int = 0  # references read
    blobs: int = 0  # distinct blobs verified
    bytes: int = 0
    problems: list[BrokenReference] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


@dataclass
class CleanReport:
    dry_run: bool
    grace: timedelta
    scanned: int = 0  # blob files in the store
    referenced: int = 0  # distinct digests named by rows
    removed: list[str] = field(default_factory=list)  # digests (to be) removed
    removed_bytes: int = 0
    temporary_removed: list[str] = field(default_factory=list)  # paths relative to the store
    kept_young: int = 0  # unreferenced, but inside the grace period
    unknown: list[str] = field(default_factory=list)  # files the store never writes: left alone


def blob_columns(metadata: MetaData = Base.metadata) -> list[Column]:
    """Every column that names a blob, read from the models."""
    found = []
    for table in metadata.sorted_tables:
        for column in table.columns:
            name = f"{table.name}.{column.name}"
            if (column.name == "sha256" or column.name.endswith("_sha256")) and name not in NOT_BLOB_COLUMNS:
                found.append(column)
    return found


def referenced_digests(session: Session, columns: list[Column] | None = None) -> set[str]:
    """Every digest that some row names."""
    digests: set[str] = set()
    for column in columns if columns is not None else blob_columns():
        digests.update(value for value in session.scalars(select(column).distinct()) if value)
    return digests


def _age_cutoff(now: datetime | None, grace: timedelta) -> float:
    return ((now or datetime.now(timezone.utc)) - grace).timestamp()


def clean_orphans(session: Session, blobs: BlobStore, *, grace: timedelta = DEFAULT_GRACE,
                  dry_run: bool = False, now: datetime | None = None) -> CleanReport:
    """Remove blobs that no row names and leftover temporary files, both older than ``grace``.

    The store is walked *before* the rows are read: a blob whose row commits during the walk
    is then seen as referenced. Each file's age is read again just before it is removed, so a
    file written again meanwhile is kept. Directories are left in place: removing one could
    race a write that has just created it.
    """
    report = CleanReport(dry_run=dry_run, grace=grace)
    cutoff = _age_cutoff(now, grace)
    old_blobs: list[tuple[str, Path]] = []
    old_temporary: list[Path] = []
    young: set[str] = set()
    root = blobs.root
    for directory, _subdirectories, files in os.walk(root):
        here = Path(directory)
        for name in files:
            path = here / name
            try:
                stat = path.stat()
            except FileNotFoundError:
                continue  # a temporary file renamed into place, or removed, meanwhile
            if name.startswith(_TEMP_PREFIX):
                if stat.st_mtime < cutoff:
                    old_temporary.append(path)
            elif _DIGEST.match(name) and path == blobs.path_for(name):
                report.scanned += 1
                if stat.st_mtime < cutoff:
                    old_blobs.append((name, path))
                else:
                    young.add(name)
            else:
                report.unknown.append(str(path.relative_to(root)))

    referenced = referenced_digests(session)
    report.referenced = len(referenced)
    report.kept_young = len(young - referenced)

    for digest, path in old_blobs:
        if digest in referenced:
            continue
        size = _remove_if_still_old(path, cutoff, dry_run)
        if size is not None:
            report.removed.append(digest)
            report.removed_bytes += size
    for path in old_temporary:
        if _remove_if_still_old(path, cutoff, dry_run, blob=False) is not None:
            report.temporary_removed.append(str(path.relative_to(root)))
    return report


def _remove_if_still_old(path: Path, cutoff: float, dry_run: bool, *, blob: bool = True) -> int | None:
    """The size removed, or None when the file is gone or was written again meanwhile.

    A blob is moved aside (renamed, atomically) before its age is read the last time. A writer
    naming the blob again touches it (``BlobStore.put``) before its row commits: a touch before
    the move makes the moved file young, and it is moved back; a touch after it finds no file,
    and the writer stores the bytes anew. Reading the age and then removing the file in place
    would leave a moment in which a touch is lost and a committed row names a removed blob.
    """
    try:
        stat = os.stat(path)
    except FileNotFoundError:
        return None
    if stat.st_mtime >= cutoff:
        return None
    if dry_run:
        return stat.st_size
    if not blob:
        try:
            os.unlink(path)
        except FileNotFoundError:
            return None
        return stat.st_size
    # Named as a temporary file: a cleanup that dies here leaves it to the next one.
    aside = path.with_name(f"{_TEMP_PREFIX}removing-{path.name}-{os.getpid()}")
    try:
        os.rename(path, aside)
    except FileNotFoundError:
        return None
    stat = os.stat(aside)
    if stat.st_mtime >= cutoff:
        os.replace(aside, path)  # the same bytes as any copy written meanwhile: either may win
        return None
    os.unlink(aside)
    return stat.st_size


def check_references(session: Session, blobs: BlobStore) -> CheckReport:
    """Every row that names a blob: is the blob there, and do its bytes hash to its name?

    Each distinct blob is hashed once (streamed: manifests can be a gigabyte), however many
    rows name it.
    """
    report = CheckReport()
    rows_by_digest: dict[str, list[tuple[str, str, object]]] = defaultdict(list)
    for column in blob_columns():
        table = column.table
        key = list(table.primary_key.columns)[0]
        for row_id, value in session.execute(select(key, column).order_by(key)):
            if not value:
                continue
            report.rows += 1
            if not _DIGEST.match(value):
                report.problems.append(BrokenReference(table.name, column.name, row_id, value, "malformed"))
                continue
            rows_by_digest[value].append((table.name, column.name, row_id))
    for digest in sorted(rows_by_digest):
        problem, size = _verify(blobs, digest)
        report.blobs += 1
        report.bytes += size
        if problem:
            report.problems.extend(BrokenReference(table, column, row_id, digest, problem)
                                   for table, column, row_id in rows_by_digest[digest])
    return report


def _verify(blobs: BlobStore, digest: str) -> tuple[str | None, int]:
    try:
        with open(blobs.path_for(digest), "rb") as handle:
            actual = hashlib.file_digest(handle, "sha256").hexdigest()
            size = handle.tell()
    except FileNotFoundError:
        return "missing", 0
    return (None if actual == digest else "mismatch"), size
