"""Bulk screening on real RQ workers (Redis at 127.0.0.1:6379): two worker processes share a
job, one is killed mid-job, and every line is still screened exactly once."""

from __future__ import annotations

import io
import os
import secrets
import signal
import subprocess
import sys
import time

from sqlalchemy import func, select

from registry import jobs
from registry.models import BulkChunk, BulkHit, BulkJob
from registry.services import bulk
from tests.registry.test_bulk import manifest_csv


def _worker(env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "registry.worker"], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, cwd=os.getcwd())


#: Enough lines, in chunks long enough, that a worker is caught in the middle of one: against
#: the test registry's two marks a line takes tens of microseconds, and chunks of 300 lines were
#: done in a few milliseconds, between the look at who holds one and the kill.
LINES, CHUNK_LINES = 40_000, 4_000


def test_two_workers_one_killed_mid_job(app, session, world, blobs, redis_url, database_url, tmp_path):
    queue = f"bulk-test-{secrets.token_hex(4)}"
    app.config.update(REDIS_URL=redis_url, BULK_QUEUE=queue, BULK_CHUNK_LINES=CHUNK_LINES, BULK_LEASE_SECONDS=3,
                      BULK_ENGINE_DIR=str(tmp_path / "engines"))
    env = {**os.environ, "DATABASE_URL": database_url, "BLOB_DIR": app.config["BLOB_DIR"],
           "SIGNING_KEY_FILE": app.config["SIGNING_KEY_FILE"], "SECRET_KEY": "test-secret",
           "REDIS_URL": redis_url, "BULK_QUEUE": queue, "BULK_LEASE_SECONDS": "3",
           "BULK_CHUNK_LINES": str(CHUNK_LINES), "BULK_ENGINE_DIR": app.config["BULK_ENGINE_DIR"], "ENGINE_OCR": "0"}
    job = bulk.submit_manifest(session, world.officer, blobs, io.BytesIO(manifest_csv(LINES)), "m.csv", max_bytes=10**8)
    session.commit()
    assert jobs.start(app, job.id) == "rq"
    workers = [_worker(env), _worker(env)]
    try:
        deadline = time.monotonic() + 180
        interrupted: list[int] = []
        kills = 0
        while time.monotonic() < deadline:
            session.expire_all()
            current = session.get(BulkJob, job.id)
            alive = {w.pid: w for w in workers if w.poll() is None}
            claimed = [c for c in session.scalars(select(BulkChunk).where(BulkChunk.job_id == job.id,
                                                                          BulkChunk.state == "claimed"))
                       if int(c.claimed_by.split(":")[1]) in alive]
            if not interrupted and kills < 5 and current.lines_done > 0 and claimed:
                # Kill the worker holding a chunk, in the middle of it.
                victim_name = claimed[0].claimed_by
                victim = alive[int(victim_name.split(":")[1])]
                victim.send_signal(signal.SIGKILL)
                victim.wait(timeout=30)
                kills += 1
                session.expire_all()
                interrupted = list(session.scalars(select(BulkChunk.id).where(
                    BulkChunk.job_id == job.id, BulkChunk.claimed_by == victim_name, BulkChunk.state == "claimed")))
                if not interrupted:
                    # The chunk was committed between the look and the kill: nothing was
                    # interrupted, so put a worker back and catch one mid-chunk again.
                    workers.append(_worker(env))
            if current.state in bulk.TERMINAL:
                break
            time.sleep(0.1)
        session.expire_all()
        done = session.get(BulkJob, job.id)
        assert interrupted, "no worker was caught holding a chunk"
        assert done.state == "done", (done.state, done.error)
        assert done.lines_done == done.lines_usable == LINES
        hits = session.scalar(select(func.count(BulkHit.id)).where(BulkHit.job_id == job.id))
        distinct = session.scalar(select(func.count(func.distinct(BulkHit.line_no))).where(BulkHit.job_id == job.id))
        assert hits == distinct == done.hits == LINES // 10  # every tenth line, each once
        for chunk_id in interrupted:
            taken_over = session.get(BulkChunk, chunk_id)
            assert taken_over.state == "done" and taken_over.attempts >= 2
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.send_signal(signal.SIGTERM)
                try:
                    worker.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    worker.kill()
