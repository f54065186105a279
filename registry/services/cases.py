"""Detention cases: opening, the state machine, the legal clock and deemed consent.

Every transition is checked against the machine below, recorded in the case's timeline and
in the audit log, and protected by an optimistic lock so that two officers advancing the same
case at once cannot both win.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from registry.models import (CaseEvent, Check, CheckDecision, DetentionCase, HolderResponse, Product,
                             ProductFeature, ReferenceImage, Role, Suggestion, User)
from registry.services import audit
from registry.services.auth import require_role
from registry.services.calendar import add_working_days
from registry.services.errors import Conflict, Forbidden, NotFound, ValidationError
from registry.services.profiles import DeadlineRule, Profile
from registry.services.validation import FieldCollector, parse_country

STATES = {
    "detained": "Detained",
    "notified": "Parties notified",
    "awaiting_response": "Awaiting the rights holder's response",
    "extension_granted": "Extension granted",
    "infringement_confirmed": "Infringement confirmed",
    "infringement_not_confirmed": "Infringement not confirmed",
    "destroyed": "Destroyed",
    "released": "Released",
    "court_proceedings": "Court proceedings started",
    "closed": "Closed",
}
OPEN_STATES = set(STATES) - {"closed"}
_RESPONSE = {"awaiting_response", "extension_granted"}


@dataclass(frozen=True)
class Transition:
    label: str
    sources: frozenset[str]
    target: str
    roles: frozenset[Role]


TRANSITIONS: dict[str, Transition] = {
    "notify": Transition("Record that the parties were notified", frozenset({"detained"}), "notified",
                         frozenset({Role.OFFICER})),
    "await_response": Transition("Wait for the rights holder's response", frozenset({"notified"}),
                                 "awaiting_response", frozenset({Role.OFFICER})),
    "grant_extension": Transition("Grant the rights holder an extension", frozenset({"awaiting_response"}),
                                  "extension_granted", frozenset({Role.OFFICER})),
    # Officers record an answer received by other means; holders answer with respond().
    "confirm_infringement": Transition("Infringement confirmed by the rights holder", frozenset(_RESPONSE),
                                       "infringement_confirmed", frozenset({Role.OFFICER})),
    "deny_infringement": Transition("Goods are genuine or not infringing", frozenset(_RESPONSE),
                                    "infringement_not_confirmed", frozenset({Role.OFFICER})),
    "destroy": Transition("Goods destroyed", frozenset({"infringement_confirmed"}), "destroyed",
                          frozenset({Role.OFFICER})),
    "start_proceedings": Transition("Court proceedings started", frozenset({"infringement_confirmed"}),
                                    "court_proceedings", frozenset({Role.OFFICER})),
    "release": Transition("Goods released",
                          frozenset({"infringement_not_confirmed", "awaiting_response", "extension_granted"}),
                          "released", frozenset({Role.OFFICER})),
    "close": Transition("Close the case", frozenset({"destroyed", "released", "court_proceedings"}), "closed",
                        frozenset({Role.OFFICER})),
}


# -- visibility ------------------------------------------------------------------------------

def get_case(session: Session, actor: User, case_id: int) -> DetentionCase:
    """Customs roles see every case; a rights holder only the cases under its own rights."""
    case = session.get(DetentionCase, case_id)
    if case is None:
        raise NotFound(f"case {case_id}")
    if actor.role == Role.HOLDER and (case.organisation_id is None or case.organisation_id != actor.organisation_id):
        raise NotFound(f"case {case_id}")
    return case


def record_view(session: Session, actor: User, case: DetentionCase, *, photo=None) -> None:
    """Audit a look at a case or one of its photos: both show evidence and declarant data."""
    audit.record(session, actor, "case.photo_view" if photo is not None else "case.view", object_type="case",
                 object_id=case.id, organisation_id=case.organisation_id,
                 after={"photo": photo.sha256} if photo is not None else None)


def list_cases(session: Session, actor: User) -> list[DetentionCase]:
    statement = select(DetentionCase).order_by(DetentionCase.id.desc())
    if actor.role == Role.HOLDER:
        statement = statement.where(DetentionCase.organisation_id == (actor.organisation_id or -1))
    return list(session.scalars(statement))


# -- opening ---------------------------------------------------------------------------------

def open_detention(session: Session, actor: User, profiles: Mapping[str, Profile], check_id: int,
                   raw: Mapping[str, Any], *, today: date | None = None) -> DetentionCase:
    """Detain the goods of a check: the check's decision becomes "detain" and a case opens."""
    require_role(actor, Role.OFFICER)
    today = today or date.today()
    check = session.get(Check, check_id)
    if check is None:
        raise NotFound(f"check {check_id}")
    if session.scalar(select(DetentionCase.id).where(DetentionCase.check_id == check.id)) is not None:
        raise Conflict("a case is already open for this check")
    if check.decision not in (None, CheckDecision.DETAIN):
        raise Conflict(f"this check was decided '{check.decision.value}'; it cannot be detained now")
    fields = FieldCollector()
    values = fields.values
    profile = profiles.get(str(raw.get("jurisdiction") or ""))
    if profile is None:
        fields.errors["jurisdiction"] = f"choose one of: {', '.join(sorted(profiles))}"
    procedure = str(raw.get("procedure") or "standard")
    legal_basis = str(raw.get("legal_basis") or "")
    if profile is not None:
        if procedure not in profile.procedures:
            fields.errors["procedure"] = f"{profile.code} knows the procedures: {', '.join(profile.procedures)}"
        if legal_basis not in profile.legal_bases:
            fields.errors["legal_basis"] = f"{profile.code} knows the legal bases: {', '.join(profile.legal_bases)}"
    values["office"] = str(raw.get("office") or actor.office or "").strip()
    if not values["office"]:
        fields.errors["office"] = "name the responsible customs office"
    fields.attempt("office_country", lambda: parse_country(raw.get("office_country") or "", "office_country"))
    values["goods_description"] = str(raw.get("goods_description") or check.description or "").strip()
    if not values["goods_description"]:
        fields.errors["goods_description"] = "describe the goods detained"
    quantity = raw.get("goods_quantity", check.quantity)
    try:
        values["goods_quantity"] = float(quantity) if quantity not in (None, "") else None
    except (TypeError, ValueError):
        fields.errors["goods_quantity"] = "enter the quantity detained as a number"
    if values.get("goods_quantity") is not None and values["goods_quantity"] < 0:
        fields.errors["goods_quantity"] = "enter a quantity of zero or more"
    suggestion = None
    if raw.get("suggestion_id"):
        suggestion = session.get(Suggestion, int(raw["suggestion_id"]))
        if suggestion is None or suggestion.check_id != check.id:
            fields.errors["suggestion_id"] = "choose one of this check's suggestions"
    elif check.suggestions:
        suggestion = check.suggestions[0]
    if legal_basis in ("application", "recordation") and (suggestion is None or suggestion.right is None):
        fields.errors["legal_basis"] = "an application or recordation needs the right the goods infringe"
    if suggestion is not None and suggestion.right is not None and legal_basis in ("application", "recordation") \
            and not suggestion.right.protection_in_force(today):
        fields.errors["legal_basis"] = (f"customs protection of {suggestion.right.mark_text} is not in force "
                                        "today: detain ex officio, or release")
    fields.raise_errors()
    right = suggestion.right if suggestion is not None else None
    presented = check.created_at.date() if check.created_at else today
    case = DetentionCase(
        check_id=check.id, officer_id=actor.id, jurisdiction=profile.code, procedure=procedure,
        legal_basis=legal_basis, right_id=right.id if right else None,
        organisation_id=right.organisation_id if right else None,
        goods_unit=str(raw.get("goods_unit") or check.quantity_unit or "")[:20], state="detained",
        presented_on=min(presented, today), detained_on=today, **values)
    if check.decision is None:
        check.decision, check.decision_reason = CheckDecision.DETAIN, "detention case opened"
        check.decided_at = datetime.now(timezone.utc)
    session.add(case)
    session.flush()
    _event(session, actor, case, "open", "", "detained", note=str(raw.get("note") or ""))
    return case


