"""Verify a case's evidence package, offline, with nothing but Python and ``cryptography``.

A copy of this file is shipped inside every evidence package as ``verify.py``, so it imports
only the standard library and the ``cryptography`` package, never the application. The
application uses the same functions (``flask --app registry evidence verify``, the "Verify a
package" page, and the audit chain check), so the package and the app cannot disagree about
what "intact" means.

    python verify.py                      # the package this script was unpacked from
    python verify.py case-17.zip          # a package as downloaded
    python verify.py case-17/ --public-key authority.pem

What is checked:

* ``manifest.sig`` is an Ed25519 signature over the exact bytes of ``manifest.json``, made by
  the key in ``public_key.pem``, and that key is the one you trust: the fingerprint written
  into this script when the package was exported, or the key given with ``--public-key`` /
  ``--fingerprint`` (take it from the exporting authority's "Verify a package" page; a
  package re-signed with another key is rejected);
* every file the manifest lists is there with its SHA-256 and size, and nothing else is;
* the audit log slice (``audit/chain.json``) is an unbroken hash chain whose head is covered
  by a checkpoint signed with the same key;
* the ZIP itself is byte for byte the archive its files make: members are stored, not
  compressed, in a fixed order with the export time, so every byte of a package is either a
  file's own or a header this script can write again (a changed date, attribute or comment
  in the ZIP is found as surely as a changed photo).

Exit status 0 when the package is intact, 1 when it is not (each problem is printed), 2 when
it cannot be read at all.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import re
import struct
import sys
import zipfile
import zlib
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, BinaryIO, Iterable, Iterator, Mapping

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

FORMAT = "counterfeit-registry-evidence/1"
#: The manifest's ``container`` since members are stored: signed, so a package exported so
#: cannot be passed off as one of the earlier, compressed format whose headers go unchecked.
STORED_CONTAINER = "zip-stored"
MANIFEST = "manifest.json"
SIGNATURE = "manifest.sig"
PUBLIC_KEY = "public_key.pem"
AUDIT_SLICE = "audit/chain.json"
REPORT = "report.pdf"
GENESIS = "0" * 64

#: The fingerprint of the key that signed this package. The exporter writes it into the copy
#: shipped in the package; in the application's own copy it stays None.
EXPECTED_FINGERPRINT: str | None = None

# Reading a ZIP from an unknown source: limits well above any real package, far below harm.
MAX_ENTRIES = 20_000
MAX_TOTAL_BYTES = 4 * 1024**3
MAX_RATIO = 200  # uncompressed / compressed, per member
_SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,199}(/[A-Za-z0-9][A-Za-z0-9._-]{0,199}){0,7}$")
_HEX64 = re.compile(r"^[0-9a-f]{64}$")
_SIGNATURE_TEXT = re.compile(rb"^[0-9a-f]{128}\n$")


class UnreadablePackage(ValueError):
    """The input is not a package this script can read safely (not a ZIP, a ZIP bomb, ...)."""


# -- hashing shared with the application's audit log ---------------------------------------

def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def event_hash(prev_hash: str, content: Mapping[str, Any]) -> str:
    """The hash of one audit event: its content, canonically encoded, after its link."""
    return hashlib.sha256((prev_hash + canonical_json(content)).encode("utf-8")).hexdigest()


def checkpoint_message(seq: int, head_hash: str, at: str) -> bytes:
    """The bytes a checkpoint signs: the chain's position and head hash at a moment."""
    return f"audit-checkpoint/1:{seq}:{head_hash}:{at}".encode("ascii")


def key_fingerprint(public_key: Ed25519PublicKey) -> str:
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return "sha256:" + hashlib.sha256(raw).hexdigest()


def load_public_key(pem: bytes) -> Ed25519PublicKey:
    key = serialization.load_pem_public_key(pem)
    if not isinstance(key, Ed25519PublicKey):
        raise ValueError("not an Ed25519 public key")
    return key


