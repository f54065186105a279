"""Officers check suspect goods against the registry and record what they decide."""

from __future__ import annotations

from functools import cache

from flask import Blueprint, Response, current_app, flash, redirect, render_template, request, url_for
from sqlalchemy import Select, bindparam, exists, select
from sqlalchemy.orm import joinedload, selectinload
from sqlalchemy.orm.attributes import set_committed_value

from matchers.scoring import IDENTITY_WEIGHTS
from registry.extensions import db
from registry.forms import apply_service_errors
from registry.forms.checks import CheckForm, DecisionForm, VerdictForm
from registry.models import (Check, CheckPhoto, DetentionCase, Organisation, Product, ReferenceImage, Right, Role,
                             Suggestion)
from registry.services import checks as check_service
from registry.services.errors import Conflict, NotFound, ValidationError
from registry.web.common import actor, blobs, commit, form_values, roles_required, upload_policy, uploaded_photos

bp = Blueprint("checks", __name__, url_prefix="/checks")
customs = roles_required(Role.OFFICER, Role.LEGAL, Role.ADMIN)
officer_only = roles_required(Role.OFFICER)


@bp.get("")
@customs
def index():
    items = db.session.scalars(select(Check).order_by(Check.id.desc()).limit(200)).all()
    return render_template("checks/index.html", checks=items)


@bp.route("/new", methods=["GET", "POST"])
@officer_only
def new():
    form = CheckForm()
    if not form.is_submitted() and request.args.get("bulk_hit", "").isdigit():
        _prefill_from_bulk_hit(form, int(request.args["bulk_hit"]))
    if form.validate_on_submit():
        uploads = uploaded_photos()
        try:
            check = check_service.screen_declaration(
                db.session, actor(), blobs(), current_app.extensions["engine"], upload_policy(),
                form_values(form), uploads)
        except ValidationError as exc:
            db.session.rollback()
            apply_service_errors(form, exc)
        else:
            commit()
            return redirect(url_for("checks.show", check_id=check.id))
    return render_template("checks/new.html", form=form), 400 if form.errors else 200


def _prefill_from_bulk_hit(form: CheckForm, hit_id: int) -> None:
    """Continue a bulk screening hit as a check: the manifest line fills the declaration."""
    from registry.services import bulk

    for name, value in bulk.check_prefill(db.session, actor(), hit_id).items():
        getattr(form, name).data = value


@bp.get("/<int:check_id>")
@customs
def show(check_id: int):
    # The check, its officer and the id of its case (if any) in one query, its suggestions in a
    # second when it has any; get_check then finds the check loaded. Held in names: the session
    # keeps only weak references to what it loaded.
    loaded, case_id = _load_check_page(check_id)  # noqa: F841
    check = check_service.get_check(db.session, actor(), check_id)
    image_ids = {e["reference_image_id"] for s in check.suggestions for e in s.evidence if e.get("reference_image_id")}
    references = {i.id: i for i in db.session.scalars(select(ReferenceImage).where(ReferenceImage.id.in_(image_ids)))
                  } if image_ids else {}
    right_ids = [s.right_id for s in check.suggestions if s.right_id]
    products, rights = {}, []
    if right_ids:
        # What the page shows of each suggested right (its holder's contacts, its products'
        # features) in three queries, not three for each right and one for each product.
        rights = db.session.scalars(select(Right).where(Right.id.in_(right_ids))
                                    .options(joinedload(Right.organisation).selectinload(Organisation.contacts))).all()
        for product in db.session.scalars(select(Product).where(Product.right_id.in_(right_ids))
                                          .options(selectinload(Product.features)).order_by(Product.name)):
            products.setdefault(product.right_id, []).append(product)
    # The decision form only where the page shows it (each form makes a CSRF token).
    deciding = actor().role == Role.OFFICER and check.decision is None
    return render_template("checks/show.html", check=check, references=references, products=products,
                           decision_form=DecisionForm() if deciding else None, case_id=case_id,
                           signal_groups=SIGNAL_GROUPS, signal_names=SIGNAL_NAMES)


#: The engine's signals by what their score means (docs/matchers.md, "Signals"); any other
#: signal is shown with the suspicion signals.
SIGNAL_NAMES = {"identity": list(IDENTITY_WEIGHTS), "validity": ["validity"]}
SIGNAL_GROUPS = [
    ("identity", "Which brand: 1.00 means surely this brand"),
    ("suspicion", "Signs of counterfeit: 0.00 means nothing suspicious, 1.00 strongly suspicious"),
    ("validity", "Customs protection: 1.00 means in force"),
]


@cache
def _check_page_statements() -> dict[str, Select]:
    """A check with its officer, the id of the case opened for it (or None) and whether it has
    any suggestions (most checks have none: then no query for them); and its suggestions as
    their relationship orders them. Built once: only the check's id changes."""
    check_id = bindparam("check_id")
    return {
        "check": select(Check, select(DetentionCase.id).where(DetentionCase.check_id == Check.id).scalar_subquery(),
                        exists().where(Suggestion.check_id == Check.id))
        .where(Check.id == check_id).options(joinedload(Check.officer)),
        "suggestions": select(Suggestion).where(Suggestion.check_id == check_id).order_by(Suggestion.rank),
    }


def _load_check_page(check_id: int) -> tuple[Check | None, int | None]:
    """The check as its page shows it, its suggestions loaded as the relationship would load
    them (none without a query when it has none); and the id of its case."""
    statements = _check_page_statements()
    row = db.session.execute(statements["check"], {"check_id": check_id}).one_or_none()
    if row is None:
        return None, None
    check, case_id, suggested = row
    set_committed_value(check, "suggestions", list(db.session.scalars(statements["suggestions"], {"check_id": check.id}))
                        if suggested else [])
    return check, case_id


@bp.post("/<int:check_id>/suggestions/<int:suggestion_id>/verdict")
@officer_only
def verdict(check_id: int, suggestion_id: int):
    check = check_service.get_check(db.session, actor(), check_id)
    if db.session.get(Suggestion, suggestion_id) not in check.suggestions:
        raise NotFound("suggestion")
    form = VerdictForm()
    if form.validate_on_submit():
        check_service.record_verdict(db.session, actor(), suggestion_id, form.verdict.data)
        commit()
        flash("Verdict recorded.", "success")
    else:
        flash("Choose a verdict; nothing was recorded.", "error")
    return redirect(url_for("checks.show", check_id=check_id) + f"#suggestion-{suggestion_id}")


@bp.post("/<int:check_id>/decision")
@officer_only
def decide(check_id: int):
    form = DecisionForm()
    if not form.validate_on_submit():
        flash("Choose release, inspect further or detain; nothing was recorded.", "error")
        return redirect(url_for("checks.show", check_id=check_id))
    try:
        check_service.decide_check(db.session, actor(), check_id, form.decision.data, form.reason.data or "")
    except (Conflict, ValidationError) as exc:
        db.session.rollback()
        flash(str(exc).split(": ", 1)[-1] if isinstance(exc, ValidationError) else str(exc), "error")
    else:
        commit()
        flash("Decision recorded.", "success")
    return redirect(url_for("checks.show", check_id=check_id))


@bp.get("/<int:check_id>/photos/<int:photo_id>")
@customs
def photo(check_id: int, photo_id: int):
    check = check_service.get_check(db.session, actor(), check_id)
    item = db.session.get(CheckPhoto, photo_id)
    if item is None or item.check_id != check.id:
        raise NotFound("photo")
    response = Response(blobs().get(item.thumbnail_sha256), mimetype="image/png")
    response.headers["Cache-Control"] = "private, no-store"
    return response