# -- transitions -----------------------------------------------------------------------------

def _require_same_office(actor: User, case: DetentionCase) -> None:
    if actor.role == Role.OFFICER and actor.office and case.office.strip().lower() != actor.office.strip().lower():
        raise Forbidden(f"this case is handled by {case.office}; officers of {actor.office} can read it, not change it")


def available_transitions(case: DetentionCase, actor: User) -> list[tuple[str, Transition]]:
    if actor.role == Role.OFFICER and actor.office and case.office.strip().lower() != actor.office.strip().lower():
        return []
    return [(name, t) for name, t in TRANSITIONS.items()
            if case.state in t.sources and actor.role in t.roles
            and not (name == "grant_extension" and case.extension_granted_on is not None)]


def advance(session: Session, actor: User, case_id: int, action: str, *, expected_version: int | None = None,
            note: str = "", today: date | None = None,
            profiles: Mapping[str, Profile] | None = None) -> DetentionCase:
    """Apply one transition; refuse it with a message when the case's state does not allow it."""
    case = get_case(session, actor, case_id)  # first, so another tenant's case is simply not found
    if not any(actor.role in t.roles for t in TRANSITIONS.values()):
        raise Forbidden("your role cannot change cases")
    _require_same_office(actor, case)
    transition = TRANSITIONS.get(action)
    if transition is None:
        raise ValidationError({"action": f"'{action}' is not something a case can do"})
    if actor.role not in transition.roles:
        raise Forbidden(f"your role cannot '{transition.label.lower()}'")
    if expected_version is not None and case.version != expected_version:
        raise Conflict("the case changed since you opened it; look at its timeline and try again")
    return _transition(session, actor, case, action, note=note, today=today, profiles=profiles)


