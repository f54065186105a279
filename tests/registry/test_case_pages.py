"""Detention cases through the pages: detain from a check, follow the clock, respond, close."""

from __future__ import annotations

import io
import re
from html.parser import HTMLParser

from sqlalchemy import select

from registry.models import Check, DetentionCase, Role
from registry.services import cases, users
from registry.services.profiles import load_profiles
from tests.registry.conftest import PASSWORD, png_bytes
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

    from tests.registry.conftest import PASSWORD, png_bytes

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


class _Tables(HTMLParser):
    """The tables of a page, each with whether a scrolling wrapper (``app-table-wrap``) holds it."""

    VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}

    def __init__(self) -> None:
        super().__init__()
        self.open: list[tuple[str, str]] = []
        self.tables: list[bool] = []

    def handle_starttag(self, tag, attrs):
        if tag == "table":
            self.tables.append(any("app-table-wrap" in classes.split() for name, classes in self.open
                                   if name == "div"))
        if tag not in self.VOID:
            self.open.append((tag, dict(attrs).get("class") or ""))

    def handle_endtag(self, tag):
        while self.open:
            if self.open.pop()[0] == tag:
                break


def tables_of(page: str) -> list[bool]:
    parser = _Tables()
    parser.feed(page)
    return parser.tables


def test_every_table_of_the_case_and_check_pages_scrolls_on_a_phone(signed_in, session, world):
    officer = signed_in(world.officer)
    case, location = detain_from_a_check(officer, session)
    officer.post(f"/cases/{case.id}/samples", {"reference": "S-1", "quantity": "1 pair", "handed_to": "ALPHA lab",
                                               "version": str(case.version)})
    session.refresh(case)
    assert officer.post(f"/cases/{case.id}/evidence").status_code == 302
    page = officer.get(location).get_data(as_text=True)
    assert "S-1" in page and "Manifest SHA-256" in page  # the clock, the samples and the packages
    assert tables_of(page) == [True, True, True]
    check = signed_in(world.officer).get(f"/checks/{case.check_id}").get_data(as_text=True)
    assert tables_of(check) and all(tables_of(check))


def test_the_holders_answer_with_errors_links_each_to_its_field(signed_in, session, world):
    officer = signed_in(world.officer)
    case, location = detain_from_a_check(officer, session)
    for action in ("notify", "await_response"):
        advance(officer, case, action)
        session.refresh(case)
    holder = signed_in(world.a.holder)
    response = holder.post(f"/cases/{case.id}/respond", {"reasons": "", "version": str(case.version)})
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "<title>Error: Case #" in page
    summary = page[page.index('class="govuk-error-summary"'):page.index("</ul>", page.index('class="govuk-error-summary"'))]
    assert '<a href="#answer">say whether the goods infringe your right' in summary
    assert page.count('class="govuk-error-summary"') == 1  # one summary, not a second from a flash
    # The radio group is the field in error: its form group, its message, the first radio the link's target.
    group = re.search(r'<div class="govuk-form-group govuk-form-group--error">\s*<fieldset class="govuk-fieldset" '
                      r'aria-describedby="answer-error">.*?</fieldset>', page, re.S)
    assert group, page[page.index('id="your-answer"'):][:3000]
    assert '<p id="answer-error" class="govuk-error-message">' in group.group(0)
    assert re.search(r'<input class="govuk-radios__input" id="answer" name="answer" type="radio"', group.group(0))

    # A confirmation without reasons: the reasons field is in error, what was chosen is kept.
    feature = next(f for f in world.a.product.features if f.covert)
    response = holder.post(f"/cases/{case.id}/respond", {"answer": "infringement", "version": str(case.version),
                                                        "consent_to_destruction": "yes"})
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert '<a href="#reasons">say why the goods infringe' in page
    assert re.search(r'<div class="govuk-form-group govuk-form-group--error">\s*<label[^>]*for="reasons"', page)
    assert '<p id="reasons-error" class="govuk-error-message">' in page
    assert 'value="infringement" checked' in page
    assert re.search(r'name="consent_to_destruction" type="checkbox" value="[^"]+" checked', page)
    # A covert feature to pick is labelled as every page labels what customs alone see.
    assert f"ALPHA Runner R1: {feature.description} <span class=\"govuk-body-s app-customs-only\">(customs only" in page
    session.refresh(case)
    assert case.state == "awaiting_response" and case.responses == []
    # Sent right, it is recorded.
    response = holder.post(f"/cases/{case.id}/respond", {"answer": "infringement", "wrong_features": str(feature.id),
                                                        "version": str(case.version)})
    assert response.status_code == 302
    session.refresh(case)
    assert case.state == "infringement_confirmed"
    answered = officer.get(location).get_data(as_text=True)
    assert f'Wrong features: {feature.description} <span class="govuk-body-s app-customs-only">' in answered


