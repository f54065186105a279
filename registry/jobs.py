"""Running bulk screening jobs: RQ workers on Redis when ``REDIS_URL`` is set, otherwise a
background thread of the app. Both run the same ``services.bulk`` functions.

With Redis, ``prepare`` runs on one worker and, as soon as the manifest's header is accepted,
queues ``BULK_MAX_TASKS`` ``drain`` tasks; each keeps taking chunks until none is left, so
other workers screen while the first one reads, any number of workers on any number of
machines share a job, and a worker that dies leaves its chunk to the others once its lease
runs out. Drain tasks that start after the job is done return at once. Start workers with::

    REDIS_URL=redis://127.0.0.1:6379/0 .venv/bin/python -m registry.worker
"""

from __future__ import annotations

import logging
import threading
from datetime import datetime, timedelta, timezone
from typing import Any

from flask import Flask, current_app

from registry.extensions import db
from registry.services import bulk

log = logging.getLogger(__name__)

_app: Flask | None = None


def start(app: Flask, job_id: int) -> str:
    """Start a submitted job; returns "rq" or "thread"."""
    if app.config.get("REDIS_URL"):
        from rq import Retry

        # A worker that dies before the reading starts leaves an abandoned task, which RQ
        # retries; once reading has started, the job's drain tasks take a dead reader's place.
        queue(app).enqueue(rq_prepare, job_id, job_timeout=6 * 3600, retry=Retry(max=3))
        return "rq"
    _start_thread(app, job_id)
    return "thread"


class QueueUnavailable(Exception):
    """A job was stored but its queue could not be reached; the job is marked failed."""


def start_submitted(app: Flask, job) -> None:
    """Start a job just committed, and record how it runs. When its queue cannot be reached
    (Redis down), the job is marked failed with the reason, instead of waiting for ever for a
    worker that was never told of it, and ``QueueUnavailable`` says so to the caller."""
    from redis.exceptions import RedisError

    from registry.models import BulkJob

    try:
        job.runner = start(app, job.id)
    except RedisError as exc:
        db.session.rollback()
        failed = db.session.get(BulkJob, job.id)
        failed.state, failed.finished_at = "failed", datetime.now(timezone.utc)
        failed.error = ("The screening could not be queued: the service that runs screenings in the background "
                        "is not answering. Nothing was screened; submit the manifest again in a few minutes, or "
                        "tell your administrator if it keeps happening.")
        db.session.commit()
        raise QueueUnavailable(failed.error) from exc
    db.session.commit()


def queue(app: Flask):
    from redis import Redis
    from rq import Queue

    return Queue(app.config["BULK_QUEUE"], connection=Redis.from_url(app.config["REDIS_URL"]))


def ensure_running(app: Flask, job_id: int) -> None:
    """In thread mode, pick a job up again after the app restarted mid-job."""
    if not app.config.get("REDIS_URL"):
        threads = app.extensions.setdefault("bulk_threads", {})
        thread = threads.get(job_id)
        if thread is None or not thread.is_alive():
            _start_thread(app, job_id)


def _start_thread(app: Flask, job_id: int) -> None:
    threads: dict[int, threading.Thread] = app.extensions.setdefault("bulk_threads", {})
    thread = threading.Thread(target=_run_inline, args=(app, job_id), name=f"bulk-{job_id}", daemon=True)
    threads[job_id] = thread
    thread.start()


def _run_inline(app: Flask, job_id: int) -> None:
    with app.app_context():
        try:
            _prepare(job_id)
            _drain(job_id)
        except Exception as exc:  # the page must say the job failed, not spin forever
            _fail(job_id, exc)
            raise
        finally:
            db.session.remove()


def _lease() -> timedelta:
    return timedelta(seconds=current_app.config["BULK_LEASE_SECONDS"])


def _prepare(job_id: int, on_running=None) -> Any:
    return bulk.prepare_job(db.session, current_app.extensions["blobs"], current_app.config["BULK_ENGINE_DIR"],
                            job_id, chunk_lines=current_app.config["BULK_CHUNK_LINES"], on_running=on_running,
                            lease=_lease())


def _drain(job_id: int) -> int:
    # With the engine folder, a worker that runs out of chunks takes the reading over from a
    # reader that died.
    return bulk.drain(db.session, current_app.extensions["blobs"], job_id, lease=_lease(),
                      engine_dir=current_app.config["BULK_ENGINE_DIR"])


def _fail(job_id: int, exc: Exception) -> None:
    from registry.models import BulkJob

    log.error("bulk screening %s failed", job_id, exc_info=exc)
    db.session.rollback()
    job = db.session.get(BulkJob, job_id)
    if job is not None and job.state not in bulk.TERMINAL:
        # The exception is for the log (above), not for the officer.
        job.state, job.error = "failed", ("The screening stopped on an unexpected error; the hits found so far "
                                          "are kept. Submit the manifest again, or tell your administrator if "
                                          "it happens again.")
        db.session.commit()


# -- RQ tasks: each runs in a worker process, in an app context of its own ---------------------

def _worker_app() -> Flask:
    global _app
    if _app is None:
        from registry import create_app

        _app = create_app()
    return _app


def rq_prepare(job_id: int) -> int:
    app = _worker_app()
    with app.app_context():
        queued = []

        def start_workers(job) -> None:
            # As soon as the header is accepted: other workers screen chunks while this one reads.
            q = queue(app)
            for _ in range(app.config["BULK_MAX_TASKS"]):
                queued.append(q.enqueue(rq_drain, job_id, job_timeout=6 * 3600))

        try:
            _prepare(job_id, on_running=start_workers)
            return len(queued)
        except Exception as exc:
            _fail(job_id, exc)
            raise
        finally:
            db.session.remove()


def rq_drain(job_id: int) -> int:
    app = _worker_app()
    with app.app_context():
        try:
            return _drain(job_id)
        finally:
            db.session.remove()
