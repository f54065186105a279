"""Officers check goods: screening through the page, the stored suggestions, verdicts and
decisions, and an engine that follows registry changes without a rebuild per check."""

from __future__ import annotations

import re

import io
from datetime import date, timedelta
from decimal import Decimal

import pytest
from PIL import Image, ImageDraw, ImageFilter
from sqlalchemy import func, select

from registry.models import (AuditEvent, Check, CheckPhoto, OrganisationStatus, Product, ReferenceImage,
                             RegistryGeneration, Right, Suggestion, Supplier)
from registry.services import rights
from tests.registry.conftest import png_bytes

LOOKALIKE = {"declared_brand": "A1pha", "description": "running shoes, mixed sizes",
             "manufacturer": "Guangzhou Quick Shoes Trading", "origin_country": "China",
             "quantity": "500", "quantity_unit": "pairs", "declared_value": "1500", "currency": "EUR",
             "hs_code": "6404.11"}


def count(session, model) -> int:
    session.expire_all()
    return session.scalar(select(func.count()).select_from(model))


def test_officer_checks_a_lookalike_declaration(signed_in, session, world):
    client = signed_in(world.officer)
    client.refresh_token("/checks/new")
    response = client.post("/checks/new", LOOKALIKE)
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    check = session.scalars(select(Check)).one()
    top = check.suggestions[0]
    assert top.brand_name == "ALPHA" and top.right_id == world.a.right.id
    assert top.recommendation == "detain"
    reasons = " ".join(s["reason"] for s in top.signals)
    assert "look-alike of the word mark 'ALPHA'" in reasons
    assert "not among the 1 authorised supplier of ALPHA" in reasons
    assert "below the genuine range" in reasons  # 3 EUR a pair against 50-90
    assert check.snapshot_id.startswith("matchers-")
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "ALPHA" in page and "COVERT-CANARY-ALPHA" in page and "ALPHA Contact" in page
    assert session.scalars(select(AuditEvent.action).order_by(AuditEvent.seq.desc())).first() == "check.create"


def test_genuine_declaration_is_released(signed_in, session, world):
    client = signed_in(world.officer)
    response = client.post("/checks/new", {**LOOKALIKE, "declared_brand": "ALPHA",
                                           "manufacturer": "ALPHA Factory Co., Ltd.", "origin_country": "VN",
                                           "declared_value": "35000"})
    assert response.status_code == 302
    assert session.scalars(select(Check)).one().suggestions[0].recommendation == "release"
    # The decision area follows the suggestion: no red "Detain" beside a "release" result, but
    # the officer, who decides, can still detain.
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    decision = page[page.index('id="decision"'):]
    assert "The engine suggests:" in decision and re.search(r">\s*release\s*<", decision)
    assert "govuk-button--warning" not in decision
    assert "Detain the goods anyway and open a case" in decision
    lookalike = client.post("/checks/new", LOOKALIKE)
    page = client.get(lookalike.headers["Location"]).get_data(as_text=True)
    decision = page[page.index('id="decision"'):]
    assert re.search(r'class="govuk-button govuk-button--warning"[^>]*>Detain and open a case', decision)
    assert "Detain the goods anyway" not in decision


def test_unprotected_right_never_detains_and_says_why(signed_in, session, world):
    today = date.today()
    rights.register_right(session, world.a.holder, world.a.organisation.id, {
        "kind": "word", "mark_text": "ZEPHYRA", "registration_number": "Z-1", "office": "EUIPO", "nice_classes": "25",
        "protection_number": "AFA-Z", "protection_jurisdictions": "EU",
        "protection_valid_from": today + timedelta(days=5), "protection_valid_until": today + timedelta(days=300)})
    session.commit()
    client = signed_in(world.officer)
    client.post("/checks/new", {**LOOKALIKE, "declared_brand": "Zephyra", "hs_code": ""})
    top = session.scalars(select(Check)).one().suggestions[0]
    assert top.brand_name == "ZEPHYRA" and top.recommendation != "detain"
    validity = next(s for s in top.signals if s["name"] == "validity")
    assert "not in force" in validity["reason"]


