"""Detention cases: the deadline dashboard, each case's clock and timeline, and its transitions."""

from __future__ import annotations


from flask import (Blueprint, Response, current_app, flash, get_template_attribute, redirect, render_template,
                   request, url_for)
from flask_login import login_required

from registry.extensions import db
from registry.forms import apply_service_errors
from registry.forms.cases import AnswerForm, DetainForm, TransitionForm
from functools import cache

from markupsafe import Markup, escape
from sqlalchemy import Select, bindparam, exists, select
from sqlalchemy.orm import joinedload
from sqlalchemy.orm.attributes import set_committed_value

from registry.models import (CaseEvent, CheckPhoto, DetentionCase, EvidenceExport, HolderResponse, Product, Role,
                             Sample)
from registry.services import cases as case_service
from registry.services import checks as check_service
from registry.services.calendar import local_today, zone_name
from registry.services import evidence
from registry.services import notifications
from registry.mail import mailer_from_config
from registry.services.errors import Conflict, Forbidden, NotFound, ValidationError
from registry.services.profiles import load_profiles
from registry.web.common import actor, blobs, commit, form_values, roles_required, upload_policy, uploaded_photos
from registry.web.images import full_size_response

bp = Blueprint("cases", __name__)


def profiles():
    return load_profiles(current_app.config.get("JURISDICTION_PROFILES_FILE"))


@bp.route("/checks/<int:check_id>/detain", methods=["GET", "POST"])
@roles_required(Role.OFFICER)
def detain(check_id: int):
    check = check_service.get_check(db.session, actor(), check_id)
    form = DetainForm()
    form.jurisdiction.choices = [(code, p.name) for code, p in sorted(profiles().items())]
    form.suggestion_id.choices = [(str(s.id), f"{s.brand_name} ({s.recommendation}, score {s.score:.2f})")
                                  for s in check.suggestions if s.right_id] + [("", "None: ex officio")]
    if not form.is_submitted():
        form.office.data = actor().office
        for name, value in case_service.last_detention_details(db.session, actor()).items():
            form[name].data = value
        form.goods_description.data = check.description
        form.goods_quantity.data = notifications.plain_number(check.quantity) if check.quantity is not None else ""
        form.goods_unit.data = check.quantity_unit
    if form.validate_on_submit():
        try:
            case = case_service.open_detention(db.session, actor(), profiles(), check_id, form_values(form))
        except ValidationError as exc:
            db.session.rollback()
            apply_service_errors(form, exc)
        except Conflict as exc:
            db.session.rollback()
            flash(str(exc), "error")
            return redirect(url_for("checks.show", check_id=check_id))
        else:
            commit()
            flash("Goods detained. Notify the declarant and the rights holder before the first deadline.", "success")
            return redirect(url_for("cases.show", case_id=case.id))
    return render_template("cases/detain.html", form=form, check=check), 400 if form.errors else 200


@bp.get("/cases")
@login_required
def index():
    today = local_today()
    rows = case_service.dashboard(db.session, actor(), profiles())  # each case on its office's day
    closed = [c for c in case_service.list_cases(db.session, actor()) if c.state not in case_service.OPEN_STATES]
    return render_template("cases/index.html", rows=rows, closed=closed, today=today, states=case_service.STATES)


@bp.get("/cases/<int:case_id>")
@login_required
def show(case_id: int):
    return case_page(case_id)


