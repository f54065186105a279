"""Content-addressed blob store on the local filesystem.

Each blob is stored under its SHA-256, byte-exact. A write goes to a temporary file in the
same directory, is fsynced, then renamed into place and the directory fsynced, so that by the
time the database row that names the blob commits, the blob is durable. Writing the same
bytes twice is a no-op, which makes imports idempotent and retries safe.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from pathlib import Path

_SHA256 = re.compile(r"^[0-9a-f]{64}$")


class BlobNotFound(LookupError):
    pass


class BlobTooLarge(ValueError):
    pass


class BlobStore:
    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)

    def path_for(self, sha256: str) -> Path:
        # Only a well-formed digest ever becomes a path: nothing from a client reaches here.
        if not _SHA256.match(sha256):
            raise ValueError("not a SHA-256 digest")
        return self.root / sha256[:2] / sha256[2:4] / sha256

    def put(self, data: bytes) -> str:
        """Store ``data`` and return its SHA-256 (hex). Durable when this returns."""
        digest = hashlib.sha256(data).hexdigest()
        target = self.path_for(digest)
        if target.exists() and target.stat().st_size == len(data):
            # Stored before, perhaps long ago and no longer named by any row: it is about to be
            # named again, so it is made young, or an orphan cleanup could remove it meanwhile.
            try:
                os.utime(target)
                return digest
            except FileNotFoundError:
                pass  # removed by a cleanup just now: written again below
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        dir_fd = os.open(target.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
        return digest

    def put_stream(self, stream, *, max_bytes: int, block: int = 1024 * 1024) -> tuple[str, int]:
        """Store a file-like object without holding it in memory; returns (SHA-256, size).
        More than ``max_bytes`` raises ``BlobTooLarge`` and leaves nothing behind."""
        digest, size = hashlib.sha256(), 0
        self.root.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.root, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as handle:
                while True:
                    data = stream.read(block)
                    if not data:
                        break
                    size += len(data)
                    if size > max_bytes:
                        raise BlobTooLarge(f"more than {max_bytes} bytes")
                    digest.update(data)
                    handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            name = digest.hexdigest()
            target = self.path_for(name)
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        dir_fd = os.open(target.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
        return name, size

    def get(self, sha256: str) -> bytes:
        try:
            return self.path_for(sha256).read_bytes()
        except FileNotFoundError as exc:
            raise BlobNotFound(sha256) from exc

    def exists(self, sha256: str) -> bool:
        return self.path_for(sha256).exists()

    def verify(self, sha256: str) -> bool:
        """True when the stored bytes still hash to their name."""
        try:
            return hashlib.sha256(self.get(sha256)).hexdigest() == sha256
        except BlobNotFound:
            return False
