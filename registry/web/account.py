"""A user's own API tokens."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import login_required

from registry.extensions import db
from registry.services import api_tokens
from registry.services.errors import ValidationError
from registry.web.common import actor, commit, form_expired

bp = Blueprint("account", __name__, url_prefix="/account")


@bp.route("/tokens", methods=["GET", "POST"])
@login_required
def tokens():
    new_token, error, status = None, "", 200
    if request.method == "POST":
        if form_expired("created"):
            return redirect(url_for("account.tokens"))
        try:
            _, new_token = api_tokens.create_token(db.session, actor(), request.form.get("name", ""))
        except ValidationError as exc:
            db.session.rollback()
            error, status = exc.errors.get("name", str(exc)), 400
        else:
            commit()
    return render_template("account/tokens.html", tokens=api_tokens.list_tokens(db.session, actor()),
                           new_token=new_token, error=error), status


@bp.post("/tokens/<int:token_id>/revoke")
@login_required
def revoke_token(token_id: int):
    if form_expired("changed"):
        return redirect(url_for("account.tokens"))
    api_tokens.revoke_token(db.session, actor(), token_id)
    commit()
    flash("Token revoked: it no longer works.", "success")
    return redirect(url_for("account.tokens"))
