"""Lost updates on detention cases: two to four people change one case at the same time.

Every change to a case (a step of the state machine, a note, a sample taken or returned, the
rights holder's answer) is sent with the version of the case the writer's page showed. A change
made from a page that is out of date, or that loses a race with another writer's, is refused
with a message saying so and leaves nothing behind; every change that was acknowledged is in
the case, its timeline and the audit log afterwards, and the audit chain still verifies.

Each scenario runs on SQLite and on PostgreSQL (the ``database_url`` fixture).
"""

from __future__ import annotations

import io
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.orm import Session

from registry.extensions import db
from registry.models import AuditEvent, Check, DetentionCase, Role, Suggestion, User
from registry.services import audit, cases, users
from registry.services.errors import Conflict
from registry.services.profiles import load_profiles
from tests.registry.conftest import PASSWORD, png_bytes

PROFILES = load_profiles()
OFFICE = "Hamburg customs office"
# The states in which the holder's answer is awaited, as the machine defines them.
ANSWERING = cases.TRANSITIONS["confirm_infringement"].sources
ANSWER_STEPS = {"infringement": "confirm_infringement", "genuine": "deny_infringement"}
# Audit events that are not changes of the case: reads of it, and the disclosure in each notice.
NOT_CHANGES = ("case.view", "case.photo_view", "case.disclose")


@pytest.fixture
def officers(session, world) -> list[User]:
    """Four officers of the office that handles the cases: each may change them."""
    made = [users.create_user(session, None, email=f"officer{n}@hamburg.example", name=f"Officer {n}",
                              password=PASSWORD, role=Role.OFFICER, office=OFFICE) for n in range(4)]
    session.commit()
    return made


def open_case(session, world, officer) -> int:
    """Goods detained today under organisation A's right: no deadline has passed yet."""
    check = Check(officer_id=officer.id, declared_brand="A1pha", description="running shoes",
                  quantity=200, quantity_unit="pairs")
    check.suggestions.append(Suggestion(rank=1, right_id=world.a.right.id, brand_name="ALPHA", score=0.9,
                                        recommendation="detain", signals=[], evidence=[]))
    session.add(check)
    session.flush()
    case = cases.open_detention(session, officer, PROFILES, check.id, {
        "jurisdiction": "EU", "procedure": "standard", "legal_basis": "application", "office": OFFICE,
        "office_country": "DE"})
    session.commit()
    return case.id


# -- changes, and what each must leave in the case ------------------------------------------------

@dataclass(frozen=True)
class Edit:
    """One change a writer sends from the page they have open."""

    kind: str  # "advance", "note", "sample", "return", "answer" or "declarant"
    what: str | int  # the step, the note, the new sample's reference, the sample returned, the answer
    text: str = ""  # the step's note, the returned sample's reference, the reasons, how it was received


def step(name: str, tag: str) -> Edit:
    """A step of the state machine, with the note the steps that need one are recorded with."""
    return Edit("advance", name, f"why {tag}" if cases.TRANSITIONS[name].note_prompt else "")


def declarant_may_answer(case: DetentionCase) -> bool:
    return case.state in cases.CONSENT_STATES and not case.declarant_consent


def offered(case: DetentionCase, user: User, tag: str) -> list[Edit]:
    """The changes the page showing ``case`` offers ``user``; ``tag`` makes their text unique."""
    if user.role == Role.HOLDER:
        if case.state not in ANSWERING:
            return []
        answers = ["infringement", "genuine"] + ([] if case.extension_granted_on else ["extension"])
        return [Edit("answer", answer, f"reasons {tag}") for answer in answers]
    if case.state == "closed":
        return []
    return ([step(name, tag) for name, _ in cases.available_transitions(case, user, PROFILES[case.jurisdiction])]
            + [Edit("declarant", "consent", f"form {tag}")] * declarant_may_answer(case)
            + [Edit("note", f"note {tag}"), Edit("sample", f"S-{tag}")]
            + [Edit("return", s.id, s.reference) for s in case.samples if s.returned_on is None])


