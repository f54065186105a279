"""Detention cases: the state machine, the legal clocks, deemed consent and who sees what."""

from __future__ import annotations

from datetime import date, datetime, timezone

import pytest
from freezegun import freeze_time
from sqlalchemy import func, select

from registry.models import AuditEvent, Check, DetentionCase, Notice, Suggestion
from registry.services import cases
from registry.services.errors import Conflict, Forbidden, NotFound, ValidationError
from registry.services.profiles import ProfileError, load_profiles, parse_profiles
from tests.registry.conftest import pin_protection, suspect_check

PROFILES = load_profiles()


@pytest.fixture
def check(session, world):
    pin_protection(session, world)  # these tests run on fixed days
    return suspect_check(session, world, quantity=200, quantity_unit="pairs",
                         created_at=datetime(2026, 12, 18, 9, 0, tzinfo=timezone.utc))


def open_case(session, world, check, **overrides):
    raw = {"jurisdiction": "EU", "procedure": "standard", "legal_basis": "application",
           "office": "Hamburg customs office", "office_country": "DE"}
    raw.update(overrides)
    case = cases.open_detention(session, world.officer, PROFILES, check.id, raw, today=date(2026, 12, 18))
    session.commit()
    return case


def test_open_detention_links_the_right_and_its_holder(session, world, check):
    case = open_case(session, world, check)
    assert (case.state, case.right_id, case.organisation_id) == ("detained", world.a.right.id, world.a.organisation.id)
    assert case.goods_description == "running shoes" and float(case.goods_quantity) == 200
    assert session.get(Check, check.id).decision.value == "detain"
    assert [e.action for e in case.events] == ["open"]
    with pytest.raises(Conflict, match="already open"):
        open_case(session, world, check)


@pytest.mark.parametrize("overrides, field", [
    ({"jurisdiction": "XX"}, "jurisdiction"),
    ({"procedure": "small_consignment", "jurisdiction": "US", "legal_basis": "recordation"}, "procedure"),
    ({"legal_basis": "recordation"}, "legal_basis"),
    ({"office": ""}, "office"),
    ({"office_country": "Atlantis"}, "office_country"),
    ({"goods_quantity": "-1"}, "goods_quantity"),
])
def test_bad_detention_input(session, world, check, overrides, field):
    with pytest.raises(ValidationError) as error:
        open_case(session, world, check, **overrides)
    session.rollback()
    assert field in error.value.errors
    assert session.scalar(select(DetentionCase)) is None


def test_unprotected_right_cannot_ground_an_application(session, world, check):
    world.a.right.protection_valid_until = date(2026, 12, 1)
    world.a.right.protection_valid_from = date(2026, 1, 1)
    session.commit()
    with pytest.raises(ValidationError, match="not in force"):
        open_case(session, world, check)
    session.rollback()
    assert open_case(session, world, check, legal_basis="ex_officio").state == "detained"


def test_a_released_check_cannot_be_detained(session, world, check):
    check.decision = cases.CheckDecision.RELEASE
    session.commit()
    with pytest.raises(Conflict, match="decided 'release'"):
        open_case(session, world, check)


HAPPY_PATH = ["notify", "await_response", "grant_extension", "confirm_infringement", "destroy", "close"]


def test_the_whole_path_is_audited(session, world, check):
    case = open_case(session, world, check)
    for action in HAPPY_PATH:
        if action == "confirm_infringement":  # the holder answers, with its reasons
            cases.respond(session, world.a.holder, case.id, {"answer": "infringement", "reasons": "fake logo"},
                          today=date(2026, 12, 21))
        elif action == "destroy":  # only with the declarant's consent
            cases.record_declarant_answer(session, world.officer, case.id, "consent", today=date(2026, 12, 21))
            session.commit()
            with pytest.raises(ValidationError, match="recorded with a note"):  # never one click
                cases.advance(session, world.officer, case.id, action, today=date(2026, 12, 21))
            session.rollback()
            assert case.state == "infringement_confirmed"
            cases.advance(session, world.officer, case.id, action, today=date(2026, 12, 21),
                          note="Destroyed at the Hamburg incinerator, certificate V-2026-114")
        else:
            cases.advance(session, world.officer, case.id, action, today=date(2026, 12, 21))
        session.commit()
    assert case.state == "closed"
    assert [e.to_state for e in case.events] == ["detained", "notified", "awaiting_response", "extension_granted",
                                                 "infringement_confirmed", "infringement_confirmed", "destroyed",
                                                 "closed"]
    assert case.events[5].action == "declarant_consent"
    actions = session.scalars(select(AuditEvent.action).where(AuditEvent.object_type == "case")
                              .order_by(AuditEvent.seq)).all()
    expected = ["case.open"] + [f"case.{a}" for a in HAPPY_PATH]
    expected.insert(expected.index("case.notify") + 1, "case.disclose")  # the notice to the holder
    expected.insert(expected.index("case.confirm_infringement"), "case.response")
    expected.insert(expected.index("case.destroy"), "case.declarant_consent")
    assert actions == expected


# Every (action, state) pair the machine does not allow is refused with a message.
REFUSED = [(action, state) for action, t in cases.TRANSITIONS.items() for state in cases.STATES
           if state not in t.sources]


