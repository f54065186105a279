"""Detention cases: opening, the state machine, the legal clock and deemed consent.

Every transition is checked against the machine below, recorded in the case's timeline and
in the audit log. Every change to a case (a transition, the holder's answer, a note, photos, a
sample taken or returned, deemed consent) is made against the version of the case its writer
saw and bumps that version once: a writer whose page is out of date, or who loses a race with
another writer, is refused with a message and nothing of theirs is kept (see ``_claimed``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from typing import Any

from sqlalchemy import exists, or_, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from registry.models import (CaseEvent, Check, CheckDecision, DetentionCase, HolderResponse, Product,
                             ProductFeature, ReferenceImage, Role, Suggestion, User)
from registry.models.base import utcnow
from registry.services import audit
from registry.services.auth import require_role
from registry.services.calendar import add_working_days, local_date, local_today
from registry.services.errors import Conflict, Forbidden, NotFound, ValidationError
from registry.services.profiles import DeadlineRule, Profile
from registry.services.validation import FieldCollector, parse_country, parse_region, parse_zone

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
#: The goods have left detention (or a court has them): no legal clock of the detention runs on.
SETTLED_STATES = {"destroyed", "released", "court_proceedings", "closed"}
#: The goods are held and their destruction still turns on the declarant's consent.
CONSENT_STATES = {"notified", "awaiting_response", "extension_granted", "infringement_confirmed"}
DECLARANT_ANSWERS = {"consent": "given", "objection": "objected"}
#: The procedure for small consignments: only under an application whose holder asked for it,
#: and the rights holder is not notified (Reg. 608/2013 Art. 26(1)-(2)) unless the declarant
#: objects to destruction (Art. 26(8)-(9)).
SMALL_CONSIGNMENT = "small_consignment"
#: The profiles' deadlines that are the rights holder's period to answer: after notification,
#: and a small consignment's after the holder was informed of the declarant's objection.
HOLDER_PERIODS = ("holder_response", "small_consignment_proceedings")


@dataclass(frozen=True)
class Transition:
    label: str
    sources: frozenset[str]
    target: str
    roles: frozenset[Role]
    #: For a step that cannot be undone or ends the detention: what its note must say (the
    #: note is then required, and the step is never one click).
    note_prompt: str = ""


#: In the order the page offers them: the first is the main button, so the likelier step comes
#: before the exceptional one (an extension).
TRANSITIONS: dict[str, Transition] = {
    "notify": Transition("Record that the parties were notified", frozenset({"detained"}), "notified",
                         frozenset({Role.OFFICER})),
    "await_response": Transition("Wait for the rights holder's response", frozenset({"notified"}),
                                 "awaiting_response", frozenset({Role.OFFICER})),
    # A small consignment's holder hears of the detention only when the declarant objects to
    # destruction (Art. 26(8)); from then, the holder has 10 working days to start proceedings.
    "inform_holder": Transition("Inform the rights holder of the declarant's objection", frozenset({"notified"}),
                                "awaiting_response", frozenset({Role.OFFICER})),
    # Officers record an answer received by other means; holders answer with respond().
    "confirm_infringement": Transition("Infringement confirmed by the rights holder", frozenset(_RESPONSE),
                                       "infringement_confirmed", frozenset({Role.OFFICER})),
    "grant_extension": Transition("Grant the rights holder an extension", frozenset({"awaiting_response"}),
                                  "extension_granted", frozenset({Role.OFFICER})),
    "deny_infringement": Transition("Goods are genuine or not infringing", frozenset(_RESPONSE),
                                    "infringement_not_confirmed", frozenset({Role.OFFICER}),
                                    note_prompt="How did the rights holder say so, and when?"),
    # From "notified" only in the small-consignment procedure, where the rights holder is not
    # asked (see ``_refusal``): the declarant's consent is enough.
    "destroy": Transition("Goods destroyed", frozenset({"infringement_confirmed", "notified"}), "destroyed",
                          frozenset({Role.OFFICER}),
                          note_prompt="Where, when and by whom were they destroyed (certificate reference)?"),
    # From "awaiting_response" only for a small consignment whose holder was informed of the
    # declarant's objection (see ``_refusal``).
    "start_proceedings": Transition("Court proceedings started", frozenset({"infringement_confirmed",
                                                                            "awaiting_response"}),
                                    "court_proceedings", frozenset({Role.OFFICER})),
    "release": Transition("Goods released",
                          frozenset({"infringement_not_confirmed", "awaiting_response", "extension_granted"}),
                          "released", frozenset({Role.OFFICER}),
                          note_prompt="Why are the goods released, and to whom?"),
    "close": Transition("Close the case", frozenset({"destroyed", "released", "court_proceedings"}), "closed",
                        frozenset({Role.OFFICER})),
}


# -- one writer at a time ---------------------------------------------------------------------

CHANGED = "the case changed since you opened it; look at its timeline and try again"
CHANGED_JUST_NOW = ("another user changed this case at the same moment; nothing was saved. "
                    "Look at its timeline and try again")


def _check_version(case: DetentionCase, expected_version: int | None) -> None:
    """Refuse a change decided on a page that showed an older version of the case."""
    if expected_version is not None and case.version != expected_version:
        raise Conflict(CHANGED)


def _lock(session: Session, case: DetentionCase) -> bool:
    """Hold the case's row until this transaction ends; True when ``case`` as loaded is current.

    A write that changes nothing takes the row lock on PostgreSQL and the database's write lock
    on SQLite (a ``SELECT ... FOR UPDATE`` would lock nothing there), so a second writer waits
    here until the first one commits and then reads the version it left.
    """
    table = DetentionCase.__table__
    session.execute(update(table).where(table.c.id == case.id).values(version=table.c.version))
    return session.scalar(select(table.c.version).where(table.c.id == case.id)) == case.version


@contextmanager
def _claimed(session: Session, case: DetentionCase) -> Iterator[None]:
    """Make the changes in the block as the case's only writer, or refuse them all.

    Everything checked before the claim was judged on ``case`` as this session loaded it; the
    claim confirms that nobody has changed the case since, and holds it until the transaction
    ends, so those checks stay true. Taking the case first also puts every writer's locks in one
    order (the case, then the audit chain's head): the holder's answer and an officer's step on
    the same case no longer deadlock on PostgreSQL. Every write bumps the version exactly once,
    notes and samples too, so the next writer working from an older page is told.
    """
    if not _lock(session, case):
        raise Conflict(CHANGED_JUST_NOW)
    case.updated_at = utcnow()  # the row is written even when no other column of it changes
    try:
        yield
        session.flush()
    except StaleDataError:
        # Only when something changed the row without claiming it first (a script, a hand edit).
        session.rollback()
        raise Conflict(CHANGED_JUST_NOW) from None


# -- visibility ------------------------------------------------------------------------------

def get_case(session: Session, actor: User, case_id: int) -> DetentionCase:
    """Customs roles see every case; a rights holder only the cases under its own rights."""
    case = session.get(DetentionCase, case_id)
    if case is None:
        raise NotFound(f"case {case_id}")
    if actor.role == Role.HOLDER and (case.organisation_id is None or case.organisation_id != actor.organisation_id
                                      or not _told_to_holder(case)):
        raise NotFound(f"case {case_id}")
    return case


def _told_to_holder(case: DetentionCase) -> bool:
    """Whether the rights holder may know of the detention: always, except for a small
    consignment, whose holder is not notified (Art. 26(2)) until informed of the declarant's
    objection (26(8))."""
    return case.procedure != SMALL_CONSIGNMENT or any(event.action == "inform_holder" for event in case.events)


#: ``_told_to_holder`` as a condition on a query of cases.
_TOLD_TO_HOLDER = or_(DetentionCase.procedure != SMALL_CONSIGNMENT,
                      exists().where(CaseEvent.case_id == DetentionCase.id, CaseEvent.action == "inform_holder"))


def record_view(session: Session, actor: User, case: DetentionCase, *, photo=None) -> None:
    """Audit a look at a case or one of its photos: both show evidence and declarant data."""
    audit.record(session, actor, "case.photo_view" if photo is not None else "case.view", object_type="case",
                 object_id=case.id, organisation_id=case.organisation_id,
                 after={"photo": photo.sha256} if photo is not None else None)


def last_detention_details(session: Session, actor: User) -> dict[str, str]:
    """What the officer gave for the office and law of their latest case: an office detains
    under the same law, in the same country, region and time zone, case after case, so the next
    detention form starts from them ({} before the first case)."""
    latest = session.execute(
        select(DetentionCase.jurisdiction, DetentionCase.office_country, DetentionCase.office_region,
               DetentionCase.office_zone)
        .where(DetentionCase.officer_id == actor.id).order_by(DetentionCase.id.desc()).limit(1)).first()
    if latest is None:
        return {}
    return dict(zip(("jurisdiction", "office_country", "office_region", "office_zone"), latest))


def list_cases(session: Session, actor: User) -> list[DetentionCase]:
    statement = select(DetentionCase).order_by(DetentionCase.id.desc())
    if actor.role == Role.HOLDER:
        statement = statement.where(DetentionCase.organisation_id == (actor.organisation_id or -1), _TOLD_TO_HOLDER)
    return list(session.scalars(statement))


# -- opening ---------------------------------------------------------------------------------

def open_detention(session: Session, actor: User, profiles: Mapping[str, Profile], check_id: int,
                   raw: Mapping[str, Any], *, today: date | None = None) -> DetentionCase:
    """Detain the goods of a check: the check's decision becomes "detain" and a case opens."""
    require_role(actor, Role.OFFICER)
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
    elif actor.office and values["office"].lower() != actor.office.strip().lower():
        # Only the case's own office may change it: a case opened for another would be out of
        # its author's hands at once, with its first deadline a day away.
        fields.errors["office"] = f"you open cases for your own office, {actor.office}"
    fields.attempt("office_country", lambda: parse_country(raw.get("office_country") or "", "office_country"))
    values["office_region"] = ""
    if values.get("office_country") and raw.get("office_region"):
        fields.attempt("office_region", lambda: parse_region(raw["office_region"], values["office_country"],
                                                             "office_region"))
    if values.get("office_country"):
        fields.attempt("office_zone", lambda: parse_zone(raw.get("office_zone") or "", values["office_country"],
                                                         "office_zone"))
    # The case's days are the office's: the day it is there decides, not the server's.
    today = today or local_today(values.get("office_zone", ""))
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
    if procedure == SMALL_CONSIGNMENT and "procedure" not in fields.errors:
        right = suggestion.right if suggestion is not None else None
        if legal_basis != "application" or right is None or not right.small_consignments:
            fields.errors["procedure"] = ("the small-consignment procedure needs an application whose rights "
                                          "holder asked for it; use the standard procedure")
    if legal_basis in ("application", "recordation") and (suggestion is None or suggestion.right is None):
        fields.errors["legal_basis"] = "an application or recordation needs the right the goods infringe"
    if suggestion is not None and suggestion.right is not None and legal_basis in ("application", "recordation") \
            and not suggestion.right.protection_in_force(today):
        fields.errors["legal_basis"] = (f"customs protection of {suggestion.right.mark_text} is not in force "
                                        "today: detain ex officio, or release")
    fields.raise_errors()
    right = suggestion.right if suggestion is not None else None
    presented = local_date(check.created_at, values["office_zone"]) if check.created_at else today
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


def available_transitions(case: DetentionCase, actor: User, profile: Profile | None = None, *,
                          today: date | None = None) -> list[tuple[str, Transition]]:
    """The steps the actor can take now: those the state allows and no rule refuses."""
    if actor.role == Role.OFFICER and actor.office and case.office.strip().lower() != actor.office.strip().lower():
        return []
    today = today or local_today(case.office_zone)
    return [(name, t) for name, t in TRANSITIONS.items()
            if case.state in t.sources and actor.role in t.roles
            and _refusal(case, name, profile, today, case.declarant_consent) is None]


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
    _check_version(case, expected_version)
    today = today or local_today(case.office_zone)
    profile = _profile(case, profiles)
    deemed = _consent_deadline_passed(case, profile, today)
    _check_transition(case, action, profile, today, "deemed" if deemed is not None else case.declarant_consent)
    _check_note(action, note)
    with _claimed(session, case):
        source = _change_state(case, action, deemed, today)
        _record_transition(session, actor, case, action, source, deemed, note=note, profiles=profiles, today=today)
    return case


def _check_transition(case: DetentionCase, action: str, profile: Profile | None, today: date,
                      consent: str) -> None:
    transition = TRANSITIONS[action]
    if case.state not in transition.sources:
        allowed = ", ".join(STATES[s].lower() for s in sorted(transition.sources))
        raise Conflict(f"a case that is '{STATES[case.state].lower()}' cannot go to "
                       f"'{STATES[transition.target].lower()}' (only from: {allowed})")
    refusal = _refusal(case, action, profile, today, consent)
    if refusal is not None:
        raise Conflict(refusal)


def _check_note(action: str, note: str) -> None:
    prompt = TRANSITIONS[action].note_prompt
    if prompt and not note.strip():
        raise ValidationError({"note": f"'{TRANSITIONS[action].label}' is recorded with a note: {prompt}"})


def _refusal(case: DetentionCase, action: str, profile: Profile | None, today: date, consent: str) -> str | None:
    """Why the law does not allow ``action`` on this case now (its state aside), or None.
    ``consent`` is the declarant's consent as it stands (deemed when its period just ran out)."""
    if action == "grant_extension":
        return extension_refusal(case, profile, today)
    small = case.procedure == SMALL_CONSIGNMENT
    if action == "await_response" and small:
        return ("in the small-consignment procedure the rights holder is not asked; they are informed only "
                "if the declarant objects to destruction")
    if action == "inform_holder" and not (small and consent == "objected"):
        return ("the rights holder is informed this way only in the small-consignment procedure, once the "
                "declarant has objected to destruction")
    if action == "confirm_infringement" and small:
        return ("in the small-consignment procedure the rights holder says only whether court proceedings "
                "have started")
    if action == "start_proceedings" and case.state == "awaiting_response":
        if not small:
            return "the rights holder must confirm the infringement before proceedings are recorded"
        period = holder_period(case, profile)
        if period is not None and period.due is not None and today > period.due:
            return (f"the rights holder's period ended on {period.due:%d %B %Y} without notice of proceedings: "
                    "the goods are to be released (Art. 26(9))")
    if action == "destroy" and case.state == "notified" and case.procedure != SMALL_CONSIGNMENT:
        return "the rights holder must confirm the infringement before the goods are destroyed"
    if action == "destroy" and profile is not None and consent_applies(case, profile) \
            and consent not in ("given", "deemed"):
        if consent == "objected":
            return ("the declarant objected to destruction: the goods can be destroyed only by a court's "
                    "decision; the rights holder starts proceedings, or the goods are released")
        period = next((d for d in case_deadlines(case, profile) if d.rule.deemed_consent), None)
        until = f", or wait until {period.due:%d %B %Y} has passed: silence until then counts as consent" \
            if period is not None and period.due is not None else ""
        return f"the declarant has not consented to destruction: record their consent{until}"
    return None


def extension_refusal(case: DetentionCase, profile: Profile | None, today: date) -> str | None:
    """Why the rights holder's period cannot be extended now, or None: once only, never for
    perishable goods, only where the jurisdiction provides for it, and only while it runs."""
    if case.extension_granted_on is not None:
        return "an extension was already granted; it can be granted once"
    if case.procedure == "perishable":
        return "the period for perishable goods cannot be extended"
    period = next((d for d in case_deadlines(case, profile) if d.rule.extension_days), None) if profile else None
    if period is None:
        return "no extension of this period is provided for in this case's jurisdiction and procedure"
    if period.due is not None and today > period.due:
        return (f"the rights holder's period ended on {period.due:%d %B %Y}; an extension can only be "
                "granted while it runs")
    return None


def declarant_answer_awaited(case: DetentionCase, profile: Profile | None) -> bool:
    """Whether the declarant's consent or objection can be recorded now (see
    ``record_declarant_answer``, which says why when it cannot)."""
    return profile is not None and consent_applies(case, profile) and case.state in CONSENT_STATES \
        and not case.declarant_consent


def consent_applies(case: DetentionCase, profile: Profile) -> bool:
    """Whether destruction of these goods turns on the declarant's consent (given or deemed)."""
    return any(rule.deemed_consent and (not rule.procedures or case.procedure in rule.procedures)
               for rule in profile.deadlines)


def _change_state(case: DetentionCase, action: str, deemed: Deadline | None, today: date) -> str:
    """The columns a checked transition changes, with deemed consent when its deadline passed
    (``deemed``); returns the state it left. Call it inside a claim and before anything flushes,
    so that the case's row is written once and its version bumped once."""
    source = case.state
    if deemed is not None:
        case.declarant_consent = "deemed"
    case.state = TRANSITIONS[action].target
    if action == "notify":
        case.notified_on = today
    elif action == "grant_extension":
        case.extension_granted_on = today
    return source


def _record_transition(session: Session, actor: User, case: DetentionCase, action: str, source: str,
                       deemed: Deadline | None, *, note: str, profiles: Mapping[str, Profile] | None,
                       today: date) -> None:
    if deemed is not None:
        _record_deemed_consent(session, case, deemed, source)
    # The day the holder was informed starts their period (``_start``): kept with the step.
    details = {"on": today.isoformat()} if action == "inform_holder" else None
    _event(session, actor, case, action, source, case.state, note=note, details=details)
    if action in ("notify", "inform_holder"):
        _notify_holder(session, actor, case, profiles, action)


def _profile(case: DetentionCase, profiles: Mapping[str, Profile] | None) -> Profile | None:
    from registry.services.profiles import load_profiles

    return (profiles or load_profiles()).get(case.jurisdiction)


def _notify_holder(session: Session, actor: User, case: DetentionCase,
                   profiles: Mapping[str, Profile] | None, action: str) -> None:
    from registry.services.notifications import PROCEEDINGS_INSTRUCTION, record_notices
    from registry.services.profiles import load_profiles

    profile = (profiles or load_profiles()).get(case.jurisdiction)
    if profile is None:
        return
    if action == "notify":
        if case.procedure == SMALL_CONSIGNMENT:
            return  # a small consignment's holder is not notified, nor told about the declaration
        deadline = next_deadline(case, profile, case.notified_on)
        instruction = None
    else:  # informed of a small consignment's objection: the holder's period is the one to tell
        deadline = holder_period(case, profile)
        instruction = PROCEEDINGS_INSTRUCTION
    text = (f"{deadline.label} by {deadline.due:%A %d %B %Y} ({deadline.rule.basis})"
            if deadline is not None and deadline.due is not None else "see the case")
    record_notices(session, actor, case, profile, text, instruction=instruction, disclose=action == "notify")


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
    #: The goods left detention (or went to court) before it was met: it no longer runs.
    ended: bool = False

    @property
    def label(self) -> str:
        return self.rule.label

    def days_left(self, today: date) -> int | None:
        return None if self.due is None else (self.due - today).days

    def ran_out(self, today: date) -> bool:
        """A period given to a party (not a step customs must take) whose date has passed."""
        return self.rule.party_period and self.due is not None and not self.met and today > self.due

    def overdue(self, today: date) -> bool:
        return self.due is not None and not self.met and not self.ended and not self.rule.party_period \
            and today > self.due

    def running(self, today: date) -> bool:
        return self.due is not None and not self.met and not self.ended and not self.ran_out(today)

    def status(self, today: date) -> str:
        """met, ended, ran out, overdue, open or not started: what the legal clock shows."""
        if self.met:
            return "met"
        if self.ended:
            return "ended"
        if self.ran_out(today):
            return "ran out"
        if self.overdue(today):
            return "overdue"
        return "open" if self.due is not None else "not started"


#: Starts that are a step of the timeline: the event that records it, whose day it is.
_EVENT_STARTS = {"declarant_objected": "declarant_objection", "holder_informed": "inform_holder"}


def _start(case: DetentionCase, start: str) -> date | None:
    if start in _EVENT_STARTS:
        event = next((e for e in case.events if e.action == _EVENT_STARTS[start]), None)
        if event is None:
            return None
        on = (event.details or {}).get("on")
        return date.fromisoformat(on) if on else local_date(event.at, case.office_zone)
    return {"presented": case.presented_on, "detained": case.detained_on, "notified": case.notified_on}[start]


def _met(case: DetentionCase, rule: DeadlineRule) -> bool:
    if rule.deemed_consent and case.declarant_consent:
        return True  # the declarant answered (or was deemed to): their period is over
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
            due = (add_working_days(start, days, case.office_country, case.office_region) if rule.unit == "working"
                   else start + timedelta(days=days))
        met = _met(case, rule)
        deadlines.append(Deadline(rule, due, met, extended, ended=not met and case.state in SETTLED_STATES))
    return deadlines


def next_deadline(case: DetentionCase, profile: Profile, today: date | None = None) -> Deadline | None:
    """The earliest deadline still running: not met, not ended with the detention, not a
    party's period that ran out, not the declarant's once their answer is recorded."""
    today = today or local_today(case.office_zone)
    pending = [d for d in case_deadlines(case, profile) if d.running(today)
               and not (d.rule.deemed_consent and case.declarant_consent)]
    return min(pending, key=lambda d: d.due, default=None)


def _consent_deadline_passed(case: DetentionCase, profile: Profile | None, today: date) -> Deadline | None:
    """The declarant's objection deadline, when it passed in silence and consent is not recorded yet."""
    if case.declarant_consent or case.state not in CONSENT_STATES or profile is None:
        return None
    return next((d for d in case_deadlines(case, profile)
                 if d.rule.deemed_consent and d.due is not None and today > d.due), None)


def _record_deemed_consent(session: Session, case: DetentionCase, deadline: Deadline, state: str) -> None:
    _event(session, None, case, "deemed_consent", state, state,
           note=f"The declarant did not object by {deadline.due.isoformat()} ({deadline.rule.basis}): "
                "consent to destruction is deemed given.",
           details={"rule": deadline.rule.key, "due": deadline.due.isoformat()})


def apply_deemed_consent(session: Session, case: DetentionCase, profile: Profile | None = None, *,
                         today: date | None = None) -> bool:
    """Record the declarant's consent when its deadline passed in silence. Idempotent."""
    today = today or local_today(case.office_zone)
    profile = profile or _profile(case, None)
    if _consent_deadline_passed(case, profile, today) is None:
        return False
    if not _lock(session, case):
        # Someone changed the case a moment ago (it may even be recorded already): judge the
        # case as it is now. The lock is held, so it cannot change again meanwhile.
        session.expire(case)
    deadline = _consent_deadline_passed(case, profile, today)
    if deadline is None:
        return False
    with _claimed(session, case):
        case.declarant_consent = "deemed"
        _record_deemed_consent(session, case, deadline, case.state)
    return True


def apply_all_deemed_consents(session: Session, profiles: Mapping[str, Profile], *, today: date | None = None,
                              commit: Callable[[], None] | None = None) -> int:
    """The periodic job: apply deemed consent to every open case whose deadline passed.

    With ``commit``, each case is committed on its own: the job then holds one case's lock at a
    time instead of every case's until the end (which could deadlock with a user editing one of
    them), and a case someone is changing at that moment is left for the next run or the next
    time the case is opened, where deemed consent is applied too."""
    applied = 0
    ids = session.scalars(select(DetentionCase.id).where(DetentionCase.state.in_(CONSENT_STATES),
                                                         DetentionCase.declarant_consent == "")).all()
    for case_id in ids:
        case = session.get(DetentionCase, case_id)
        if case is None:
            continue
        try:
            done = apply_deemed_consent(session, case, profiles.get(case.jurisdiction), today=today)
            if commit is not None:
                commit()
        except Conflict:
            if commit is None:
                raise
            session.rollback()
            continue
        applied += done
    return applied


@dataclass(frozen=True)
class DashboardRow:
    case: DetentionCase
    deadline: Deadline | None
    #: Today at the case's office, which its deadline is judged by.
    today: date

    def sort_key(self) -> tuple:
        if self.deadline is None:
            return (2, date.max, self.case.id)
        return (0 if self.deadline.overdue(self.today) else 1, self.deadline.due, self.case.id)


def dashboard(session: Session, actor: User, profiles: Mapping[str, Profile], *, today: date | None = None
              ) -> list[DashboardRow]:
    """Open cases by how soon their next deadline falls, overdue first; each judged on the day
    it is at its office, unless ``today`` is given."""
    rows = []
    for case in list_cases(session, actor):
        if case.state not in OPEN_STATES:
            continue
        profile = profiles.get(case.jurisdiction)
        day = today or local_today(case.office_zone)
        rows.append(DashboardRow(case, next_deadline(case, profile, day) if profile else None, day))
    return sorted(rows, key=DashboardRow.sort_key)


# -- the rights holder's answer ------------------------------------------------------------------

def holder_period(case: DetentionCase, profile: Profile | None) -> Deadline | None:
    """The rights holder's period to answer (the profile's deadline among ``HOLDER_PERIODS``
    that applies to the case's procedure), if any."""
    if profile is None:
        return None
    return next((d for d in case_deadlines(case, profile) if d.rule.key in HOLDER_PERIODS), None)


def awaiting_answer(session: Session, actor: User, profiles: Mapping[str, Profile]
                    ) -> list[tuple[DetentionCase, Deadline | None, date]]:
    """The actor's cases waiting for the rights holder's answer, with the answer's deadline and
    today at the case's office (which the days left count from), soonest first: what a holder
    must act on."""
    waiting = []
    for case in list_cases(session, actor):
        if case.state not in _RESPONSE:
            continue
        waiting.append((case, holder_period(case, profiles.get(case.jurisdiction)), local_today(case.office_zone)))
    return sorted(waiting, key=lambda item: (item[1].due if item[1] and item[1].due else date.max, item[0].id))


def holder_answers(case: DetentionCase) -> tuple[str, ...]:
    """What the rights holder can answer on this case: a small consignment's holder, informed of
    the declarant's objection, says that proceedings have started (or that the goods are
    genuine); otherwise the holder confirms or denies the infringement, or asks for more time."""
    return ("proceedings", "genuine") if case.procedure == SMALL_CONSIGNMENT else ("infringement", "genuine", "extension")


def respond(session: Session, actor: User, case_id: int, raw: Mapping[str, Any], *,
            expected_version: int | None = None, profiles: Mapping[str, Profile] | None = None,
            today: date | None = None) -> HolderResponse:
    """Record the holder's answer; confirm or deny the infringement, or ask for more time.

    ``expected_version`` is the version of the case the holder's page showed: an answer given
    on an older page is refused, as an officer's step is.
    """
    require_role(actor, Role.HOLDER)
    case = get_case(session, actor, case_id)
    _check_version(case, expected_version)
    today = today or local_today(case.office_zone)
    if case.state not in _RESPONSE:
        raise Conflict(f"the case is '{STATES[case.state].lower()}': it is not waiting for your answer")
    profile = _profile(case, profiles)
    period = holder_period(case, profile)
    due = period.due if period else None
    if due is not None and today > due:
        raise Conflict(f"the deadline for your answer passed on {due:%d %B %Y}; contact {case.office} directly")
    answer = str(raw.get("answer") or "")
    errors: dict[str, str] = {}
    if answer not in holder_answers(case):
        errors["answer"] = ("say whether you have started court proceedings, or that the goods are genuine"
                            if case.procedure == SMALL_CONSIGNMENT else
                            "say whether the goods infringe your right, are genuine, or that you need more time")
    if answer == "extension" and (refusal := extension_refusal(case, profile, today)) is not None:
        errors["answer"] = f"no extension can be asked for: {refusal}"
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
    if answer == "proceedings" and not reasons:
        errors["reasons"] = "name the court and the reference of the proceedings"
    if errors:
        raise ValidationError(errors)
    action = {"infringement": "confirm_infringement", "genuine": "deny_infringement",
              "proceedings": "start_proceedings"}.get(answer)
    deemed = _consent_deadline_passed(case, profile, today) if action else None
    response = HolderResponse(
        case_id=case.id, actor_id=actor.id, answer=answer,
        wrong_features=[{"id": f.id, "text": f.description, "covert": f.covert} for f in features],
        cited_image_ids=sorted(image_ids), consent_to_destruction=bool(raw.get("consent_to_destruction")),
        reasons=reasons[:10_000])
    with _claimed(session, case):
        source = _change_state(case, action, deemed, today) if action else case.state
        session.add(response)
        audit.record(session, actor, "case.response", object_type="case", object_id=case.id,
                     organisation_id=case.organisation_id,
                     after={"answer": answer, "wrong_features": [f.id for f in features],
                            "cited_images": sorted(image_ids), "consent": response.consent_to_destruction})
        if action is None:
            _event(session, actor, case, "extension_requested", source, source, note=reasons)
        else:
            _record_transition(session, actor, case, action, source, deemed, note=reasons, profiles=profiles,
                               today=today)
    return response


# -- the declarant's answer -----------------------------------------------------------------------

def record_declarant_answer(session: Session, actor: User, case_id: int, answer: str, *, note: str = "",
                            expected_version: int | None = None, today: date | None = None,
                            profiles: Mapping[str, Profile] | None = None) -> DetentionCase:
    """Record that the declarant consented to destruction, or objected to it, within their period.

    Without consent (given, or deemed when the period passes in silence) the goods are not
    destroyed; after an objection only a court can order it."""
    case = _open_case_for_officer(session, actor, case_id, expected_version)
    today = today or local_today(case.office_zone)
    if answer not in DECLARANT_ANSWERS:
        raise ValidationError({"answer": "say whether the declarant consents to destruction or objects"})
    profile = _profile(case, profiles)
    if profile is None or not consent_applies(case, profile):
        raise Conflict("the declarant's consent to destruction plays no part in this case's procedure")
    if case.state not in CONSENT_STATES:
        raise Conflict(f"the case is '{STATES[case.state].lower()}': the declarant's answer can be recorded "
                       "once the parties are notified and while the goods are detained")
    if case.declarant_consent:
        raise Conflict(f"the declarant's answer is already recorded: consent {case.declarant_consent}")
    period = _consent_deadline_passed(case, profile, today)
    if period is not None:
        raise Conflict(f"the declarant's period ended on {period.due:%d %B %Y} without an answer: "
                       "consent to destruction is deemed given (open the case again to see it recorded)")
    with _claimed(session, case):
        case.declarant_consent = DECLARANT_ANSWERS[answer]
        # The day is kept with the answer: an objection starts a clock of its own (``_start``).
        _event(session, actor, case, f"declarant_{answer}", case.state, case.state,
               note=note or ("The declarant consents to destruction." if answer == "consent"
                             else "The declarant objects to destruction."),
               details={"on": today.isoformat()})
    return case


# -- notes, photos and samples -------------------------------------------------------------------

# Each of these is made against the version of the case the officer's page showed
# (``expected_version``), like a transition: a note or a sample decided on an older page (the
# case was closed meanwhile, the sample already returned by a colleague) is refused, not added.

def _open_case_for_officer(session: Session, actor: User, case_id: int,
                           expected_version: int | None) -> DetentionCase:
    case = get_case(session, actor, case_id)
    require_role(actor, Role.OFFICER)
    _require_same_office(actor, case)
    _check_version(case, expected_version)
    if case.state == "closed":
        raise Conflict("the case is closed")
    return case


def add_note(session: Session, actor: User, case_id: int, text: str, *,
             expected_version: int | None = None) -> DetentionCase:
    """A note in the case's timeline."""
    case = _open_case_for_officer(session, actor, case_id, expected_version)
    if not text.strip():
        raise ValidationError({"note": "write the note"})
    with _claimed(session, case):
        _event(session, actor, case, "note", case.state, case.state, note=text)
    return case


def add_photos(session: Session, actor: User, blobs, policy, case_id: int,
               photos: list[tuple[bytes, str]], *, expected_version: int | None = None) -> DetentionCase:
    """More photos of the detained goods, kept byte-exact beside those of the check."""
    from registry.models import CheckPhoto
    from registry.services.products import _display_name
    from registry.services.uploads import inspect_image, make_thumbnail

    from registry.services.checks import MAX_PHOTOS

    case = _open_case_for_officer(session, actor, case_id, expected_version)
    if not photos:
        raise ValidationError({"photos": "choose one or more photos"})
    if len(photos) > MAX_PHOTOS:  # as for a check: each is decoded and re-encoded in this request
        raise ValidationError({"photos": f"add at most {MAX_PHOTOS} photos at a time"})
    infos = []
    for index, (data, filename) in enumerate(photos, start=1):
        try:
            infos.append(inspect_image(data, max_bytes=policy.max_bytes, max_pixels=policy.max_pixels,
                                       name=f"photo {index} ('{_display_name(filename)}')"))
        except ValidationError as exc:
            raise ValidationError({"photos": next(iter(exc.errors.values()))}) from None
    # Stored before the claim, so the case is not held while images are re-encoded; a refused
    # write leaves blobs that no row refers to, as any upload that is rolled back does.
    stored = [(blobs.put(data), blobs.put(make_thumbnail(data, size=policy.thumbnail_size)), filename, info)
              for (data, filename), info in zip(photos, infos)]
    with _claimed(session, case):
        position = max((p.position for p in case.check.photos), default=0)
        for offset, (sha, thumb, filename, info) in enumerate(stored, start=1):
            case.check.photos.append(CheckPhoto(position=position + offset, sha256=sha, thumbnail_sha256=thumb,
                                                content_type=info.content_type, byte_size=info.byte_size,
                                                width=info.width, height=info.height,
                                                original_filename=_display_name(filename)))
        _event(session, actor, case, "photos", case.state, case.state, details={"photos": [s[0] for s in stored]},
               note=f"{len(stored)} photo(s) added")
    return case


def record_sample(session: Session, actor: User, case_id: int, raw: Mapping[str, Any], *,
                  expected_version: int | None = None) -> DetentionCase:
    """A sample taken from the detained goods: who received it, and when."""
    from registry.models import Sample
    from registry.services.validation import parse_date

    case = _open_case_for_officer(session, actor, case_id, expected_version)
    fields = FieldCollector()
    for key, label in (("reference", "the sample's reference"), ("quantity", "the quantity taken"),
                       ("handed_to", "who received it")):
        fields.values[key] = str(raw.get(key) or "").strip()[:300]
        if not fields.values[key]:
            fields.errors[key] = f"enter {label}"
    fields.attempt("handed_on", lambda: parse_date(raw.get("handed_on"), "handed_on") or local_today(case.office_zone))
    fields.raise_errors()
    if fields.values["handed_on"] < case.detained_on:
        raise ValidationError({"handed_on": "a sample cannot be handed over before the goods were detained"})
    sample = Sample(case_id=case.id, **fields.values)
    with _claimed(session, case):
        session.add(sample)
        session.flush()  # its id, for the timeline
        _event(session, actor, case, "sample", case.state, case.state,
               note=f"Sample {sample.reference} ({sample.quantity}) handed to {sample.handed_to} on {sample.handed_on}",
               details={"sample": sample.id})
    return case


def return_sample(session: Session, actor: User, case_id: int, sample_id: int,
                  returned_on: date | None = None, *, expected_version: int | None = None) -> DetentionCase:
    """Record that a sample came back. Two officers returning the same sample at once: one is told."""
    from registry.models import Sample

    case = _open_case_for_officer(session, actor, case_id, expected_version)
    sample = session.get(Sample, sample_id)
    if sample is None or sample.case_id != case.id:
        raise NotFound(f"sample {sample_id}")
    if sample.returned_on is not None:
        raise Conflict(f"sample {sample.reference} was already returned on {sample.returned_on}")
    with _claimed(session, case):
        sample.returned_on = returned_on or local_today(case.office_zone)
        _event(session, actor, case, "sample_returned", case.state, case.state,
               note=f"Sample {sample.reference} returned on {sample.returned_on}", details={"sample": sample.id})
    return case