def send(session: Session, user: User, case_id: int, edit: Edit, version: int) -> None:
    """Send ``edit`` with the version of the case the writer's page showed."""
    if edit.kind == "advance":
        cases.advance(session, user, case_id, edit.what, expected_version=version, profiles=PROFILES, note=edit.text)
    elif edit.kind == "declarant":
        cases.record_declarant_answer(session, user, case_id, edit.what, note=edit.text, expected_version=version,
                                      profiles=PROFILES)
    elif edit.kind == "note":
        cases.add_note(session, user, case_id, edit.what, expected_version=version)
    elif edit.kind == "sample":
        cases.record_sample(session, user, case_id, {"reference": edit.what, "quantity": "1 pair",
                                                     "handed_to": "ALPHA lab"}, expected_version=version)
    elif edit.kind == "return":
        cases.return_sample(session, user, case_id, edit.what, expected_version=version)
    else:
        cases.respond(session, user, case_id, {"answer": edit.what, "reasons": edit.text},
                      expected_version=version, profiles=PROFILES)


@dataclass
class Expected:
    """The case as the acknowledged changes made it, in the order they were acknowledged."""

    version: int = 1
    state: str = "detained"
    timeline: list[tuple[str, str, str]] = field(default_factory=lambda: [("open", "detained", "")])
    audit: list[str] = field(default_factory=lambda: ["case.open"])
    samples: dict[str, bool] = field(default_factory=dict)  # reference -> returned
    answers: list[tuple[str, str]] = field(default_factory=list)

    def acknowledge(self, edit: Edit) -> None:
        self.version += 1  # every change, notes and samples too
        if edit.kind == "advance":
            self.state = cases.TRANSITIONS[edit.what].target
            self.timeline.append((edit.what, self.state, edit.text))
            self.audit.append(f"case.{edit.what}")
        elif edit.kind == "declarant":
            self.timeline.append((f"declarant_{edit.what}", self.state, edit.text))
            self.audit.append(f"case.declarant_{edit.what}")
        elif edit.kind == "note":
            self.timeline.append(("note", self.state, edit.what))
            self.audit.append("case.note")
        elif edit.kind == "sample":
            self.samples[edit.what] = False
            self.timeline.append(("sample", self.state, edit.what))
            self.audit.append("case.sample")
        elif edit.kind == "return":
            self.samples[edit.text] = True
            self.timeline.append(("sample_returned", self.state, edit.text))
            self.audit.append("case.sample_returned")
        else:
            self.answers.append((edit.what, edit.text))
            step = ANSWER_STEPS.get(edit.what)
            if step:
                self.state = cases.TRANSITIONS[step].target
            self.timeline.append((step or "extension_requested", self.state, edit.text))
            self.audit += ["case.response", f"case.{step or 'extension_requested'}"]


def assert_case_is(app, case_id: int, expected: Expected) -> None:
    """The stored case, read afresh, holds every acknowledged change and nothing else."""
    with Session(db.engine) as own:
        case = own.get(DetentionCase, case_id)
        references = {s.id: s.reference for s in case.samples}

        def entry(item) -> tuple[str, str, str]:  # a timeline entry, samples named by their reference
            sample = references.get((item.details or {}).get("sample"))
            return item.action, item.to_state, sample if sample is not None else item.note

        assert (case.state, case.version) == (expected.state, expected.version)
        assert [entry(e) for e in case.events] == expected.timeline
        assert {s.reference: s.returned_on is not None for s in case.samples} == expected.samples
        assert [(r.answer, r.reasons) for r in case.responses] == expected.answers
        assert own.scalars(select(AuditEvent.action).where(
            AuditEvent.object_type == "case", AuditEvent.object_id == case_id,
            AuditEvent.action.not_in(NOT_CHANGES)).order_by(AuditEvent.seq)).all() == expected.audit
        report = audit.verify_chain(own, app.extensions["signer"])
        assert report.ok, report


def current(case_id: int) -> tuple[str, int]:
    with Session(db.engine) as own:
        case = own.get(DetentionCase, case_id)
        return case.state, case.version


