"""Detention cases through the pages: detain from a check, follow the clock, respond, close."""

from __future__ import annotations

from sqlalchemy import select

from registry.models import Check, DetentionCase
from registry.services import cases
from registry.services.profiles import load_profiles
from tests.registry.test_checks import LOOKALIKE


def detain_from_a_check(client, session):
    client.post("/checks/new", LOOKALIKE)
    check = session.scalars(select(Check).order_by(Check.id.desc())).first()
    page = client.get(f"/checks/{check.id}").get_data(as_text=True)
    assert "Detain and open a case" in page
    form = client.get(f"/checks/{check.id}/detain").get_data(as_text=True)
    assert "running shoes, mixed sizes" in form  # the goods come from the declaration
    response = client.post(f"/checks/{check.id}/detain", {
        "suggestion_id": str(check.suggestions[0].id), "jurisdiction": "EU", "procedure": "standard",
        "legal_basis": "application", "office": "Hamburg customs office", "office_country": "DE",
        "goods_description": "500 pairs of running shoes", "goods_quantity": "500", "goods_unit": "pairs"})
    assert response.status_code == 302, response.get_data(as_text=True)[:3000]
    return session.scalars(select(DetentionCase)).one(), response.headers["Location"]


def advance(client, case, action, note=""):
    return client.post(f"/cases/{case.id}/advance", {"action": action, "version": str(case.version), "note": note})


def test_officer_detains_holder_confirms_officer_closes(signed_in, session, world):
    officer = signed_in(world.officer)
    case, location = detain_from_a_check(officer, session)
    page = officer.get(location).get_data(as_text=True)
    assert "Next deadline" in page and "Notify the declarant and the rights holder" in page
    assert "Art. 17(3)" in page
    for action in ("notify", "await_response"):
        assert advance(officer, case, action).status_code == 302
        session.refresh(case)
    assert case.state == "awaiting_response"

    holder = signed_in(world.a.holder)
    cases_page = holder.get("/cases").get_data(as_text=True)
    assert f"#{case.id}" in cases_page
    own = holder.get(f"/cases/{case.id}").get_data(as_text=True)
    assert "Your answer" in own and "Goods destroyed" not in own
    assert advance(holder, case, "confirm_infringement").status_code == 403  # holders answer, with reasons
    feature = world.a.product.features[0]
    response = holder.post(f"/cases/{case.id}/respond", {"answer": "infringement", "wrong_features": str(feature.id),
                                                        "consent_to_destruction": "yes", "reasons": "logo printed"})
    assert response.status_code == 302
    session.refresh(case)
    assert case.state == "infringement_confirmed"
    assert signed_in(world.b.holder).get(f"/cases/{case.id}").status_code == 404
    answered = officer.get(f"/cases/{case.id}").get_data(as_text=True)
    assert "Infringement confirmed" in answered and "logo printed" in answered and "agrees to destruction" in answered

    # Destruction waits for the declarant's consent, recorded on the page.
    advance(officer, case, "destroy")
    refused = officer.get(f"/cases/{case.id}").get_data(as_text=True)
    assert "has not consented to destruction" in refused and "Record the declarant's answer" in refused
    assert ">Goods destroyed</button>" not in refused  # not offered until the declarant consents
    session.refresh(case)
    assert case.state == "infringement_confirmed"
    response = officer.post(f"/cases/{case.id}/declarant", {"answer": "consent", "note": "by e-mail",
                                                            "version": str(case.version)})
    assert response.status_code == 302
    session.refresh(case)
    assert case.declarant_consent == "given"
    assert ">Goods destroyed</button>" in officer.get(f"/cases/{case.id}").get_data(as_text=True)
    # Destroying is recorded with a note, asked for in its own form: a bare click changes nothing.
    advance(officer, case, "destroy")
    session.refresh(case)
    assert case.state == "infringement_confirmed"
    assert "recorded with a note" in officer.get(f"/cases/{case.id}").get_data(as_text=True)
    for action, note in (("destroy", "Destroyed under supervision, certificate V-9"), ("close", "")):
        advance(officer, case, action, note)
        session.refresh(case)
    assert case.state == "closed"
    timeline = officer.get(f"/cases/{case.id}").get_data(as_text=True)
    for label in ("Detained", "Parties notified", "Infringement confirmed", "Destroyed", "Closed"):
        assert label in timeline