def test_photos_link_to_full_size_copies_served_under_the_thumbnails_rules(signed_in, session, world):
    from PIL import Image

    from registry.models import AuditEvent

    officer = signed_in(world.officer)
    case, location = detain_from_a_check(officer, session)
    exif = Image.Exif()
    exif[0x8825] = {2: (52.0, 31.0, 12.0)}  # GPS latitude: the original keeps it, the browser never gets it
    photo = png_bytes(size=(2400, 1200), fmt="JPEG", exif=exif.tobytes())
    officer.post(f"/cases/{case.id}/photos", {"photos": [(io.BytesIO(photo), "box.jpg")], "version": str(case.version)},
                 content_type="multipart/form-data")
    session.expire_all()
    case = session.get(DetentionCase, case.id)
    item = case.check.photos[0]
    full = f"/cases/{case.id}/photos/{item.id}/full"
    page = officer.get(location).get_data(as_text=True)
    assert f'<a class="govuk-link app-full-size" href="{full}"><img src="/cases/{case.id}/photos/{item.id}"' in page

    holder = signed_in(world.a.holder)
    assert f'href="{full}"' in holder.get(location).get_data(as_text=True)
    for client in (officer, holder):
        response = client.get(full)
        # A photo is re-encoded as a JPEG (a PNG of a photo is slow to make and several MB).
        assert response.status_code == 200 and response.mimetype == "image/jpeg"
        assert "no-store" in response.headers["Cache-Control"]
        assert response.headers["Content-Disposition"].endswith('.jpg"')
        shown = Image.open(io.BytesIO(response.get_data()))
        assert shown.format == "JPEG" and shown.size == (2048, 1024)  # full size, up to 2048 pixels a side
        assert not shown.getexif() and "exif" not in shown.info
    assert session.scalars(select(AuditEvent.action).order_by(AuditEvent.seq.desc())).first() == "case.photo_view"
    assert signed_in(world.b.holder).get(full).status_code == 404  # another holder: no such case
    assert officer.get(f"/cases/{case.id}/photos/999999/full").status_code == 404

    # The check page links the photo and the registered image it matched, each to its full size.
    check = session.get(Check, case.check_id)
    check.suggestions[0].evidence = [{"photo": 1, "reference_image_id": world.a.image.id, "method": "orb",
                                      "inliers": 12, "polygon": [[10, 10], [200, 10], [200, 200], [10, 200]]}]
    session.commit()
    page = officer.get(f"/checks/{check.id}").get_data(as_text=True)
    check_full = f"/images/checks/{check.id}/photos/{item.id}"
    assert f'<a class="govuk-link app-full-size" href="{check_full}">' in page
    assert (f'<a class="govuk-link app-full-size" href="/images/{world.a.image.id}"><img '
            f'src="/images/{world.a.image.id}/thumbnail"') in page
    assert officer.get(check_full).status_code == 200 and signed_in(world.legal).get(check_full).status_code == 200
    assert holder.get(check_full).status_code == 403  # checks are customs records, as their thumbnails
    assert officer.get(f"/images/checks/{check.id + 1}/photos/{item.id}").status_code == 404

    registered = f"/images/{world.a.image.id}"
    assert holder.get(registered).status_code == 200 and officer.get(registered).status_code == 200
    assert Image.open(io.BytesIO(holder.get(registered).get_data())).size == (120, 80)  # smaller: its own size
    assert signed_in(world.b.holder).get(registered).status_code == 404  # as its thumbnail


