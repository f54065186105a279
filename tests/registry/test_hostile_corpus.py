"""The hostile-upload corpus (``tests/hostile_corpus.py``) through every route that takes a file.

For every file: no server error; a hostile file is refused with a reason naming the problem
and leaves no row and no blob behind; a genuine one is accepted. After the run the image
tables hold exactly the files that were accepted, every stored original decodes again under
the same checks and still hashes to its name, every thumbnail is a plain PNG with no EXIF (no
GPS) and nothing of the upload's metadata, and no stored file name carries a path, a NUL, a
direction override or a control character.

The whole corpus goes through one route per backend (reference images on SQLite, the
screening API on PostgreSQL); every other route gets a sample with every category in it. The
1 GiB streamed body is sent over HTTP by ``bench/hostile_uploads.py``, not here.
"""

from __future__ import annotations

import base64
import hashlib
import html
import io
import json
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest
from PIL import Image
from sqlalchemy import func, select

from registry.models import BulkChunk, BulkJob, Check, CheckPhoto, Product, ReferenceImage
from registry.services import api_tokens
from registry.services.errors import ValidationError
from registry.services.uploads import ALLOWED_FORMATS, inspect_image
from tests.hostile_corpus import ACCEPT, REFUSE, Upload, categories, corpus, sample
from tests.registry.test_bulk import _wait_until_finished
from tests.registry.test_case_pages import detain_from_a_check
from tests.registry.test_import import GOOD, product_csv

FULL_ROUTE = {"sqlite": "reference image", "postgresql": "screening api (multipart)"}
SAMPLE_PER_CATEGORY = 2
IMAGE_ROUTES = ["reference image", "check page", "screening api (multipart)", "screening api (base64)",
                "case photos", "dossier import"]
OTHER_ROUTES = ["bulk manifest", "evidence verify"]
_MARKUP = (b"<script", b"<html", b"<svg", b"<?php", b"<iframe", b"onerror", b"onload")
_THUMBNAIL_CHUNKS = {b"IHDR", b"PLTE", b"tRNS", b"IDAT", b"IEND"}


@dataclass
class Outcome:
    status: int
    accepted: bool
    text: str


def form_filename(name: str) -> str:
    """The file name as a browser puts it in a multipart body (HTML's form encoding escapes
    these three; everything else, NUL and direction overrides included, goes as it is)."""
    return name.replace('"', "%22").replace("\r", "%0D").replace("\n", "%0A")


def _file(item: Upload):
    return (io.BytesIO(item.data), form_filename(item.filename), item.content_type or "application/octet-stream")


def _page(response) -> str:
    return html.unescape(response.get_data(as_text=True))


class Route:
    """Sends one corpus file the way a user of this route would, and says what happened."""

    table = CheckPhoto

    def __init__(self, app, session, world, signed_in) -> None:
        self.app, self.session, self.world = app, session, world

    def send(self, item: Upload, index: int) -> Outcome:
        raise NotImplementedError

    def _api(self, method: str, path: str, user, **kwargs):
        if not hasattr(self, "_tokens"):
            self._tokens = {}
        if user.id not in self._tokens:
            _, secret = api_tokens.create_token(self.session, user, "hostile corpus")
            self.session.commit()
            self._tokens[user.id] = {"Authorization": f"Bearer {secret}"}
        client = self.app.test_client()
        with self.app.app_context():
            response = getattr(client, method)(path, headers=self._tokens[user.id], **kwargs)
            response.get_data()
        return response


class ReferenceImageRoute(Route):
    table = ReferenceImage

    def __init__(self, app, session, world, signed_in) -> None:
        super().__init__(app, session, world, signed_in)
        self.client = signed_in(world.a.holder)
        self.product_id = world.a.product.id

    def send(self, item, index):
        response = self.client.post(f"/dossier/products/{self.product_id}/images",
                                    {"kind": "packaging", "image": _file(item)}, content_type="multipart/form-data")
        return Outcome(response.status_code, response.status_code == 302, _page(response))


class CheckPageRoute(Route):
    def __init__(self, app, session, world, signed_in) -> None:
        super().__init__(app, session, world, signed_in)
        self.client = signed_in(world.officer)
        self.client.refresh_token("/checks/new")

    def send(self, item, index):
        response = self.client.post("/checks/new", {"declared_brand": "Acme", "description": "cartons of shoes",
                                                    "photos": _file(item)}, content_type="multipart/form-data")
        return Outcome(response.status_code, response.status_code == 302, _page(response))