def test_invalid_or_stale_transition_is_explained(signed_in, session, world):
    officer = signed_in(world.officer)
    case, location = detain_from_a_check(officer, session)
    advance(officer, case, "destroy")
    page = officer.get(location).get_data(as_text=True)
    assert "cannot go to" in page
    stale = case.version
    advance(officer, case, "notify")
    response = officer.post(f"/cases/{case.id}/advance", {"action": "await_response", "version": str(stale)})
    assert "changed since you opened it" in officer.get(response.headers["Location"]).get_data(as_text=True)
    session.refresh(case)
    assert case.state == "notified"


def test_dashboard_shows_each_open_case_with_its_deadline(signed_in, session, world):
    officer = signed_in(world.officer)
    case, _ = detain_from_a_check(officer, session)
    page = officer.get("/cases").get_data(as_text=True)
    assert f"#{case.id}" in page and "Notify the declarant" in page


def test_case_commands(app, signed_in, session, world):
    officer = signed_in(world.officer)
    case, _ = detain_from_a_check(officer, session)
    runner = app.test_cli_runner()
    listing = runner.invoke(args=["case", "list"])
    assert listing.exit_code == 0 and f"#{case.id}" in listing.output and "Notify the declarant" in listing.output
    result = runner.invoke(args=["case", "advance", str(case.id), "destroy"])
    assert result.exit_code == 1 and "cannot go to" in result.output
    result = runner.invoke(args=["case", "declarant", str(case.id), "consent"])
    assert result.exit_code == 1 and "once the parties are notified" in result.output
    result = runner.invoke(args=["case", "advance", str(case.id), "notify", "--note", "faxed"])
    assert result.exit_code == 0 and "Parties notified" in result.output
    result = runner.invoke(args=["case", "declarant", str(case.id), "objection", "--note", "letter"])
    assert result.exit_code == 0 and "the declarant objects to destruction" in result.output
    result = runner.invoke(args=["check", "--brand", "A1pha", "--description", "shoes", "--quantity", "10",
                                 "--value", "20", "--currency", "EUR"])
    assert result.exit_code == 0 and "1. ALPHA: detain" in result.output, result.output
    result = runner.invoke(args=["check", "--origin", "Atlantis", "--brand", "A1pha"])
    assert result.exit_code == 1 and "not an ISO 3166 country" in result.output
    result = runner.invoke(args=["deadlines"])
    assert result.exit_code == 0 and "Deemed consent applied to 0 case(s)" in result.output


def test_notify_sends_a_notice_with_the_deadline_and_records_the_disclosure(app, signed_in, session, world):
    from pathlib import Path

    from registry.models import AuditEvent, Notice

    officer = signed_in(world.officer)
    case, _ = detain_from_a_check(officer, session)
    advance(officer, case, "notify")
    notice = session.scalars(select(Notice)).one()
    assert notice.recipient == "contact@alpha.example" and notice.delivery == "sent"
    assert "Your deadline: Rights holder confirms the infringement" in notice.body
    assert "Manufacturer as declared: Guangzhou Quick Shoes Trading" in notice.body  # EU discloses it
    assert notice.disclosed["basis"].startswith("Art. 17(4)")
    # A quantity stored with three decimals reads as people write it, not as 500.000.
    assert notice.disclosed["fields"]["quantity"] == "500" and "Quantity declared: 500\n" in notice.body
    outbox = list(Path(app.config["MAIL_OUTBOX_DIR"]).glob("*.eml"))
    assert len(outbox) == 1 and "Detention notice: case #" in outbox[0].read_text()
    disclosure = session.scalars(select(AuditEvent).where(AuditEvent.action == "case.disclose")).one()
    assert disclosure.after["to"] == ["contact@alpha.example"] and "manufacturer" in disclosure.after["fields"]

    holder = signed_in(world.a.holder)
    page = holder.get("/notices").get_data(as_text=True)
    assert "Detention notice: case #" in page and "new" in page
    assert "new</strong>" not in holder.get("/notices").get_data(as_text=True)  # read now
    other = signed_in(world.b.holder).get("/notices").get_data(as_text=True)
    assert "Detention notice: case" not in other and "No notices." in other