def signature_text(signature: bytes) -> bytes:
    """The one accepted encoding of a signature file: lowercase hex and a newline."""
    return signature.hex().encode("ascii") + b"\n"


def _verify_signature(public_key: Ed25519PublicKey, signature: bytes, message: bytes) -> bool:
    try:
        public_key.verify(signature, message)
    except InvalidSignature:
        return False
    return True


# -- the audit chain -------------------------------------------------------------------------

@dataclass
class ChainResult:
    ok: bool
    events: int
    first_broken_seq: int | None = None
    problem: str = ""
    last_checkpoint_seq: int | None = None


def verify_chain_events(events: Iterable[Mapping[str, Any]], checkpoints: Iterable[Mapping[str, Any]],
                        public_key: Ed25519PublicKey | None, *, start_hash: str | None = GENESIS,
                        checkpoint_every: int | None = None, must_end_at_checkpoint: bool = False,
                        head: tuple[int, str] | None = None) -> ChainResult:
    """Walk a run of audit events and report the first broken link.

    Each event is a mapping with ``seq``, ``prev_hash`` and ``hash``, and ``content`` (the
    fields its hash covers) unless it is only a link: a package carries other organisations'
    events as links so that the chain holds without showing what they say. ``start_hash`` is
    the ``prev_hash`` the first event must have (None when the run starts mid-chain).

    Each checkpoint (``seq``, ``hash``, ``at``, ``key_fingerprint``, ``signature`` in hex)
    must carry the hash the chain has at its position and a valid signature; with
    ``checkpoint_every`` one must exist at every multiple of it. Rewriting the chain from some
    event on (recomputing every later hash) cannot match a signed checkpoint after it, which
    is what makes edits before the last checkpoint detectable even by someone who can write
    to the database.
    """
    by_seq: dict[int, Mapping[str, Any]] = {}
    fingerprint = key_fingerprint(public_key) if public_key is not None else None
    for checkpoint in checkpoints:
        seq = checkpoint.get("seq")
        if not isinstance(seq, int) or seq in by_seq:
            return ChainResult(False, 0, None, f"checkpoint entry {seq!r} is malformed or repeated")
        by_seq[seq] = checkpoint

    prev_hash, expected_seq, count, last_checkpoint = start_hash, None, 0, None
    for event in events:
        seq = event.get("seq")
        if not isinstance(seq, int):
            return ChainResult(False, count, None, "an event has no sequence number")
        if expected_seq is not None and seq != expected_seq:
            what = "missing" if seq > expected_seq else "out of order"
            return ChainResult(False, count, expected_seq,
                               f"event {expected_seq} is {what} (found event {seq} next)")
        if expected_seq is None and start_hash == GENESIS and seq != 1:
            return ChainResult(False, count, 1, f"the chain starts at event {seq}, not 1")
        count += 1
        link, own = event.get("prev_hash"), event.get("hash")
        if not (isinstance(link, str) and isinstance(own, str) and _HEX64.match(link) and _HEX64.match(own)):
            return ChainResult(False, count, seq, f"event {seq} has a malformed hash")
        if prev_hash is not None and link != prev_hash:
            return ChainResult(False, count, seq, f"event {seq} does not link to event {seq - 1}")
        content = event.get("content")
        if content is not None:
            if not isinstance(content, Mapping) or content.get("seq") != seq:
                return ChainResult(False, count, seq, f"event {seq} was altered")
            if event_hash(link, content) != own:
                return ChainResult(False, count, seq, f"event {seq} was altered")
        checkpoint = by_seq.pop(seq, None)
        if checkpoint is not None:
            problem = _check_checkpoint(checkpoint, own, public_key, fingerprint)
            if problem:
                return ChainResult(False, count, seq, problem)
            last_checkpoint = seq
        elif checkpoint_every and seq % checkpoint_every == 0:
            return ChainResult(False, count, seq, f"the signed checkpoint at event {seq} is missing "
                               f"(one is written every {checkpoint_every} events)")
        prev_hash, expected_seq = own, seq + 1

    if by_seq:
        seq = min(by_seq)
        return ChainResult(False, count, seq, f"a checkpoint names event {seq}, which is not in the chain")
    if head is not None:
        head_seq, head_hash = head
        last = (expected_seq or 1) - 1
        if head_seq != last or (count and head_hash != prev_hash):
            return ChainResult(False, count, last if count else None,
                               "the chain ends before its recorded head: events were removed")
    if must_end_at_checkpoint and (count == 0 or last_checkpoint != (expected_seq or 1) - 1):
        return ChainResult(False, count, None, "the last event is not covered by a signed checkpoint")
    return ChainResult(True, count, last_checkpoint_seq=last_checkpoint)