def _transition(session: Session, actor: User, case: DetentionCase, action: str, *, note: str,
                today: date | None, profiles: Mapping[str, Profile] | None) -> DetentionCase:
    transition = TRANSITIONS[action]
    if case.state not in transition.sources:
        allowed = ", ".join(STATES[s].lower() for s in sorted(transition.sources))
        raise Conflict(f"a case that is '{STATES[case.state].lower()}' cannot go to "
                       f"'{STATES[transition.target].lower()}' (only from: {allowed})")
    if action == "grant_extension" and case.extension_granted_on is not None:
        raise Conflict("an extension was already granted; it can be granted once")
    today = today or date.today()
    try:
        apply_deemed_consent(session, case, today=today)
        source = case.state
        case.state = transition.target
        if action == "notify":
            case.notified_on = today
        elif action == "grant_extension":
            case.extension_granted_on = today
        _event(session, actor, case, action, source, transition.target, note=note)
        if action == "notify":
            _notify_holder(session, actor, case, profiles)
        session.flush()
    except StaleDataError:
        # The version column no longer matched: someone else's change committed first.
        session.rollback()
        raise Conflict("another user changed this case at the same moment; nothing was saved. "
                       "Look at its timeline and try again") from None
    return case


def _notify_holder(session: Session, actor: User, case: DetentionCase,
                   profiles: Mapping[str, Profile] | None) -> None:
    from registry.services.notifications import record_notices
    from registry.services.profiles import load_profiles

    profile = (profiles or load_profiles()).get(case.jurisdiction)
    if profile is None:
        return
    deadline = next_deadline(case, profile)
    text = (f"{deadline.label} by {deadline.due:%A %d %B %Y} ({deadline.rule.basis})" if deadline
            else "see the case")
    record_notices(session, actor, case, profile, text)


