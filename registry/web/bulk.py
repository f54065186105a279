"""Bulk screening pages: upload a manifest, follow its progress, read and export its hits."""

from __future__ import annotations

import csv
import io
import math

from flask import (Blueprint, Response, current_app, flash, jsonify, redirect, render_template, request,
                   stream_with_context, url_for)
from sqlalchemy import asc, desc, func, literal_column, select

from registry import jobs
from registry.extensions import db
from registry.models import BulkHit, BulkJob, Role
from registry.services import bulk, tenancy
from registry.services.errors import Conflict, ValidationError
from registry.web.common import actor, blobs, commit, form_expired, roles_required
from registry.services.spreadsheet import safe_cell as _cell

bp = Blueprint("bulk", __name__, url_prefix="/bulk")
readers = roles_required(Role.OFFICER, Role.LEGAL)
officer_only = roles_required(Role.OFFICER)
PAGE_SIZE = 50
SORTS = {"score": BulkHit.score, "brand": BulkHit.brand_name, "line": BulkHit.line_no,
         "recommendation": BulkHit.recommendation}
#: A job's state as the officer reads it.
STATES = {"validating": "Reading the manifest", "running": "Screening", "done": "Done", "cancelled": "Cancelled",
          "failed": "Failed"}
FORMATS = {"csv": "CSV", "jsonl": "JSON Lines"}


def _moment(value) -> str:
    return value.strftime("%Y-%m-%d %H:%M") if value else ""


def _size(count: int) -> str:
    if count < 1024:
        return f"{count:,} bytes"
    if count < 1024 * 1024:
        return f"{count / 1024:,.1f} KB"
    return f"{count / (1024 * 1024):,.1f} MB"


def columns_used(job: BulkJob) -> str:
    """Which of the manifest's columns were read, and as what."""
    labels = bulk.manifests.FIELD_LABELS
    return "; ".join(f"{labels.get(field, field)} from “{column}”" for field, column in (job.columns or {}).items())


def screened_against(job: BulkJob) -> str:
    """Which registry the job's lines are screened against, said plainly: the registry as it
    was when screening started (its snapshot, named by the start of its digest so that two
    jobs can be compared), or when that will be fixed."""
    if job.snapshot_id:
        version = job.snapshot_id.rsplit(":", 1)[-1][:8]
        when = f" as of {_moment(job.started_at)}, when screening started" if job.started_at else \
            " as it was when screening started"
        return (f"The registry{when} (registry version {version}). Every line is screened against it, even if "
                "the registry changes meanwhile.")
    if job.state == "validating":
        return ("The registry as it is when screening starts: it is fixed then, and every line is screened "
                "against it.")
    return "None: no line was screened."


@bp.get("")
@readers
def index():
    return render_template("bulk/index.html", jobs=bulk.list_jobs(db.session, actor()), states=STATES,
                           fields=bulk.manifests.FIELDS, labels=bulk.manifests.FIELD_LABELS,
                           max_size=_readable_size(current_app.config["MAX_MANIFEST_BYTES"]))


def _readable_size(limit: int) -> str:
    """A size limit as people say it: "1 GB", "500 MB"."""
    mb = limit // (1024 * 1024)
    return f"{mb // 1024} GB" if mb >= 1024 and mb % 1024 == 0 else f"{mb} MB"


@bp.post("")
@officer_only
def submit():
    # Manifests are far larger than anything else this service takes.
    request.max_content_length = current_app.config["MAX_MANIFEST_BYTES"] + 1024 * 1024
    upload = request.files.get("manifest")
    if form_expired("uploaded"):
        return redirect(url_for("bulk.index"))
    if upload is None or not upload.filename:
        flash("Choose a manifest file (CSV or JSON Lines).", "error")
        return redirect(url_for("bulk.index"))
    try:
        job = bulk.submit_manifest(db.session, actor(), blobs(), upload.stream, upload.filename,
                                   max_bytes=current_app.config["MAX_MANIFEST_BYTES"])
    except ValidationError as exc:
        db.session.rollback()
        flash(f"Nothing was screened: {'; '.join(exc.errors.values())}", "error")
        return redirect(url_for("bulk.index"))
    commit()
    try:
        jobs.start_submitted(current_app._get_current_object(), job)
    except jobs.QueueUnavailable as exc:
        flash(f"{exc} Try again in a moment.", "error")
    return redirect(url_for("bulk.show", job_id=job.id))


def _hits_query(job_id: int):
    statement = select(BulkHit).where(BulkHit.job_id == job_id)
    brand = (request.args.get("brand") or "").strip()
    if brand:
        statement = statement.where(BulkHit.brand_name == brand)
    recommendation = request.args.get("recommendation") or ""
    if recommendation in bulk.HIT_RECOMMENDATIONS:
        statement = statement.where(BulkHit.recommendation == recommendation)
    try:
        min_score = float(request.args.get("min_score") or 0)
    except ValueError:
        min_score = 0.0
    if min_score > 0:
        statement = statement.where(BulkHit.score >= min_score)
    return statement