def _check_checkpoint(checkpoint: Mapping[str, Any], chain_hash: str, public_key: Ed25519PublicKey | None,
                      fingerprint: str | None) -> str:
    seq = checkpoint["seq"]
    if checkpoint.get("hash") != chain_hash:
        return f"the chain does not match the signed checkpoint at event {seq}: events up to it were changed"
    if public_key is None:
        return ""
    if checkpoint.get("key_fingerprint") != fingerprint:
        return f"the checkpoint at event {seq} was signed by another key ({checkpoint.get('key_fingerprint')})"
    try:
        signature = bytes.fromhex(str(checkpoint.get("signature")))
    except ValueError:
        return f"the checkpoint at event {seq} has a malformed signature"
    if checkpoint.get("signature") != signature.hex():
        return f"the checkpoint at event {seq} has a malformed signature"
    if not _verify_signature(public_key, signature, checkpoint_message(seq, chain_hash, str(checkpoint.get("at")))):
        return f"the signature of the checkpoint at event {seq} does not verify"
    return ""


# -- reading a package -----------------------------------------------------------------------

def read_zip(source: str | Path | bytes) -> dict[str, bytes]:
    """The members of a package ZIP, read into memory with limits; nothing is written anywhere.

    Refuses path traversal and other unsafe names, duplicate names, links and directories,
    encrypted members, too many entries, and members that inflate beyond the limits (counted
    as they are read, not taken from the headers).
    """
    handle = _open(source)
    try:
        archive = zipfile.ZipFile(handle)
    except (zipfile.BadZipFile, OSError, NotImplementedError, ValueError, EOFError) as exc:
        # NotImplementedError: a directory entry claiming a ZIP version past what Python reads
        # (one changed byte makes it so); the others: lengths and offsets that lead nowhere.
        handle.close()
        raise UnreadablePackage(f"not a ZIP file ({exc})") from None
    files: dict[str, bytes] = {}
    total = 0
    with handle, archive:
        infos = archive.infolist()
        if len(infos) > MAX_ENTRIES:
            raise UnreadablePackage(f"the ZIP has {len(infos)} entries; a package has at most {MAX_ENTRIES}")
        for info in infos:
            name = info.filename
            if not _SAFE_NAME.match(name) or ".." in name.split("/"):
                raise UnreadablePackage(f"the ZIP holds an entry with an unsafe name: {name[:120]!r}")
            if name in files:
                raise UnreadablePackage(f"the ZIP holds two entries named {name!r}")
            if info.flag_bits & 0x1:
                raise UnreadablePackage(f"{name} is encrypted")
            if (info.external_attr >> 16) & 0o170000 == 0o120000:
                raise UnreadablePackage(f"{name} is a symbolic link")
            limit = min(MAX_TOTAL_BYTES - total, max(info.compress_size, 1) * MAX_RATIO + 1024 * 1024)
            try:
                if info.compress_type == zipfile.ZIP_STORED:
                    # Read as it lies, without zipfile's CRC check: a changed byte is then named by
                    # the manifest as that file changed (a changed checksum alone, by the container
                    # check), instead of the whole package being "unreadable".
                    data = _stored_member(handle, info, limit + 1)
                else:
                    with archive.open(info) as member:
                        data = member.read(limit + 1)
            except (zipfile.BadZipFile, zlib.error, NotImplementedError, OSError, EOFError, ValueError) as exc:
                raise UnreadablePackage(f"{name} cannot be read ({exc})") from None
            if len(data) > limit:
                raise UnreadablePackage(f"{name} inflates far beyond its compressed size (a ZIP bomb?)")
            total += len(data)
            files[name] = data
    return files


