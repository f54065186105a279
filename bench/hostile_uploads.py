"""Hostile uploads at scale: the whole corpus of ``tests/hostile_corpus.py`` over HTTP to gunicorn.

    .venv/bin/python -m bench.hostile_uploads                    # SQLite, 2 workers, every upload route
    .venv/bin/python -m bench.hostile_uploads --database postgresql://postgres@127.0.0.1:5432/hostilebench
    .venv/bin/python -m bench.hostile_uploads --routes "reference image,screening api (multipart)" --no-huge

The app is served by gunicorn (``--workers`` sync workers) on a fresh database with an officer,
an approved rights holder with a registered mark and product, and an open detention case.
Every file of the corpus (genuine controls included) is sent, one request at a time, to each
upload route as the user who would send it: reference images and the dossier import as the
holder; the check page, the screening API (multipart and base64) and case photos as the
officer. Then the streamed bodies (1 GiB and 120 MiB, ``Transfer-Encoding: chunked``, made by
a generator and never held in memory) go to the photo routes: multipart to the screening API
and to the check page, and base64 in JSON to the screening API.

Printed: requests sent; status counts per category; server errors (5xx or a dropped
connection; must be 0); files whose outcome was wrong (a hostile file accepted, a genuine one
refused); worker deaths (worker pids before and after, and gunicorn's log for "WORKER TIMEOUT"
or "exited"); the largest and the 99th-percentile request time per category (target: under
2 s); each worker's resident memory, sampled from /proc every 20 ms while a category's
requests ran, and its high-water mark (VmHWM) at the end (target: under 512 MB); and, after
the run, whether every stored image re-validates (decodes under the same checks, hashes to its
name, thumbnail without EXIF) and whether any blob was left that no row refers to.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import io
import re
import shutil
import socket
import statistics
import tempfile
import threading
import time
import zipfile
from collections import Counter, defaultdict
from pathlib import Path

import requests

from bench.appsetup import BENCH_OFFICER, BENCH_PASSWORD, fresh_app
from bench.httpload import Gunicorn
from tests.hostile_corpus import ACCEPT, REFUSE, Upload, corpus

HOLDER_EMAIL = "holder@hostile.example"
ROUTES = ["reference image", "check page", "screening api (multipart)", "screening api (base64)", "case photos",
          "dossier import"]
TARGET_SECONDS = 2.0
TARGET_RSS_MB = 512


# -- the world the uploads go into -------------------------------------------------------------

def seed_world(app) -> dict:
    """A holder with an approved organisation, a word mark and a product; API tokens."""
    from datetime import date, timedelta

    from registry.extensions import db
    from registry.models import OrganisationStatus, Role, User
    from registry.services import api_tokens, organisations, products, rights, users

    with app.app_context():
        admin = users.create_user(db.session, None, email="admin@hostile.example", name="Admin",
                                  password=BENCH_PASSWORD, role=Role.ADMIN)
        holder = organisations.register_organisation(db.session, {"name": "Alpha Brands GmbH", "country": "DE"},
                                                     user_name="Alpha holder", email=HOLDER_EMAIL,
                                                     password=BENCH_PASSWORD)
        organisations.set_organisation_status(db.session, admin, holder.organisation, OrganisationStatus.APPROVED)
        today = date.today()
        right = rights.register_right(db.session, holder, holder.organisation_id, {
            "kind": "word", "mark_text": "ALPHA", "registration_number": "ALPHA-001", "office": "EUIPO",
            "nice_classes": "25", "protection_number": "AFA-ALPHA", "protection_jurisdictions": "EU",
            "protection_valid_from": today - timedelta(days=10), "protection_valid_until": today + timedelta(days=200)})
        product = products.register_product(db.session, holder, holder.organisation_id, {
            "name": "Alpha Runner", "model": "R1", "category": "shoes", "right_id": right.id, "hs_codes": "6404.11",
            "price_min": "50", "price_max": "90", "currency": "EUR", "production_countries": "VN"})
        officer = db.session.query(User).filter_by(email=BENCH_OFFICER).one()
        _, officer_token = api_tokens.create_token(db.session, officer, "hostile uploads")
        db.session.commit()
        return {"product_id": product.id, "officer_token": officer_token}


class WebUser:
    """A signed-in browser: a session cookie and the form's CSRF token."""

    def __init__(self, base: str, email: str, landing: str) -> None:
        self.base, self.http = base, requests.Session()
        self.token = self._token("/login")
        response = self.http.post(base + "/login", data={"email": email, "password": BENCH_PASSWORD,
                                                         "csrf_token": self.token}, allow_redirects=False)
        if response.status_code != 302:
            raise SystemExit(f"could not sign in as {email}: {response.status_code}")
        self.token = self._token(landing)

    def _token(self, path: str) -> str:
        page = self.http.get(self.base + path).text
        match = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page) or \
            re.search(r'name="csrf_token" value="([^"]+)"', page)
        if not match:
            raise SystemExit(f"no CSRF token on {path}")
        return match.group(1)

    def post(self, path: str, data: dict, files: dict, **kwargs) -> requests.Response:
        return self.http.post(self.base + path, data={**data, "csrf_token": self.token}, files=files,
                              allow_redirects=False, timeout=120, **kwargs)


