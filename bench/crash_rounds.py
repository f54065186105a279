"""Crash-safety rounds: ``kill -9`` the app under concurrent writes, restart it, and prove that
nothing acknowledged was lost and nothing points at a missing blob.

    .venv/bin/python -m bench.crash_rounds                    # 20 rounds on a private PostgreSQL cluster
    .venv/bin/python -m bench.crash_rounds --rounds 3 --writes 1000
    .venv/bin/python -m bench.crash_rounds --database postgresql://postgres@127.0.0.1:5432/crashbench

The database is a private PostgreSQL cluster (tests/pgcluster.py, fsync on) unless
``--database`` names one, which is emptied first (every table dropped): point it at a database
kept for benchmarks. gunicorn serves the app factory in its own process group (``--workers``
workers, ``--threads`` threads each, so several writes are in the server at once).

Each round, ``--clients`` client threads send up to ``--writes`` writes, a mix of:

- case notes through the case page's form (signed-in session, CSRF token);
- 1-5 MB photos added to a case through the case page's form (multipart);
- API screenings (``POST /api/v1/screenings`` with a token), some with a 1-5 MB base64 photo.

Every write acknowledged is recorded with what it stored: a web form's redirect carrying its
success message, the API's 201 with the check's id; the SHA-256 of every photo sent. At a
random moment (after a random number of writes, uniformly between a tenth and all of them)
the whole gunicorn process group gets SIGKILL. The app is started again, and the round checks,
against the database and the blob store:

- lost: acknowledged writes not in the database as sent (must be 0);
- altered: photo rows whose bytes no client sent (must be 0: originals are kept byte-exact);
- half-saved: checks without their audit event (must be 0);
- broken: rows naming a missing or mismatched blob (``blobs check``'s service; must be 0);
- audit: the hash chain and its checkpoints verify;
- orphans: blobs no row names and temporary files, removed by ``blobs clean --grace-minutes 0``
  (the app is idle then); afterwards every file in the store is named by a row.

Printed: one line per round and a summary table; the exit code is 1 when any round failed.
With ``--keep`` the work folder stays, with a JSON timeline of the case of every lost write.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import http.client
import io
import json
import os
import random
import re
import shutil
import signal
import sys
import tempfile
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from bench.appsetup import BENCH_OFFICER, BENCH_PASSWORD, fresh_app
from bench.httpload import Gunicorn

REQUEST_TIMEOUT = 60
CASES = 24  # writes spread over them: two at once on one case may be refused as a conflict
MIX = (("note", 0.50), ("case_photo", 0.20), ("screening", 0.25), ("screening_photo", 0.05))


# -- what is sent -----------------------------------------------------------------------------

def photo_png(rng: random.Random, low: int, high: int) -> bytes:
    """An uncompressed PNG of noise between ``low`` and ``high`` bytes: unique, and as large as
    a phone photo without the cost of encoding one."""
    from PIL import Image

    pixels = rng.randint(low, high) // 3
    width = int((pixels * 4 / 3) ** 0.5)
    height = max(1, pixels // width)
    image = Image.frombytes("RGB", (width, height), os.urandom(width * height * 3))
    out = io.BytesIO()
    image.save(out, format="PNG", compress_level=0)
    return out.getvalue()


@dataclass
class Write:
    index: int
    kind: str
    case_id: int | None = None
    note: str = ""
    photo_sha256: str = ""
    photo_size: int = 0
    sent_at: float = 0.0
    answered_at: float = 0.0
    #: acknowledged; refused (answered "nothing was saved", e.g. a conflict on the same case);
    #: failed (a 5xx, or no answer before the kill); in_flight (no answer: the server was killed)
    outcome: str = "unsent"
    status: int | None = None
    check_id: int | None = None  # a screening's check
    detail: str = ""


class Http:
    def __init__(self, port: int) -> None:
        self.port = port

    def send(self, method: str, path: str, *, headers: dict[str, str], body: bytes | None = None):
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=REQUEST_TIMEOUT)
        try:
            connection.request(method, path, body=body, headers=headers)
            response = connection.getresponse()
            data = response.read()
            return response.status, response.headers, data
        finally:
            connection.close()


def _cookies(headers, into: dict[str, str]) -> dict[str, str]:
    for line in headers.get_all("Set-Cookie") or []:
        name, _, value = line.split(";", 1)[0].partition("=")
        into[name.strip()] = value.strip()
    return into


def sign_in(port: int) -> tuple[str, str]:
    """A signed-in officer's Cookie header and the session's CSRF token."""
    client, cookies = Http(port), {}
    status, headers, page = client.send("GET", "/login", headers={})
    _cookies(headers, cookies)
    token = re.search(rb'name="csrf_token" (?:type="hidden" )?value="([^"]+)"', page).group(1).decode()
    form = urllib.parse.urlencode({"email": BENCH_OFFICER, "password": BENCH_PASSWORD, "csrf_token": token})
    status, headers, _ = client.send("POST", "/login", body=form.encode(), headers={
        "Content-Type": "application/x-www-form-urlencoded", "Cookie": _cookie_header(cookies)})
    if status != 302:
        raise SystemExit(f"signing in failed: {status}")
    return _cookie_header(_cookies(headers, cookies)), token


def _cookie_header(cookies: dict[str, str]) -> str:
    return "; ".join(f"{k}={v}" for k, v in cookies.items())


def multipart(fields: dict[str, str], files: list[tuple[str, str, bytes]]) -> tuple[str, bytes]:
    boundary = "crash-" + os.urandom(12).hex()
    parts = []
    for name, value in fields.items():
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode())
    for name, filename, data in files:
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; filename="{filename}"\r\n'
                     f"Content-Type: image/png\r\n\r\n".encode() + data + b"\r\n")
    parts.append(f"--{boundary}--\r\n".encode())
    return f"multipart/form-data; boundary={boundary}", b"".join(parts)


# -- one round of load ------------------------------------------------------------------------

class Round:
    """``writes`` writes from ``clients`` threads; SIGKILL to the server's process group once
    ``kill_after`` writes have been sent (and a random few milliseconds more)."""

    def __init__(self, number: int, app, server: Gunicorn, port: int, *, token: str, cookie: str, csrf: str,
                 case_ids: list[int], writes: int, clients: int, kill_after: int, photo_bytes: tuple[int, int],
                 seed: int) -> None:
        self.number, self.app, self.server, self.http = number, app, server, Http(port)
        self.token, self.cookie, self.csrf, self.case_ids = token, cookie, csrf, case_ids
        self.total, self.clients, self.kill_after, self.photo_bytes = writes, clients, kill_after, photo_bytes
        self.rng = random.Random(f"crash:{seed}:{number}")
        self.writes: list[Write] = []
        self.lock = threading.Lock()
        self.reached = threading.Event()
        self.killed = threading.Event()
        self.killed_at = 0.0
        self.started = 0.0
        self.serializer = app.session_interface.get_signing_serializer(app)
        self.cookie_name = app.config["SESSION_COOKIE_NAME"]

    def _take(self) -> Write | None:
        with self.lock:
            if self.killed.is_set() or len(self.writes) >= self.total:
                return None
            index = len(self.writes)
            roll, kind = self.rng.random(), MIX[-1][0]
            for name, share in MIX:
                if roll < share:
                    kind = name
                    break
                roll -= share
            write = Write(index, kind, case_id=self.rng.choice(self.case_ids) if kind in ("note", "case_photo") else None)
            self.writes.append(write)
            if len(self.writes) >= self.kill_after:
                self.reached.set()
            return write

    def _flash(self, headers) -> tuple[str, str] | None:
        for line in headers.get_all("Set-Cookie") or []:
            name, _, value = line.split(";", 1)[0].partition("=")
            if name.strip() == self.cookie_name:
                flashes = self.serializer.loads(value.strip()).get("_flashes") or []
                return tuple(flashes[-1]) if flashes else None
        return None

    def _send(self, write: Write) -> None:
        rng = random.Random(f"{self.number}:{write.index}")
        write.outcome = "in_flight"
        write.sent_at = time.monotonic() - self.started
        if write.kind == "note":
            write.note = f"crash round {self.number} write {write.index} {os.urandom(4).hex()}"
            body = urllib.parse.urlencode({"note": write.note, "csrf_token": self.csrf}).encode()
            status, headers, data = self.http.send("POST", f"/cases/{write.case_id}/notes", body=body, headers={
                "Content-Type": "application/x-www-form-urlencoded", "Cookie": self.cookie})
        elif write.kind == "case_photo":
            photo = photo_png(rng, *self.photo_bytes)
            write.photo_sha256, write.photo_size = hashlib.sha256(photo).hexdigest(), len(photo)
            content_type, body = multipart({"csrf_token": self.csrf}, [("photos", f"crate-{write.index}.png", photo)])
            status, headers, data = self.http.send("POST", f"/cases/{write.case_id}/photos", body=body, headers={
                "Content-Type": content_type, "Cookie": self.cookie})
        else:
            declaration = {"description": f"crash round {self.number} write {write.index}", "declared_brand": "Ve1orun",
                           "quantity": "100", "declared_value": "900", "currency": "EUR"}
            if write.kind == "screening_photo":
                photo = photo_png(rng, *self.photo_bytes)
                write.photo_sha256 = hashlib.sha256(photo).hexdigest()
                declaration["photos"] = [base64.b64encode(photo).decode()]
            status, headers, data = self.http.send("POST", "/api/v1/screenings", body=json.dumps(declaration).encode(),
                                                   headers={"Authorization": f"Bearer {self.token}",
                                                            "Content-Type": "application/json"})
        write.status, write.answered_at = status, time.monotonic() - self.started
        if write.kind in ("note", "case_photo"):
            flash = self._flash(headers) if status == 302 else None
            ok = flash is not None and flash[0] == "success"
            write.detail = (f"{flash[1]} -> {headers.get('Location')}" if flash
                            else data[:200].decode(errors="replace"))
        else:
            ok = status == 201
            if ok:
                reply = json.loads(data)
                write.check_id = reply["id"]
                if write.photo_sha256 and [p["sha256"] for p in reply["photos"]] != [write.photo_sha256]:
                    write.detail = "the reply names other photos than were sent"
                    ok = False
            else:
                write.detail = data[:200].decode(errors="replace")
        write.outcome = "acknowledged" if ok else ("failed" if status >= 500 else "refused")

    def _client(self) -> None:
        while (write := self._take()) is not None:
            try:
                self._send(write)
            except Exception as exc:  # noqa: BLE001 - every failure is counted, none ends the round
                write.detail = repr(exc)
                if not self.killed.is_set():
                    write.outcome = "failed"  # the server was not killed yet: an error of its own

    def _killer(self) -> None:
        self.reached.wait()
        time.sleep(self.rng.uniform(0, 0.25))
        with self.lock:
            self.killed.set()
            self.killed_at = time.monotonic()
        os.killpg(self.server.server.pid, signal.SIGKILL)
        self.server.server.wait()

    def run(self) -> None:
        self.started = time.monotonic()
        killer = threading.Thread(target=self._killer, daemon=True)
        killer.start()
        threads = [threading.Thread(target=self._client, daemon=True) for _ in range(self.clients)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        if not self.killed.is_set():  # every write was sent and answered before the kill moment
            self.reached.set()
        killer.join()


SENT_PHOTOS: set[str] = set()  # every photo sent in any round

# -- checking a round -------------------------------------------------------------------------

@dataclass
class Result:
    number: int
    sent: int = 0
    acknowledged: int = 0
    refused: int = 0
    failed: int = 0  # connection errors before the kill
    in_flight: int = 0
    committed_unacknowledged: int = 0
    refused_but_stored: int = 0
    lost: int = 0
    altered: int = 0  # photo rows whose bytes differ from every photo sent
    half_saved: int = 0
    broken: int = 0
    audit_ok: bool = False
    audit_events: int = 0
    orphan_blobs: int = 0
    orphan_bytes: int = 0
    orphan_temporary: int = 0
    store_matches_rows: bool = False
    kill_after_s: float = 0.0
    kill_after_writes: int = 0
    restart_s: float = 0.0
    check_s: float = 0.0
    examples: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return (self.lost == 0 and self.altered == 0 and self.half_saved == 0 and self.broken == 0 and self.audit_ok
                and self.store_matches_rows and self.refused_but_stored == 0 and self.failed == 0)


def check_round(app, round_: Round, result: Result) -> None:
    from sqlalchemy import select

    from registry.extensions import db
    from registry.models import AuditEvent, CaseEvent, Check, CheckPhoto, DetentionCase
    from registry.services import audit, blob_cleanup

    blobs = app.extensions["blobs"]
    with app.app_context():
        session = db.session
        notes = set(session.execute(select(CaseEvent.case_id, CaseEvent.note).where(CaseEvent.action == "note")).all())
        photos = set(session.execute(select(CheckPhoto.check_id, CheckPhoto.sha256)).all())
        case_check = dict(session.execute(select(DetentionCase.id, DetentionCase.check_id)).all())
        checks = set(session.scalars(select(Check.id)))
        audited = set(session.scalars(select(AuditEvent.object_id).where(AuditEvent.action == "check.create")))

        def stored(write: Write) -> bool:
            if write.kind == "note":
                return (write.case_id, write.note) in notes
            if write.kind == "case_photo":
                return (case_check[write.case_id], write.photo_sha256) in photos
            if write.check_id is None:  # unacknowledged screening: look for it by its description
                found = session.scalar(select(Check.id).where(
                    Check.description == f"crash round {round_.number} write {write.index}"))
                write.check_id = found
                return found is not None
            return write.check_id in checks and (not write.photo_sha256
                                                 or (write.check_id, write.photo_sha256) in photos)

        for write in round_.writes:
            if write.outcome == "acknowledged" and not stored(write):
                result.lost += 1
                result.examples.append(f"lost {write.kind} #{write.index}: {lost_detail(session, blobs, write)}")
                if write.case_id is not None and DUMP_DIR is not None:
                    result.examples.append(f"timeline written to {dump_case(session, round_, write, case_check)}")
            elif write.outcome == "in_flight" and stored(write):
                result.committed_unacknowledged += 1
            elif write.outcome == "refused" and stored(write):
                result.refused_but_stored += 1
                result.examples.append(f"refused but stored {write.kind} #{write.index}")
        # Photos in the database that no client sent: a write stored as something else than sent.
        sent = {w.photo_sha256 for w in round_.writes if w.photo_sha256}
        SENT_PHOTOS.update(sent)
        strangers = session.execute(select(CheckPhoto.id, CheckPhoto.check_id, CheckPhoto.byte_size,
                                           CheckPhoto.width, CheckPhoto.height, CheckPhoto.sha256)
                                    .where(CheckPhoto.sha256.not_in(SENT_PHOTOS))).all()
        result.altered = len(strangers)
        if strangers:
            result.examples.append(f"{len(strangers)} photo row(s) whose bytes no client sent (a photo stored "
                                   f"altered), e.g. {strangers[:3]}")
            SENT_PHOTOS.update(row[-1] for row in strangers)  # reported once
        result.half_saved = len(checks - audited)
        if result.half_saved:
            result.examples.append(f"checks without their audit event: {sorted(checks - audited)[:5]}")

        report = blob_cleanup.check_references(session, blobs)
        result.broken = len(report.problems)
        result.examples += [p.describe() for p in report.problems[:3]]
        chain = audit.verify_chain(session, app.extensions["signer"])
        result.audit_ok, result.audit_events = chain.ok, chain.events
        if not chain.ok:
            result.examples.append(f"audit: {chain.problem}")

        cleaned = blob_cleanup.clean_orphans(session, blobs, grace=timedelta(0))
        result.orphan_blobs, result.orphan_bytes = len(cleaned.removed), cleaned.removed_bytes
        result.orphan_temporary = len(cleaned.temporary_removed)
        named = blob_cleanup.referenced_digests(session)
        in_store = {p.name for p in blobs.root.rglob("*") if p.is_file()}
        result.store_matches_rows = in_store == named
        if not result.store_matches_rows:
            result.examples.append(f"store vs rows: {len(in_store - named)} unnamed, {len(named - in_store)} missing")
        session.remove()


DUMP_DIR: Path | None = None  # where --keep writes what it finds about a lost write


def dump_case(session, round_: Round, lost: Write, case_check: dict) -> Path:
    from sqlalchemy import select

    from registry.models import AuditEvent, CaseEvent, CheckPhoto

    events = [dict(id=e.id, at=e.at.isoformat(), action=e.action, note=e.note, details=e.details)
              for e in session.scalars(select(CaseEvent).where(CaseEvent.case_id == lost.case_id).order_by(CaseEvent.id))]
    photos = [dict(id=p.id, position=p.position, sha256=p.sha256, byte_size=p.byte_size)
              for p in session.scalars(select(CheckPhoto).where(CheckPhoto.check_id == case_check[lost.case_id])
                                       .order_by(CheckPhoto.id))]
    audits = [dict(seq=a.seq, at=a.at.isoformat(), action=a.action, after=a.after)
              for a in session.scalars(select(AuditEvent).where(AuditEvent.object_type == "case",
                                                                AuditEvent.object_id == lost.case_id)
                                       .order_by(AuditEvent.seq))]
    writes = [dict(index=w.index, kind=w.kind, outcome=w.outcome, status=w.status, sha256=w.photo_sha256,
                   size=w.photo_size, note=w.note, sent_at=w.sent_at, answered_at=w.answered_at, detail=w.detail)
              for w in round_.writes if w.case_id == lost.case_id]
    path = DUMP_DIR / f"lost-round{round_.number}-write{lost.index}.json"
    path.write_text(json.dumps(dict(lost=lost.index, events=events, photos=photos, audit=audits, writes=writes),
                               indent=1, default=str))
    return path


def lost_detail(session, blobs, write: Write) -> str:
    """Where a lost write's traces are, to tell a lost commit from a misfiled one."""
    from sqlalchemy import select

    from registry.models import AuditEvent, CaseEvent, CheckPhoto

    said = f"answered {write.status} '{write.detail}' ({write.sent_at:.2f}-{write.answered_at:.2f} s)"
    if write.kind == "note":
        events = session.execute(select(CaseEvent.case_id, CaseEvent.action).where(CaseEvent.note == write.note)).all()
        return f"case {write.case_id}; {said}; timeline entries with its text: {events}"
    if write.photo_sha256:
        rows = session.execute(select(CheckPhoto.id, CheckPhoto.check_id).where(
            CheckPhoto.sha256 == write.photo_sha256)).all()
        audited = [seq for seq, after in session.execute(select(AuditEvent.seq, AuditEvent.after).where(
            AuditEvent.object_type.in_(("case", "check")))) if write.photo_sha256 in json.dumps(after or {})]
        return (f"case {write.case_id}, check {write.check_id}, photo {write.photo_sha256[:12]} "
                f"({write.photo_size} bytes); {said}; "
                f"photo rows {rows}; audit events naming it {audited}; blob in store {blobs.exists(write.photo_sha256)}")
    return f"check {write.check_id}; {said}"


