"""The registry as customs sees it: every approved holder's products, covert features included.

Rights holders may use the same pages; the tenant-scoped lookups show them only their own.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from flask import Blueprint, current_app, render_template, request
from flask_login import login_required
from sqlalchemy import select

from registry.extensions import db
from registry.forms.dossier import SearchForm
from registry.models import Organisation, OrganisationStatus, Product, Right, Supplier
from registry.services import audit
from registry.services.calendar import local_today, working_days_between
from registry.services.completeness import product_completeness
from registry.services.registry_search import search_listed, supplier_count
# The calendar the holder's reminders count on, so that a page and the reminder say the same.
from registry.services.reminders import _calendar_country
from registry.services.tenancy import get_visible, scoped
from registry.web.common import actor, commit, registry_index

bp = Blueprint("registry", __name__, url_prefix="/registry")


@dataclass(frozen=True)
class Standing:
    """Where a dated part of a right stands today: its customs protection, or its registration.

    ``state`` is ``in_force``, ``ending`` (within the holder's reminder window, counted in
    working days as the reminders count them), ``ended``, ``not_yet`` or ``not_recorded``."""

    state: str
    ends_on: date | None = None
    working_days_left: int | None = None


@dataclass(frozen=True)
class RightStanding:
    """A right as a product's pages show it: until when customs protect it, and its registration."""

    right: Right
    protection: Standing
    registration: Standing


def right_standing(right: Right, *, today: date | None = None) -> RightStanding:
    """Where ``right`` stands today; "ending" is within ``PROTECTION_REMINDER_WORKING_DAYS``."""
    today = today or local_today()
    window = current_app.config["PROTECTION_REMINDER_WORKING_DAYS"]
    country = _calendar_country(right)

    def ending(last_day: date) -> Standing:
        if last_day < today:
            return Standing("ended", last_day)
        left = working_days_between(today, last_day, country)
        return Standing("ending" if left <= window else "in_force", last_day, left)

    until = right.protection_valid_until
    if not (right.protection_number and right.protection_valid_from and until):
        protection = Standing("not_recorded", until)
    elif until >= today and right.protection_valid_from > today:
        protection = Standing("not_yet", until)
    else:
        protection = ending(until)
    expiry = right.registration_expiry
    registration = ending(expiry) if expiry else Standing("not_recorded")
    return RightStanding(right, protection, registration)


def authorised_suppliers(organisation_id: int) -> list[Supplier]:
    """The holder's authorised supply chain: who may make and ship its goods."""
    return list(db.session.scalars(select(Supplier).where(Supplier.organisation_id == organisation_id)
                                   .order_by(Supplier.role, Supplier.name)))


@bp.get("")
@login_required
def search():
    form = SearchForm(request.args)
    items = search_listed(db.session, actor(), form.q.data or "", index=registry_index())
    return render_template("registry/search.html", form=form, products=items)


@bp.get("/products/<int:product_id>")
@login_required
def product(product_id: int):
    user = actor()
    item = get_visible(db.session, user, Product, product_id)
    authorised = authorised_suppliers(item.organisation_id)
    if user.organisation_id != item.organisation_id:
        # Supplier lists, prices and covert features are confidential: reading them is audited.
        audit.record(db.session, user, "product.read", object_type="product", object_id=item.id,
                     organisation_id=item.organisation_id)
        commit()
    completeness = product_completeness(item, supplier_count=len(authorised))
    return render_template("registry/product.html", product=item, suppliers=authorised,
                           standing=right_standing(item.right) if item.right else None,
                           completeness=completeness, show_covert=user.sees_covert_features
                           or user.organisation_id == item.organisation_id)


@bp.get("/holders")
@login_required
def organisations():
    statement = scoped(select(Organisation), actor(), Organisation).order_by(Organisation.name)
    if actor().sees_whole_registry:
        statement = statement.where(Organisation.status == OrganisationStatus.APPROVED)
    return render_template("registry/organisations.html", organisations=db.session.scalars(statement).all())


@bp.get("/holders/<int:organisation_id>")
@login_required
def organisation(organisation_id: int):
    item = get_visible(db.session, actor(), Organisation, organisation_id)
    marks = db.session.scalars(select(Right).where(Right.organisation_id == item.id)
                               .order_by(Right.mark_text)).all()
    items = db.session.scalars(select(Product).where(Product.organisation_id == item.id)
                               .order_by(Product.name)).all()
    return render_template("registry/organisation.html", organisation=item,
                           standings=[right_standing(mark) for mark in marks],
                           products=items, supplier_count=supplier_count(db.session, item.id))
