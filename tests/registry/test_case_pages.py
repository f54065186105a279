"""Detention cases through the pages: detain from a check, follow the clock, respond, close."""

from __future__ import annotations

from sqlalchemy import select

from registry.models import Check, DetentionCase
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


def advance(client, case, action):
    return client.post(f"/cases/{case.id}/advance", {"action": action, "version": str(case.version)})


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
    assert "Infringement confirmed by the rights holder" in own and "Goods destroyed" not in own
    assert advance(holder, case, "confirm_infringement").status_code == 302
    session.refresh(case)
    assert case.state == "infringement_confirmed"
    assert signed_in(world.b.holder).get(f"/cases/{case.id}").status_code == 404

    for action in ("destroy", "close"):
        advance(officer, case, action)
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
    result = runner.invoke(args=["case", "advance", str(case.id), "notify", "--note", "faxed"])
    assert result.exit_code == 0 and "Parties notified" in result.output
    result = runner.invoke(args=["deadlines"])
    assert result.exit_code == 0 and "Deemed consent applied to 0 case(s)" in result.output