def test_refused_transitions(session, world, check):
    case = open_case(session, world, check)
    assert len(REFUSED) > 50
    for action, state in REFUSED:
        case.state = state
        session.commit()
        with pytest.raises(Conflict, match="cannot go to"):
            cases.advance(session, world.officer, case.id, action)
        session.rollback()
        assert session.get(DetentionCase, case.id).state == state, (action, state)


def test_extension_is_granted_once(session, world, check):
    case = open_case(session, world, check)
    for action in ("notify", "await_response", "grant_extension"):
        cases.advance(session, world.officer, case.id, action)
    case.state = "awaiting_response"
    with pytest.raises(Conflict, match="granted once"):
        cases.advance(session, world.officer, case.id, "grant_extension")


def test_roles(session, world, check):
    case = open_case(session, world, check)
    with pytest.raises(Forbidden):
        cases.advance(session, world.a.holder, case.id, "notify")
    with pytest.raises(Forbidden):
        cases.advance(session, world.legal, case.id, "notify")
    with pytest.raises(NotFound):
        cases.get_case(session, world.b.holder, case.id)
    assert cases.list_cases(session, world.b.holder) == []
    assert [c.id for c in cases.list_cases(session, world.a.holder)] == [case.id]


def test_stale_version_is_refused(session, world, check):
    case = open_case(session, world, check)
    stale = case.version
    cases.advance(session, world.officer, case.id, "notify")
    session.commit()
    with pytest.raises(Conflict, match="changed since you opened it"):
        cases.advance(session, world.officer, case.id, "await_response", expected_version=stale)


# -- the legal clock -------------------------------------------------------------------------

def due_dates(case) -> dict[str, date | None]:
    return {d.rule.key: d.due for d in cases.case_deadlines(case, PROFILES[case.jurisdiction])}


def test_eu_deadlines_skip_weekends_and_holidays(session, world, check):
    case = open_case(session, world, check)  # detained Friday 18 December 2026, Hamburg
    assert due_dates(case)["notify"] == date(2026, 12, 21)  # next working day is Monday
    assert due_dates(case)["holder_response"] is None  # starts when notified
    cases.advance(session, world.officer, case.id, "notify", today=date(2026, 12, 21))
    cases.advance(session, world.officer, case.id, "await_response", today=date(2026, 12, 21))
    # 10 working days from Mon 21 Dec, skipping Christmas Day and New Year's Day.
    assert due_dates(case)["holder_response"] == date(2027, 1, 6)
    assert due_dates(case)["declarant_objection"] == date(2027, 1, 6)
    cases.advance(session, world.officer, case.id, "grant_extension", today=date(2026, 12, 30))
    assert due_dates(case)["holder_response"] == date(2027, 1, 20)  # +10 working days
    assert cases.next_deadline(case, PROFILES["EU"]).rule.key == "declarant_objection"


def test_eu_perishable_goods_get_three_working_days(session, world, check):
    case = open_case(session, world, check, procedure="perishable")
    cases.advance(session, world.officer, case.id, "notify", today=date(2026, 12, 21))
    assert due_dates(case)["holder_response"] == date(2026, 12, 24)


def notified_small_consignment(session, world, check):
    """A small consignment (its holder opted in), the parties notified on 21 December 2026."""
    world.a.right.small_consignments = True
    session.commit()
    case = open_case(session, world, check, procedure="small_consignment")
    cases.advance(session, world.officer, case.id, "notify", today=date(2026, 12, 21))
    return case


def test_eu_small_consignment_has_its_own_clock(session, world, check):
    # Only under an application whose holder asked for the procedure (Art. 26(1)).
    with pytest.raises(ValidationError, match="asked for it"):
        open_case(session, world, check, procedure="small_consignment")
    session.rollback()
    with pytest.raises(ValidationError, match="asked for it"):
        open_case(session, world, check, procedure="small_consignment", legal_basis="ex_officio")
    session.rollback()
    case = notified_small_consignment(session, world, check)
    session.commit()
    dates = due_dates(case)
    assert "holder_response" not in dates and dates["small_consignment_views"] == date(2027, 1, 6)
    # The holder is not notified (Art. 26(2)): no notice, nothing of the declaration disclosed.
    assert session.scalar(select(func.count(Notice.id)).where(Notice.case_id == case.id)) == 0
    actions = session.scalars(select(AuditEvent.action).where(AuditEvent.object_type == "case",
                                                              AuditEvent.object_id == case.id)).all()
    assert "case.disclose" not in actions
    # The declarant's consent (given, or deemed after the period) is enough to destroy.
    with pytest.raises(Conflict, match="not consented"):
        cases.advance(session, world.officer, case.id, "destroy", today=date(2026, 12, 22))
    session.rollback()
    cases.advance(session, world.officer, case.id, "destroy", today=date(2027, 1, 7), note="certificate V-1")
    assert case.state == "destroyed" and case.declarant_consent == "deemed"