# -- set-up -----------------------------------------------------------------------------------

def seed(app) -> tuple[str, list[int]]:
    """A holder with a registered word mark, the officer's API token, and open cases to write to."""
    from datetime import date, timedelta as days

    from sqlalchemy import select

    from registry.extensions import db
    from registry.models import OrganisationStatus, Role, User
    from registry.services import api_tokens, cases, organisations, rights, users
    from registry.services.checks import screen_declaration
    from registry.services.products import UploadPolicy
    from registry.services.profiles import load_profiles

    with app.app_context():
        session = db.session
        officer = session.scalar(select(User).where(User.email == BENCH_OFFICER))
        admin = users.create_user(session, None, email="admin@crash.example", name="Admin",
                                  password=BENCH_PASSWORD, role=Role.ADMIN)
        holder = organisations.register_organisation(session, {"name": "Velorun Sports GmbH", "country": "DE"},
                                                     user_name="Holder", email="holder@velorun.example",
                                                     password=BENCH_PASSWORD)
        organisations.set_organisation_status(session, admin, holder.organisation, OrganisationStatus.APPROVED)
        today = date.today()
        rights.register_right(session, holder, holder.organisation_id, {
            "kind": "word", "mark_text": "VELORUN", "registration_number": "EU-VELORUN-1", "office": "EUIPO",
            "nice_classes": "25", "protection_number": "AFA-VELORUN", "protection_jurisdictions": "EU",
            "protection_valid_from": today - days(days=10), "protection_valid_until": today + days(days=300)})
        _, token = api_tokens.create_token(session, officer, "crash rounds")
        session.commit()
        case_ids = []
        for n in range(CASES):
            check = screen_declaration(session, officer, app.extensions["blobs"], app.extensions["engine"],
                                       UploadPolicy(), {"description": f"detained goods {n}", "declared_brand": "Ve1orun"})
            session.flush()
            case = cases.open_detention(session, officer, load_profiles(), check.id, {
                "jurisdiction": "EU", "legal_basis": "ex_officio", "office": "Hamburg customs office",
                "office_country": "DE"})
            session.commit()
            case_ids.append(case.id)
        session.remove()
    return token, case_ids


