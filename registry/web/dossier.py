"""A rights holder's own dossier: profile, contacts, rights, products, images, suppliers, import."""

from __future__ import annotations

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from sqlalchemy import select

from registry.extensions import db
from registry.forms import apply_service_errors
from registry.forms.dossier import (ConfirmForm, ContactForm, ImageForm, ImportForm, LogoForm,
                                    OrganisationForm, ProductForm, RightForm, SupplierForm)
from registry.models import ContactPerson, Product, Right, Role, Supplier
from registry.services import importing, organisations
from registry.services.cases import awaiting_answer
from registry.services import products as product_service
from registry.services import rights as right_service
from registry.services import suppliers as supplier_service
from registry.services.completeness import product_completeness
from registry.services.errors import ValidationError
from registry.services.registry_search import search_products, supplier_count
from registry.services.reminders import protection_reminders
from registry.services.tenancy import get_visible
from registry.web.common import actor, blobs, commit, form_values, roles_required, image_bytes, upload_policy
from registry.web.cases import profiles
from registry.services.suppliers import authorised_suppliers
from registry.web.registry_browse import standing_of, standings_of

bp = Blueprint("dossier", __name__, url_prefix="/dossier")
holder_only = roles_required(Role.HOLDER)


def _org_id() -> int:
    return actor().organisation_id  # type: ignore[return-value]


def _save(form, action, success: str, target: str):
    """Run a service call for a validated form; on a domain error show it on the form."""
    try:
        result = action()
    except ValidationError as exc:
        db.session.rollback()
        apply_service_errors(form, exc)
        return None
    commit()
    flash(success, "success")
    return redirect(target(result) if callable(target) else target)


def _render(template: str, form, **context):
    return render_template(template, form=form, **context), 400 if form.errors else 200


@bp.get("")
@holder_only
def overview():
    user = actor()
    items = search_products(db.session, user)
    count = supplier_count(db.session, user.organisation_id)
    scores = {p.id: product_completeness(p, supplier_count=count) for p in items}
    reminders = protection_reminders(
        db.session, user, within_working_days=current_app.config["PROTECTION_REMINDER_WORKING_DAYS"])
    return render_template("dossier/overview.html", organisation=user.organisation,
                           products=items, scores=scores, reminders=reminders,
                           supplier_count=count, awaiting=awaiting_answer(db.session, user, profiles()))


# -- organisation profile and contacts ---------------------------------------------------

@bp.route("/profile", methods=["GET", "POST"])
@holder_only
def profile():
    organisation = actor().organisation
    form = OrganisationForm(obj=organisation)
    if form.validate_on_submit():
        done = _save(form, lambda: organisations.update_profile(db.session, actor(), organisation.id,
                                                                 form_values(form)),
                     "Profile saved.", url_for("dossier.profile"))
        if done:
            return done
    return _render("dossier/profile.html", form, organisation=organisation, delete_form=ConfirmForm())


@bp.route("/contacts/new", methods=["GET", "POST"])
@holder_only
def new_contact():
    form = ContactForm()
    if form.validate_on_submit():
        done = _save(form, lambda: organisations.add_contact(db.session, actor(), _org_id(), form_values(form)),
                     "Contact added.", url_for("dossier.profile"))
        if done:
            return done
    return _render("dossier/form.html", form, title="Add a contact person",
                   back=url_for("dossier.profile"))


@bp.route("/contacts/<int:contact_id>/edit", methods=["GET", "POST"])
@holder_only
def edit_contact(contact_id: int):
    contact = get_visible(db.session, actor(), ContactPerson, contact_id)
    form = ContactForm(obj=contact, data={"countries": ", ".join(contact.countries)}
                       if request.method == "GET" else None)
    if form.validate_on_submit():
        done = _save(form, lambda: organisations.update_contact(db.session, actor(), contact_id, form_values(form)),
                     "Contact saved.", url_for("dossier.profile"))
        if done:
            return done
    return _render("dossier/form.html", form, title=f"Edit contact: {contact.name}",
                   back=url_for("dossier.profile"))


@bp.post("/contacts/<int:contact_id>/delete")
@holder_only
def delete_contact(contact_id: int):
    organisations.delete_contact(db.session, actor(), contact_id)
    commit()
    flash("Contact removed.", "success")
    return redirect(url_for("dossier.profile"))


# -- rights ----------------------------------------------------------------------------

@bp.get("/rights")
@holder_only
def rights():
    items = db.session.scalars(select(Right).where(Right.organisation_id == _org_id())
                               .order_by(Right.mark_text)).all()
    return render_template("dossier/rights.html", rights=items)


def _right_form_data(right: Right) -> dict:
    return {"nice_classes": ", ".join(str(c) for c in right.nice_classes),
            "protection_jurisdictions": ", ".join(right.protection_jurisdictions),
            "kind": right.kind.value, "office": right.office.value}