def test_small_consignment_objection_informs_the_holder_who_has_ten_working_days_to_start_proceedings(
        session, world, check):
    """Art. 26(8)-(9): once the declarant objects, customs inform the holder (until then not
    told of the detention), and release the goods unless told within 10 working days that
    proceedings have started."""
    case = notified_small_consignment(session, world, check)
    session.commit()
    # The holder does not know of the detention (Art. 26(2)): not in their list, not found.
    assert case.id not in [c.id for c in cases.list_cases(session, world.a.holder)]
    with pytest.raises(NotFound):
        cases.get_case(session, world.a.holder, case.id)
    # The holder is not asked in this procedure, nor informed before an objection.
    assert [name for name, _ in cases.available_transitions(case, world.officer, PROFILES["EU"],
                                                            today=date(2026, 12, 22))] == []
    with pytest.raises(Conflict, match="not asked"):
        cases.advance(session, world.officer, case.id, "await_response", today=date(2026, 12, 22))
    session.rollback()
    with pytest.raises(Conflict, match="once the declarant has objected"):
        cases.advance(session, world.officer, case.id, "inform_holder", today=date(2026, 12, 22))
    session.rollback()
    cases.record_declarant_answer(session, world.officer, case.id, "objection", today=date(2026, 12, 23))
    session.commit()
    # From the objection, customs must inform the holder at once: a clock runs for that, and
    # the declarant's own period is over (not left open, or overdue, for ever).
    upcoming = cases.next_deadline(case, PROFILES["EU"], date(2026, 12, 23))
    assert upcoming.rule.key == "inform_holder_of_objection" and upcoming.due == date(2026, 12, 24)
    assert upcoming.overdue(date(2026, 12, 28))  # the next working day passed
    views = next(d for d in cases.case_deadlines(case, PROFILES["EU"]) if d.rule.key == "small_consignment_views")
    assert views.status(date(2027, 2, 1)) == "met"
    with pytest.raises(Conflict, match="objected"):
        cases.advance(session, world.officer, case.id, "destroy", today=date(2026, 12, 28), note="certificate V-1")
    session.rollback()
    assert [name for name, _ in cases.available_transitions(case, world.officer, PROFILES["EU"],
                                                            today=date(2026, 12, 28))] == ["inform_holder"]
    cases.advance(session, world.officer, case.id, "inform_holder", today=date(2026, 12, 28))
    session.commit()
    assert case.state == "awaiting_response"
    # Informed, the holder sees the case.
    assert case.id in [c.id for c in cases.list_cases(session, world.a.holder)]
    assert cases.get_case(session, world.a.holder, case.id) is case
    # The holder's period runs from the day they were informed: 10 working days in Germany
    # (1 January and the weekends not counted).
    period = cases.holder_period(case, PROFILES["EU"])
    assert period.rule.key == "small_consignment_proceedings" and period.due == date(2027, 1, 12)
    assert cases.next_deadline(case, PROFILES["EU"], date(2026, 12, 29)) == period
    assert next(d for d in cases.case_deadlines(case, PROFILES["EU"])
                if d.rule.key == "inform_holder_of_objection").met
    notice = session.scalars(select(Notice).where(Notice.case_id == case.id)).first()
    assert notice is not None and "objects to the destruction" in notice.body and "12 January 2027" in notice.body
    # Only the quantity and nature of the goods (Art. 26(8)); nothing of the declaration unasked.
    assert "Goods: running shoes, 200 pairs" in notice.body and "Disclosed to you" not in notice.body
    assert notice.disclosed == {"fields": {}, "basis": "Art. 26(8): the quantity and nature of the goods"}
    # The holder answers that proceedings have started (naming them), not "infringement" or "extension".
    assert cases.holder_answers(case) == ("proceedings", "genuine")
    for raw, field in (({"answer": "infringement", "reasons": "fake"}, "answer"),
                       ({"answer": "extension"}, "answer"),
                       ({"answer": "proceedings"}, "reasons")):
        with pytest.raises(ValidationError) as refused:
            cases.respond(session, world.a.holder, case.id, raw, profiles=PROFILES, today=date(2027, 1, 5))
        assert field in refused.value.errors
        session.rollback()
    with pytest.raises(Conflict, match="says only whether court proceedings"):
        cases.advance(session, world.officer, case.id, "confirm_infringement", today=date(2027, 1, 5))
    session.rollback()
    cases.respond(session, world.a.holder, case.id, {"answer": "proceedings", "reasons": "Landgericht Hamburg, 312 O 1/27"},
                  profiles=PROFILES, today=date(2027, 1, 11))
    session.commit()
    assert case.state == "court_proceedings"
    assert cases.holder_period(case, PROFILES["EU"]).met


def test_small_consignment_goods_are_released_when_the_holder_stays_silent(session, world, check):
    case = notified_small_consignment(session, world, check)
    cases.record_declarant_answer(session, world.officer, case.id, "objection", today=date(2026, 12, 23))
    cases.advance(session, world.officer, case.id, "inform_holder", today=date(2026, 12, 28))
    session.commit()
    period = cases.holder_period(case, PROFILES["EU"])
    assert not period.overdue(date(2027, 1, 12)) and period.overdue(date(2027, 1, 13))  # customs must release
    with pytest.raises(Conflict, match="period ended on 12 January 2027 without notice of proceedings"):
        cases.advance(session, world.officer, case.id, "start_proceedings", today=date(2027, 1, 13))
    session.rollback()
    with pytest.raises(Conflict, match="deadline for your answer passed"):
        cases.respond(session, world.a.holder, case.id, {"answer": "proceedings", "reasons": "late"},
                      profiles=PROFILES, today=date(2027, 1, 13))
    session.rollback()
    cases.advance(session, world.officer, case.id, "release", today=date(2027, 1, 13),
                  note="No proceedings notified within 10 working days (Art. 26(9)); released to the declarant.")
    session.commit()
    assert case.state == "released" and cases.holder_period(case, PROFILES["EU"]).met