class ScreeningApiMultipart(Route):
    def send(self, item, index):
        response = self._api("post", "/api/v1/screenings", self.world.officer,
                             data={"declared_brand": "Acme", "photos": _file(item)}, content_type="multipart/form-data")
        return Outcome(response.status_code, response.status_code == 201,
                       json.dumps(response.get_json(silent=True), ensure_ascii=False))


class ScreeningApiBase64(Route):
    def send(self, item, index):
        response = self._api("post", "/api/v1/screenings", self.world.officer,
                             json={"declared_brand": "Acme", "photos": [base64.b64encode(item.data).decode()]})
        return Outcome(response.status_code, response.status_code == 201,
                       json.dumps(response.get_json(silent=True), ensure_ascii=False))


class CasePhotosRoute(Route):
    def __init__(self, app, session, world, signed_in) -> None:
        super().__init__(app, session, world, signed_in)
        self.client = signed_in(world.officer)
        self.case, _ = detain_from_a_check(self.client, session)

    def send(self, item, index):
        response = self.client.post(f"/cases/{self.case.id}/photos", {"photos": _file(item)},
                                    content_type="multipart/form-data")
        if response.status_code != 302:
            return Outcome(response.status_code, False, _page(response))
        page = _page(self.client.get(response.headers["Location"]))
        # The redirect says nothing; the flashed message on the case page does.
        accepted = "Photos added." in page
        refused = "Nothing was recorded" in page
        assert accepted != refused, page[:2000]
        return Outcome(400 if refused else 200, accepted, page)


class DossierImportRoute(Route):
    table = ReferenceImage

    def __init__(self, app, session, world, signed_in) -> None:
        super().__init__(app, session, world, signed_in)
        self.client = signed_in(world.a.holder)
        self.client.refresh_token("/dossier/import")

    def send(self, item, index):
        name = f"Hostile {index:04d}"
        if item.category == "archive":
            archive, entry = item.data, "image.jpg"  # the archive itself is the hostile file
        else:
            entry = f"image-{index:04d}{Path(item.filename).suffix[:8]}"
            out = io.BytesIO()
            # Stored, not deflated: the entry is the hostile file as it is, and a ZIP of a
            # flood of zeros would otherwise be refused as a ZIP bomb before its image is read.
            with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as zipped:
                zipped.writestr(entry, item.data)
            archive = out.getvalue()
        row = {**GOOD, "name": name, "model": f"H{index}", "gtins": "", "images": f"packaging:{entry}"}
        response = self.client.post("/dossier/import", {
            "kind": "products", "data": (io.BytesIO(product_csv([row])), "products.csv"),
            "images": (io.BytesIO(archive), "images.zip", "application/zip")}, content_type="multipart/form-data")
        self.session.rollback()
        created = self.session.scalar(select(func.count(Product.id)).where(Product.name == name)) == 1
        page = _page(response)
        if response.status_code == 200 and not created:
            assert "1</strong> rejected" in response.get_data(as_text=True), page[:2000]
            return Outcome(422, False, page)  # the row was refused with its reasons
        return Outcome(response.status_code, created, page)


class BulkManifestRoute(Route):
    """Not an image route: the corpus as manifests, under their own names and renamed .csv."""

    def send(self, item, index):
        filename = item.filename if index % 2 else f"manifest-{index}.csv"
        response = self._api("post", "/api/v1/bulk-jobs", self.world.officer,
                             data={"manifest": (io.BytesIO(item.data), filename)}, content_type="multipart/form-data")
        return Outcome(response.status_code, response.status_code == 202,
                       json.dumps(response.get_json(silent=True), ensure_ascii=False))


class EvidenceVerifyRoute(Route):
    def __init__(self, app, session, world, signed_in) -> None:
        super().__init__(app, session, world, signed_in)
        self.client = signed_in(world.legal)
        self.client.refresh_token("/evidence/verify")

    def send(self, item, index):
        response = self.client.post("/evidence/verify", {"package": _file(item)}, content_type="multipart/form-data")
        return Outcome(response.status_code, response.status_code == 200, _page(response))


ROUTE_TYPES = {"reference image": ReferenceImageRoute, "check page": CheckPageRoute,
               "screening api (multipart)": ScreeningApiMultipart, "screening api (base64)": ScreeningApiBase64,
               "case photos": CasePhotosRoute, "dossier import": DossierImportRoute,
               "bulk manifest": BulkManifestRoute, "evidence verify": EvidenceVerifyRoute}


def _blob_files(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()}