def _event(session: Session, actor: User | None, case: DetentionCase, action: str, source: str, target: str, *,
           note: str = "", details: dict | None = None) -> None:
    case.events.append(CaseEvent(actor_id=actor.id if actor else None, action=action, from_state=source,
                                 to_state=target, note=note.strip()[:5000], details=details or {}))
    audit.record(session, actor, f"case.{action}", object_type="case", object_id=case.id,
                 organisation_id=case.organisation_id,
                 before={"state": source} if source else None,
                 after={"state": target, **({"note": note.strip()[:500]} if note.strip() else {}), **(details or {})})


# -- the legal clock -------------------------------------------------------------------------

@dataclass(frozen=True)
class Deadline:
    rule: DeadlineRule
    due: date | None  # None until its starting event happened
    met: bool
    extended: bool

    @property
    def label(self) -> str:
        return self.rule.label

    def days_left(self, today: date) -> int | None:
        return None if self.due is None else (self.due - today).days

    def overdue(self, today: date) -> bool:
        return self.due is not None and not self.met and today > self.due


def _start(case: DetentionCase, start: str) -> date | None:
    return {"presented": case.presented_on, "detained": case.detained_on, "notified": case.notified_on}[start]


def _met(case: DetentionCase, rule: DeadlineRule) -> bool:
    if not rule.met_by:
        return False
    return any(event.action in rule.met_by for event in case.events) or \
        ("detain" in rule.met_by and case.detained_on is not None)


def case_deadlines(case: DetentionCase, profile: Profile) -> list[Deadline]:
    deadlines = []
    for rule in profile.deadlines:
        if rule.procedures and case.procedure not in rule.procedures:
            continue
        start = _start(case, rule.start)
        due, extended = None, False
        if start is not None:
            days = rule.perishable_days if case.procedure == "perishable" and rule.perishable_days else rule.days
            if rule.extension_days and case.extension_granted_on is not None and case.procedure != "perishable":
                days, extended = days + rule.extension_days, True
            due = (add_working_days(start, days, case.office_country) if rule.unit == "working"
                   else start + timedelta(days=days))
        deadlines.append(Deadline(rule, due, _met(case, rule) or case.state == "closed", extended))
    return deadlines


def next_deadline(case: DetentionCase, profile: Profile) -> Deadline | None:
    pending = [d for d in case_deadlines(case, profile) if d.due is not None and not d.met
               and not (d.rule.deemed_consent and case.declarant_consent)]
    return min(pending, key=lambda d: d.due, default=None)


def apply_deemed_consent(session: Session, case: DetentionCase, profile: Profile | None = None, *,
                         today: date | None = None) -> bool:
    """Record the declarant's consent when its deadline passed in silence. Idempotent."""
    from registry.services.profiles import load_profiles

    today = today or date.today()
    if case.declarant_consent or case.state not in OPEN_STATES:
        return False
    profile = profile or load_profiles().get(case.jurisdiction)
    if profile is None:
        return False
    for deadline in case_deadlines(case, profile):
        if deadline.rule.deemed_consent and deadline.due is not None and today > deadline.due:
            case.declarant_consent = "deemed"
            _event(session, None, case, "deemed_consent", case.state, case.state,
                   note=f"The declarant did not object by {deadline.due.isoformat()} ({deadline.rule.basis}): "
                        "consent to destruction is deemed given.",
                   details={"rule": deadline.rule.key, "due": deadline.due.isoformat()})
            return True
    return False


def apply_all_deemed_consents(session: Session, profiles: Mapping[str, Profile], *, today: date | None = None) -> int:
    """The periodic job: apply deemed consent to every open case whose deadline passed."""
    applied = 0
    for case in session.scalars(select(DetentionCase).where(DetentionCase.state.in_(OPEN_STATES),
                                                             DetentionCase.declarant_consent == "")):
        applied += apply_deemed_consent(session, case, profiles.get(case.jurisdiction), today=today)
    return applied


@dataclass(frozen=True)
class DashboardRow:
    case: DetentionCase
    deadline: Deadline | None

    def sort_key(self, today: date) -> tuple:
        if self.deadline is None:
            return (2, date.max, self.case.id)
        return (0 if self.deadline.overdue(today) else 1, self.deadline.due, self.case.id)


