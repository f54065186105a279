"""Bulk screening: manifests read with every line accounted for, jobs that lose nothing."""

from __future__ import annotations

import html
import io
import json
import random
import re
import threading
from datetime import timedelta
from html.parser import HTMLParser

import pytest
from sqlalchemy import func, select

from registry.models import BulkChunk, BulkHit, BulkJob
from registry.services import bulk, manifests
from registry.services.errors import Forbidden, ValidationError


def manifest_csv(n: int, *, seed: int = 1, hits_every: int = 10) -> bytes:
    """``n`` lines; every ``hits_every``-th imitates ALPHA, the rest are unrelated goods."""
    rng = random.Random(seed)
    rows = ["parcel_id,goods_description,brand,shipper,hs,value,currency,origin"]
    for i in range(n):
        if i % hits_every == 0:
            rows.append(f"P{i},running shoes,A1pha,Shenzhen Trading {i},6404.11,3.50,EUR,CN")
        else:
            goods = rng.choice(["garden hose", "ceramic mug", "usb cable", "notebook paper", "plastic toys"])
            rows.append(f"P{i},{goods},,Factory {i},3926.90,{rng.randint(1, 90)},USD,VN")
    return ("\n".join(rows) + "\n").encode()


@pytest.fixture
def engine_dir(tmp_path):
    return str(tmp_path / "engines")


def submit(session, world, blobs, data: bytes, name: str = "manifest.csv"):
    job = bulk.submit_manifest(session, world.officer, blobs, io.BytesIO(data), name, max_bytes=10**8)
    session.commit()
    return job


def run(session, blobs, engine_dir, job, **kwargs):
    bulk.prepare_job(session, blobs, engine_dir, job.id, chunk_lines=kwargs.pop("chunk_lines", 50))
    bulk.drain(session, blobs, job.id, **kwargs)
    session.expire_all()
    return session.get(BulkJob, job.id)


def test_a_manifest_is_screened_and_every_line_counted(session, world, blobs, engine_dir):
    job = submit(session, world, blobs, manifest_csv(230) + b"P9999,,,,,,,\nP1,dup,,,,,,\n")
    done = run(session, blobs, engine_dir, job)
    assert done.state == "done" and done.lines_read == 232 and done.lines_usable == 230
    assert done.lines_rejected == 2 and done.lines_done == 230
    assert [r[1] for r in done.rejects] == ["no description or declared brand", "duplicate id 'P1' (first on line 3)"]
    assert done.chunks_total == 5 and done.snapshot_id and done.columns["declared_brand"] == "brand"
    hits = session.scalars(select(BulkHit).where(BulkHit.job_id == job.id).order_by(BulkHit.line_no)).all()
    assert done.hits == len(hits) == 23  # every tenth line
    assert {h.brand_name for h in hits} == {"ALPHA"} and all(h.recommendation in ("detain", "inspect") for h in hits)
    assert hits[0].line_ref == "P0" and hits[0].line["declared_brand"] == "A1pha" and hits[0].reasons
    assert hits[0].right_id == world.a.right.id


def test_a_refused_manifest_fails_with_the_reason(session, world, blobs, engine_dir):
    header = ",".join(f"c{i}" for i in range(10_000)) + "\n"
    job = submit(session, world, blobs, header.encode() + b"1,2,3\n")
    done = run(session, blobs, engine_dir, job)
    assert done.state == "failed" and "10,000 columns" in done.error
    assert session.scalar(select(func.count(BulkChunk.id))) == 0


