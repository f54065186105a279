"""The registry as customs sees it: every approved holder's products, covert features included.

Rights holders may use the same pages; the tenant-scoped lookups show them only their own.
"""

from __future__ import annotations

from flask import Blueprint, current_app, render_template, request
from flask_login import login_required
from sqlalchemy import select

from registry.extensions import db
from registry.forms.dossier import SearchForm
from registry.models import Organisation, OrganisationStatus, Product, Right
from registry.services import audit
from registry.services.completeness import product_completeness
from registry.services.registry_search import search_listed, supplier_count
from registry.services.reminders import RightStanding, right_standing
from registry.services.suppliers import authorised_suppliers
from registry.services.tenancy import get_visible, scoped
from registry.web.common import actor, commit, registry_index

bp = Blueprint("registry", __name__, url_prefix="/registry")


def standing_of(right: Right | None):
    """Where a product's right stands today, on the holder's reminder window (None: no right)."""
    if right is None:
        return None
    return right_standing(right, window_working_days=current_app.config["PROTECTION_REMINDER_WORKING_DAYS"])


def standings_of(products) -> dict[int, RightStanding]:
    """Per right id, where each listed product's right stands (a table of products shows it)."""
    rights = {p.right.id: p.right for p in products if p.right is not None}
    return {right_id: standing_of(right) for right_id, right in rights.items()}


@bp.get("")
@login_required
def search():
    form = SearchForm(request.args)
    items = search_listed(db.session, actor(), form.q.data or "", index=registry_index())
    return render_template("registry/search.html", form=form, products=items, standings=standings_of(items))


@bp.get("/products/<int:product_id>")
@login_required
def product(product_id: int):
    user = actor()
    item = get_visible(db.session, user, Product, product_id)
    authorised = authorised_suppliers(db.session, item.organisation_id)
    if user.organisation_id != item.organisation_id:
        # Supplier lists, prices and covert features are confidential: reading them is audited.
        audit.record(db.session, user, "product.read", object_type="product", object_id=item.id,
                     organisation_id=item.organisation_id)
        commit()
    completeness = product_completeness(item, supplier_count=len(authorised))
    return render_template("registry/product.html", product=item, suppliers=authorised,
                           standing=standing_of(item.right),
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
                           standings=[standing_of(mark) for mark in marks],
                           products=items, supplier_count=supplier_count(db.session, item.id))