def test_standard_procedure_records_proceedings_only_after_confirmation(session, world, check):
    case = open_case(session, world, check)
    cases.advance(session, world.officer, case.id, "notify", today=date(2026, 12, 21))
    cases.record_declarant_answer(session, world.officer, case.id, "objection", today=date(2026, 12, 21))
    session.commit()
    with pytest.raises(Conflict, match="only in the small-consignment procedure"):
        cases.advance(session, world.officer, case.id, "inform_holder", today=date(2026, 12, 22))
    session.rollback()
    cases.advance(session, world.officer, case.id, "await_response", today=date(2026, 12, 22))
    session.commit()
    with pytest.raises(Conflict, match="confirm the infringement before proceedings"):
        cases.advance(session, world.officer, case.id, "start_proceedings", today=date(2026, 12, 22))


def test_a_regional_holiday_of_the_office_is_skipped(session, world, check):
    """Bavaria keeps Epiphany (6 January) as a public holiday; Germany as a whole does not. A
    case of a Munich office counts around it; one without a region does not."""
    raw = {"jurisdiction": "EU", "procedure": "standard", "legal_basis": "application",
           "office": "Munich customs office", "office_country": "DE"}
    for region in ("HB-X", "XX", "FR-75"):
        with pytest.raises(ValidationError) as refused:
            cases.open_detention(session, world.officer, PROFILES, check.id, {**raw, "office_region": region},
                                 today=date(2026, 12, 18))
        assert "not a region of DE" in refused.value.errors["office_region"]
        assert "one of: BB, BE, BW, BY" in refused.value.errors["office_region"]
        session.rollback()
    case = cases.open_detention(session, world.officer, PROFILES, check.id, {**raw, "office_region": "de-by"},
                                today=date(2026, 12, 18))
    session.commit()
    assert case.office_region == "BY"
    cases.advance(session, world.officer, case.id, "notify", today=date(2026, 12, 21))
    session.commit()
    # Ten working days from Monday 21 December 2026: 24-26 December and 1 January are not
    # counted anywhere in Germany, 6 January only in Bavaria.
    assert due_dates(case)["holder_response"] == date(2027, 1, 7)
    case.office_region = ""
    assert due_dates(case)["holder_response"] == date(2027, 1, 6)


def test_a_region_is_refused_where_the_country_has_one_calendar(session, world, check):
    with pytest.raises(ValidationError) as refused:
        cases.open_detention(session, world.officer, PROFILES, check.id, {
            "jurisdiction": "EU", "procedure": "standard", "legal_basis": "application",
            "office": "Luxembourg customs office", "office_country": "LU", "office_region": "LU-CA"},
            today=date(2026, 12, 18))
    assert "the same everywhere" in refused.value.errors["office_region"]


def test_us_deadlines(session, world, check):
    check.created_at = datetime(2026, 11, 23, 9, tzinfo=timezone.utc)  # presented on a Monday
    session.commit()
    case = cases.open_detention(session, world.officer, PROFILES, check.id, {
        "jurisdiction": "US", "legal_basis": "recordation", "office": "Port of Newark", "office_country": "US"},
        today=date(2026, 11, 24))
    dates = due_dates(case)
    # Five business days from presentation, Thanksgiving (26 Nov) not counted.
    assert dates["detention_decision"] == date(2026, 12, 1)
    assert dates["detention_limit"] == date(2026, 12, 23)  # 30 calendar days
    assert dates["notify"] == date(2026, 12, 2)  # 5 business days from detention on 24 Nov


def test_deemed_consent_applied_on_access_and_by_the_job(session, world, check):
    first = open_case(session, world, check)
    cases.advance(session, world.officer, first.id, "notify", today=date(2026, 12, 21))
    session.commit()
    assert not cases.apply_deemed_consent(session, first, today=date(2027, 1, 6))  # still in time
    with freeze_time("2027-01-07"):
        cases.advance(session, world.officer, first.id, "await_response")
    assert first.declarant_consent == "deemed"
    event = next(e for e in first.events if e.action == "deemed_consent")
    assert "did not object by 2027-01-06" in event.note and event.actor_id is None
    assert cases.apply_all_deemed_consents(session, PROFILES, today=date(2027, 2, 1)) == 0  # once only