@bp.route("/rights/new", methods=["GET", "POST"])
@holder_only
def new_right():
    form = RightForm()
    if form.validate_on_submit():
        done = _save(form, lambda: right_service.register_right(db.session, actor(), _org_id(), form_values(form)),
                     "Right registered.", lambda r: url_for("dossier.right", right_id=r.id))
        if done:
            return done
    return _render("dossier/form.html", form, title="Register a right", back=url_for("dossier.rights"))


@bp.get("/rights/<int:right_id>")
@holder_only
def right(right_id: int):
    item = get_visible(db.session, actor(), Right, right_id)
    return render_template("dossier/right.html", right=item, logo_form=LogoForm(),
                           delete_form=ConfirmForm())


@bp.route("/rights/<int:right_id>/edit", methods=["GET", "POST"])
@holder_only
def edit_right(right_id: int):
    item = get_visible(db.session, actor(), Right, right_id)
    form = RightForm(obj=item, data=_right_form_data(item) if request.method == "GET" else None)
    if form.validate_on_submit():
        done = _save(form, lambda: right_service.update_right(db.session, actor(), right_id, form_values(form)),
                     "Right saved.", url_for("dossier.right", right_id=right_id))
        if done:
            return done
    return _render("dossier/form.html", form, title=f"Edit right: {item.mark_text}",
                   back=url_for("dossier.right", right_id=right_id))


@bp.post("/rights/<int:right_id>/delete")
@holder_only
def delete_right(right_id: int):
    try:
        right_service.delete_right(db.session, actor(), right_id)
    except ValidationError as exc:
        db.session.rollback()
        flash(str(exc), "error")
        return redirect(url_for("dossier.right", right_id=right_id))
    commit()
    flash("Right removed.", "success")
    return redirect(url_for("dossier.rights"))


@bp.post("/rights/<int:right_id>/logos")
@holder_only
def upload_logo(right_id: int):
    item = get_visible(db.session, actor(), Right, right_id)
    form = LogoForm()
    if form.validate_on_submit():
        upload = request.files.get("image")
        if not upload or not upload.filename:
            form.image.errors = ["Choose an image file"]
        else:
            done = _save(form, lambda: product_service.add_reference_image(
                db.session, actor(), blobs(), upload_policy(), kind="logo", data=image_bytes(upload),
                filename=upload.filename, right_id=right_id), "Logo uploaded.",
                url_for("dossier.right", right_id=right_id))
            if done:
                return done
    return _render("dossier/right.html", LogoForm(), right=item, logo_form=form,
                   delete_form=ConfirmForm())


# -- products --------------------------------------------------------------------------

def _product_form(product: Product | None = None) -> ProductForm:
    data = None
    if product is not None and request.method == "GET":
        data = {
            "gtins": ", ".join(product.gtins), "hs_codes": ", ".join(product.hs_codes),
            "production_countries": ", ".join(product.production_countries),
            "intended_markets": ", ".join(product.intended_markets),
            "overt_features": "\n".join(f.description for f in product.features if not f.covert),
            "covert_features": "\n".join(f.description for f in product.features if f.covert),
            "counterfeit_clues": "\n".join(product.counterfeit_clues),
            "right_id": str(product.right_id or ""),
        }
    form = ProductForm(obj=product, data=data)
    marks = db.session.scalars(select(Right).where(Right.organisation_id == _org_id())
                               .order_by(Right.mark_text)).all()
    form.right_id.choices = [("", "Not linked to a right")] + [(str(r.id), r.label) for r in marks]
    return form


@bp.get("/products")
@holder_only
def products():
    user = actor()
    items = search_products(db.session, user, request.args.get("q", ""))
    count = supplier_count(db.session, user.organisation_id)
    scores = {p.id: product_completeness(p, supplier_count=count) for p in items}
    return render_template("dossier/products.html", products=items, scores=scores, standings=standings_of(items),
                           q=request.args.get("q", ""))


@bp.route("/products/new", methods=["GET", "POST"])
@holder_only
def new_product():
    form = _product_form()
    if form.validate_on_submit():
        done = _save(form, lambda: product_service.register_product(db.session, actor(), _org_id(), form_values(form)),
                     "Product registered. Add its reference images next.",
                     lambda p: url_for("dossier.product", product_id=p.id))
        if done:
            return done
    return _render("dossier/form.html", form, title="Register a product", back=url_for("dossier.products"))


def _product_page(item: Product, image_form: ImageForm):
    """The product with what customs see of it: its right's standing and the authorised
    supply chain; ``image_form`` is the upload form (as ``form``, its errors head the page)."""
    suppliers = authorised_suppliers(db.session, item.organisation_id)
    return render_template("dossier/product.html", product=item, image_form=image_form, form=image_form,
                           delete_form=ConfirmForm(), suppliers=suppliers,
                           standing=standing_of(item.right),
                           completeness=product_completeness(item, supplier_count=len(suppliers))), \
        400 if image_form.errors else 200


@bp.get("/products/<int:product_id>")
@holder_only
def product(product_id: int):
    return _product_page(get_visible(db.session, actor(), Product, product_id), ImageForm())