def dashboard(session: Session, actor: User, profiles: Mapping[str, Profile], *, today: date | None = None
              ) -> list[DashboardRow]:
    """Open cases by how soon their next deadline falls, overdue first."""
    today = today or date.today()
    rows = []
    for case in list_cases(session, actor):
        if case.state not in OPEN_STATES:
            continue
        profile = profiles.get(case.jurisdiction)
        rows.append(DashboardRow(case, next_deadline(case, profile) if profile else None))
    return sorted(rows, key=lambda row: row.sort_key(today))


# -- the rights holder's answer ------------------------------------------------------------------

ANSWERS = ("infringement", "genuine", "extension")


def respond(session: Session, actor: User, case_id: int, raw: Mapping[str, Any], *,
            profiles: Mapping[str, Profile] | None = None, today: date | None = None) -> HolderResponse:
    """Record the holder's answer; confirm or deny the infringement, or ask for more time."""
    from registry.services.profiles import load_profiles

    require_role(actor, Role.HOLDER)
    case = get_case(session, actor, case_id)
    today = today or date.today()
    if case.state not in _RESPONSE:
        raise Conflict(f"the case is '{STATES[case.state].lower()}': it is not waiting for your answer")
    profile = (profiles or load_profiles()).get(case.jurisdiction)
    due = next((d.due for d in case_deadlines(case, profile) if d.rule.key in ("holder_response",)), None) \
        if profile else None
    if due is not None and today > due:
        raise Conflict(f"the deadline for your answer passed on {due:%d %B %Y}; contact {case.office} directly")
    answer = str(raw.get("answer") or "")
    errors: dict[str, str] = {}
    if answer not in ANSWERS:
        errors["answer"] = "say whether the goods infringe your right, are genuine, or that you need more time"
    if answer == "extension" and (case.extension_granted_on is not None or case.procedure == "perishable"):
        errors["answer"] = "no (further) extension can be given for this case"
    feature_ids = {int(i) for i in raw.get("wrong_features") or [] if str(i).isdigit()}
    image_ids = {int(i) for i in raw.get("cited_images") or [] if str(i).isdigit()}
    features = session.scalars(select(ProductFeature).join(Product).where(
        ProductFeature.id.in_(feature_ids), Product.right_id == case.right_id)).all() if feature_ids else []
    if len(features) != len(feature_ids):
        errors["wrong_features"] = "pick features registered for the products of this right"
    images = session.scalars(select(ReferenceImage.id).where(
        ReferenceImage.id.in_(image_ids), ReferenceImage.organisation_id == actor.organisation_id)).all() \
        if image_ids else []
    if len(images) != len(image_ids):
        errors["cited_images"] = "cite your own registered images"
    reasons = str(raw.get("reasons") or "").strip()
    if answer == "infringement" and not (reasons or features):
        errors["reasons"] = "say why the goods infringe: pick the features they get wrong or explain"
    if errors:
        raise ValidationError(errors)
    response = HolderResponse(
        case_id=case.id, actor_id=actor.id, answer=answer,
        wrong_features=[{"id": f.id, "text": f.description, "covert": f.covert} for f in features],
        cited_image_ids=sorted(image_ids), consent_to_destruction=bool(raw.get("consent_to_destruction")),
        reasons=reasons[:10_000])
    session.add(response)
    session.flush()
    audit.record(session, actor, "case.response", object_type="case", object_id=case.id,
                 organisation_id=case.organisation_id,
                 after={"answer": answer, "wrong_features": [f.id for f in features],
                        "cited_images": sorted(image_ids), "consent": response.consent_to_destruction})
    if answer == "extension":
        _event(session, actor, case, "extension_requested", case.state, case.state, note=reasons)
    else:
        _transition(session, actor, case, "confirm_infringement" if answer == "infringement" else "deny_infringement",
                    note=reasons, today=today, profiles=profiles)
    return response


# -- notes, photos and samples -------------------------------------------------------------------

