"""Administrators: approve organisations, manage users and roles."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, url_for
from sqlalchemy import select

from registry.extensions import db
from registry.forms import apply_service_errors
from registry.forms.admin import RoleForm, UserForm
from registry.forms.dossier import ConfirmForm
from registry.models import Organisation, OrganisationStatus, Role, User
from registry.services import organisations as organisation_service
from registry.services import users as user_service
from registry.services.errors import Conflict, NotFound, ValidationError
from registry.web.common import actor, commit, roles_required

bp = Blueprint("admin", __name__, url_prefix="/admin")
admin_only = roles_required(Role.ADMIN)


def _get(model, object_id: int):
    obj = db.session.get(model, object_id)
    if obj is None:
        raise NotFound(f"{model.__name__} {object_id}")
    return obj


@bp.get("/organisations")
@admin_only
def organisations():
    items = db.session.scalars(select(Organisation).order_by(Organisation.status, Organisation.name)).all()
    return render_template("admin/organisations.html", organisations=items, form=ConfirmForm())


def _set_status(organisation_id: int, status: OrganisationStatus, message: str):
    form = ConfirmForm()
    if not form.validate_on_submit():
        flash("The form expired; nothing was changed. Try again.", "error")
        return redirect(url_for("admin.organisations"))
    organisation = _get(Organisation, organisation_id)
    try:
        organisation_service.set_organisation_status(db.session, actor(), organisation, status)
    except Conflict as exc:
        db.session.rollback()
        flash(str(exc), "error")
    else:
        commit()
        flash(message.format(name=organisation.name), "success")
    return redirect(url_for("admin.organisations"))


@bp.post("/organisations/<int:organisation_id>/approve")
@admin_only
def approve(organisation_id: int):
    return _set_status(organisation_id, OrganisationStatus.APPROVED, "{name} is approved.")


@bp.post("/organisations/<int:organisation_id>/suspend")
@admin_only
def suspend(organisation_id: int):
    return _set_status(organisation_id, OrganisationStatus.SUSPENDED, "{name} is suspended.")


@bp.get("/users")
@admin_only
def users():
    items = db.session.scalars(select(User).order_by(User.role, User.email)).all()
    return render_template("admin/users.html", users=items, form=ConfirmForm(), roles=list(Role),
                           organisations=_organisation_choices()[1:])


@bp.route("/users/new", methods=["GET", "POST"])
@admin_only
def new_user():
    form = UserForm()
    form.organisation_id.choices = _organisation_choices()
    if form.validate_on_submit():
        organisation = _get(Organisation, int(form.organisation_id.data)) if form.organisation_id.data else None
        try:
            user_service.create_user(db.session, actor(), email=form.email.data, name=form.name.data,
                                     password=form.password.data, role=Role(form.role.data),
                                     organisation=organisation, office=form.office.data or "")
        except ValidationError as exc:
            db.session.rollback()
            exc.errors = {("organisation_id" if k == "organisation" else k): v for k, v in exc.errors.items()}
            apply_service_errors(form, exc)
        else:
            commit()
            flash(f"Account created for {form.email.data}.", "success")
            return redirect(url_for("admin.users"))
    return render_template("dossier/form.html", form=form, title="Create an account",
                           back=url_for("admin.users")), 400 if form.errors else 200


def _set_active(user_id: int, active: bool):
    form = ConfirmForm()
    if not form.validate_on_submit():
        flash("The form expired; nothing was changed. Try again.", "error")
        return redirect(url_for("admin.users"))
    user = _get(User, user_id)
    try:
        user_service.set_user_active(db.session, actor(), user, active)
    except Conflict as exc:
        db.session.rollback()
        flash(str(exc), "error")
    else:
        commit()
        flash(f"{user.email} is {'enabled' if active else 'disabled and signed out everywhere'}.", "success")
    return redirect(url_for("admin.users"))


@bp.post("/users/<int:user_id>/disable")
@admin_only
def disable_user(user_id: int):
    return _set_active(user_id, False)


@bp.post("/users/<int:user_id>/enable")
@admin_only
def enable_user(user_id: int):
    return _set_active(user_id, True)


@bp.post("/users/<int:user_id>/role")
@admin_only
def change_role(user_id: int):
    form = RoleForm()
    form.organisation_id.choices = _organisation_choices()
    user = _get(User, user_id)
    if not form.validate_on_submit():
        flash("Choose a role (and an organisation for a rights holder); nothing was changed.", "error")
        return redirect(url_for("admin.users"))
    organisation = _get(Organisation, int(form.organisation_id.data)) if form.organisation_id.data else None
    try:
        user_service.set_user_role(db.session, actor(), user, Role(form.role.data), organisation)
    except (ValidationError, Conflict) as exc:
        db.session.rollback()
        flash(str(exc).split(": ", 1)[-1], "error")
    else:
        commit()
        flash(f"{user.email} is now {Role(form.role.data).label.lower()}; their sessions have ended.", "success")
    return redirect(url_for("admin.users"))


def _organisation_choices() -> list[tuple[str, str]]:
    return [("", "None")] + [(str(o.id), o.name)
                             for o in db.session.scalars(select(Organisation).order_by(Organisation.name))]