def start_server(env: dict[str, str], args, token: str) -> tuple[Gunicorn, int, float]:
    """gunicorn in its own process group, and the seconds until it served a database read."""
    began = time.monotonic()
    server = Gunicorn(env, workers=args.workers, threads=args.threads)
    port = server.__enter__()
    client = Http(port)
    deadline = time.monotonic() + 120
    while True:
        try:
            status, _, _ = client.send("GET", "/api/v1/cases", headers={"Authorization": f"Bearer {token}"})
            if status == 200:
                return server, port, time.monotonic() - began
        except (OSError, http.client.HTTPException):
            pass
        if time.monotonic() > deadline:
            server.__exit__(None, None, None)
            raise SystemExit("the restarted app did not serve within 120 s")
        time.sleep(0.1)


def print_line(r: Result) -> None:
    print(f"round {r.number:2}: sent {r.sent:4}, acknowledged {r.acknowledged:4}, refused {r.refused:2}, "
          f"failed {r.failed}, in flight at kill {r.in_flight:2} "
          f"({r.committed_unacknowledged} committed unacknowledged); lost {r.lost}, altered {r.altered}, "
          f"half-saved {r.half_saved}, "
          f"broken refs {r.broken}, audit {'ok' if r.audit_ok else 'BROKEN'} ({r.audit_events} events); "
          f"orphans removed {r.orphan_blobs} blobs ({r.orphan_bytes / 1e6:.1f} MB) + {r.orphan_temporary} temp, "
          f"store = rows {'yes' if r.store_matches_rows else 'NO'}; killed after {r.kill_after_writes} writes "
          f"({r.kill_after_s:.1f} s), restart {r.restart_s:.1f} s, checks {r.check_s:.1f} s"
          f"{'' if r.ok else '  FAILED'}", flush=True)
    for example in r.examples[:5]:
        print(f"          {example}")


