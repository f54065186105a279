from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required, login_user, logout_user

from registry.extensions import db, limiter
from registry.forms import apply_service_errors
from registry.forms.auth import ChangePasswordForm, LoginForm, SignupForm
from registry.services import auth, organisations, tenancy
from registry.services.errors import ValidationError
from registry.web.common import actor, commit

bp = Blueprint("auth", __name__)


def _login_limit() -> str:
    return current_app.config["LOGIN_RATE_LIMIT"]


def _safe_next(target: str | None) -> str:
    # Only a local path: never redirect a user who just signed in to another site.
    if target and target.startswith("/") and not target.startswith("//") and not urlsplit(target).netloc:
        return target
    return url_for("main.home")


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(_login_limit, methods=["POST"])
def login():
    if current_user.is_authenticated:
        return redirect(url_for("main.home"))
    form = LoginForm()
    if form.validate_on_submit():
        user = auth.authenticate(db.session, form.email.data, form.password.data)
        if user is None:
            form.form_errors.append("The e-mail address or password is not right, or the account is disabled.")
        else:
            tenancy.bind_actor(db.session, user)  # signed in from here on
            auth.start_session(db.session, user)
            commit()
            login_user(user)
            return redirect(_safe_next(request.args.get("next")))
    return render_template("auth/login.html", form=form), 200 if not form.errors else 400


@bp.post("/logout")
@login_required
def logout():
    user = actor()
    auth.end_session(db.session, user, user.session_token or "")
    commit()
    logout_user()
    flash("You have signed out.", "info")
    return redirect(url_for("auth.login"))


@bp.route("/signup", methods=["GET", "POST"])
def signup():
    form = SignupForm()
    if form.validate_on_submit():
        try:
            organisations.register_organisation(
                db.session, {"name": form.organisation.data, "country": form.country.data},
                user_name=form.name.data, email=form.email.data, password=form.password.data)
        except ValidationError as exc:
            db.session.rollback()
            exc.errors = {("organisation" if k == "name" else k): v for k, v in exc.errors.items()}
            apply_service_errors(form, exc)
        else:
            commit()
            flash("Your organisation is registered and waits for approval by an administrator. "
                  "You can sign in now.", "success")
            return redirect(url_for("auth.login"))
    return render_template("auth/signup.html", form=form), 200 if not form.errors else 400


@bp.route("/account/password", methods=["GET", "POST"])
@login_required
def change_password():
    form = ChangePasswordForm()
    if form.validate_on_submit():
        try:
            auth.change_password(db.session, actor(), form.current_password.data, form.new_password.data)
        except ValidationError as exc:
            db.session.rollback()
            apply_service_errors(form, exc)
        else:
            commit()
            login_user(actor())  # the new session token replaces the revoked one
            flash("Your password is changed. Every other session has been signed out.", "success")
            return redirect(url_for("main.home"))
    return render_template("auth/password.html", form=form), 200 if not form.errors else 400