def _rows(session, table) -> int:
    session.rollback()  # a fresh snapshot: SQLite would otherwise keep showing the old one
    return session.scalar(select(func.count(table.id)))


def _items_for(route: str, backend: str) -> list[Upload]:
    items = [item for item in corpus() if not item.streamed]
    if FULL_ROUTE[backend] == route:
        return items
    picked = sample(tuple(items), SAMPLE_PER_CATEGORY)
    if route in ("dossier import", "evidence verify"):  # the routes that open ZIPs get every ZIP
        picked += [item for item in items if item.category == "archive" and item not in picked]
    return picked


@pytest.fixture
def backend(database_url) -> str:
    return "sqlite" if database_url.startswith("sqlite") else "postgresql"


def test_the_corpus_is_large_and_covers_every_kind_of_hostile_file():
    items = corpus()
    assert len(items) >= 500 and len({i.label for i in items}) == len(items)
    groups = categories(items)
    assert {"control", "pixel_flood", "decompression_bomb", "polyglot", "markup", "truncated", "empty", "exif_gps",
            "filename", "content_type", "format", "oversize", "mutated", "archive", "huge_body"} <= set(groups)
    # The floods declare up to 10^10 pixels in files of a few KB.
    floods = groups["pixel_flood"]
    assert any(b"\x00\x01\x86\xa0\x00\x01\x86\xa0" in f.data for f in floods)  # a PNG IHDR of 100000x100000
    assert max(len(f.data) for f in floods if f.label.startswith("png 100000x100000")) < 70_000
    names = [i.filename for i in groups["filename"]]
    assert any("\x00" in n for n in names) and any("\u202e" in n for n in names)
    assert any(len(n) >= 300 for n in names) and any(n.startswith("../") for n in names)
    huge = groups["huge_body"][0]
    assert huge.streamed and huge.length == 1 << 30 and not huge.data
    assert sum(len(piece) for piece in huge.chunks()) == 1 << 30
    assert corpus() is corpus() and [i.data for i in corpus()] == [i.data for i in corpus.__wrapped__()]


@pytest.mark.parametrize("route", IMAGE_ROUTES)
def test_hostile_files_are_refused_and_only_genuine_images_are_stored(route, backend, app, session, world,
                                                                      signed_in, blobs):
    sender = ROUTE_TYPES[route](app, session, world, signed_in)
    items = _items_for(route, backend)
    root = Path(blobs.root)
    existing = set(session.scalars(select(sender.table.id)))
    checks_before = _rows(session, Check)
    problems: list[str] = []
    accepted: dict[str, Upload] = {}
    files_before = _blob_files(root)
    for index, item in enumerate(items):
        rows = _rows(session, sender.table)
        outcome = sender.send(item, index)
        where = f"{item.category}/{item.label} -> {outcome.status}"
        if outcome.status >= 500:
            problems.append(f"{where}: server error")
            continue
        if item.expect == ACCEPT and not outcome.accepted:
            problems.append(f"{where}: a genuine image was refused: {_reason(outcome.text)}")
        elif item.expect == REFUSE and outcome.accepted:
            problems.append(f"{where}: a hostile file was accepted")
        added = _rows(session, sender.table) - rows
        if outcome.accepted:
            accepted[hashlib.sha256(item.data).hexdigest()] = item
            if added != 1:
                problems.append(f"{where}: accepted, but {added} rows were added")
            continue
        if not 400 <= outcome.status < 500:
            problems.append(f"{where}: neither accepted nor refused")
        elif not any(reason in outcome.text for reason in item.reasons):
            problems.append(f"{where}: refused without naming the problem ({item.reasons}): {_reason(outcome.text)}")
        if added:
            problems.append(f"{where}: refused, but a row was stored")
    assert not problems, f"{len(problems)} of {len(items)} files went wrong:\n" + "\n".join(problems[:40])

    session.rollback()
    stored = [row for row in session.scalars(select(sender.table)) if row.id not in existing]
    # Exactly the accepted files, each once, and nothing else.
    assert sorted(row.sha256 for row in stored) == sorted(accepted)
    assert {i.label for i in accepted.values()} >= {i.label for i in items if i.expect == ACCEPT}
    if route.startswith(("check page", "screening api")):
        assert _rows(session, Check) == checks_before + len(accepted)
    limits = {"max_bytes": app.config["MAX_IMAGE_BYTES"], "max_pixels": app.config["MAX_IMAGE_PIXELS"]}
    for row in stored:
        _assert_revalidates(blobs, row, limits, accepted[row.sha256])
    # Nothing on disk but what the accepted files' rows name: a refused file wrote nothing.
    referenced = {row.sha256 for row in stored} | {row.thumbnail_sha256 for row in stored}
    new_blobs = {Path(name).name for name in _blob_files(root) - files_before}
    assert new_blobs <= referenced, f"blobs no row refers to: {sorted(new_blobs - referenced)[:5]}"
    assert not list(root.rglob(".tmp-*"))