def _open_case_for_officer(session: Session, actor: User, case_id: int) -> DetentionCase:
    case = get_case(session, actor, case_id)
    require_role(actor, Role.OFFICER)
    _require_same_office(actor, case)
    if case.state == "closed":
        raise Conflict("the case is closed")
    return case


def add_note(session: Session, actor: User, case_id: int, text: str) -> DetentionCase:
    case = _open_case_for_officer(session, actor, case_id)
    if not text.strip():
        raise ValidationError({"note": "write the note"})
    _event(session, actor, case, "note", case.state, case.state, note=text)
    return case


def add_photos(session: Session, actor: User, blobs, policy, case_id: int,
               photos: list[tuple[bytes, str]]) -> DetentionCase:
    """More photos of the detained goods, kept byte-exact beside those of the check."""
    from registry.models import CheckPhoto
    from registry.services.products import _display_name
    from registry.services.uploads import inspect_image, make_thumbnail

    case = _open_case_for_officer(session, actor, case_id)
    if not photos:
        raise ValidationError({"photos": "choose one or more photos"})
    infos = []
    for index, (data, filename) in enumerate(photos, start=1):
        try:
            infos.append(inspect_image(data, max_bytes=policy.max_bytes, max_pixels=policy.max_pixels,
                                       name=f"photo {index} ('{_display_name(filename)}')"))
        except ValidationError as exc:
            raise ValidationError({"photos": next(iter(exc.errors.values()))}) from None
    position = max((p.position for p in case.check.photos), default=0)
    added = []
    for (data, filename), info in zip(photos, infos):
        position += 1
        sha, thumb = blobs.put(data), blobs.put(make_thumbnail(data, size=policy.thumbnail_size))
        case.check.photos.append(CheckPhoto(position=position, sha256=sha, thumbnail_sha256=thumb,
                                            content_type=info.content_type, byte_size=info.byte_size,
                                            width=info.width, height=info.height,
                                            original_filename=_display_name(filename)))
        added.append(sha)
    _event(session, actor, case, "photos", case.state, case.state, details={"photos": added},
           note=f"{len(added)} photo(s) added")
    return case


def record_sample(session: Session, actor: User, case_id: int, raw: Mapping[str, Any]) -> DetentionCase:
    from registry.models import Sample
    from registry.services.validation import parse_date

    case = _open_case_for_officer(session, actor, case_id)
    fields = FieldCollector()
    for key, label in (("reference", "the sample's reference"), ("quantity", "the quantity taken"),
                       ("handed_to", "who received it")):
        fields.values[key] = str(raw.get(key) or "").strip()[:300]
        if not fields.values[key]:
            fields.errors[key] = f"enter {label}"
    fields.attempt("handed_on", lambda: parse_date(raw.get("handed_on"), "handed_on") or date.today())
    fields.raise_errors()
    if fields.values["handed_on"] < case.detained_on:
        raise ValidationError({"handed_on": "a sample cannot be handed over before the goods were detained"})
    sample = Sample(case_id=case.id, **fields.values)
    session.add(sample)
    session.flush()
    _event(session, actor, case, "sample", case.state, case.state,
           note=f"Sample {sample.reference} ({sample.quantity}) handed to {sample.handed_to} on {sample.handed_on}",
           details={"sample": sample.id})
    return case


def return_sample(session: Session, actor: User, case_id: int, sample_id: int,
                  returned_on: date | None = None) -> DetentionCase:
    from registry.models import Sample

    case = _open_case_for_officer(session, actor, case_id)
    sample = session.get(Sample, sample_id)
    if sample is None or sample.case_id != case.id:
        raise NotFound(f"sample {sample_id}")
    if sample.returned_on is not None:
        raise Conflict(f"sample {sample.reference} was already returned on {sample.returned_on}")
    sample.returned_on = returned_on or date.today()
    _event(session, actor, case, "sample_returned", case.state, case.state,
           note=f"Sample {sample.reference} returned on {sample.returned_on}", details={"sample": sample.id})
    return case
