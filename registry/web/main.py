from __future__ import annotations

from flask import Blueprint, redirect, url_for
from flask_login import current_user

from registry.models import Role

bp = Blueprint("main", __name__)


@bp.get("/")
def home():
    if not current_user.is_authenticated:
        return redirect(url_for("auth.login"))
    if current_user.role == Role.HOLDER:
        return redirect(url_for("dossier.overview"))
    if current_user.role == Role.ADMIN:
        return redirect(url_for("admin.organisations"))
    if current_user.role == Role.OFFICER:
        return redirect(url_for("checks.new"))
    return redirect(url_for("cases.index"))  # legal staff: the cases, their clocks and exports


@bp.get("/healthz")
def health():
    return {"status": "ok"}