def open_case(app, base: str, officer: WebUser) -> int:
    """A check of a look-alike declaration, detained: the case whose photos route is used."""
    from registry.extensions import db
    from registry.models import Check, DetentionCase

    response = officer.post("/checks/new", {"declared_brand": "A1pha", "description": "running shoes, mixed sizes",
                                            "manufacturer": "Guangzhou Quick Shoes Trading", "origin_country": "China",
                                            "quantity": "500", "declared_value": "1500", "currency": "EUR",
                                            "hs_code": "6404.11"}, {})
    check_id = int(response.headers["Location"].rstrip("/").split("/")[-1])
    with app.app_context():
        suggestion = db.session.get(Check, check_id).suggestions[0].id
    officer.token = officer._token(f"/checks/{check_id}/detain")
    response = officer.post(f"/checks/{check_id}/detain", {
        "suggestion_id": str(suggestion), "jurisdiction": "EU", "procedure": "standard", "legal_basis": "application",
        "office": "Hamburg customs office", "office_country": "DE", "goods_description": "500 pairs of running shoes",
        "goods_quantity": "500", "goods_unit": "pairs"}, {})
    if response.status_code != 302:
        raise SystemExit(f"could not open a case: {response.status_code}")
    with app.app_context():
        return db.session.query(DetentionCase).one().id


# -- sending ------------------------------------------------------------------------------------

class Sender:
    def __init__(self, base: str, world: dict, holder: WebUser, officer: WebUser, case_id: int) -> None:
        self.base, self.world, self.holder, self.officer, self.case_id = base, world, holder, officer, case_id
        self.api = requests.Session()
        self.api.headers["Authorization"] = f"Bearer {world['officer_token']}"

    def send(self, route: str, item: Upload, index: int) -> tuple[int, bool]:
        """(status, accepted) of one upload."""
        part = (item.filename, item.data, item.content_type or "application/octet-stream")
        if route == "reference image":
            r = self.holder.post(f"/dossier/products/{self.world['product_id']}/images", {"kind": "packaging"},
                                 {"image": part})
            return r.status_code, r.status_code == 302
        if route == "check page":
            r = self.officer.post("/checks/new", {"declared_brand": "Acme", "description": "cartons"}, {"photos": part})
            return r.status_code, r.status_code == 302
        if route == "screening api (multipart)":
            r = self.api.post(self.base + "/api/v1/screenings", data={"declared_brand": "Acme"},
                              files={"photos": part}, timeout=120)
            return r.status_code, r.status_code == 201
        if route == "screening api (base64)":
            r = self.api.post(self.base + "/api/v1/screenings", timeout=120,
                              json={"declared_brand": "Acme", "photos": [base64.b64encode(item.data).decode()]})
            return r.status_code, r.status_code == 201
        if route == "case photos":
            r = self.officer.post(f"/cases/{self.case_id}/photos", {}, {"photos": part})
            return r.status_code, r.status_code == 302  # the outcome is read from the flash afterwards
        if route == "dossier import":
            entry = f"image-{index:04d}{Path(item.filename).suffix[:8]}"
            if item.category == "archive":
                archive, entry = item.data, "image.jpg"
            else:
                out = io.BytesIO()
                with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as zipped:
                    zipped.writestr(entry, item.data)
                archive = out.getvalue()
            csv = ("name,model,category,brand,images\n"
                   f"Hostile {index:04d},H{index},shoes,ALPHA,packaging:{entry}\n").encode()
            r = self.holder.post("/dossier/import", {"kind": "products"},
                                 {"data": ("products.csv", csv, "text/csv"),
                                  "images": ("images.zip", archive, "application/zip")})
            return r.status_code, r.status_code == 200 and "1</strong> created" in r.text
        raise ValueError(route)

    def case_outcome(self) -> bool:
        page = self.officer.http.get(f"{self.base}/cases/{self.case_id}", timeout=120).text
        return "Photos added." in page