def test_registry_change_shows_in_the_next_check_without_rebuilding_every_time(app, signed_in, session, world):
    cache = app.extensions["engine"]
    client = signed_in(world.officer)
    client.post("/checks/new", LOOKALIKE)
    client.post("/checks/new", LOOKALIKE)
    assert cache.builds == 1
    today = date.today()
    rights.register_right(session, world.b.holder, world.b.organisation.id, {
        "kind": "word", "mark_text": "QUORVEX", "registration_number": "Q-1", "office": "EUIPO", "nice_classes": "9",
        "protection_number": "AFA-Q", "protection_jurisdictions": "EU",
        "protection_valid_from": today, "protection_valid_until": today + timedelta(days=300)})
    session.commit()
    client.post("/checks/new", {"declared_brand": "Qu0rvex", "description": "phone chargers"})
    assert cache.builds == 2
    latest = session.scalars(select(Check).order_by(Check.id.desc())).first()
    assert latest.suggestions[0].brand_name == "QUORVEX"


def test_a_large_engine_is_kept_out_of_full_collections_and_a_replaced_one_is_freed(app, signed_in, session, world,
                                                                                    monkeypatch):
    import gc
    import weakref

    from registry.services import engine_cache

    gc.unfreeze()
    try:
        cache = app.extensions["engine"]
        client = signed_in(world.officer)
        client.post("/checks/new", LOOKALIKE)
        assert cache.builds == 1 and gc.get_freeze_count() == 0  # a small registry: collected as usual
        cache._built = None
        monkeypatch.setattr(engine_cache, "FREEZE_FROM_REFERENCES", 1)  # the test world's registry counts as large
        client.post("/checks/new", LOOKALIKE)
        assert cache.builds == 2 and gc.get_freeze_count() > 0
        first = weakref.ref(cache._built.engine)
        today = date.today()
        rights.register_right(session, world.b.holder, world.b.organisation.id, {
            "kind": "word", "mark_text": "QUORVEX", "registration_number": "Q-1", "office": "EUIPO",
            "nice_classes": "9", "protection_number": "AFA-Q", "protection_jurisdictions": "EU",
            "protection_valid_from": today, "protection_valid_until": today + timedelta(days=300)})
        session.commit()
        client.post("/checks/new", {"declared_brand": "Qu0rvex", "description": "phone chargers"})
        assert cache.builds == 3
        # The engine it replaced was not kept alive by the frozen generation.
        assert first() is None
    finally:
        gc.unfreeze()


def _generation(session) -> int:
    session.expire_all()
    value = session.scalar(select(RegistryGeneration.value).where(RegistryGeneration.id == 1))
    session.commit()
    return value


def test_every_kind_of_registry_write_moves_the_generation_and_nothing_else_does(signed_in, session, world):
    start = _generation(session)
    signed_in(world.officer).post("/checks/new", LOOKALIKE)  # a check, its suggestions, an audit event
    session.get(Right, world.a.right.id)  # loaded, not changed
    session.flush()
    session.commit()
    assert _generation(session) == start

    product = session.scalars(select(Product).where(Product.right_id == world.a.right.id)).first()
    product.price_min = product.price_min + 1  # a changed row (flush)
    session.commit()
    assert _generation(session) == start + 1

    session.execute(Supplier.__table__.delete().where(Supplier.organisation_id == world.b.organisation.id))
    session.commit()  # a statement, as bulk writes and imports run
    assert _generation(session) == start + 2

    world.b.organisation.status = OrganisationStatus.SUSPENDED
    session.commit()
    assert _generation(session) == start + 3

    session.rollback()
    session.execute(Right.__table__.update().where(Right.id == world.a.right.id).values(mark_text="ALPHA NEW"))
    session.rollback()  # undone with the write it counted
    assert _generation(session) == start + 3


@pytest.mark.parametrize("data, message", [
    ({**LOOKALIKE, "origin_country": "Atlantis"}, "not an ISO 3166 country"),
    ({**LOOKALIKE, "quantity": "-3"}, "zero or more"),
    ({**LOOKALIKE, "declared_value": "1e15"}, "below 100,000,000,000"),
    ({**LOOKALIKE, "gross_weight_kg": "Infinity"}, "&#39;Infinity&#39; is not a number"),
    ({**LOOKALIKE, "currency": ""}, "currency of the declared value"),
    ({"consignee": "Someone"}, "describe the goods"),
])
def test_bad_declaration_is_refused_and_nothing_is_stored(signed_in, session, world, data, message):
    client = signed_in(world.officer)
    response = client.post("/checks/new", data)
    assert response.status_code == 400 and message in response.get_data(as_text=True)
    assert count(session, Check) == 0


def test_hostile_photo_refuses_the_whole_check(signed_in, session, world):
    client = signed_in(world.officer)
    response = client.post("/checks/new", {**LOOKALIKE, "photos": [
        (io.BytesIO(png_bytes()), "ok.png"), (io.BytesIO(b"<html>not a photo</html>"), "evil.jpg")]},
        content_type="multipart/form-data")
    assert response.status_code == 400
    assert "photo 2 (&#39;evil.jpg&#39;)" in response.get_data(as_text=True)
    assert count(session, Check) == 0 and count(session, CheckPhoto) == 0