def case_page(case_id: int, *, status: int = 200, draft: dict | None = None,
              answer_form: AnswerForm | None = None):
    """The case as it is now; ``draft`` is what the user typed into a form that was refused,
    shown again in that form so that nothing they wrote is lost (the holder's answer comes back
    as ``answer_form``, with its errors on its fields)."""
    user = actor()
    # Everything the page shows, in a few queries rather than one per relationship as the
    # template reaches it; get_case below then finds it loaded (and checks who may see it). Held
    # in a name: the session keeps only weak references to what it loaded.
    loaded, has_exports = _load_case_page(case_id)  # noqa: F841
    case = case_service.get_case(db.session, user, case_id)
    profile = profiles().get(case.jurisdiction)
    case_service.apply_deemed_consent(db.session, case, profile)  # when anyone looks at an overdue case
    case_service.record_view(db.session, user, case)  # the page shows declarant data
    commit(keep_loaded=True)  # what was read is what the page shows: no need to read it again
    today = local_today(case.office_zone)
    products, images = [], []
    if user.role == Role.HOLDER and case.right_id:
        products = db.session.scalars(select(Product).where(Product.right_id == case.right_id)
                                      .order_by(Product.name)).all()
        images = [image for product in products for image in product.images] + list(case.right.logos)
    answering = user.role == Role.HOLDER and case.state in ("awaiting_response", "extension_granted")
    if answering:
        answer_form = answer_form or AnswerForm(formdata=None)
        answer_form.offer(case_service.holder_answers(case))
        answer_form.wrong_features.choices = [(str(f.id), _feature_label(product, f))
                                              for product in products for f in product.features]
        answer_form.cited_images.choices = [(str(i.id), f"{i.kind.value.title()}: {i.original_filename}")
                                            for i in images]
    return render_template("cases/show.html", case=case, profile=profile, today=today,
                           office_zone=zone_name(case.office_zone), products=products,
                           images=images, answering=answering, answer_form=answer_form,
                           deadlines=case_service.case_deadlines(case, profile) if profile else [],
                           next_deadline=case_service.next_deadline(case, profile, today) if profile else None,
                           transitions=case_service.available_transitions(case, user, profile, today=today),
                           declarant_answer=user.role == Role.OFFICER
                           and case_service.declarant_answer_awaited(case, profile),
                           states=case_service.STATES,
                           form=answer_form if answering else TransitionForm(),  # its errors head the page
                           exports=(evidence.exports_of(db.session, user, case.id) if has_exports else [])
                           if user.role in evidence.EXPORT_ROLES else None, draft=draft or {}), status


def _feature_label(product: Product, feature) -> Markup:
    """A feature to pick in the holder's answer; a covert one marked as every page marks it."""
    label = escape(f"{product.label}: {feature.description}")
    if not feature.covert:
        return label
    return Markup(" ").join((label, get_template_attribute("macros.html", "customs_only")()))


@cache
def _case_page_statements() -> dict[str, Select]:
    """The case with what its page shows of it, and whether it has any holder's answers,
    samples, photos or evidence packages: those it has none of (most cases, until late) are then
    known to be empty without a query each; and each of its collections as its relationship
    orders it. Built once: only the case's id changes."""
    case_id = bindparam("case_id")
    return {
        "case": select(DetentionCase,
                       exists().where(HolderResponse.case_id == DetentionCase.id),
                       exists().where(Sample.case_id == DetentionCase.id),
                       exists().where(CheckPhoto.check_id == DetentionCase.check_id),
                       exists().where(EvidenceExport.case_id == DetentionCase.id))
        .where(DetentionCase.id == case_id)
        .options(joinedload(DetentionCase.check), joinedload(DetentionCase.organisation),
                 joinedload(DetentionCase.right)),
        "events": select(CaseEvent).where(CaseEvent.case_id == case_id).options(joinedload(CaseEvent.actor))
        .order_by(CaseEvent.id),
        "responses": select(HolderResponse).where(HolderResponse.case_id == case_id)
        .options(joinedload(HolderResponse.actor)).order_by(HolderResponse.id),
        "samples": select(Sample).where(Sample.case_id == case_id).order_by(Sample.id),
        "photos": select(CheckPhoto).where(CheckPhoto.check_id == bindparam("check_id")).order_by(CheckPhoto.position),
    }