# -- interleavings chosen by hypothesis ----------------------------------------------------------

@dataclass
class Writer:
    number: int
    user_id: int
    changes_left: int
    #: The page and the change share one session and transaction: the writer's copy of the case
    #: goes stale in memory, as when two requests run at once. Otherwise the change is a request
    #: of its own that loads the case afresh and sends the version its page showed.
    one_transaction: bool
    page: tuple[Edit, int] | None = None  # the change chosen on the open page, and the version it showed
    session: Session | None = None


@settings(max_examples=40, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(data=st.data())
def test_interleaved_writers_lose_nothing_and_the_losers_are_told(app, world, officers, data):
    """2-4 writers (officers, or the holder) each open the case, choose a change the page offers
    and send it later, in an order hypothesis picks. A change sent from an out-of-date page is
    refused with a message and changes nothing; every other one is accepted and kept."""
    # The fixtures are built once per backend; each example works on a case of its own, taken
    # some way along the path first so that answers and sample returns are on offer too.
    case_id = open_case(db.session, world, officers[0])
    expected = Expected()
    head_start = data.draw(st.sampled_from([[], ["notify"], ["notify", "await_response"],
                                            ["notify", "await_response", "grant_extension"]]), label="head start")
    if data.draw(st.booleans(), label="a sample taken first"):
        head_start = [*head_start, "sample"]
    for change in head_start:
        edit = Edit("sample", f"S-{case_id}") if change == "sample" else Edit("advance", change)
        send(db.session, officers[0], case_id, edit, expected.version)
        db.session.commit()
        expected.acknowledge(edit)
    people = [officer.id for officer in officers[:3]] + [world.a.holder.id]
    writers = [Writer(n, data.draw(st.sampled_from(people), label=f"writer {n} (user id)"),
                      data.draw(st.integers(1, 3), label=f"writer {n} changes"),
                      data.draw(st.booleans(), label=f"writer {n} in one transaction"))
               for n in range(data.draw(st.integers(2, 4), label="writers"))]
    try:
        while active := [w.number for w in writers if w.changes_left]:
            writer = writers[data.draw(st.sampled_from(active), label="next step by writer")]
            if writer.page is None:
                open_page(writer, case_id, data)
            else:
                send_page(writer, case_id, expected)
                assert current(case_id) == (expected.state, expected.version)
    finally:
        for writer in writers:
            if writer.session is not None:
                writer.session.close()
    assert_case_is(app, case_id, expected)


def open_page(writer: Writer, case_id: int, data) -> None:
    session = Session(db.engine)
    user = session.get(User, writer.user_id)
    case = cases.get_case(session, user, case_id)
    choices = offered(case, user, f"{case_id}-{writer.number}-{writer.changes_left}")
    if not choices:  # the page offers this writer nothing (a closed case, an answer not awaited)
        writer.changes_left -= 1
        session.close()
        return
    writer.page = (data.draw(st.sampled_from(choices), label=f"writer {writer.number} sends"), case.version)
    if writer.one_transaction:
        writer.session = session
    else:
        session.close()


def send_page(writer: Writer, case_id: int, expected: Expected) -> None:
    edit, version = writer.page
    session = writer.session or Session(db.engine)
    out_of_date = version != expected.version
    told = None
    try:
        send(session, session.get(User, writer.user_id), case_id, edit, version)
        session.commit()
    except Conflict as exc:
        session.rollback()
        told = str(exc)
    finally:
        session.close()
    writer.page, writer.session = None, None
    writer.changes_left -= 1
    # Shown by --hypothesis-show-statistics: how often each kind of change was refused or kept.
    event(f"{edit.kind} {'refused' if told else 'kept'}{' (one transaction)' if writer.one_transaction else ''}")
    if out_of_date:
        assert told is not None and "changed" in told, (edit, version, expected.version, told)
    else:
        assert told is None, (edit, told)
        expected.acknowledge(edit)


# -- real threads, released at one moment ---------------------------------------------------------

ROUNDS = 12


def plan_round(case: DetentionCase, officers: list[User], holder: User, round_no: int,
               count: int) -> list[tuple[int, Edit]]:
    """(user id, change) for each writer of a round, from what the case offers now."""
    def tag(n: int) -> str:
        return f"r{round_no}w{n}"

    kinds: list[Callable[[int], tuple[int, Edit]]] = []
    steps = cases.available_transitions(case, officers[0], PROFILES[case.jurisdiction])
    if steps:
        kinds.append(lambda n: (officers[n].id, step(steps[0][0], tag(n))))
    if declarant_may_answer(case):
        kinds.append(lambda n: (officers[n].id, Edit("declarant", "consent", f"form {tag(n)}")))
    if case.state in ANSWERING:
        kinds.append(lambda n: (holder.id, Edit("answer", "infringement", f"reasons {tag(n)}")))
    if case.state != "closed":
        kinds.append(lambda n: (officers[n].id, Edit("note", f"note {tag(n)}")))
        kinds.append(lambda n: (officers[n].id, Edit("sample", f"S-{tag(n)}")))
        out = [s for s in case.samples if s.returned_on is None]
        if out:
            kinds.append(lambda n: (officers[n].id, Edit("return", out[0].id, out[0].reference)))
    if not kinds:
        return []
    if round_no % 2:  # every writer makes the same change: one step, one sample returned twice
        return [kinds[round_no // 2 % len(kinds)](n) for n in range(count)]
    return [kinds[(round_no + n) % len(kinds)](n) for n in range(count)]


@pytest.mark.parametrize("writer_count", [2, 3, 4])
def test_writers_at_the_same_moment(app, world, officers, writer_count):
    """Threads, each with its own application context and session, open the case and then send
    their changes at one moment. Exactly one is told it won and its change is stored; every
    other is told the case changed, and nothing of theirs is stored; nobody gets an error."""
    case_id = open_case(db.session, world, officers[0])
    expected = Expected()
    rounds_played = 0
    for round_no in range(ROUNDS):
        with Session(db.engine) as page:
            plan = plan_round(page.get(DetentionCase, case_id), officers, world.a.holder, round_no, writer_count)
        if not plan:
            break  # closed: nothing more to change
        barrier = threading.Barrier(len(plan))
        outcomes: list[tuple[str, str, int] | None] = [None] * len(plan)

        def write(n: int, user_id: int, edit: Edit) -> None:
            with app.app_context(), Session(db.engine) as own:
                user = own.get(User, user_id)
                seen = cases.get_case(own, user, case_id).version  # the page this writer has open
                barrier.wait(timeout=60)
                try:
                    send(own, user, case_id, edit, seen)
                    own.commit()
                    outcomes[n] = ("won", "", seen)
                except Conflict as exc:
                    own.rollback()
                    outcomes[n] = ("told", str(exc), seen)
                except Exception as exc:  # anything else fails the test, with what it was
                    own.rollback()
                    outcomes[n] = ("error", repr(exc), seen)

        threads = [threading.Thread(target=write, args=(n, user_id, edit)) for n, (user_id, edit) in enumerate(plan)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
        assert all(o is not None for o in outcomes), outcomes
        assert {seen for _, _, seen in outcomes} == {expected.version}, outcomes  # all opened one version
        assert [o for o in outcomes if o[0] == "error"] == []
        winners = [n for n, (status, _, _) in enumerate(outcomes) if status == "won"]
        assert len(winners) == 1, (plan, outcomes)
        # A loser is told the case changed, or, returning a sample the winner just returned, that
        # it was returned already (read before the claim, the sample row says so first).
        assert all("changed" in message or (plan[n][1].kind == "return" and "already returned" in message)
                   for n, (status, message, _) in enumerate(outcomes) if status == "told"), outcomes
        expected.acknowledge(plan[winners[0]][1])
        # The winner's change is stored and no loser's: the timeline, samples, answers and the
        # audit trail hold exactly the winners' changes, round after round.
        assert_case_is(app, case_id, expected)
        rounds_played += 1
    assert rounds_played >= 6


# -- the same through the pages -------------------------------------------------------------------

def page_version(client, case_id: int) -> str:
    page = client.get(f"/cases/{case_id}").get_data(as_text=True)
    versions = set(re.findall(r'name="version" value="(\d+)"', page))
    assert len(versions) == 1, versions  # every form on the page carries the version it shows
    return versions.pop()


def test_the_second_officer_to_send_a_form_is_told_and_keeps_their_note(app, signed_in, world, officers):
    case_id = open_case(db.session, world, officers[0])
    first, second = signed_in(officers[0]), signed_in(officers[1])
    seen_by_first, seen_by_second = page_version(first, case_id), page_version(second, case_id)
    assert seen_by_first == seen_by_second

    sent = first.post(f"/cases/{case_id}/notes", {"note": "Boxes resealed with tape", "version": seen_by_first})
    assert sent.status_code == 302
    late = second.post(f"/cases/{case_id}/notes", {"note": "Seal found intact", "version": seen_by_second})
    assert late.status_code == 409
    page = late.get_data(as_text=True)
    assert "Nothing was recorded: the case changed since you opened it" in page
    assert re.search(r'<textarea[^>]*name="note"[^>]*>Seal found intact</textarea>', page)  # not lost to retyping
    assert re.search(r'name="version" value="(\d+)"', page).group(1) == str(int(seen_by_second) + 1)

    # A step and photos sent from the page each had open: the first step wins, the rest is told.
    seen = page_version(first, case_id)
    assert page_version(second, case_id) == seen
    assert first.post(f"/cases/{case_id}/advance", {"action": "notify", "version": seen}).status_code == 302
    photo = {"photos": [(io.BytesIO(png_bytes()), "a.png")], "version": seen}
    for late in (lambda: second.post(f"/cases/{case_id}/advance", {"action": "notify", "version": seen}),
                 lambda: second.post(f"/cases/{case_id}/photos", photo, content_type="multipart/form-data")):
        response = late()
        assert response.status_code == 302  # these forms hold nothing typed: back to the case, told why
        told = second.get(response.headers["Location"]).get_data(as_text=True)
        assert "the case changed since you opened it" in told

    expected = Expected()
    expected.acknowledge(Edit("note", "Boxes resealed with tape"))
    expected.acknowledge(Edit("advance", "notify"))
    assert_case_is(app, case_id, expected)  # nothing of the second officer's is stored
    with Session(db.engine) as own:
        assert own.get(DetentionCase, case_id).check.photos == []


def test_the_holder_answering_from_an_old_page_is_told_and_keeps_the_answer(app, signed_in, world, officers):
    case_id = open_case(db.session, world, officers[0])
    for step in ("notify", "await_response"):
        cases.advance(db.session, officers[0], case_id, step, profiles=PROFILES)
    db.session.commit()
    holder, officer = signed_in(world.a.holder), signed_in(officers[1])
    seen_by_holder = page_version(holder, case_id)
    # Meanwhile the officer grants an extension from the page they loaded.
    granted = officer.post(f"/cases/{case_id}/advance", {"action": "grant_extension",
                                                          "version": page_version(officer, case_id)})
    assert granted.status_code == 302

    answer = {"answer": "genuine", "reasons": "These are our own goods", "consent_to_destruction": "yes"}
    late = holder.post(f"/cases/{case_id}/respond", {**answer, "version": seen_by_holder})
    assert late.status_code == 409
    page = late.get_data(as_text=True)
    assert "Nothing was recorded: the case changed since you opened it" in page
    assert "These are our own goods</textarea>" in page and 'value="genuine" checked' in page
    with Session(db.engine) as own:
        stored = own.get(DetentionCase, case_id)
        assert (stored.state, stored.responses) == ("extension_granted", [])

    # Sent again from the page as it is now, the answer is recorded.
    again = holder.post(f"/cases/{case_id}/respond", {**answer, "version": page_version(holder, case_id)})
    assert again.status_code == 302
    assert current(case_id)[0] == "infringement_not_confirmed"