def test_verdicts_and_a_decision_taken_once(signed_in, session, world):
    client = signed_in(world.officer)
    location = client.post("/checks/new", LOOKALIKE).headers["Location"]
    check = session.scalars(select(Check)).one()
    suggestion = check.suggestions[0]
    assert client.post(f"/checks/{check.id}/suggestions/{suggestion.id}/verdict", {"verdict": "counterfeit"}).status_code == 302
    assert client.post(f"/checks/{check.id}/decision", {"decision": "detain", "reason": "logo printed"}).status_code == 302
    session.expire_all()
    assert session.get(Suggestion, suggestion.id).verdict.value == "counterfeit"
    assert session.get(Check, check.id).decision.value == "detain"
    client.post(f"/checks/{check.id}/decision", {"decision": "release"})
    session.expire_all()
    assert session.get(Check, check.id).decision.value == "detain"
    assert "already decided" in client.get(location).get_data(as_text=True)


def test_legal_reads_checks_but_cannot_decide(signed_in, session, world):
    officer = signed_in(world.officer)
    officer.post("/checks/new", LOOKALIKE)
    check = session.scalars(select(Check)).one()
    legal = signed_in(world.legal)
    assert legal.get(f"/checks/{check.id}").status_code == 200
    assert legal.post(f"/checks/{check.id}/decision", {"decision": "release"}).status_code == 403
    assert legal.get("/checks/new").status_code == 403


def test_photo_of_registered_packaging_is_outlined(app, client_factory, session, blobs):
    app.test_cli_runner().invoke(args=["demo", "seed", "--password", "demo-password-2026"])
    box = session.scalar(select(ReferenceImage).where(ReferenceImage.original_filename == "kobalt-kb-pro2-box.png"))
    packaging = Image.open(io.BytesIO(blobs.get(box.sha256))).convert("RGB")
    photo = Image.new("RGB", (1600, 1200), "#8a7f70")
    draw = ImageDraw.Draw(photo)
    for i in range(40):
        draw.rectangle((37 * i % 1500, 53 * i % 1100, 37 * i % 1500 + 90, 53 * i % 1100 + 60),
                       fill=((i * 40) % 256, (i * 90) % 256, (i * 150) % 256))
    photo.paste(packaging.rotate(17, expand=True, fillcolor="#8a7f70").resize((520, 640)), (500, 300))
    out = io.BytesIO()
    photo.filter(ImageFilter.GaussianBlur(1.2)).save(out, format="JPEG", quality=80)
    client = client_factory()
    assert client.login("officer@demo.example", "demo-password-2026").status_code == 302
    client.refresh_token("/checks/new")
    response = client.post("/checks/new", {"description": "wireless earphones",
                                           "photos": [(io.BytesIO(out.getvalue()), "table.jpg")]},
                           content_type="multipart/form-data")
    assert response.status_code == 302
    check = session.scalars(select(Check)).one()
    top = check.suggestions[0]
    assert top.brand_name == "KOBALT"
    evidence = top.evidence[0]
    assert evidence["reference_image_id"] == box.id and evidence["photo"] == 1
    xs = [x for x, _ in evidence["polygon"]]
    ys = [y for _, y in evidence["polygon"]]
    # The packaging was pasted at (500, 300) with size 520x640.
    assert 400 < sum(xs) / 4 < 1120 and 250 < sum(ys) / 4 < 1040
    assert blobs.get(check.photos[0].sha256) == out.getvalue()  # the photo as taken, byte for byte
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert 'class="app-evidence__outline"' in page and f"/images/{box.id}/thumbnail" in page


def _columns(obj) -> dict:
    return {c.key: getattr(obj, c.key) for c in obj.__table__.columns
            if c.key not in ("id", "check_id", "created_at", "updated_at")}