def test_the_job_commits_case_by_case_and_leaves_a_case_being_changed_for_later(session, world, check,
                                                                               monkeypatch):
    opened = []
    for _ in range(3):
        other = suspect_check(session, world, quantity=10, created_at=check.created_at)
        case = open_case(session, world, other)
        cases.advance(session, world.officer, case.id, "notify", today=date(2026, 12, 21))
        session.commit()
        opened.append(case.id)
    busy = opened[1]
    real = cases.apply_deemed_consent

    def someone_is_changing(session_, case, *args, **kwargs):
        if case.id == busy:
            raise cases.Conflict("another user changed this case at the same moment")
        return real(session_, case, *args, **kwargs)

    monkeypatch.setattr(cases, "apply_deemed_consent", someone_is_changing)
    commits = []
    applied = cases.apply_all_deemed_consents(session, PROFILES, today=date(2027, 2, 1),
                                              commit=lambda: (commits.append(1), session.commit()))
    assert applied == 2 and len(commits) == 2
    session.expire_all()
    consent = {case_id: session.get(DetentionCase, case_id).declarant_consent for case_id in opened}
    assert consent == {opened[0]: "deemed", busy: "", opened[2]: "deemed"}
    monkeypatch.undo()
    assert cases.apply_all_deemed_consents(session, PROFILES, today=date(2027, 2, 1), commit=session.commit) == 1


def test_dashboard_lists_overdue_first(session, world, check):
    late = open_case(session, world, check)
    other = Check(officer_id=world.officer.id, description="bags")
    session.add(other)
    session.commit()
    fresh = cases.open_detention(session, world.officer, PROFILES, other.id, {
        "jurisdiction": "EU", "legal_basis": "ex_officio", "office": "Hamburg", "office_country": "DE"},
        today=date(2027, 1, 4))
    session.commit()
    rows = cases.dashboard(session, world.officer, PROFILES, today=date(2027, 1, 4))
    assert [r.case.id for r in rows] == [late.id, fresh.id]
    assert rows[0].deadline.overdue(date(2027, 1, 4)) and not rows[1].deadline.overdue(date(2027, 1, 4))


def test_profiles_are_data_and_checked():
    assert {"EU", "US"} <= set(PROFILES)
    extra = parse_profiles('{"CH": {"name": "Switzerland", "deadlines": [{"key": "notify", "label": "n", '
                           '"from": "detained", "days": 2}]}}')
    assert extra["CH"].deadlines[0].days == 2
    with pytest.raises(ProfileError):
        parse_profiles('{"CH": {"deadlines": [{"key": "x", "label": "x", "from": "yesterday", "days": 1}]}}')
    with pytest.raises(ProfileError):
        parse_profiles("{not json")