def send_streamed(port: int, head: bytes, body) -> tuple[str, float, int]:
    """Send a chunked body from a generator while reading the answer on the same socket.

    Returns (status or error, seconds until the server answered, bytes sent by then)."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=300)
    answer: dict = {}

    def read() -> None:
        try:
            reader = sock.makefile("rb")
            line = reader.readline()
            answer["at"] = time.perf_counter()
            answer["status"] = line.split()[1].decode() if line else "closed"
        except OSError as exc:
            answer["at"] = time.perf_counter()
            answer["status"] = type(exc).__name__

    began = time.perf_counter()
    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    sent = 0
    try:
        sock.sendall(head)
        for piece in body:
            if "status" in answer:
                break  # answered: the rest is not needed
            sock.sendall(b"%x\r\n" % len(piece) + piece + b"\r\n")
            sent += len(piece)
        else:
            sock.sendall(b"0\r\n\r\n")
    except OSError:
        pass  # the server stopped reading and closed: its answer says why
    reader.join(timeout=300)
    sock.close()
    return answer.get("status", "no answer"), answer.get("at", time.perf_counter()) - began, sent


def multipart_stream(boundary: str, fields: dict, name: str, item: Upload):
    yield "".join(f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'
                  for k, v in fields.items()).encode()
    yield (f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; filename="{item.filename}"\r\n'
           f"Content-Type: {item.content_type}\r\n\r\n").encode()
    yield from item.chunks()
    yield f"\r\n--{boundary}--\r\n".encode()


def base64_json_stream(item: Upload):
    yield b'{"declared_brand": "Acme", "photos": ["'
    left = b""
    for piece in item.chunks():
        piece = left + piece
        cut = len(piece) - len(piece) % 3
        yield base64.b64encode(piece[:cut])
        left = piece[cut:]
    yield base64.b64encode(left) + b'"]}'


def head(path: str, content_type: str, *, token: str | None = None, cookies: str | None = None) -> bytes:
    lines = [f"POST {path} HTTP/1.1", "Host: 127.0.0.1", "Transfer-Encoding: chunked", f"Content-Type: {content_type}",
             "Accept: application/json, text/html"]
    if token:
        lines.append(f"Authorization: Bearer {token}")
    if cookies:
        lines.append(f"Cookie: {cookies}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


# -- watching the workers -----------------------------------------------------------------------

def children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.append(int(entry.name))
    return sorted(found)


def status_kb(pid: int, key: str) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


class MemoryWatch:
    """Samples the workers' resident memory; the peak is kept per label (the category being sent)."""

    def __init__(self, master: int) -> None:
        self.master, self.label = master, "startup"
        self.peaks: dict[str, int] = defaultdict(int)
        self.pids: set[int] = set(children(master))
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        tick = 0
        while not self._stop.wait(0.02):
            tick += 1
            if tick % 50 == 0:
                self.pids |= set(children(self.master))
            rss = max((status_kb(pid, "VmRSS") for pid in self.pids), default=0)
            self.peaks[self.label] = max(self.peaks[self.label], rss)

    def __enter__(self) -> MemoryWatch:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()


# -- after the run ------------------------------------------------------------------------------