def _sorted(statement):
    key = request.args.get("sort") if request.args.get("sort") in SORTS else "score"
    direction = request.args.get("dir") if request.args.get("dir") in ("asc", "desc") else \
        ("desc" if key == "score" else "asc")
    order = (desc if direction == "desc" else asc)(SORTS[key])
    return statement.order_by(order, BulkHit.line_no), key, direction


@bp.get("/<int:job_id>")
@readers
def show(job_id: int):
    job = bulk.get_job(db.session, actor(), job_id)
    if job.state in ("validating", "running"):
        jobs.ensure_running(current_app._get_current_object(), job.id)
    statement, key, direction = _sorted(_hits_query(job.id))
    filtered = db.session.scalar(select(func.count()).select_from(_hits_query(job.id).subquery()))
    pages = max(1, math.ceil(filtered / PAGE_SIZE))
    page = min(max(1, request.args.get("page", 1, type=int)), pages)
    hits = db.session.scalars(statement.limit(PAGE_SIZE).offset((page - 1) * PAGE_SIZE)).all()
    per_brand = db.session.execute(select(BulkHit.brand_name, func.count(BulkHit.id)).where(BulkHit.job_id == job.id)
                                   .group_by(BulkHit.brand_name).order_by(func.count(BulkHit.id).desc()).limit(12)).all()
    buckets = [0] * 10
    # A literal (not a bound parameter), so PostgreSQL sees the same expression in GROUP BY.
    bucket = func.floor(BulkHit.score * literal_column("10"))
    for score, count in db.session.execute(select(bucket, func.count(BulkHit.id))
                                           .where(BulkHit.job_id == job.id).group_by(bucket)):
        buckets[min(9, int(score or 0))] += count
    brands = [b for b, in db.session.execute(select(BulkHit.brand_name).where(BulkHit.job_id == job.id)
                                             .group_by(BulkHit.brand_name).order_by(BulkHit.brand_name))]
    return render_template("bulk/show.html", job=job, progress=bulk.progress(job), hits=hits, page=page, pages=pages,
                           filtered=filtered, sort=key, direction=direction, per_brand=per_brand, buckets=buckets,
                           brands=brands, args=request.args, states=STATES, formats=FORMATS,
                           columns_used=columns_used(job), screened_against=screened_against(job),
                           line_label=bulk.manifests.line_label,
                           submitted=_moment(job.created_at), size=_size(job.manifest_bytes or 0))


@bp.get("/<int:job_id>/status.json")
@readers
def status(job_id: int):
    job = bulk.get_job(db.session, actor(), job_id)
    return jsonify(bulk.progress(job))


@bp.post("/<int:job_id>/cancel")
@officer_only
def cancel(job_id: int):
    if form_expired("changed"):
        return redirect(url_for("bulk.show", job_id=job_id))
    try:
        bulk.cancel(db.session, actor(), job_id)
    except Conflict as exc:
        db.session.rollback()
        flash(str(exc), "error")
    else:
        commit()
        flash("Cancelling: screening stops within moments. The hits found so far stay listed.", "success")
    return redirect(url_for("bulk.show", job_id=job_id))


@bp.get("/<int:job_id>/hits.csv")
@readers
def hits_csv(job_id: int):
    user = actor()
    job = bulk.get_job(db.session, user, job_id)
    statement, _, _ = _sorted(_hits_query(job.id))
    tenant = tenancy.tenant_of(user)

    def rows():
        # The rows are read as the body is sent, after this view returned, in a new app context
        # (``stream_with_context`` keeps the request, not its session): that session is told
        # whose rows it reads, or PostgreSQL's row security would give it none.
        tenancy.bind(db.session, tenant)
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\r\n")

        def flush() -> str:
            text = out.getvalue()
            out.seek(0)
            out.truncate()
            return text

        writer.writerow(["line", "id", "brand", "score", "recommendation", "reasons", "description",
                         "declared_brand", "consignor", "origin_country", "hs_code", "declared_value", "currency",
                         "transport_document"])
        yield flush()
        for hit in db.session.scalars(statement.execution_options(yield_per=2000)):
            line = hit.line or {}
            writer.writerow([_cell(v) for v in (
                hit.line_no, hit.line_ref, hit.brand_name, f"{hit.score:.4f}", hit.recommendation,
                " | ".join(hit.reasons), line.get("description", ""), line.get("declared_brand", ""),
                line.get("consignor", ""), line.get("origin_country", ""), line.get("hs_code", ""),
                line.get("declared_value", ""), line.get("currency", ""), line.get("transport_document", ""))])
            yield flush()

    response = Response(stream_with_context(rows()), mimetype="text/csv")
    response.headers["Content-Disposition"] = f'attachment; filename="bulk-{job.id}-hits.csv"'
    return response