def test_two_officers_advancing_one_case_at_once(app, session, world, check):
    """Both load the case, both act at the same moment: exactly one wins, the other is told."""
    import threading

    from sqlalchemy.orm import Session

    from registry.extensions import db
    from registry.models import User

    case_id = open_case(session, world, check).id
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def officer_acts(action: str) -> None:
        with app.app_context(), Session(db.engine) as own:
            officer = own.get(User, world.officer.id)
            own.get(DetentionCase, case_id)  # the page each officer has open
            barrier.wait()
            try:
                cases.advance(own, officer, case_id, action, expected_version=1)
                own.commit()
                outcomes.append(f"won:{action}")
            except Conflict as exc:
                own.rollback()
                outcomes.append(f"told:{exc}")

    threads = [threading.Thread(target=officer_acts, args=(a,)) for a in ("notify", "notify")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(o.split(":")[0] for o in outcomes) == ["told", "won"], outcomes
    assert "changed" in next(o for o in outcomes if o.startswith("told"))
    session.expire_all()
    stored = session.get(DetentionCase, case_id)
    assert stored.state == "notified" and stored.version == 2
    assert [e.action for e in stored.events] == ["open", "notify"]


def _awaiting(session, world, check, **overrides):
    case = open_case(session, world, check, **overrides)
    cases.advance(session, world.officer, case.id, "notify", today=date(2026, 12, 21))
    cases.advance(session, world.officer, case.id, "await_response", today=date(2026, 12, 21))
    session.commit()
    return case


def test_holder_answer_is_recorded_as_evidence(session, world, check):
    case = _awaiting(session, world, check)
    feature = world.a.product.features[0]
    response = cases.respond(session, world.a.holder, case.id, {
        "answer": "infringement", "wrong_features": [str(feature.id)], "cited_images": [str(world.a.image.id)],
        "consent_to_destruction": True, "reasons": "the logo is printed"}, today=date(2026, 12, 22))
    session.commit()
    assert case.state == "infringement_confirmed"
    assert response.wrong_features == [{"id": feature.id, "text": feature.description, "covert": feature.covert}]
    assert response.cited_image_ids == [world.a.image.id] and response.consent_to_destruction


@pytest.mark.parametrize("raw, field", [
    ({"answer": "maybe"}, "answer"),
    ({"answer": "infringement"}, "reasons"),
    ({"answer": "genuine", "wrong_features": ["999999"]}, "wrong_features"),
])
def test_bad_answers_change_nothing(session, world, check, raw, field):
    case = _awaiting(session, world, check)
    with pytest.raises(ValidationError) as error:
        cases.respond(session, world.a.holder, case.id, raw, today=date(2026, 12, 22))
    session.rollback()
    assert field in error.value.errors and session.get(DetentionCase, case.id).state == "awaiting_response"


def test_another_holders_images_cannot_be_cited(session, world, check):
    case = _awaiting(session, world, check)
    with pytest.raises(ValidationError, match="your own registered images"):
        cases.respond(session, world.a.holder, case.id, {"answer": "genuine", "cited_images": [str(world.b.image.id)]},
                      today=date(2026, 12, 22))


def test_answer_after_the_deadline_is_refused(session, world, check):
    case = _awaiting(session, world, check)
    with pytest.raises(Conflict, match="passed on 06 January 2027"):
        cases.respond(session, world.a.holder, case.id, {"answer": "genuine"}, today=date(2027, 1, 7))
    session.rollback()
    assert session.get(DetentionCase, case.id).state == "awaiting_response"


def test_extension_request_then_answer(session, world, check):
    case = _awaiting(session, world, check)
    cases.respond(session, world.a.holder, case.id, {"answer": "extension", "reasons": "lab test"},
                  today=date(2026, 12, 22))
    assert case.state == "awaiting_response" and case.events[-1].action == "extension_requested"
    cases.advance(session, world.officer, case.id, "grant_extension", today=date(2026, 12, 23))
    cases.respond(session, world.a.holder, case.id, {"answer": "genuine", "reasons": "our goods"},
                  today=date(2027, 1, 15))  # after the first date, within the extension
    assert case.state == "infringement_not_confirmed"


def test_an_officer_of_another_office_reads_but_cannot_change(session, world, check):
    from registry.services import users
    from registry.models import Role

    case = open_case(session, world, check)  # handled by "Hamburg customs office"
    other = users.create_user(session, None, email="bremen@customs.example", name="B", password="long-enough-password",
                              role=Role.OFFICER, office="Bremen customs office")
    assert cases.get_case(session, other, case.id).id == case.id
    assert cases.available_transitions(case, other) == []
    with pytest.raises(Forbidden, match="handled by Hamburg customs office"):
        cases.advance(session, other, case.id, "notify")
    with pytest.raises(Forbidden):
        cases.add_note(session, other, case.id, "mine now")
    same = users.create_user(session, None, email="hh@customs.example", name="H", password="long-enough-password",
                             role=Role.OFFICER, office="hamburg customs office ")
    assert cases.advance(session, same, case.id, "notify").state == "notified"
    # Nor can an officer open a case for another office: it would be out of their hands at once.
    another = Check(officer_id=other.id, description="bags")
    session.add(another)
    session.commit()
    with pytest.raises(ValidationError, match="your own office, Bremen"):
        cases.open_detention(session, other, PROFILES, another.id, {
            "jurisdiction": "EU", "legal_basis": "ex_officio", "office": "Rotterdam customs",
            "office_country": "NL"}, today=date(2026, 12, 18))
    session.rollback()
    mine = cases.open_detention(session, other, PROFILES, another.id, {
        "jurisdiction": "EU", "legal_basis": "ex_officio", "office_country": "DE"}, today=date(2026, 12, 18))
    assert mine.office == "Bremen customs office"


# -- what the law does not allow, whatever the state machine would ------------------------------

def test_an_extension_only_while_the_period_runs_never_for_perishable_goods_nor_where_none_exists(
        session, world, check):
    case = _awaiting(session, world, check)  # notified Mon 21 Dec 2026: the holder has until 6 Jan 2027
    late = date(2027, 1, 7)
    assert "grant_extension" not in dict(cases.available_transitions(case, world.officer, PROFILES["EU"], today=late))
    with pytest.raises(Conflict, match="ended on 06 January 2027"):
        cases.advance(session, world.officer, case.id, "grant_extension", today=late)
    session.rollback()
    assert case.state == "awaiting_response" and case.extension_granted_on is None
    cases.advance(session, world.officer, case.id, "grant_extension", today=date(2027, 1, 6))  # the last day
    assert due_dates(case)["holder_response"] == date(2027, 1, 20)


def test_perishable_and_us_periods_cannot_be_extended(session, world, check):
    case = _awaiting(session, world, check, procedure="perishable")
    with pytest.raises(Conflict, match="perishable"):
        cases.advance(session, world.officer, case.id, "grant_extension", today=date(2026, 12, 22))
    session.rollback()
    with pytest.raises(ValidationError, match="perishable"):
        cases.respond(session, world.a.holder, case.id, {"answer": "extension"}, today=date(2026, 12, 22))
    session.rollback()
    case.jurisdiction, case.procedure, case.legal_basis = "US", "standard", "recordation"
    session.commit()
    assert "grant_extension" not in dict(cases.available_transitions(case, world.officer, PROFILES["US"],
                                                                     today=date(2026, 12, 22)))
    with pytest.raises(Conflict, match="no extension"):
        cases.advance(session, world.officer, case.id, "grant_extension", today=date(2026, 12, 22))


def test_destruction_needs_the_declarants_consent_and_an_objection_leaves_it_to_a_court(session, world, check):
    case = _awaiting(session, world, check)
    cases.respond(session, world.a.holder, case.id, {"answer": "infringement", "reasons": "fake"},
                  today=date(2026, 12, 22))
    session.commit()
    with pytest.raises(Conflict, match="not consented"):
        cases.advance(session, world.officer, case.id, "destroy", today=date(2026, 12, 22))
    session.rollback()
    with pytest.raises(ValidationError):
        cases.record_declarant_answer(session, world.officer, case.id, "maybe", today=date(2026, 12, 22))
    with pytest.raises(Forbidden):
        cases.record_declarant_answer(session, world.a.holder, case.id, "consent", today=date(2026, 12, 22))
    cases.record_declarant_answer(session, world.officer, case.id, "objection", note="letter of 22 Dec",
                                  today=date(2026, 12, 22))
    session.commit()
    assert case.declarant_consent == "objected" and case.events[-1].action == "declarant_objection"
    # The objection stands: no deemed consent later, no destruction, a court decides.
    assert not cases.apply_deemed_consent(session, case, today=date(2027, 2, 1))
    with pytest.raises(Conflict, match="objected"):
        cases.advance(session, world.officer, case.id, "destroy", today=date(2027, 2, 1))
    session.rollback()
    with pytest.raises(Conflict, match="already recorded"):
        cases.record_declarant_answer(session, world.officer, case.id, "consent", today=date(2026, 12, 23))
    session.rollback()
    cases.advance(session, world.officer, case.id, "start_proceedings", today=date(2026, 12, 23))
    assert case.state == "court_proceedings"


def test_an_objection_after_the_period_is_too_late(session, world, check):
    case = _awaiting(session, world, check)
    with pytest.raises(Conflict, match="deemed given"):
        cases.record_declarant_answer(session, world.officer, case.id, "objection", today=date(2027, 1, 7))
    session.rollback()
    assert case.declarant_consent == ""


def test_released_goods_end_the_clock_and_get_no_deemed_consent(session, world, check):
    case = _awaiting(session, world, check)
    cases.advance(session, world.officer, case.id, "release", today=date(2026, 12, 23), note="holder silent")
    session.commit()
    later = date(2027, 2, 1)
    assert cases.next_deadline(case, PROFILES["EU"], later) is None
    statuses = {d.rule.key: d.status(later) for d in cases.case_deadlines(case, PROFILES["EU"])}
    assert statuses == {"notify": "met", "holder_response": "ended", "declarant_objection": "ended"}
    assert cases.apply_all_deemed_consents(session, PROFILES, today=later) == 0
    assert not cases.apply_deemed_consent(session, case, today=later) and case.declarant_consent == ""
    row = next(r for r in cases.dashboard(session, world.officer, PROFILES, today=later) if r.case.id == case.id)
    assert row.deadline is None


def test_the_us_importers_time_runs_out_without_hiding_the_detention_limit(session, world, check):
    check.created_at = datetime(2026, 11, 23, 9, tzinfo=timezone.utc)
    session.commit()
    case = cases.open_detention(session, world.officer, PROFILES, check.id, {
        "jurisdiction": "US", "legal_basis": "recordation", "office": "Port of Newark", "office_country": "US"},
        today=date(2026, 11, 24))
    cases.advance(session, world.officer, case.id, "notify", today=date(2026, 11, 25))
    session.commit()
    profile = PROFILES["US"]
    importer = next(d for d in cases.case_deadlines(case, profile) if d.rule.key == "importer_response")
    assert importer.due == date(2026, 12, 7)  # 7 business days, Thanksgiving not counted
    assert cases.next_deadline(case, profile, date(2026, 12, 1)).rule.key == "importer_response"
    after = date(2026, 12, 8)
    assert importer.status(after) == "ran out" and not importer.overdue(after)
    upcoming = cases.next_deadline(case, profile, after)
    assert upcoming.rule.key == "detention_limit" and upcoming.due == date(2026, 12, 23)


@pytest.fixture
def service_zone():
    """``service_zone(name)`` runs the test as a service whose ``TIMEZONE`` is ``name``."""
    from registry.services import calendar

    yield calendar.set_local_zone
    calendar.set_local_zone("UTC")


@pytest.fixture
def newark_time(service_zone):
    service_zone("America/New_York")


def test_the_clock_counts_the_offices_days_not_the_servers(session, world, check, newark_time):
    # Goods presented and detained at 23:30 on Monday 23 November in Newark: 04:30 on Tuesday in UTC.
    check.created_at = datetime(2026, 11, 24, 4, 30, tzinfo=timezone.utc)
    session.commit()
    with freeze_time("2026-11-24 04:45:00"):
        case = cases.open_detention(session, world.officer, PROFILES, check.id, {
            "jurisdiction": "US", "legal_basis": "recordation", "office": "Port of Newark", "office_country": "US"})
    assert case.presented_on == date(2026, 11, 23) and case.detained_on == date(2026, 11, 23)
    dates = due_dates(case)
    assert dates["detention_decision"] == date(2026, 12, 1) and dates["notify"] == date(2026, 12, 1)
    assert dates["detention_limit"] == date(2026, 12, 23)


def test_a_region_no_longer_known_keeps_the_national_holidays():
    from registry.services.calendar import add_working_days

    # As if a later release of the holidays package had dropped the stored region's code.
    assert add_working_days(date(2026, 12, 18), 10, "DE", "XX") == add_working_days(date(2026, 12, 18), 10, "DE")
    assert add_working_days(date(2026, 12, 18), 10, "DE") == date(2027, 1, 5)  # Christmas, New Year skipped


def test_an_office_in_another_time_zone_counts_its_own_days(session, world, check, newark_time):
    """On a service run in New York, a Los Angeles office's case is presented, detained and
    judged overdue on Los Angeles days; a New York case on New York days."""
    # 21:30 on Monday 23 November in Los Angeles: already 00:30 on Tuesday in New York.
    check.created_at = datetime(2026, 11, 24, 5, 30, tzinfo=timezone.utc)
    session.commit()
    raw = {"jurisdiction": "US", "legal_basis": "recordation", "office": "Port of Los Angeles",
           "office_country": "US", "office_zone": "america/los_angeles"}
    with freeze_time("2026-11-24 05:45:00"):
        los_angeles = cases.open_detention(session, world.officer, PROFILES, check.id, raw)
    session.commit()
    assert los_angeles.office_zone == "America/Los_Angeles"
    assert los_angeles.presented_on == los_angeles.detained_on == date(2026, 11, 23)
    assert due_dates(los_angeles)["detention_decision"] == date(2026, 12, 1)  # Thanksgiving skipped

    other = suspect_check(session, world, created_at=datetime(2026, 11, 24, 5, 30, tzinfo=timezone.utc))
    with freeze_time("2026-11-24 05:45:00"):
        newark = cases.open_detention(session, world.officer, PROFILES, other.id,
                                      {**raw, "office": "Port of Newark", "office_zone": ""})
    session.commit()
    assert newark.office_zone == "America/New_York"  # left empty: the service's zone, one of the country's
    assert newark.presented_on == date(2026, 11, 24)

    # 01:30 on Wednesday 2 December in New York, 22:30 on Tuesday 1 December in Los Angeles: the
    # Los Angeles decision is due today there, not overdue; New York's is due on 2 December.
    with freeze_time("2026-12-02 06:30:00"):
        rows = {row.case.id: row for row in cases.dashboard(session, world.officer, PROFILES)}
        assert rows[los_angeles.id].today == date(2026, 12, 1)
        assert rows[los_angeles.id].deadline.due == date(2026, 12, 1)
        assert not rows[los_angeles.id].deadline.overdue(rows[los_angeles.id].today)
        assert rows[newark.id].today == date(2026, 12, 2)
    # A minute after midnight in Los Angeles, it is overdue.
    with freeze_time("2026-12-02 08:01:00"):
        row = next(r for r in cases.dashboard(session, world.officer, PROFILES) if r.case.id == los_angeles.id)
        assert row.today == date(2026, 12, 2) and row.deadline.overdue(row.today)


@pytest.mark.parametrize("zone_of_service, country, expected", [
    ("UTC", "DE", "Europe/Berlin"),  # the service's zone is not Germany's: Germany's main one
    ("Europe/Berlin", "DE", "Europe/Berlin"),
    ("Europe/Brussels", "FI", "Europe/Helsinki"),
    ("America/Chicago", "US", "America/Chicago"),  # the service's own, as one of the country's
    ("Europe/Lisbon", "PT", "Europe/Lisbon"),
])
def test_an_office_zone_left_empty_is_the_services_or_the_countrys_main_one(service_zone, zone_of_service, country,
                                                                             expected):
    from registry.services.validation import parse_zone

    service_zone(zone_of_service)
    assert parse_zone("", country) == expected


def test_a_time_zone_of_another_country_is_refused_and_nothing_is_opened(session, world, check):
    for zone, listed in (("Europe/Paris", "one of: Europe/Berlin, Europe/Busingen"), ("Mars/Olympus", "Europe/Berlin")):
        with pytest.raises(ValidationError) as refused:
            open_case(session, world, check, office_zone=zone)
        session.rollback()
        assert f"'{zone}' is not a time zone of DE" in refused.value.errors["office_zone"]
        assert listed in refused.value.errors["office_zone"]
    assert session.scalar(select(func.count(DetentionCase.id))) == 0
    # Azores: one of Portugal's zones.
    case = open_case(session, world, check, office="Ponta Delgada customs office", office_country="PT",
                     office_zone="Atlantic/Azores")
    assert case.office_zone == "Atlantic/Azores"


def test_a_stored_zone_no_longer_known_counts_in_the_services_zone(caplog):
    from registry.services.calendar import local_date

    moment = datetime(2026, 12, 1, 23, 30, tzinfo=timezone.utc)
    assert local_date(moment, "Gone/Zone") == local_date(moment) == date(2026, 12, 1)
    assert local_date(moment, "Asia/Tokyo") == date(2026, 12, 2)
    assert "Gone/Zone" in caplog.text


def test_a_holder_is_told_the_days_left_from_the_day_at_the_cases_office(session, world, check, service_zone):
    """On a service run in Brussels, at 23:30 there it is already the next day in Helsinki: the
    holder's overview counts a Helsinki case's days left from that day."""
    service_zone("Europe/Brussels")
    case = open_case(session, world, check, office="Helsinki customs office", office_country="FI")
    assert case.office_zone == "Europe/Helsinki"
    for action in ("notify", "await_response"):
        cases.advance(session, world.officer, case.id, action, today=date(2026, 12, 21), profiles=PROFILES)
    session.commit()
    with freeze_time("2026-12-22 22:30:00"):
        [(waiting, period, day)] = cases.awaiting_answer(session, world.a.holder, PROFILES)
        assert waiting.id == case.id and day == date(2026, 12, 23)
        assert period.days_left(day) == period.days_left(date(2026, 12, 22)) - 1