def _open(source: str | Path | bytes) -> BinaryIO:
    return io.BytesIO(source) if isinstance(source, bytes) else open(source, "rb")


def _stored_member(handle: BinaryIO, info: zipfile.ZipInfo, at_most: int) -> bytes:
    """The bytes of a stored member (``at_most`` of them), read from behind its local header
    without a CRC check."""
    handle.seek(info.header_offset)
    local = handle.read(30)
    if len(local) < 30 or local[:4] != b"PK\x03\x04":
        raise UnreadablePackage(f"{info.filename} cannot be read (no local header)")
    name_length, extra_length = struct.unpack("<HH", local[26:30])
    handle.seek(info.header_offset + 30 + name_length + extra_length)
    data = handle.read(min(info.compress_size, at_most))
    if len(data) < min(info.compress_size, at_most):
        raise UnreadablePackage(f"{info.filename} cannot be read (the ZIP ends inside it)")
    return data


def package_order(names: Iterable[str]) -> list[str]:
    """The order of a package's members: manifest, signature, then the rest by name."""
    rest = sorted(n for n in names if n not in (MANIFEST, SIGNATURE))
    return [n for n in (MANIFEST, SIGNATURE) if n in names] + rest


def zip_pieces(files: Mapping[str, bytes], stamp: tuple[int, ...]) -> Iterator[bytes]:
    """A package's ZIP, in pieces: every member stored (not compressed) in ``package_order``
    with the export time ``stamp`` (year, month, day, hour, minute, second), and nothing
    optional (no extra fields, comments or data descriptors).

    Written here rather than by ``zipfile`` so that any copy of this script, on any Python,
    makes exactly these bytes again: that is what lets a verifier rebuild a package and compare.
    Stored members, because a compressed stream has bits that no inflater reads (the padding of
    its last byte), which one could change unseen."""
    year, month, day, hour, minute, second = stamp[:6]
    dos_time = (hour << 11) | (minute << 5) | (second // 2)
    dos_date = ((year - 1980) << 9) | (month << 5) | day
    central, offset = [], 0
    for name in package_order(files):
        data, encoded = files[name], name.encode("ascii")
        crc = zlib.crc32(data)
        # version needed 2.0, no flags, stored, time, date, CRC-32, sizes, name length, no extra
        fixed = struct.pack("<HHHHHIIIHH", 20, 0, 0, dos_time, dos_date, crc, len(data), len(data), len(encoded), 0)
        header = b"PK\x03\x04" + fixed + encoded
        central.append(b"PK\x01\x02" + struct.pack("<H", (3 << 8) | 20) + fixed
                       + struct.pack("<HHHII", 0, 0, 0, 0o100644 << 16, offset) + encoded)
        yield header
        yield data
        offset += len(header) + len(data)
    if offset > 0xFFFFFFFF or len(central) > 0xFFFF:
        raise UnreadablePackage("a package is at most 4 GiB and 65,535 files")
    directory = b"".join(central)
    yield directory
    yield b"PK\x05\x06" + struct.pack("<HHHHIIH", 0, 0, len(central), len(central), len(directory), offset, 0)


def write_zip(files: Mapping[str, bytes], stamp: tuple[int, ...]) -> bytes:
    return b"".join(zip_pieces(files, stamp))


def check_container(source: str | Path | bytes, files: Mapping[str, bytes], report: Report) -> None:
    """Whether the ZIP ``source`` is byte for byte the archive its ``files`` make."""
    with _open(source) as handle:
        infos = zipfile.ZipFile(handle).infolist()
        if any(info.compress_type != zipfile.ZIP_STORED for info in infos):
            if json.loads(files[MANIFEST]).get("container") == STORED_CONTAINER:
                report.problems.append("every file is as signed, but the ZIP itself was changed after it was "
                                       "exported: it was written with its files stored and is now compressed")
                return
            # Packages exported before members were stored: their files are checked all the same.
            report.facts["ZIP container"] = "compressed (an earlier export format): its headers are not checked"
            return
        handle.seek(0)
        offset = 0
        for piece in zip_pieces(files, infos[0].date_time if infos else (1980, 1, 1, 0, 0, 0)):
            found = handle.read(len(piece))
            if found != piece:
                at = offset + next((i for i, (a, b) in enumerate(zip(found, piece)) if a != b), len(found))
                report.problems.append(f"every file is as signed, but the ZIP itself was changed after it was "
                                       f"exported: from byte {at:,} it is not what its files make (a header, "
                                       f"date, attribute or order in the archive)")
                return
            offset += len(piece)
        if handle.read(1):
            report.problems.append(f"every file is as signed, but the ZIP itself was changed after it was "
                                   f"exported: bytes were added after its end (byte {offset:,})")


def verify_source(source: str | Path | bytes, *, trusted_fingerprint: str | None) -> Report:
    """Read and check a package: a ZIP (path or bytes) or an unpacked folder. Raises
    ``UnreadablePackage`` (or ``OSError``) when it cannot be read at all."""
    folder = not isinstance(source, bytes) and Path(source).is_dir()
    files = read_directory(source) if folder else read_zip(source)
    report = verify_files(files, trusted_fingerprint=trusted_fingerprint)
    if not folder and report.ok:
        # With a file found changed, the ZIP differs too (its checksums); that says nothing more.
        check_container(source, files, report)
    return report


def read_directory(root: str | Path) -> dict[str, bytes]:
    """The files of an unpacked package (symbolic links are refused, not followed)."""
    root = Path(root)
    files: dict[str, bytes] = {}
    for path in sorted(root.rglob("*")):
        if path.is_symlink():
            raise UnreadablePackage(f"{path.relative_to(root)} is a symbolic link")
        if path.is_file():
            name = path.relative_to(root).as_posix()
            if name.startswith("__pycache__/"):
                continue  # left by running verify.py in place
            files[name] = path.read_bytes()
    return files


# -- verifying -------------------------------------------------------------------------------

def _readable_time(text: str) -> str:
    """An ISO timestamp from the manifest as people read it (to the second, in UTC)."""
    try:
        moment = datetime.fromisoformat(text)
    except (TypeError, ValueError):
        return str(text)
    if moment.tzinfo is not None:
        moment = moment.astimezone(timezone.utc)
    return moment.strftime("%d %B %Y, %H:%M:%S UTC") if moment.tzinfo else moment.isoformat(" ", "seconds")


@dataclass
class Report:
    problems: list[str] = field(default_factory=list)
    facts: dict[str, Any] = field(default_factory=dict)
    #: False when the file could not be read as a package at all (not a ZIP, a ZIP bomb, ...).
    readable: bool = True

    @property
    def ok(self) -> bool:
        return not self.problems

    def lines(self) -> list[str]:
        out = [f"{key}: {value}" for key, value in self.facts.items()]
        if self.ok:
            out.append("RESULT: the package is intact and signed by the trusted key.")
        else:
            out.append(f"RESULT: the package is NOT intact ({len(self.problems)} problem(s)):")
            out.extend(f"  - {problem}" for problem in self.problems)
        return out


def verify_files(files: Mapping[str, bytes], *, trusted_fingerprint: str | None) -> Report:
    """Check a package given as ``{path: bytes}``; every problem found is reported."""
    report = Report()
    manifest_bytes, signature_bytes = files.get(MANIFEST), files.get(SIGNATURE)
    if manifest_bytes is None:
        report.problems.append(f"{MANIFEST} is missing: this is not an evidence package, or it was stripped "
                               f"(it holds: {', '.join(sorted(files)[:50]) or 'nothing'})")
        return report
    if signature_bytes is None:
        strays = [name for name in files if name.startswith(SIGNATURE) and name != SIGNATURE]
        report.problems.append(f"{SIGNATURE} is missing: nothing proves who issued the manifest"
                               + (f" ({', '.join(strays)} is not a signature file this script accepts)" if strays else ""))

    public_key = None
    key_pem = files.get(PUBLIC_KEY)
    if key_pem is None:
        report.problems.append(f"{PUBLIC_KEY} is missing")
    else:
        try:
            public_key = load_public_key(key_pem)
        except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
            report.problems.append(f"{PUBLIC_KEY} is not a valid Ed25519 public key ({exc})")
    fingerprint = key_fingerprint(public_key) if public_key is not None else None
    if fingerprint:
        report.facts["signed by key"] = fingerprint
    if trusted_fingerprint is None:
        report.problems.append("no trusted key given: pass --public-key or --fingerprint with the "
                               "exporting authority's published key")
    elif fingerprint is not None and fingerprint != trusted_fingerprint:
        report.problems.append(f"the package was signed with key {fingerprint}, not the trusted key "
                               f"{trusted_fingerprint}: it was re-signed or comes from elsewhere")
    if public_key is not None and signature_bytes is not None:
        if not _SIGNATURE_TEXT.match(signature_bytes):
            report.problems.append(f"{SIGNATURE} is malformed (expected 128 lowercase hex digits)")
        elif not _verify_signature(public_key, bytes.fromhex(signature_bytes[:128].decode("ascii")),
                                   manifest_bytes):
            report.problems.append(f"the signature in {SIGNATURE} does not match {MANIFEST}: "
                                   "the manifest was changed or signed by another key")

    try:
        manifest = json.loads(manifest_bytes.decode("utf-8"))
        listed = _listed_files(manifest)
    except (UnicodeDecodeError, ValueError) as exc:
        report.problems.append(f"{MANIFEST} cannot be read ({exc})")
        return report
    case = manifest.get("case") or {}
    report.facts["case"] = case.get("reference", "?")
    if "interim" in case:
        report.facts["package"] = ("interim: exported while the case was open" if case["interim"]
                                   else "final: exported after the case was closed")
    report.facts["exported at"] = _readable_time(manifest.get("exported_at", "?"))
    exporter = manifest.get("exported_by") or {}
    report.facts["exported by"] = f"{exporter.get('name', '?')} <{exporter.get('email', '?')}>"
    # As the export counted them: the files the manifest lists, and the manifest and signature.
    report.facts["files"] = f"{len(listed) + 2} ({len(listed)} listed in the signed manifest, the manifest and its signature)"
    if manifest.get("format") != FORMAT:
        report.problems.append(f"unknown package format {manifest.get('format')!r}")
    if fingerprint and (manifest.get("signing_key") or {}).get("fingerprint") != fingerprint:
        report.problems.append(f"{MANIFEST} names a signing key other than the one in {PUBLIC_KEY}")

    present = set(files) - {MANIFEST, SIGNATURE}
    missing = sorted(set(listed) - present)
    extra = sorted(present - set(listed))
    for path in missing:
        report.problems.append(f"{path} is listed in the manifest but missing from the package")
    for path in extra:
        report.problems.append(f"{path} is in the package but not in the manifest (added or renamed)")
    for path in sorted(set(listed) & present):
        data = files[path]
        size, digest = listed[path]
        if len(data) != size:
            report.problems.append(f"{path} changed: {len(data)} bytes, the manifest says {size}")
        elif hashlib.sha256(data).hexdigest() != digest:
            report.problems.append(f"{path} changed: its SHA-256 does not match the manifest")

    digest = manifest.get("evidence_digest")
    if digest is not None and digest != evidence_digest(manifest["files"]):
        report.problems.append("the evidence digest in the manifest does not match its file list")

    chain_bytes = files.get(AUDIT_SLICE)
    if chain_bytes is None:
        if AUDIT_SLICE not in missing:
            report.problems.append(f"{AUDIT_SLICE} is missing")
    else:
        report.problems.extend(_verify_audit_slice(chain_bytes, public_key, manifest))
    return report


def evidence_digest(entries: list[dict[str, Any]]) -> str:
    """The digest the PDF report prints: the file list without the report itself."""
    listing = [{"path": e["path"], "sha256": e["sha256"], "size": e["size"]}
               for e in sorted(entries, key=lambda e: e["path"]) if e["path"] != REPORT]
    text = json.dumps(listing, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _listed_files(manifest: Any) -> dict[str, tuple[int, str]]:
    if not isinstance(manifest, dict) or not isinstance(manifest.get("files"), list):
        raise ValueError("no file list")
    listed: dict[str, tuple[int, str]] = {}
    for entry in manifest["files"]:
        path, size, digest = (entry.get("path"), entry.get("size"), entry.get("sha256")) \
            if isinstance(entry, dict) else (None, None, None)
        if not isinstance(path, str) or not isinstance(size, int) or not isinstance(digest, str) \
                or not _HEX64.match(digest) or path in listed or path in (MANIFEST, SIGNATURE):
            raise ValueError(f"malformed or repeated file entry {entry!r:.120}")
        listed[path] = (size, digest)
    return listed


def _verify_audit_slice(chain_bytes: bytes, public_key: Ed25519PublicKey | None, manifest: dict) -> list[str]:
    try:
        chain = json.loads(chain_bytes.decode("utf-8"))
        events, checkpoints = chain["events"], chain["checkpoints"]
        if not isinstance(events, list) or not isinstance(checkpoints, list):
            raise ValueError("events and checkpoints must be lists")
    except (UnicodeDecodeError, ValueError, KeyError, TypeError) as exc:
        return [f"{AUDIT_SLICE} cannot be read ({exc})"]
    start = events[0].get("prev_hash") if events and isinstance(events[0], dict) else None
    result = verify_chain_events(events, checkpoints, public_key, start_hash=start, must_end_at_checkpoint=True)
    problems = [] if result.ok else [f"audit log: {result.problem}"]
    expected = (manifest.get("audit") or {}).get("checkpoint_seq")
    if result.ok and expected != result.last_checkpoint_seq:
        problems.append(f"audit log: the slice ends at checkpoint {result.last_checkpoint_seq}, "
                        f"the manifest says {expected}")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Verify a counterfeit-registry evidence package.")
    parser.add_argument("package", nargs="?", help="the package ZIP or unpacked folder "
                        "(default: the folder this script is in)")
    parser.add_argument("--public-key", help="PEM file of the key you trust")
    parser.add_argument("--fingerprint", help="fingerprint of the key you trust (sha256:...)")
    args = parser.parse_args(argv)
    source = Path(args.package) if args.package else Path(__file__).resolve().parent
    trusted = args.fingerprint or EXPECTED_FINGERPRINT
    try:
        if args.public_key:
            trusted = key_fingerprint(load_public_key(Path(args.public_key).read_bytes()))
        report = verify_source(source, trusted_fingerprint=trusted)
    except (UnreadablePackage, OSError, ValueError, UnsupportedAlgorithm) as exc:
        print(f"Cannot read the package: {exc}")
        return 2
    print("\n".join(report.lines()))
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