def test_small_consignment_objection_through_the_pages(signed_in, session, world):
    """The officer records the declarant's objection and informs the holder; the holder, asked
    whether proceedings have started (not for consent the declarant refused), says so."""
    world.a.right.small_consignments = True
    session.commit()
    officer = signed_in(world.officer)
    officer.post("/checks/new", LOOKALIKE)
    check = session.scalars(select(Check).order_by(Check.id.desc())).first()
    assert "Region of the office (optional)" in officer.get(f"/checks/{check.id}/detain").get_data(as_text=True)
    response = officer.post(f"/checks/{check.id}/detain", {
        "suggestion_id": str(check.suggestions[0].id), "jurisdiction": "EU", "procedure": "small_consignment",
        "legal_basis": "application", "office": "Hamburg customs office", "office_country": "DE", "office_region": "HH",
        "office_zone": "europe/berlin", "goods_description": "2 pairs of running shoes", "goods_quantity": "2", "goods_unit": "pairs"})
    assert response.status_code == 302
    case = session.scalars(select(DetentionCase)).one()
    assert "Hamburg customs office (DE-HH) · days counted in Europe/Berlin" in \
        officer.get(f"/cases/{case.id}").get_data(as_text=True)
    assert advance(officer, case, "notify").status_code == 302
    session.refresh(case)
    # Not told of the detention yet (Art. 26(2)): the holder finds no such case.
    assert signed_in(world.a.holder).get(f"/cases/{case.id}").status_code == 404
    assert f"/cases/{case.id}\"" not in signed_in(world.a.holder).get("/cases").get_data(as_text=True)
    page = officer.get(f"/cases/{case.id}").get_data(as_text=True)
    assert "Wait for the rights holder&#39;s response</button>" not in page
    assert "Inform the rights holder of the declarant&#39;s objection</button>" not in page
    officer.post(f"/cases/{case.id}/declarant", {"answer": "objection", "version": str(case.version)})
    session.refresh(case)
    page = officer.get(f"/cases/{case.id}").get_data(as_text=True)
    assert "Inform the rights holder of the declarant&#39;s objection</button>" in page
    assert advance(officer, case, "inform_holder").status_code == 302
    session.refresh(case)
    assert case.state == "awaiting_response"

    holder = signed_in(world.a.holder)
    assert f"/cases/{case.id}\"" in holder.get("/cases").get_data(as_text=True)  # informed: listed
    own = holder.get(f"/cases/{case.id}").get_data(as_text=True)
    assert "Have you started court proceedings about these goods?" in own
    assert 'value="proceedings"' in own and 'value="extension"' not in own and 'value="infringement"' not in own
    assert "consent_to_destruction" not in own
    refused = holder.post(f"/cases/{case.id}/respond", {"answer": "proceedings", "version": str(case.version)})
    assert refused.status_code == 400 and '<a href="#reasons">name the court and the reference' in refused.get_data(as_text=True)
    response = holder.post(f"/cases/{case.id}/respond", {"answer": "proceedings", "reasons": "Landgericht Hamburg 312 O 1/27",
                                                        "version": str(case.version)})
    assert response.status_code == 302
    session.refresh(case)
    assert case.state == "court_proceedings"
    answered = officer.get(f"/cases/{case.id}").get_data(as_text=True)
    assert "Court proceedings started" in answered and "312 O 1/27" in answered


def test_the_detention_form_starts_from_the_officers_last_case(signed_in, session, world):
    officer = signed_in(world.officer)
    officer.post("/checks/new", LOOKALIKE)
    check = session.scalars(select(Check).order_by(Check.id.desc())).first()
    form = officer.get(f"/checks/{check.id}/detain").get_data(as_text=True)
    assert not re.search(r'<input[^>]*name="office_country"[^>]*value="[^"]+"', form)  # the first case: nothing yet
    response = officer.post(f"/checks/{check.id}/detain", {
        "suggestion_id": str(check.suggestions[0].id), "jurisdiction": "US", "procedure": "standard",
        "legal_basis": "recordation", "office": "Port of Los Angeles", "office_country": "US",
        "office_zone": "America/Los_Angeles", "goods_description": "shoes"})
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    officer.post("/checks/new", LOOKALIKE)
    second = session.scalars(select(Check).order_by(Check.id.desc())).first()
    form = officer.get(f"/checks/{second.id}/detain").get_data(as_text=True)
    assert re.search(r'<input[^>]*name="office_country"[^>]*value="US"', form)
    assert re.search(r'<input[^>]*name="office_zone"[^>]*value="America/Los_Angeles"', form)
    assert re.search(r'<option[^>]*value="US"[^>]*selected|<option[^>]*selected[^>]*value="US"', form)
    # Another officer's form starts empty.
    other = users.create_user(session, world.admin, email="officer2@test.example", name="Officer Two",
                              password=PASSWORD, role=Role.OFFICER)
    session.commit()
    assert 'value="America/Los_Angeles"' not in signed_in(other).get(f"/checks/{second.id}/detain").get_data(as_text=True)