def test_two_workers_share_a_job_and_a_dead_one_loses_nothing(session, world, blobs, engine_dir, app):
    job = submit(session, world, blobs, manifest_csv(400))
    bulk.prepare_job(session, blobs, engine_dir, job.id, chunk_lines=40)
    # A worker claims a chunk and dies without finishing it.
    dead = bulk._claim(session, job.id, "dead-worker", timedelta(seconds=1))
    assert dead is not None
    from registry.extensions import db

    def worker(name):
        with app.app_context():
            bulk.drain(db.session, blobs, job.id, me=name, lease=timedelta(seconds=1), poll_seconds=0.2)
            db.session.remove()

    threads = [threading.Thread(target=worker, args=(f"w{i}",)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    session.expire_all()
    done = session.get(BulkJob, job.id)
    assert done.state == "done" and done.lines_done == 400
    assert session.scalar(select(func.count(BulkHit.id)).where(BulkHit.job_id == job.id)) == done.hits == 40
    retaken = session.get(BulkChunk, dead.id)
    assert retaken.state == "done" and retaken.claimed_by != "dead-worker" and retaken.attempts == 2
    workers = set(session.scalars(select(BulkChunk.claimed_by).where(BulkChunk.job_id == job.id)))
    assert workers == {"w0", "w1"}


class ReaderDied(BaseException):
    """Stands for the reading process being killed: nothing after it runs."""


def _reader_that_dies_after(monkeypatch, lines: int) -> None:
    real = manifests.read_manifest

    def dying(*args, **kwargs):
        for count, line in enumerate(real(*args, **kwargs)):
            if count == lines:
                raise ReaderDied
            yield line

    monkeypatch.setattr(manifests, "read_manifest", dying)


def test_a_reader_that_died_mid_file_is_replaced_and_no_line_is_lost_or_doubled(session, world, blobs, engine_dir,
                                                                                monkeypatch):
    job = submit(session, world, blobs, manifest_csv(500))
    _reader_that_dies_after(monkeypatch, 130)
    with pytest.raises(ReaderDied):
        bulk.prepare_job(session, blobs, engine_dir, job.id, chunk_lines=40, me="reader")
    session.rollback()
    monkeypatch.undo()
    session.expire_all()
    half = session.get(BulkJob, job.id)
    assert half.state == "running" and not half.read_complete and half.reader == "reader"
    assert session.scalar(select(func.count(BulkChunk.id)).where(BulkChunk.job_id == job.id)) == 3

    # While the reader's lease holds, nobody else reads (a slow reader is not a dead one).
    assert bulk.prepare_job(session, blobs, engine_dir, job.id, chunk_lines=999, me="eager").read_complete is False
    assert session.get(BulkJob, job.id).reader == "reader"

    # Its lease runs out: a worker with nothing left to screen reads the rest, then screens on.
    session.execute(bulk._update(BulkJob).where(BulkJob.id == job.id)
                    .values(reader_lease_until=bulk._now() - timedelta(seconds=1)))
    session.commit()
    bulk.drain(session, blobs, job.id, me="worker", engine_dir=engine_dir, poll_seconds=0.05)
    session.expire_all()
    done = session.get(BulkJob, job.id)
    assert done.state == "done" and done.read_complete and done.reader == "worker"
    assert done.lines_usable == done.lines_done == 500 and done.chunk_lines == 40  # the first reader's chunks
    positions = session.scalars(select(BulkChunk.position).where(BulkChunk.job_id == job.id)
                                .order_by(BulkChunk.position)).all()
    assert positions == list(range(13)) == list(range(done.chunks_total))
    lines = session.scalars(select(BulkHit.line_no).where(BulkHit.job_id == job.id)).all()
    assert len(lines) == len(set(lines)) == done.hits == 50


def test_a_reader_whose_claim_was_taken_over_writes_nothing_more(session, world, blobs, engine_dir, monkeypatch):
    job = submit(session, world, blobs, manifest_csv(200))
    real = manifests.read_manifest

    def slow_then_overtaken(*args, **kwargs):
        for count, line in enumerate(real(*args, **kwargs)):
            if count == 60:  # the lease ran out while this reader stalled; another took the reading
                session.execute(bulk._update(BulkJob).where(BulkJob.id == job.id).values(reader="other"))
                session.commit()
            yield line

    monkeypatch.setattr(manifests, "read_manifest", slow_then_overtaken)
    bulk.prepare_job(session, blobs, engine_dir, job.id, chunk_lines=50, me="stalled")
    session.expire_all()
    after = session.get(BulkJob, job.id)
    assert not after.read_complete and after.reader == "other"
    assert session.scalar(select(func.count(BulkChunk.id)).where(BulkChunk.job_id == job.id)) == 1


def test_a_worker_that_lost_its_claim_commits_nothing(session, world, blobs, engine_dir):
    job = submit(session, world, blobs, manifest_csv(60))
    bulk.prepare_job(session, blobs, engine_dir, job.id, chunk_lines=60)
    chunk = bulk._claim(session, job.id, "slow", timedelta(seconds=-1))  # its lease is already over
    other = bulk._claim(session, job.id, "fast", timedelta(seconds=60))
    assert other.id == chunk.id
    job = session.get(BulkJob, job.id)
    assert bulk.process_chunk(session, blobs, job, chunk, "slow") is False
    assert bulk.process_chunk(session, blobs, job, other, "fast") is True
    session.expire_all()
    assert session.get(BulkJob, job.id).lines_done == 60


def test_cancel_stops_the_job(session, world, blobs, engine_dir):
    job = submit(session, world, blobs, manifest_csv(200))
    bulk.prepare_job(session, blobs, engine_dir, job.id, chunk_lines=20)
    bulk.cancel(session, world.officer, job.id)
    session.commit()
    bulk.drain(session, blobs, job.id)
    session.expire_all()
    done = session.get(BulkJob, job.id)
    assert done.state == "cancelled" and done.lines_done == 0
    with pytest.raises(Exception, match="already cancelled"):
        bulk.cancel(session, world.officer, job.id)


def test_who_may_submit(session, world, blobs):
    for user in (world.a.holder, world.legal, world.admin):
        with pytest.raises(Forbidden):
            bulk.submit_manifest(session, user, blobs, io.BytesIO(b"a"), "m.csv", max_bytes=100)
    with pytest.raises(ValidationError, match="CSV"):
        bulk.submit_manifest(session, world.officer, blobs, io.BytesIO(b"a"), "m.exe", max_bytes=100)
    with pytest.raises(ValidationError, match="larger than"):
        bulk.submit_manifest(session, world.officer, blobs, io.BytesIO(b"x" * 3_000_000), "m.csv", max_bytes=2_000_000)
    assert not list(blobs.root.glob(".tmp-*"))


# -- pages ------------------------------------------------------------------------------------

def _wait_until_finished(session, job_id: int, seconds: float = 120) -> BulkJob:
    import time

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        session.expire_all()
        job = session.get(BulkJob, job_id)
        if job.state in bulk.TERMINAL:
            return job
        time.sleep(0.2)
    raise AssertionError("the job did not finish")


def test_officer_screens_a_manifest_in_the_app(app, session, world, signed_in):
    app.config["BULK_CHUNK_LINES"] = 40
    client = signed_in(world.officer)
    client.refresh_token("/bulk")
    data = manifest_csv(120) + b"\xff\xfe,broken,,,,,,\n"
    response = client.post("/bulk", {"manifest": (io.BytesIO(data), "manifest.csv")}, content_type="multipart/form-data")
    assert response.status_code == 302
    job_id = int(response.headers["Location"].rstrip("/").split("/")[-1])
    status = client.get(f"/bulk/{job_id}/status.json").get_json()
    assert status["id"] == job_id and status["state"] in ("validating", "running", "done")
    job = _wait_until_finished(session, job_id)
    assert job.state == "done" and job.runner == "thread" and job.lines_done == 120 and job.hits == 12
    status = client.get(f"/bulk/{job_id}/status.json").get_json()
    assert status["percent"] == 100.0 and status["hits"] == 12 and status["lines_rejected"] == 1

    page = client.get(f"/bulk/{job_id}").get_data(as_text=True)
    assert "Hits per brand" in page and "ALPHA" in page and "not UTF-8" in page and "12 hits" in page
    for query, condition in [("recommendation=detain", BulkHit.recommendation == "detain"),
                             ("recommendation=inspect", BulkHit.recommendation == "inspect"),
                             ("min_score=0.9", BulkHit.score >= 0.9), ("brand=NOPE", BulkHit.brand_name == "NOPE")]:
        expected = session.scalar(select(func.count(BulkHit.id)).where(BulkHit.job_id == job_id, condition))
        filtered = client.get(f"/bulk/{job_id}?{query}").get_data(as_text=True)
        assert f"{expected:,} hit{'s' if expected != 1 else ''} ·" in filtered, query
    by_line = client.get(f"/bulk/{job_id}?sort=line&dir=asc").get_data(as_text=True)
    assert by_line.index(">id P0<") < by_line.index(">id P10<")
    # The sorted column says so on its header cell (aria-sort belongs on a th, not a link).
    assert re.search(r'<th scope="col" class="govuk-table__header" aria-sort="ascending"><a [^>]*>Line', by_line)
    assert not re.search(r"<a [^>]*aria-sort", by_line)
    # Read as a server reads it: in a thread of its own, with no app context but the request's,
    # the body streamed after the view returned (on PostgreSQL, under the tenant's row security).
    exported: list[str] = []
    reader = threading.Thread(
        target=lambda: exported.append(client.raw.get(f"/bulk/{job_id}/hits.csv").get_data(as_text=True)))
    reader.start()
    reader.join()
    assert exported, "the CSV download failed while it streamed"
    rows = list(__import__("csv").reader(io.StringIO(exported[0])))
    assert rows[0][:3] == ["line", "id", "brand"] and len(rows) == 13 and {r[2] for r in rows[1:]} == {"ALPHA"}
    # A filter that leaves no hit still gives the header.
    empty = client.get(f"/bulk/{job_id}/hits.csv?brand=NOPE").get_data(as_text=True)
    assert empty.startswith("line,id,brand") and empty.count("\r\n") == 1

    hit = session.scalar(select(BulkHit).where(BulkHit.job_id == job_id).order_by(BulkHit.line_no))
    form = client.get(f"/checks/new?bulk_hit={hit.id}").get_data(as_text=True)
    assert 'value="A1pha"' in form and 'value="3.5"' in form
    assert f"Bulk screening #{job_id}, manifest line 2 (id P0): running shoes" in form


def test_a_manifest_whose_queue_cannot_be_reached_shows_a_failed_job(app, session, world, signed_in):
    client = signed_in(world.officer)
    client.refresh_token("/bulk")
    app.config["REDIS_URL"] = "redis://127.0.0.1:1/0"  # nothing listens there
    try:
        response = client.post("/bulk", {"manifest": (io.BytesIO(manifest_csv(10)), "manifest.csv")},
                               content_type="multipart/form-data")
    finally:
        app.config["REDIS_URL"] = None
    assert response.status_code == 302
    job_id = int(response.headers["Location"].rstrip("/").split("/")[-1])
    job = session.get(BulkJob, job_id)
    assert job.state == "failed" and "could not be queued" in job.error
    page = client.get(f"/bulk/{job_id}").get_data(as_text=True)
    assert "could not be queued" in page and "Try again in a moment" in page


def test_a_job_that_fails_midway_says_so_plainly_and_logs_the_cause(app, session, world, signed_in, monkeypatch,
                                                                     caplog):
    def broken_drain(*_args, **_kwargs):
        raise KeyError("brand_id")  # any unexpected failure while screening

    monkeypatch.setattr(bulk, "drain", broken_drain)
    client = signed_in(world.officer)
    client.refresh_token("/bulk")
    with caplog.at_level("ERROR", logger="registry.jobs"):
        response = client.post("/bulk", {"manifest": (io.BytesIO(manifest_csv(10)), "manifest.csv")},
                               content_type="multipart/form-data")
        job = _wait_until_finished(session, int(response.headers["Location"].rstrip("/").split("/")[-1]))
    assert job.state == "failed"
    # The officer reads what happened and what to do; the exception is for the log.
    assert "stopped on an unexpected error" in job.error and "KeyError" not in job.error
    page = client.get(f"/bulk/{job.id}").get_data(as_text=True)
    assert "stopped on an unexpected error" in page
    assert any(r.exc_info and r.exc_info[0] is KeyError and str(job.id) in r.getMessage() for r in caplog.records)


def test_bulk_pages_by_role(app, session, world, blobs, signed_in):
    job = submit(session, world, blobs, manifest_csv(5))
    job.state = "done"
    session.commit()
    legal = signed_in(world.legal)
    assert legal.get(f"/bulk/{job.id}").status_code == 200
    legal.refresh_token("/bulk")
    assert legal.post("/bulk", {"manifest": (io.BytesIO(b"brand\nx\n"), "m.csv")},
                      content_type="multipart/form-data").status_code == 403
    holder = signed_in(world.a.holder)
    assert holder.get("/bulk").status_code == 403 and holder.get(f"/bulk/{job.id}/hits.csv").status_code == 403


def test_bad_uploads_are_refused_in_the_app(app, session, world, signed_in):
    client = signed_in(world.officer)
    client.refresh_token("/bulk")
    response = client.post("/bulk", {"manifest": (io.BytesIO(b"MZ\x90\x00"), "tool.exe")}, content_type="multipart/form-data")
    assert response.status_code == 302
    assert "CSV" in client.get("/bulk").get_data(as_text=True)
    assert session.scalar(select(func.count(BulkJob.id))) == 0


def test_csv_cells_never_run_as_formulas():
    from registry.services.spreadsheet import safe_cell

    assert [safe_cell(v) for v in ("=HYPERLINK(\"x\")", "+1", "-2", "@SUM(A1)", "plain", 3)] == \
        ["'=HYPERLINK(\"x\")", "'+1", "'-2", "'@SUM(A1)", "plain", "3"]


def test_reading_again_after_the_reader_died_skips_written_chunks(session, world, blobs, engine_dir):
    job = submit(session, world, blobs, manifest_csv(100))
    bulk.prepare_job(session, blobs, engine_dir, job.id, chunk_lines=30)
    # The reader "died" after writing two chunks, one of which a worker already screened.
    first = bulk._claim(session, job.id, "w", timedelta(seconds=60))
    assert bulk.process_chunk(session, blobs, session.get(BulkJob, job.id), first, "w")
    session.execute(BulkChunk.__table__.delete().where(BulkChunk.job_id == job.id, BulkChunk.position >= 2))
    crashed = session.get(BulkJob, job.id)
    crashed.read_complete, crashed.chunks_total = False, 0
    session.commit()
    done = run(session, blobs, engine_dir, crashed, chunk_lines=30)
    assert done.state == "done" and done.read_complete and done.chunks_total == 4
    assert done.lines_done == 100 and done.hits == 10
    assert session.scalar(select(func.count(BulkChunk.id)).where(BulkChunk.job_id == job.id)) == 4


def test_workers_screen_while_the_manifest_is_read(session, world, blobs, engine_dir):
    job = submit(session, world, blobs, manifest_csv(90))
    def on_running(running):
        assert running.state == "running" and not running.read_complete and running.snapshot_id

    bulk.prepare_job(session, blobs, engine_dir, job.id, chunk_lines=30, on_running=on_running)
    assert session.get(BulkJob, job.id).state == "running"  # read, not yet screened
    # A drain started mid-read waits for chunks instead of calling the job done.
    job = session.get(BulkJob, job.id)
    job.read_complete = False
    session.commit()
    bulk._finish_if_complete(session, job.id)
    assert session.get(BulkJob, job.id).state == "running"
    job.read_complete = True
    session.commit()
    bulk.drain(session, blobs, job.id)
    session.expire_all()
    assert session.get(BulkJob, job.id).state == "done"


# -- the pages as an officer reads them (review of the bulk pages) --------------------------------

class _PageParts(HTMLParser):
    """The visible text of a page, and whether each table sits in a scrolling wrapper with no
    visually hidden element in it (one is positioned outside the wrapper's scrolling, so it
    widens the whole page on a phone instead)."""

    VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}

    def __init__(self, page: str) -> None:
        super().__init__()
        self.stack: list[tuple[str, set[str]]] = []
        self.text: list[str] = []
        self.tables: list[bool] = []
        self.hidden_in_wrap: list[str] = []
        self.feed(page)

    def _inside(self, name: str) -> bool:
        return any(name in classes for _, classes in self.stack)

    def handle_starttag(self, tag, attrs):
        classes = set((dict(attrs).get("class") or "").split())
        if tag == "table":
            self.tables.append(self._inside("app-table-wrap"))
        if "govuk-visually-hidden" in classes and self._inside("app-table-wrap"):
            self.hidden_in_wrap.append(tag)
        if tag not in self.VOID:
            self.stack.append((tag, classes))

    def handle_endtag(self, tag):
        while self.stack:
            if self.stack.pop()[0] == tag:
                break

    def handle_data(self, data):
        if not any(tag in ("script", "style", "title") for tag, _ in self.stack):
            self.text.append(data)

    @property
    def visible(self) -> str:
        return re.sub(r"\s+", " ", " ".join(self.text))


def test_the_bulk_pages_speak_the_officers_words(app, session, world, blobs, engine_dir, signed_in):
    waiting = submit(session, world, blobs, manifest_csv(5), "waiting.csv")
    done = run(session, blobs, engine_dir, submit(session, world, blobs, manifest_csv(30), "shipments.csv"))
    client = signed_in(world.officer)
    # As if RQ workers ran the jobs: the page does not start the waiting one in a thread.
    app.config["REDIS_URL"] = "redis://127.0.0.1:1/0"

    index = _PageParts(client.get("/bulk").get_data(as_text=True)).visible
    assert "JSON Lines, UTF-8, up to 1 GB." in index  # not "1024 MB"
    before = _PageParts(client.get(f"/bulk/{waiting.id}").get_data(as_text=True)).visible
    assert "Screened against The registry as it is when screening starts: it is fixed then" in before
    assert "not yet fixed" not in before and "Columns used Not read yet" in before

    after = _PageParts(client.get(f"/bulk/{done.id}").get_data(as_text=True)).visible
    version = done.snapshot_id.rsplit(":", 1)[1][:8]
    assert (f"Screened against The registry as of {done.started_at:%Y-%m-%d %H:%M}, when screening started "
            f"(registry version {version})") in after
    assert ("Columns used Line id from “parcel_id”; Goods description from “goods_description”; "
            "Declared brand from “brand”") in after
    assert "Manifest shipments.csv · " in after and " · CSV" in after and done.manifest_sha256 in after
    # What the engine calls things, and the job machinery, stay out of sight.
    for jargon in ("snapshot", done.snapshot_id.split(":")[0], "←", "workers", " job", "Format",
                   "declared_brand", "goods_description ←"):
        assert jargon not in after, jargon

    index = _PageParts(client.get("/bulk").get_data(as_text=True)).visible
    assert "Manifests screened" in index and "Lines screened" in index and "Goods description" in index
    assert f"#{done.id} " in index and " Done 30 of 30 3 " in index and " Reading the manifest 0 of 0 read so far" in index
    for jargon in (" done ", " validating ", " / ", "Jobs", "Field "):
        assert jargon not in index, jargon

    cancel = client.post(f"/bulk/{waiting.id}/cancel", follow_redirects=True).get_data(as_text=True)
    assert "Cancelling: screening stops within moments" in cancel and "workers" not in cancel
    app.config["REDIS_URL"] = None


def test_unusable_lines_are_listed_with_the_manifests_id(app, session, world, blobs, engine_dir, signed_in):
    data = manifest_csv(10) + b"P777,,,,,,,\n,,,,,,,\nP3,again,,,,,,\n"
    job = run(session, blobs, engine_dir, submit(session, world, blobs, data))
    assert job.rejects == [[12, "no description or declared brand", "P777"], [13, "no description or declared brand"],
                           [14, "duplicate id 'P3' (first on line 5)", "P3"]]
    page = signed_in(world.officer).get(f"/bulk/{job.id}").get_data(as_text=True)
    rows = re.findall(r'<tr class="govuk-table__row"><td[^>]*>(line \d+)</td><td[^>]*>([^<]*)</td><td[^>]*>([^<]*)</td>',
                      page)
    assert rows == [("line 12", "P777", "no description or declared brand"),
                    ("line 13", "none", "no description or declared brand"),
                    ("line 14", "P3", "duplicate id &#39;P3&#39; (first on line 5)")]
    assert ">Id in the manifest<" in page


def test_a_line_without_an_id_is_never_taken_for_the_line_whose_id_is_its_number(app, session, world, blobs,
                                                                                   engine_dir, signed_in):
    # Line 3 has no id; line 4's id is "3". Both are hits, and each keeps its own reference.
    data = b"id,description,brand\nA,running shoes,A1pha\n,running shoes,A1pha\n3,running shoes,A1pha\n"
    job = run(session, blobs, engine_dir, submit(session, world, blobs, data))
    assert job.lines_usable == 3 and job.rejects == []
    hits = session.scalars(select(BulkHit).where(BulkHit.job_id == job.id).order_by(BulkHit.line_no)).all()
    assert [(h.line_no, h.line_ref) for h in hits] == [(2, "A"), (3, ""), (4, "3")]
    client = signed_in(world.officer)
    page = client.get(f"/bulk/{job.id}?sort=line&dir=asc").get_data(as_text=True)
    assert page.count(">id 3<") == 1 and 'aria-label="Open a check for line 3"' in page
    assert 'aria-label="Open a check for line 4 (id 3)"' in page
    exported = list(__import__("csv").reader(io.StringIO(client.get(f"/bulk/{job.id}/hits.csv?sort=line&dir=asc")
                                                            .get_data(as_text=True))))
    assert [row[:2] for row in exported[1:]] == [["2", "A"], ["3", ""], ["4", "3"]]


def _field(form: str, name: str) -> str:
    textarea = re.search(rf'<textarea[^>]*name="{name}"[^>]*>(.*?)</textarea>', form, re.S)
    if textarea:
        return html.unescape(textarea.group(1)).strip()
    tag = re.search(rf'<input[^>]*name="{name}"[^>]*>', form).group(0)
    value = re.search(r'value="([^"]*)"', tag)
    return html.unescape(value.group(1)) if value else ""


def test_a_check_opened_from_a_hit_gets_the_transport_document_and_the_line_where_each_belongs(
        app, session, world, blobs, engine_dir, signed_in):
    from matchers import Query

    with_awb = run(session, blobs, engine_dir, submit(session, world, blobs, (
        b"parcel_id,awb,goods_description,brand,value,currency,qty\n"
        b"P0,176-12345675,running shoes,A1pha,99999999999.99,EUR,0.00001\n")))
    without = run(session, blobs, engine_dir, submit(session, world, blobs, b"brand,description\nA1pha,running shoes\n"))
    client = signed_in(world.officer)

    hit = session.scalar(select(BulkHit).where(BulkHit.job_id == with_awb.id))
    form = client.get(f"/checks/new?bulk_hit={hit.id}").get_data(as_text=True)
    # The air waybill is the transport document; the line's id is not one: it says, with the
    # line number and the screening, where the check came from.
    assert _field(form, "document_number") == "176-12345675"
    assert _field(form, "description") == f"Bulk screening #{with_awb.id}, manifest line 2 (id P0): running shoes"
    assert _field(form, "declared_brand") == "A1pha" and _field(form, "currency") == "EUR"
    assert _field(form, "declared_value") == "99999999999.99" and _field(form, "quantity") == "0.00001"

    hit = session.scalar(select(BulkHit).where(BulkHit.job_id == without.id))
    form = client.get(f"/checks/new?bulk_hit={hit.id}").get_data(as_text=True)
    assert _field(form, "document_number") == ""
    assert _field(form, "description") == f"Bulk screening #{without.id}, manifest line 2: running shoes"

    # Where the check came from changes nothing in what the registry is screened for.
    engine = app.extensions["engine"].current(session, blobs).engine
    plain = engine.screen(Query(description="running shoes", declared_brand="A1pha"))
    traced = engine.screen(Query(description=f"Bulk screening #{with_awb.id}, manifest line 2 (id P0): running shoes",
                                 declared_brand="A1pha"))
    assert [(m.brand_id, m.score, m.recommendation) for m in traced] == \
        [(m.brand_id, m.score, m.recommendation) for m in plain]


def test_wide_tables_scroll_inside_the_page_on_a_phone(app, session, world, blobs, engine_dir, signed_in):
    data = manifest_csv(30) + b"P777,,,,,,,\n"
    job = run(session, blobs, engine_dir, submit(session, world, blobs, data))
    client = signed_in(world.officer)
    for path in (f"/bulk/{job.id}", "/bulk"):
        parts = _PageParts(client.get(path).get_data(as_text=True))
        assert parts.tables and all(parts.tables), path
        assert parts.hidden_in_wrap == [], path


def test_the_api_reports_unusable_lines_as_line_and_reason(app, session, world, blobs, engine_dir):
    from registry.services import api_tokens

    job = run(session, blobs, engine_dir, submit(session, world, blobs, manifest_csv(5) + b"P777,,,,,,,\n"))
    _, secret = api_tokens.create_token(session, world.officer, "test system")
    session.commit()
    with app.app_context():
        response = app.test_client().get(f"/api/v1/bulk-jobs/{job.id}", headers={"Authorization": f"Bearer {secret}"})
        body = response.get_json()
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    assert [reject[:2] for reject in body["rejects"]] == [[7, "no description or declared brand"]]