def _reason(text: str) -> str:
    for marker in ("is SVG", "not a JPEG", "damaged", "pixels", "empty", "error", "Nothing was recorded"):
        at = text.find(marker)
        if at >= 0:
            return text[max(0, at - 120):at + 200].replace("\n", " ")
    return text[:300].replace("\n", " ")


def _assert_revalidates(blobs, row, limits, item: Upload) -> None:
    original = blobs.get(row.sha256)
    assert hashlib.sha256(original).hexdigest() == row.sha256 == hashlib.sha256(item.data).hexdigest()
    assert original == item.data  # byte-exact
    path = blobs.path_for(row.sha256)
    assert path.name == row.sha256 and path.resolve().is_relative_to(Path(blobs.root).resolve())
    try:
        info = inspect_image(original, **limits)
    except ValidationError as exc:  # pragma: no cover - the failure message is the point
        raise AssertionError(f"{item.label}: stored, but no longer passes the checks: {exc}") from None
    assert info.content_type == row.content_type and (info.width, info.height) == (row.width, row.height)
    with Image.open(io.BytesIO(original), formats=list(ALLOWED_FORMATS)) as image:
        image.load()
    thumbnail = blobs.get(row.thumbnail_sha256)
    assert hashlib.sha256(thumbnail).hexdigest() == row.thumbnail_sha256
    assert _png_chunk_types(thumbnail) <= _THUMBNAIL_CHUNKS, f"{item.label}: metadata in the thumbnail"
    lowered = thumbnail.lower()
    assert not any(marker in lowered for marker in _MARKUP), item.label
    with Image.open(io.BytesIO(thumbnail)) as image:
        assert image.format == "PNG" and not image.getexif() and not image.info.get("exif")
        size = image.size
    if item.upright:  # turned upright by its EXIF orientation
        assert (size[0] > size[1]) == (item.upright[0] > item.upright[1]), item.label
    name = row.original_filename or ""
    assert len(name) <= 255 and name.isprintable(), repr(name)
    assert not set(name) & {"/", "\\", "\x00", "\u202e", "\u202d", "\u202a", "\u202b", "\u200f", "\u200e"}, repr(name)


def _png_chunk_types(data: bytes) -> set[bytes]:
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    kinds, at = set(), 8
    while at + 8 <= len(data):
        length = int.from_bytes(data[at:at + 4], "big")
        kinds.add(data[at + 4:at + 8])
        at += 12 + length
    return kinds


@pytest.mark.parametrize("route", OTHER_ROUTES)
def test_hostile_files_to_the_routes_that_take_other_files(route, backend, app, session, world, signed_in, blobs):
    sender = ROUTE_TYPES[route](app, session, world, signed_in)
    items = _items_for(route, backend)
    root = Path(blobs.root)
    files_before = _blob_files(root)
    problems, jobs = [], []
    for index, item in enumerate(items):
        outcome = sender.send(item, index)
        where = f"{item.category}/{item.label} -> {outcome.status}"
        if outcome.status >= 500:
            problems.append(f"{where}: server error")
        elif route == "evidence verify" and outcome.status not in (400, 413, 422):
            problems.append(f"{where}: not refused as an evidence package")
        elif route == "bulk manifest":
            if outcome.accepted:
                jobs.append(json.loads(outcome.text)["id"])
            elif not 400 <= outcome.status < 500:
                problems.append(f"{where}: neither accepted nor refused")
    assert not problems, "\n".join(problems[:40])
    if route == "evidence verify":
        assert _blob_files(root) == files_before  # a package is checked, never kept
        return
    # A manifest is kept as uploaded (it is what the job read); each accepted one is a job
    # that ends, failed with its reason or done with its lines rejected.
    assert jobs
    finished = [_wait_until_finished(session, job_id) for job_id in jobs]
    assert all(job.state in ("done", "failed", "cancelled") for job in finished)
    session.rollback()
    kept = set(session.scalars(select(BulkJob.manifest_sha256))) | set(session.scalars(select(BulkChunk.lines_sha256)))
    assert {Path(name).name for name in _blob_files(root) - files_before} <= kept
    assert not list(root.rglob(".tmp-*"))
