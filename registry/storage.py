"""Content-addressed blob store on the local filesystem.

Each blob is stored under its SHA-256, byte-exact. A write goes to a temporary file in the
same directory, is fsynced, then renamed into place and the directory fsynced, so that by the
time the database row that names the blob commits, the blob is durable. Writing the same
bytes twice is a no-op, which makes imports idempotent and retries safe.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import tempfile
import time
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


class DisplayCopies:
    """Display copies of stored images (the full-size views), kept on local disk so that each
    is made once rather than on every look: re-encoding a 12-megapixel photo takes a few tenths
    of a second, reading the copy back a millisecond.

    A copy is named by its source blob's SHA-256, the size it was made at and ``VERSION``; it is
    derived data, never evidence (the packages carry the originals), so it is not fsynced, and
    a copy that does not read back as an image is simply made again. ``prune`` drops copies of
    sources no longer stored and copies nobody looked at for a while.
    """

    #: Part of every name: raise it when ``make_display_copy`` changes what it makes.
    VERSION = 1

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)

    def path_for(self, sha256: str, size: int) -> Path:
        if not _SHA256.match(sha256):
            raise ValueError("not a SHA-256 digest")
        return self.root / sha256[:2] / f"{sha256}-{int(size)}-v{self.VERSION}"

    def get_or_make(self, sha256: str, size: int, make) -> tuple[bytes, str]:
        """The copy's bytes and content type; ``make()`` gives them when no copy is kept."""
        path = self.path_for(sha256, size)
        try:
            data = path.read_bytes()
            mimetype = _image_type(data)
            if mimetype is not None:
                os.utime(path)  # looked at: pruning goes by the last look
                return data, mimetype
        except FileNotFoundError:
            pass
        data, mimetype = make()
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
            os.replace(tmp, path)  # whole or not at all, for a look at the same moment
        except OSError:
            # A full or read-only disk costs the next look its time, not this one its image.
            with contextlib.suppress(OSError):
                os.unlink(tmp)
        return data, mimetype

    def prune(self, source_exists, *, unused_for_seconds: float, now: float | None = None) -> list[Path]:
        """Remove copies whose source is no longer stored, copies not looked at for
        ``unused_for_seconds``, and temporary files left by a crash; returns what was removed."""
        now = time.time() if now is None else now
        removed = []
        for path in sorted(self.root.glob("*/*")) if self.root.is_dir() else ():
            sha256 = path.name.split("-", 1)[0]
            try:
                age = now - path.stat().st_mtime
                if path.name.startswith(".tmp-"):
                    gone = age > 3600  # a write that crashed: no write takes an hour
                else:
                    gone = age > unused_for_seconds or not _SHA256.match(sha256) or not source_exists(sha256)
                if gone:
                    path.unlink()
                    removed.append(path)
            except FileNotFoundError:
                continue
        return removed


def _image_type(data: bytes) -> str | None:
    if data.startswith(b"\xff\xd8\xff") and data.endswith(b"\xff\xd9"):
        return "image/jpeg"
    if data.startswith(b"\x89PNG\r\n\x1a\n") and data.endswith(b"IEND\xaeB`\x82"):
        return "image/png"
    return None