def print_summary(results: list[Result]) -> None:
    columns = [("round", lambda r: r.number), ("sent", lambda r: r.sent), ("acked", lambda r: r.acknowledged),
               ("refused", lambda r: r.refused), ("failed", lambda r: r.failed), ("in flight", lambda r: r.in_flight),
               ("committed unacked", lambda r: r.committed_unacknowledged),
               ("refused but stored", lambda r: r.refused_but_stored), ("lost", lambda r: r.lost),
               ("altered", lambda r: r.altered),
               ("half-saved", lambda r: r.half_saved), ("broken refs", lambda r: r.broken),
               ("audit", lambda r: "ok" if r.audit_ok else "BROKEN"), ("orphan blobs", lambda r: r.orphan_blobs),
               ("orphan temp", lambda r: r.orphan_temporary),
               ("store=rows", lambda r: "yes" if r.store_matches_rows else "NO"),
               ("kill at s", lambda r: f"{r.kill_after_s:.1f}"), ("restart s", lambda r: f"{r.restart_s:.1f}")]
    rows = [[str(get(r)) for _, get in columns] for r in results]
    totals = ["total", *(str(sum(getattr(r, a) for r in results)) for a in ("sent", "acknowledged", "refused", "failed")),
              *(str(sum(getattr(r, a) for r in results)) for a in ("in_flight", "committed_unacknowledged", "refused_but_stored", "lost", "altered",
                                                                     "half_saved", "broken")),
              f"{sum(r.audit_ok for r in results)}/{len(results)} ok",
              str(sum(r.orphan_blobs for r in results)), str(sum(r.orphan_temporary for r in results)),
              f"{sum(r.store_matches_rows for r in results)}/{len(results)}",
              "", f"{max((r.restart_s for r in results), default=0):.1f} max"]
    widths = [max(len(name), *(len(row[i]) for row in rows + [totals])) for i, (name, _) in enumerate(columns)]
    line = lambda cells: "  ".join(cell.rjust(width) for cell, width in zip(cells, widths))  # noqa: E731
    print()
    print(line([name for name, _ in columns]))
    for row in rows:
        print(line(row))
    print(line(totals))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=20)
    ap.add_argument("--writes", type=int, default=1000, help="writes sent per round at most (the kill cuts it short)")
    ap.add_argument("--clients", type=int, default=8, help="client threads")
    ap.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    ap.add_argument("--threads", type=int, default=4, help="threads per worker")
    ap.add_argument("--photo-mb", type=float, nargs=2, default=(1.0, 5.0), metavar=("MIN", "MAX"))
    ap.add_argument("--database", default="", help="SQLAlchemy URL (default: a private PostgreSQL cluster)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--keep", action="store_true", help="keep the work folder (blobs, key, logs)")
    args = ap.parse_args(argv)

    work = Path(tempfile.mkdtemp(prefix="crash-rounds-"))
    global DUMP_DIR
    DUMP_DIR = work if args.keep else None
    cluster = None
    server = None
    results: list[Result] = []
    try:
        database = args.database
        if not database:
            from tests.pgcluster import PgCluster

            cluster = PgCluster(durable=True).__enter__()
            database = cluster.create_database("crash_rounds")
            print(f"private PostgreSQL cluster on 127.0.0.1:{cluster.port} ({cluster.bindir})")
        app, env = fresh_app(work, database, "")
        env.pop("REDIS_URL", None)
        env["MAIL_OUTBOX_DIR"] = str(work / "outbox")
        env["RATELIMIT_STORAGE_URI"] = "memory://"
        token, case_ids = seed(app)
        server, port, restart = start_server(env, args, token)
        cookie, csrf = sign_in(port)
        rng = random.Random(f"crash:{args.seed}")
        photo_bytes = (int(args.photo_mb[0] * 1e6), int(args.photo_mb[1] * 1e6))
        print(f"{args.rounds} round(s) of up to {args.writes} writes from {args.clients} clients; gunicorn "
              f"{args.workers} workers x {args.threads} threads; photos {args.photo_mb[0]}-{args.photo_mb[1]} MB; "
              f"work folder {work}", flush=True)
        for number in range(1, args.rounds + 1):
            kill_after = rng.randint(max(1, args.writes // 10), args.writes)
            round_ = Round(number, app, server, port, token=token, cookie=cookie, csrf=csrf, case_ids=case_ids,
                           writes=args.writes, clients=args.clients, kill_after=kill_after,
                           photo_bytes=photo_bytes, seed=args.seed)
            round_.run()
            result = Result(number, kill_after_writes=kill_after,
                            kill_after_s=(round_.killed_at or time.monotonic()) - round_.started)
            for write in round_.writes:
                result.sent += 1
                result.acknowledged += write.outcome == "acknowledged"
                result.refused += write.outcome == "refused"
                result.failed += write.outcome == "failed"
                result.in_flight += write.outcome == "in_flight"
                if write.outcome in ("refused", "failed") and len(result.examples) < 2:
                    detail = " ".join(write.detail.split())[:160]
                    result.examples.append(f"{write.outcome} {write.kind} #{write.index}: {write.status} {detail}")
            server, port, result.restart_s = start_server(env, args, token)
            began = time.monotonic()
            check_round(app, round_, result)
            result.check_s = time.monotonic() - began
            results.append(result)
            print_line(result)
    finally:
        if server is not None:
            server.__exit__(None, None, None)
        if cluster is not None:
            cluster.__exit__(None, None, None)
        if args.keep:
            print(f"work folder kept: {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    print_summary(results)
    failed = [r.number for r in results if not r.ok]
    print(f"\n{len(results) - len(failed)}/{len(results)} rounds passed"
          + (f"; failed: {failed}" if failed else "") + ".")
    return 1 if failed or len(results) < args.rounds else 0


if __name__ == "__main__":
    sys.exit(main())