def revalidate(app, blob_root: Path) -> dict:
    """Every stored image decodes again under the same checks; no blob without a row."""
    from PIL import Image

    from registry.extensions import db
    from registry.models import BulkChunk, BulkJob, CheckPhoto, EvidenceExport, ReferenceImage
    from registry.services.uploads import inspect_image

    limits = {"max_bytes": app.config["MAX_IMAGE_BYTES"], "max_pixels": app.config["MAX_IMAGE_PIXELS"]}
    result = {"rows": 0, "revalidated": 0, "problems": []}
    referenced: set[str] = set()
    with app.app_context():
        for model in (ReferenceImage, CheckPhoto):
            for row in db.session.query(model):
                result["rows"] += 1
                referenced |= {row.sha256, row.thumbnail_sha256}
                try:
                    data = (blob_root / row.sha256[:2] / row.sha256[2:4] / row.sha256).read_bytes()
                    thumb = (blob_root / row.thumbnail_sha256[:2] / row.thumbnail_sha256[2:4]
                             / row.thumbnail_sha256).read_bytes()
                    assert hashlib.sha256(data).hexdigest() == row.sha256, "hash"
                    assert inspect_image(data, **limits).content_type == row.content_type, "type"
                    with Image.open(io.BytesIO(thumb)) as image:
                        assert image.format == "PNG" and not image.getexif(), "thumbnail metadata"
                    name = row.original_filename or ""
                    assert name.isprintable() and not set(name) & set("/\\\x00\u202e\u202d"), "file name"
                    result["revalidated"] += 1
                except Exception as exc:  # noqa: BLE001 - reported, not raised: the figures come first
                    result["problems"].append(f"{model.__name__} {row.id}: {exc}")
        referenced |= {j.manifest_sha256 for j in db.session.query(BulkJob)}
        referenced |= {c.lines_sha256 for c in db.session.query(BulkChunk)}
        referenced |= {e.package_sha256 for e in db.session.query(EvidenceExport) if getattr(e, "package_sha256", None)}
    on_disk = {p.name for p in blob_root.rglob("*") if p.is_file()}
    result["orphans"] = sorted(on_disk - referenced)
    result["temp files"] = sorted(p.name for p in blob_root.rglob(".tmp-*"))
    return result


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--database", default="", help="SQLAlchemy URL (default: a fresh SQLite file)")
    ap.add_argument("--redis", default="", help="Redis for rate-limit counters ('' for each worker's memory)")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--routes", default=",".join(ROUTES), help="comma-separated, of: " + ", ".join(ROUTES))
    ap.add_argument("--categories", default="", help="only these corpus categories (comma-separated; default all)")
    ap.add_argument("--no-huge", action="store_true", help="skip the streamed 1 GiB and 120 MiB bodies")
    ap.add_argument("--keep", action="store_true", help="keep the work folder")
    args = ap.parse_args(argv)
    routes = [r.strip() for r in args.routes.split(",") if r.strip()]  # "" for the streamed bodies only
    unknown = set(routes) - set(ROUTES)
    if unknown:
        raise SystemExit(f"unknown routes: {sorted(unknown)}")

    began = time.perf_counter()
    items = corpus()
    wanted = {c.strip() for c in args.categories.split(",") if c.strip()}
    files = [i for i in items if not i.streamed and (not wanted or i.category in wanted)]
    streamed = [i for i in items if i.streamed]
    print(f"corpus: {len(items)} files ({len(files)} sent to each route, {len(streamed)} streamed), "
          f"made in {time.perf_counter() - began:.1f} s")

    work = Path(tempfile.mkdtemp(prefix="hostile-uploads-"))
    app, env = fresh_app(work, args.database, args.redis)
    world = seed_world(app)
    log = work / "gunicorn.log"
    # The workers warn about every damaged EXIF block they read; the figures are what matter here.
    env = {**env, "GUNICORN_CMD_ARGS": f"--error-logfile {log} --timeout 60", "PYTHONWARNINGS": "ignore::UserWarning"}
    server = Gunicorn(env, workers=args.workers)
    stats: dict[str, dict[str, list]] = defaultdict(lambda: defaultdict(list))  # category -> statuses, seconds
    wrong: list[str] = []
    slow: list[tuple[float, str, str]] = []
    rebuilds: list[tuple[str, float]] = []
    errors = 0
    with server as port:
        base = f"http://127.0.0.1:{port}"
        master = server.server.pid
        holder = WebUser(base, HOLDER_EMAIL, "/dossier/profile")
        officer = WebUser(base, BENCH_OFFICER, "/checks/new")
        case_id = open_case(app, base, officer)
        sender = Sender(base, world, holder, officer, case_id)
        workers_before = children(master)
        baseline = {pid: status_kb(pid, "VmRSS") for pid in workers_before}
        print(f"gunicorn: {args.workers} workers {workers_before} on port {port}; resident memory after warm-up: "
              + ", ".join(f"{kb / 1024:.0f} MB" for kb in baseline.values()))
        with MemoryWatch(master) as memory:
            for route in routes:
                route_began = time.perf_counter()
                if route in ("dossier import",):
                    holder.token = holder._token("/dossier/import")
                if route in ("check page", "screening api (multipart)", "screening api (base64)", "case photos"):
                    # The first screening after the registry changed (the reference images just
                    # uploaded) rebuilds each worker's matching engine: timed apart, not per file.
                    memory.label = "engine rebuild"
                    started = time.perf_counter()
                    for _ in range(2 * args.workers):
                        sender.api.post(base + "/api/v1/screenings", json={"declared_brand": "Acme"}, timeout=300)
                    rebuilds.append((route, time.perf_counter() - started))
                for index, item in enumerate(files):
                    memory.label = item.category
                    started = time.perf_counter()
                    try:
                        status, accepted = sender.send(route, item, index)
                        seconds = time.perf_counter() - started
                        if route == "case photos" and status == 302:
                            accepted = sender.case_outcome()
                            status = 302 if accepted else 400  # refused: the case page says why
                    except requests.RequestException as exc:
                        status, accepted, seconds = type(exc).__name__, False, time.perf_counter() - started
                    stats[item.category]["status"].append(status)
                    stats[item.category]["seconds"].append(seconds)
                    stats[item.category]["route"].append(route)
                    slow.append((seconds, route, item.label))
                    if not isinstance(status, int) or status >= 500:
                        errors += 1
                        wrong.append(f"{route}: {item.category}/{item.label}: server error {status}")
                    elif item.expect == ACCEPT and not accepted:
                        wrong.append(f"{route}: {item.category}/{item.label}: a genuine image was refused ({status})")
                    elif item.expect == REFUSE and accepted:
                        wrong.append(f"{route}: {item.category}/{item.label}: a hostile file was accepted")
                print(f"  {route}: {len(files)} files in {time.perf_counter() - route_began:.0f} s", flush=True)
            if not args.no_huge:
                cookies = "; ".join(f"{k}={v}" for k, v in officer.http.cookies.items())
                for item in streamed:
                    boundary = "hostile" + hashlib.sha256(item.label.encode()).hexdigest()[:16]
                    for route, request_head, body in (
                            ("screening api (multipart), chunked",
                             head("/api/v1/screenings", f"multipart/form-data; boundary={boundary}",
                                  token=world["officer_token"]),
                             multipart_stream(boundary, {"declared_brand": "Acme"}, "photos", item)),
                            ("check page (multipart), chunked",
                             head("/checks/new", f"multipart/form-data; boundary={boundary}", cookies=cookies),
                             multipart_stream(boundary, {"csrf_token": officer.token, "declared_brand": "Acme"},
                                              "photos", item)),
                            ("screening api (base64 JSON), chunked",
                             head("/api/v1/screenings", "application/json", token=world["officer_token"]),
                             base64_json_stream(item))):
                        label = f"{item.label} -> {route}"
                        memory.label = label
                        resident = max(status_kb(pid, "VmRSS") for pid in children(master))
                        status, seconds, sent = send_streamed(port, request_head, body)
                        stats[label]["status"].append(int(status) if status.isdigit() else status)
                        stats[label]["seconds"].append(seconds)
                        stats[label]["route"].append(route)
                        time.sleep(0.1)  # the sampler's last look at the worker that answered
                        print(f"  {label}: {status} after {seconds:.2f} s, {sent / 2**20:,.0f} MiB sent by then; "
                              f"worker memory {resident / 1024:.0f} MB before, {memory.peaks[label] / 1024:.0f} MB at most",
                              flush=True)
                        if not status.isdigit() or int(status) >= 500:
                            errors += 1
                            wrong.append(f"{label}: server error {status}")
                        elif int(status) < 400:
                            wrong.append(f"{label}: accepted ({status})")
        workers_after = children(master)
        high_water = {pid: status_kb(pid, "VmHWM") for pid in workers_after}
    log_text = log.read_text() if log.exists() else ""
    deaths = [line for line in log_text.splitlines()
              if re.search(r"WORKER TIMEOUT|exited|SIGKILL|out of memory", line, re.IGNORECASE)]
    checked = revalidate(app, work / "blobs")

    # -- figures -----------------------------------------------------------------------------
    total = sum(len(s["status"]) for s in stats.values())
    print(f"\nrequests sent: {total:,} ({len(files)} files x {len(routes)} routes"
          f"{'' if args.no_huge else f' + {len(streamed) * 3} streamed'})")
    print(f"{'category':58} {'requests':>8} {'max s':>7} {'p99 s':>7} {'peak RSS':>9}  statuses")
    for category, s in stats.items():
        seconds = sorted(s["seconds"])
        p99 = seconds[min(len(seconds) - 1, int(0.99 * len(seconds)))]
        peak = memory.peaks.get(category, 0)
        counts = Counter(str(x) for x in s["status"])
        print(f"{category[:58]:58} {len(seconds):>8} {seconds[-1]:>7.2f} {p99:>7.2f} {peak / 1024:>6.0f} MB  "
              + ", ".join(f"{k}: {v}" for k, v in sorted(counts.items())))
    slowest = max(((max(s["seconds"]), c) for c, s in stats.items()), default=(0.0, "-"))
    over = sum(1 for s in stats.values() for x in s["seconds"] if x > TARGET_SECONDS)
    print(f"\nserver errors: {errors}")
    print(f"wrong outcomes: {len(wrong)}" + "".join(f"\n  {w}" for w in wrong[:30]))
    print(f"worker deaths: {len(set(workers_before) - set(workers_after))} (pids before {workers_before}, "
          f"after {workers_after}); gunicorn log lines about dead or timed-out workers: {len(deaths)}"
          + "".join(f"\n  {d}" for d in deaths[:10]))
    if rebuilds:
        print("warm-up screenings before a screening route (engine rebuilt after the registry changed): "
              + ", ".join(f"{route}: {t:.2f} s for {2 * args.workers}" for route, t in rebuilds))
    print(f"slowest request: {slowest[0]:.2f} s ({slowest[1]}); requests over {TARGET_SECONDS:.0f} s: {over}; "
          "the slowest files:" + "".join(f"\n  {t:.2f} s  {route}: {label}" for t, route, label in sorted(slow)[-5:]))
    print("worker memory high-water mark (VmHWM): "
          + ", ".join(f"pid {pid}: {kb / 1024:.0f} MB" for pid, kb in high_water.items())
          + f"; target under {TARGET_RSS_MB} MB")
    print(f"stored image rows: {checked['rows']}, re-validated: {checked['revalidated']}, problems: "
          f"{len(checked['problems'])}{''.join(chr(10) + '  ' + p for p in checked['problems'][:10])}; "
          f"blobs no row refers to: {len(checked['orphans'])}; temp files left: {len(checked['temp files'])}")
    print(f"total time: {time.perf_counter() - began:.0f} s; median request "
          f"{statistics.median([x for s in stats.values() for x in s['seconds']] or [0]) * 1e3:.0f} ms")
    if args.keep:
        print(f"work folder: {work}")
    else:
        shutil.rmtree(work, ignore_errors=True)
    over_memory = any(kb > TARGET_RSS_MB * 1024 for kb in high_water.values())
    failed = errors or wrong or deaths or checked["problems"] or checked["orphans"] or over or over_memory
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