def test_a_screenings_rows_are_written_as_a_flush_writes_them_and_kept_as_loaded(app, session, world):
    """The check, photos and suggestions go in with prebuilt statements (LoadedInsert): the
    rows are those a plain ORM flush of the same objects writes, defaults included, and the
    objects in hand are the rows as stored, readable without a query."""
    from sqlalchemy import event

    from registry.services.records import LoadedInsert

    def objects():
        check = Check(officer_id=world.officer.id, declared_brand="A1pha", description="shoes",
                      quantity=Decimal("500"), declared_value=Decimal("1500.50"), currency="EUR", gtins=["123"],
                      notes=["a note"], photos=[], suggestions=[])
        check.photos.append(CheckPhoto(position=1, sha256="a" * 64, thumbnail_sha256="b" * 64,
                                       content_type="image/png", byte_size=10, width=2, height=3))
        for rank in (1, 2):
            check.suggestions.append(Suggestion(rank=rank, right_id=world.a.right.id, brand_name="ALPHA",
                                                score=0.5 / rank, recommendation="inspect",
                                                signals=[{"name": "text", "score": 0.5, "reason": "r",
                                                          "available": True}]))
        return check

    flushed = objects()
    session.add(flushed)
    session.flush()
    inserted = objects()
    LoadedInsert(Check).insert(session, [inserted])
    for child in (*inserted.photos, *inserted.suggestions):
        child.check_id = inserted.id
    LoadedInsert(CheckPhoto).insert(session, inserted.photos)
    LoadedInsert(Suggestion).insert(session, inserted.suggestions)
    session.add(inserted)
    assert not session.dirty and not session.new
    statements = []
    listener = lambda *args: statements.append(args[2])  # noqa: E731
    event.listen(session.get_bind(), "before_cursor_execute", listener)
    try:
        in_hand = [_columns(inserted), *map(_columns, inserted.photos), *map(_columns, inserted.suggestions)]
        assert inserted.created_at is not None and [s.check for s in inserted.suggestions] == [inserted] * 2
        assert session.get(Check, inserted.id) is inserted
    finally:
        event.remove(session.get_bind(), "before_cursor_execute", listener)
    assert statements == []  # nothing to read back
    session.commit()
    session.expire_all()
    stored = session.get(Check, inserted.id)
    assert [_columns(stored), *map(_columns, stored.photos), *map(_columns, stored.suggestions)] == in_hand
    reference = session.get(Check, flushed.id)
    assert [_columns(reference), *map(_columns, reference.photos), *map(_columns, reference.suggestions)] == in_hand
    assert [s.id for s in stored.suggestions] == sorted(s.id for s in stored.suggestions)


def test_a_generation_read_with_the_token_serves_its_transaction_only_until_a_registry_write(session, world):
    """An API request's token lookup reads the registry generation too (``note_generation``):
    the screening that follows asks no query of its own, a registry write in the transaction
    moves what it sees, and the next transaction reads again."""
    from sqlalchemy import event

    from registry.models.dossier import current_generation, note_generation
    from registry.services import api_tokens

    _, secret = api_tokens.create_token(session, world.officer, "system")
    session.commit()
    start = _generation(session)
    session.commit()
    statements = []
    listener = lambda *args: statements.append(args[2])  # noqa: E731
    event.listen(session.get_bind(), "before_cursor_execute", listener)
    try:
        assert api_tokens.authenticate(session, secret) is not None
        lookups = len(statements)
        assert current_generation(session) == start and len(statements) == lookups  # no query of its own
        product = session.scalars(select(Product).where(Product.right_id == world.a.right.id)).first()
        product.price_min = product.price_min + 1
        assert current_generation(session) == start + 1  # the pending write flushed and counted
        session.commit()
        note_generation(session, start)  # outside any transaction: a stale value must not be kept
        before = len(statements)
        assert current_generation(session) == start + 1 and len(statements) > before
    finally:
        event.remove(session.get_bind(), "before_cursor_execute", listener)


def test_the_result_groups_signals_by_what_their_score_means(signed_in, session, world):
    import re

    officer = signed_in(world.officer)
    location = officer.post("/checks/new", LOOKALIKE).headers["Location"]
    page = officer.get(location).get_data(as_text=True)
    section = page[page.index('id="suggestion-'):]
    section = section[:section.index("</table>")]
    assert '<th scope="col" class="govuk-table__header">Signal</th>' in section
    groups = re.findall(r'scope="colgroup" colspan="3"[^>]*>([^<:]+):', section)
    assert groups[0] == "Which brand" and groups[-1] == "Customs protection"
    # Each signal is under its own group's heading: the declared brand with the brand signals,
    # the supplier with the signs of counterfeit.
    by_group = dict(zip(groups, re.split(r'scope="colgroup"', section)[1:]))
    row = '<th scope="row" class="govuk-table__header">{}</th>'.format
    assert row("declared brand") in by_group["Which brand"]
    assert row("declared brand") not in by_group["Signs of counterfeit"]
    assert row("supply chain") in by_group["Signs of counterfeit"] and row("validity") in by_group["Customs protection"]