def test_a_failed_delivery_is_kept_and_retried(app, signed_in, session, world):
    from registry.models import Notice
    from registry.services.notifications import deliver_pending

    class Down:
        def send(self, message):
            raise OSError("connection refused")

    officer = signed_in(world.officer)
    case, _ = detain_from_a_check(officer, session)
    app.config["MAIL_OUTBOX_DIR"] = "/proc/not-writable"  # the outbox cannot be written either
    advance(officer, case, "notify")
    notice = session.scalars(select(Notice)).one()
    session.refresh(notice)
    assert notice.delivery == "failed"
    session.expire_all()
    assert session.get(DetentionCase, case.id).state == "notified"  # the step itself stands
    assert deliver_pending(session, Down()) == 0
    sent = []

    class Up:
        def send(self, message):
            sent.append(message["To"])
            return "ok"

    assert deliver_pending(session, Up()) == 1 and sent == ["contact@alpha.example"]


def test_notes_photos_and_samples(signed_in, session, world):
    import io

    from tests.registry.conftest import png_bytes

    officer = signed_in(world.officer)
    case, location = detain_from_a_check(officer, session)
    officer.post(f"/cases/{case.id}/notes", {"note": "Boxes resealed with tape"})
    officer.post(f"/cases/{case.id}/photos", {"photos": [(io.BytesIO(png_bytes()), "box.png")]},
                 content_type="multipart/form-data")
    bad = officer.post(f"/cases/{case.id}/photos", {"photos": [(io.BytesIO(b"<svg/>"), "x.svg")]},
                       content_type="multipart/form-data")
    assert "Nothing was recorded" in officer.get(bad.headers["Location"]).get_data(as_text=True)
    too_many = officer.post(f"/cases/{case.id}/photos",
                            {"photos": [(io.BytesIO(png_bytes()), f"p{i}.png") for i in range(11)]},
                            content_type="multipart/form-data")
    assert "add at most 10 photos at a time" in officer.get(too_many.headers["Location"]).get_data(as_text=True)
    officer.post(f"/cases/{case.id}/samples", {"reference": "S-17", "quantity": "2 pairs", "handed_to": "ALPHA lab"})
    session.expire_all()
    case = session.get(DetentionCase, case.id)
    assert len(case.check.photos) == 1 and case.samples[0].reference == "S-17"
    officer.post(f"/cases/{case.id}/samples/{case.samples[0].id}/return")
    again = officer.post(f"/cases/{case.id}/samples/{case.samples[0].id}/return")
    assert "already returned" in officer.get(again.headers["Location"]).get_data(as_text=True)
    page = officer.get(location).get_data(as_text=True)
    assert "Boxes resealed with tape" in page and "S-17" in page and "returned on" in page
    holder = signed_in(world.a.holder)
    photo_id = case.check.photos[0].id
    assert holder.get(f"/cases/{case.id}/photos/{photo_id}").status_code == 200  # the holder sees its case's goods
    assert signed_in(world.b.holder).get(f"/cases/{case.id}/photos/{photo_id}").status_code == 404
    assert holder.post(f"/cases/{case.id}/notes", {"note": "x"}).status_code == 403


def test_each_role_lands_on_its_work_and_deadlines_read_as_spoken(signed_in, world):
    from registry.web.navigation import days_away

    landing = {world.officer: "/checks/new", world.legal: "/cases", world.a.holder: "/dossier"}
    for user, path in landing.items():
        assert signed_in(user).get("/").headers["Location"].endswith(path), user.email
    assert [days_away(n) for n in (0, 1, 2, -1, -3, None)] == \
        ["today", "tomorrow", "in 2 days", "yesterday", "3 days ago", ""]


def test_a_holder_sees_on_the_overview_each_detention_waiting_for_their_answer(signed_in, session, world):
    officer = signed_in(world.officer)
    case, _ = detain_from_a_check(officer, session)
    holder = signed_in(world.a.holder)
    assert "waiting for your answer" not in holder.get("/dossier").get_data(as_text=True)  # not notified yet
    for action in ("notify", "await_response"):
        advance(officer, case, action)
        session.refresh(case)
    overview = holder.get("/dossier").get_data(as_text=True)
    due = next(d for d in cases.case_deadlines(case, load_profiles()["EU"]) if d.rule.key == "holder_response").due
    assert "Detentions waiting for your answer" in overview and f"Case #{case.id}" in overview
    assert f"answer by <strong>{due:%A %d %B %Y}</strong>" in overview
    assert "waiting for your answer" not in signed_in(world.b.holder).get("/dossier").get_data(as_text=True)