def _load_case_page(case_id: int) -> tuple[DetentionCase | None, bool]:
    """The case as its page shows it (see ``_case_page_statements``), its collections loaded as
    the relationships would load them (in the same order), the empty ones without a query; and
    whether it has evidence packages."""
    statements = _case_page_statements()
    row = db.session.execute(statements["case"], {"case_id": case_id}).one_or_none()
    if row is None:
        return None, False
    case, responses, samples, photos, exports = row

    def read(name: str, **values: int) -> list:
        return list(db.session.scalars(statements[name], values))

    set_committed_value(case, "events", read("events", case_id=case.id))  # every case has its opening
    set_committed_value(case, "responses", read("responses", case_id=case.id) if responses else [])
    set_committed_value(case, "samples", read("samples", case_id=case.id) if samples else [])
    set_committed_value(case.check, "photos", read("photos", check_id=case.check_id) if photos else [])
    return case, exports


def seen_version() -> int | None:
    """The version of the case the user's page showed: every form that changes a case sends it,
    and the change is refused if the case has changed since."""
    value = request.form.get("version", "")
    return int(value) if value.isdigit() else None


def refused(case_id: int, exc: Conflict | ValidationError, draft: dict):
    """A refused form that the user typed into: the case page again, with what they typed."""
    db.session.rollback()
    if isinstance(exc, ValidationError):
        flash(f"Nothing was recorded: {'; '.join(exc.errors.values())}", "error")
        return case_page(case_id, status=400, draft=draft)
    flash(f"Nothing was recorded: {exc}", "error")
    return case_page(case_id, status=409, draft=draft)


@bp.post("/cases/<int:case_id>/advance")
@login_required
def advance(case_id: int):
    form = TransitionForm()
    if not form.validate_on_submit():
        flash("The form expired; nothing was changed. Try again.", "error")
        return redirect(url_for("cases.show", case_id=case_id))
    try:
        case_service.advance(db.session, actor(), case_id, form.action.data or "", expected_version=seen_version(),
                             note=form.note.data or "", profiles=profiles())
    except (Conflict, ValidationError) as exc:
        db.session.rollback()
        flash(str(exc).split(": ", 1)[-1] if isinstance(exc, ValidationError) else str(exc), "error")
    except Forbidden:
        db.session.rollback()
        raise
    else:
        commit()
        deliver_notices()
        flash("Case updated.", "success")
    return redirect(url_for("cases.show", case_id=case_id))


def deliver_notices() -> None:
    notifications.deliver_pending(db.session, mailer_from_config(current_app.config),
                                  sender=current_app.config["MAIL_SENDER"])


@bp.post("/cases/<int:case_id>/respond")
@roles_required(Role.HOLDER)
def respond(case_id: int):
    form = AnswerForm()
    if not form.validate_on_submit():
        if form.csrf_token.errors:
            flash("The form expired; nothing was recorded. Try again.", "error")
            return redirect(url_for("cases.show", case_id=case_id))
        return case_page(case_id, status=400, answer_form=form)
    try:
        case_service.respond(db.session, actor(), case_id, form.values(), expected_version=seen_version(),
                             profiles=profiles())
    except ValidationError as exc:
        # Each problem on its field, listed in the page's error summary: nothing else to say.
        db.session.rollback()
        apply_service_errors(form, exc)
        return case_page(case_id, status=400, answer_form=form)
    except Conflict as exc:
        db.session.rollback()
        flash(f"Nothing was recorded: {exc}", "error")
        return case_page(case_id, status=409, answer_form=form)
    commit()
    flash("Your answer is recorded in the case.", "success")
    return redirect(url_for("cases.show", case_id=case_id))


def _officer_action(case_id: int, action, success: str, *, draft: dict | None = None):
    """Run an officer's change of a case; ``draft`` is what the officer typed, kept if refused."""
    form = TransitionForm()  # the CSRF token
    if not form.validate_on_submit():
        flash("The form expired; nothing was recorded. Try again.", "error")
        return redirect(url_for("cases.show", case_id=case_id))
    try:
        action()
    except (Conflict, ValidationError) as exc:
        if draft is not None:
            return refused(case_id, exc, draft)
        db.session.rollback()
        message = "; ".join(exc.errors.values()) if isinstance(exc, ValidationError) else str(exc)
        flash(f"Nothing was recorded: {message}", "error")
    else:
        commit()
        flash(success, "success")
    return redirect(url_for("cases.show", case_id=case_id))


