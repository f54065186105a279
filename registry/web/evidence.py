"""Evidence: export a case's signed package, download it again, verify any package, and the
case register for reporting."""

from __future__ import annotations


from flask import Blueprint, Response, current_app, flash, redirect, render_template, request, url_for
from flask_login import login_required

from registry.extensions import db
from registry.services import evidence
from registry.services.calendar import local_today
from registry.services.errors import ValidationError
from registry.services.validation import parse_date
from registry.web.cases import profiles
from registry.web.common import actor, blobs, commit, form_expired, roles_required

bp = Blueprint("evidence", __name__)


def signer():
    return current_app.extensions["signer"]


@bp.post("/cases/<int:case_id>/evidence")
@roles_required(*evidence.EXPORT_ROLES)
def export(case_id: int):
    if form_expired("exported"):
        return redirect(url_for("cases.show", case_id=case_id))
    try:
        made = evidence.export_evidence(db.session, actor(), blobs(), signer(), case_id, profiles=profiles())
    except evidence.EvidenceIncomplete as exc:
        db.session.rollback()
        flash(f"The package was not exported: {exc}", "error")
        return redirect(url_for("cases.show", case_id=case_id))
    commit()
    flash(f"Evidence package exported{' (interim: the case is still open)' if made.interim else ''}: "
          f"{made.file_count} files, manifest SHA-256 {made.manifest_sha256[:16]}…", "success")
    return redirect(url_for("cases.show", case_id=case_id, _anchor="evidence"))


@bp.get("/cases/<int:case_id>/evidence/<int:export_id>")
@roles_required(*evidence.EXPORT_ROLES)
def download(case_id: int, export_id: int):
    made, data = evidence.download_export(db.session, actor(), blobs(), case_id, export_id)
    commit()  # the download is an audit event
    response = Response(data, mimetype="application/zip")
    response.headers["Content-Disposition"] = (
        f'attachment; filename="CASE-{case_id:06d}-evidence-{made.exported_at:%Y%m%d-%H%M%S}.zip"')
    response.headers["Cache-Control"] = "private, no-store"
    return response


@bp.route("/evidence/verify", methods=["GET", "POST"])
@login_required
def verify():
    report, filename, status = None, "", 200
    if request.method == "POST":
        upload = request.files.get("package")
        if form_expired("checked"):
            status = 400
        elif upload is None or not upload.filename:
            flash("Choose the package ZIP to verify.", "error")
            status = 400
        else:
            filename = upload.filename
            data = upload.read(current_app.config["MAX_PACKAGE_BYTES"] + 1)
            if len(data) > current_app.config["MAX_PACKAGE_BYTES"]:
                flash("The file is larger than any evidence package this service issues; nothing was checked.", "error")
                status = 413
            else:
                report = evidence.verify_package(data, signer())
                status = 200 if report.ok else 422
    return render_template("evidence/verify.html", report=report, filename=filename, key=signer()), status


@bp.get("/evidence/public-key.pem")
def public_key():
    """The key packages and checkpoints are signed with: public, so anyone can check them."""
    response = Response(signer().public_pem, mimetype="application/x-pem-file")
    response.headers["Content-Disposition"] = 'attachment; filename="registry-signing-key.pem"'
    return response


@bp.get("/cases/register.csv")
@roles_required(*evidence.EXPORT_ROLES)
def register():
    today = local_today()
    try:
        start = parse_date(request.args.get("start") or today.replace(month=1, day=1).isoformat(), "start")
        end = parse_date(request.args.get("end") or today.isoformat(), "end")
        text = evidence.case_register_csv(db.session, actor(), profiles(), start=start, end=end)
    except ValidationError as exc:
        flash(f"No register was made: {'; '.join(exc.errors.values())}", "error")
        return redirect(url_for("cases.index"))
    response = Response(text, mimetype="text/csv")
    response.headers["Content-Disposition"] = f'attachment; filename="case-register-{start}-{end}.csv"'
    return response