@bp.route("/products/<int:product_id>/edit", methods=["GET", "POST"])
@holder_only
def edit_product(product_id: int):
    item = get_visible(db.session, actor(), Product, product_id)
    form = _product_form(item)
    if form.validate_on_submit():
        done = _save(form, lambda: product_service.update_product(db.session, actor(), product_id, form_values(form)),
                     "Product saved.", url_for("dossier.product", product_id=product_id))
        if done:
            return done
    return _render("dossier/form.html", form, title=f"Edit product: {item.label}",
                   back=url_for("dossier.product", product_id=product_id))


@bp.post("/products/<int:product_id>/delete")
@holder_only
def delete_product(product_id: int):
    product_service.delete_product(db.session, actor(), product_id)
    commit()
    flash("Product removed.", "success")
    return redirect(url_for("dossier.products"))


@bp.post("/products/<int:product_id>/images")
@holder_only
def upload_image(product_id: int):
    item = get_visible(db.session, actor(), Product, product_id)
    form = ImageForm()
    if form.validate_on_submit():
        upload = request.files.get("image")
        if not upload or not upload.filename:
            form.image.errors = ["Choose an image file"]
        else:
            done = _save(form, lambda: product_service.add_reference_image(
                db.session, actor(), blobs(), upload_policy(), kind=form.kind.data,
                data=image_bytes(upload), filename=upload.filename, product_id=product_id),
                "Image uploaded.", url_for("dossier.product", product_id=product_id))
            if done:
                return done
    return _product_page(item, form)


@bp.post("/images/<int:image_id>/delete")
@holder_only
def delete_image(image_id: int):
    image = product_service.get_image(db.session, actor(), image_id)
    target = (url_for("dossier.product", product_id=image.product_id) if image.product_id
              else url_for("dossier.right", right_id=image.right_id))
    product_service.delete_reference_image(db.session, actor(), image_id)
    commit()
    flash("Image removed.", "success")
    return redirect(target)


# -- suppliers -------------------------------------------------------------------------

@bp.get("/suppliers")
@holder_only
def suppliers():
    items = db.session.scalars(select(Supplier).where(Supplier.organisation_id == _org_id())
                               .order_by(Supplier.role, Supplier.name)).all()
    return render_template("dossier/suppliers.html", suppliers=items, delete_form=ConfirmForm())


@bp.route("/suppliers/new", methods=["GET", "POST"])
@holder_only
def new_supplier():
    form = SupplierForm()
    if form.validate_on_submit():
        done = _save(form, lambda: supplier_service.add_supplier(db.session, actor(), _org_id(), form_values(form)),
                     "Supplier added.", url_for("dossier.suppliers"))
        if done:
            return done
    return _render("dossier/form.html", form, title="Add an authorised supplier",
                   back=url_for("dossier.suppliers"))


@bp.route("/suppliers/<int:supplier_id>/edit", methods=["GET", "POST"])
@holder_only
def edit_supplier(supplier_id: int):
    item = get_visible(db.session, actor(), Supplier, supplier_id)
    form = SupplierForm(obj=item, data={"role": item.role.value} if request.method == "GET" else None)
    if form.validate_on_submit():
        done = _save(form, lambda: supplier_service.update_supplier(db.session, actor(), supplier_id, form_values(form)),
                     "Supplier saved.", url_for("dossier.suppliers"))
        if done:
            return done
    return _render("dossier/form.html", form, title=f"Edit supplier: {item.name}",
                   back=url_for("dossier.suppliers"))


@bp.post("/suppliers/<int:supplier_id>/delete")
@holder_only
def delete_supplier(supplier_id: int):
    supplier_service.delete_supplier(db.session, actor(), supplier_id)
    commit()
    flash("Supplier removed.", "success")
    return redirect(url_for("dossier.suppliers"))


# -- bulk import -----------------------------------------------------------------------

@bp.route("/import", methods=["GET", "POST"])
@holder_only
def import_file():
    form = ImportForm()
    report = None
    if form.validate_on_submit():
        upload = request.files.get("data")
        archive = request.files.get("images")
        if not upload or not upload.filename:
            form.data.errors = ["Choose a CSV or JSON file"]
        else:
            config = current_app.config
            limits = importing.ImportLimits(max_rows=config["MAX_IMPORT_ROWS"],
                                            max_zip_entries=config["MAX_ZIP_ENTRIES"],
                                            max_zip_uncompressed=config["MAX_ZIP_UNCOMPRESSED"])
            try:
                report = importing.import_dossier(
                    db.session, actor(), blobs(), upload_policy(), organisation_id=_org_id(),
                    kind=form.kind.data, data=upload.read(), filename=upload.filename,
                    images_zip=archive.read() if archive and archive.filename else None,
                    limits=limits)
            except ValidationError as exc:
                db.session.rollback()
                exc.errors = {("data" if k == "file" else k): msg for k, msg in exc.errors.items()}
                apply_service_errors(form, exc)
            else:
                commit()
    return render_template("dossier/import.html", form=form, report=report,
                           product_columns=importing.PRODUCT_COLUMNS,
                           supplier_columns=importing.SUPPLIER_COLUMNS), 400 if form.errors else 200