@bp.post("/cases/<int:case_id>/declarant")
@roles_required(Role.OFFICER)
def declarant_answer(case_id: int):
    answer, note = request.form.get("answer", ""), request.form.get("note", "")
    return _officer_action(
        case_id, lambda: case_service.record_declarant_answer(db.session, actor(), case_id, answer, note=note,
                                                              expected_version=seen_version(), profiles=profiles()),
        "The declarant's answer is recorded.")


@bp.post("/cases/<int:case_id>/notes")
@roles_required(Role.OFFICER)
def add_note(case_id: int):
    text = request.form.get("note", "")
    return _officer_action(case_id, lambda: case_service.add_note(db.session, actor(), case_id, text,
                                                                  expected_version=seen_version()),
                           "Note added.", draft={"note": text})


@bp.post("/cases/<int:case_id>/photos")
@roles_required(Role.OFFICER)
def add_photos(case_id: int):
    uploads = uploaded_photos()
    return _officer_action(case_id, lambda: case_service.add_photos(db.session, actor(), blobs(), upload_policy(),
                                                                    case_id, uploads, expected_version=seen_version()),
                           "Photos added.")


SAMPLE_FIELDS = ("reference", "quantity", "handed_to", "handed_on")


@bp.post("/cases/<int:case_id>/samples")
@roles_required(Role.OFFICER)
def add_sample(case_id: int):
    return _officer_action(case_id, lambda: case_service.record_sample(db.session, actor(), case_id, request.form,
                                                                       expected_version=seen_version()),
                           "Sample recorded.", draft={key: request.form.get(key, "") for key in SAMPLE_FIELDS})


@bp.post("/cases/<int:case_id>/samples/<int:sample_id>/return")
@roles_required(Role.OFFICER)
def return_sample(case_id: int, sample_id: int):
    return _officer_action(case_id, lambda: case_service.return_sample(db.session, actor(), case_id, sample_id,
                                                                       expected_version=seen_version()),
                           "Sample marked as returned.")


def _viewed_photo(case_id: int, photo_id: int) -> CheckPhoto:
    """A photo of the case's goods, its look audited: for customs and for the holder whose right
    the case is under (anyone else is told the case is not found)."""
    case = case_service.get_case(db.session, actor(), case_id)
    item = next((p for p in case.check.photos if p.id == photo_id), None)
    if item is None:
        raise NotFound("photo")
    case_service.record_view(db.session, actor(), case, photo=item)
    commit()
    return item


@bp.get("/cases/<int:case_id>/photos/<int:photo_id>")
@login_required
def photo(case_id: int, photo_id: int):
    """Photos of the detained goods, as thumbnails."""
    item = _viewed_photo(case_id, photo_id)
    response = Response(blobs().get(item.thumbnail_sha256), mimetype="image/png")
    response.headers["Cache-Control"] = "private, no-store"
    return response


@bp.get("/cases/<int:case_id>/photos/<int:photo_id>/full")
@login_required
def photo_full_size(case_id: int, photo_id: int):
    """A photo of the detained goods at full size, under the thumbnail's rules."""
    item = _viewed_photo(case_id, photo_id)
    return full_size_response(item.sha256, name=f"case-{case_id}-photo-{item.position}")


@bp.get("/notices")
@roles_required(Role.HOLDER)
def notices():
    items = notifications.notices_for(db.session, actor())
    unread = {n.id for n in items if n.read_at is None}
    notifications.mark_read(db.session, actor(), items)
    commit()
    return render_template("cases/notices.html", notices=items, unread=unread)
