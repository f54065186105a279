"""Services on both backends: validation, audit events, tenancy rules, completeness, reminders."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from freezegun import freeze_time
from sqlalchemy import func, select

from registry.models import AuditEvent, Product, ProductFeature, Right
from registry.services import audit, products, rights, suppliers
from registry.services.completeness import product_completeness
from registry.services.errors import Forbidden, NotFound, ValidationError
from registry.services.reminders import protection_reminders
from registry.services.validation import (parse_country, parse_gtin, parse_hs_code,
                                          parse_nice_classes)


def count(session, model) -> int:
    return session.scalar(select(func.count()).select_from(model))


# -- parsers (no database needed, but cheap) ------------------------------------------------

@pytest.mark.parametrize("value, expected", [
    ("4006381333931", "4006381333931"), ("4006-3813-3393-1", "4006381333931"),
    ("96385074", "96385074"), ("036000291452", "036000291452")])
def test_gtin_accepts_valid_check_digits(value, expected):
    assert parse_gtin(value) == expected


@pytest.mark.parametrize("value, message", [
    ("4006381333932", "wrong check digit (expected 1, found 2)"),
    ("40063813339", "has 11 digits"), ("ABCDEFGHIJKLM", "digits only")])
def test_gtin_rejects_with_reason(value, message):
    with pytest.raises(ValidationError) as error:
        parse_gtin(value)
    assert message in str(error.value)


def test_hs_code_format_and_chapter():
    assert parse_hs_code("6403.99") == "640399"
    assert parse_hs_code("6403 99 90") == "64039990"
    for bad in ("64039", "7712", "9999", "64.03.99.1"):
        with pytest.raises(ValidationError):
            parse_hs_code(bad)


def test_country_codes_and_names():
    assert parse_country("de") == "DE"
    assert parse_country("DEU") == "DE"
    assert parse_country("Germany") == "DE"
    with pytest.raises(ValidationError, match="not an ISO 3166 country"):
        parse_country("Atlantis")


def test_nice_classes_range():
    assert parse_nice_classes("25, 9,18,9") == [9, 18, 25]
    with pytest.raises(ValidationError, match="1 to 45"):
        parse_nice_classes("46")


# -- products -------------------------------------------------------------------------------

def _product_raw(**overrides):
    raw = {"name": "Gamma Boot", "model": "G2", "gtins": "4006381333931", "hs_codes": "6403.99",
           "price_min": "10", "price_max": "20", "currency": "eur", "production_countries": "Viet Nam"}
    raw.update(overrides)
    return raw


def test_register_product_stores_canonical_values_and_audits(session, world):
    holder = world.a.holder
    before = count(session, AuditEvent)
    product = products.register_product(session, holder, holder.organisation_id, _product_raw(
        overt_features="stitched logo\n\n", covert_features="UV thread"))
    session.commit()
    stored = session.get(Product, product.id)
    assert stored.hs_codes == ["640399"]
    assert stored.currency == "EUR"
    assert stored.production_countries == ["VN"]
    assert stored.price_min == Decimal("10.00")
    assert [(f.description, f.covert) for f in stored.features] == [("stitched logo", False), ("UV thread", True)]
    actions = session.scalars(select(AuditEvent.action).where(AuditEvent.seq > before).order_by(AuditEvent.seq)).all()
    assert actions == ["product.create", "product.features"]


@pytest.mark.parametrize("overrides, field, message", [
    ({"gtins": "4006381333932"}, "gtins", "wrong check digit"),
    ({"production_countries": "DE, Narnia"}, "production_countries", "not an ISO 3166 country"),
    ({"price_min": "30", "price_max": "20"}, "price_min", "above the maximum"),
    ({"price_min": "-1"}, "price_min", "zero or more"),
    ({"price_min": "NaN"}, "price_min", "zero or more"),
    ({"currency": "EURO"}, "currency", "ISO 4217"),
    ({"hs_codes": "12345"}, "hs_codes", "4, 6, 8 or 10 digits"),
    ({"name": "  "}, "name", "enter the product's name"),
])
def test_bad_product_input_is_refused_and_changes_nothing(session, world, overrides, field, message):
    holder = world.a.holder
    products_before, events_before = count(session, Product), count(session, AuditEvent)
    with pytest.raises(ValidationError) as error:
        products.register_product(session, holder, holder.organisation_id, _product_raw(**overrides))
    session.rollback()
    assert message in error.value.errors[field]
    assert count(session, Product) == products_before
    assert count(session, AuditEvent) == events_before


def test_all_problems_reported_at_once(session, world):
    with pytest.raises(ValidationError) as error:
        products.register_product(session, world.a.holder, world.a.organisation.id,
                                  _product_raw(gtins="123", production_countries="Narnia", currency="XXXX"))
    assert {"gtins", "production_countries", "currency"} <= set(error.value.errors)


def test_same_product_twice_is_refused(session, world):
    holder = world.a.holder
    products.register_product(session, holder, holder.organisation_id, _product_raw())
    session.commit()
    with pytest.raises(ValidationError, match="already registered"):
        products.register_product(session, holder, holder.organisation_id, _product_raw())


def test_update_audits_only_changed_fields_and_noop_writes_nothing(session, world):
    holder, product = world.a.holder, world.a.product
    raw = {"name": product.name, "model": product.model, "category": "trail shoes",
           "right_id": product.right_id, "gtins": ",".join(product.gtins), "hs_codes": "640411",
           "price_min": "50", "price_max": "90", "currency": "EUR", "production_countries": "VN",
           "overt_features": "embossed logo", "covert_features": "COVERT-CANARY-ALPHA",
           "counterfeit_clues": "\n".join(product.counterfeit_clues)}
    assert products.update_product(session, holder, product.id, raw) is True
    session.commit()
    event = session.scalars(select(AuditEvent).order_by(AuditEvent.seq.desc())).first()
    assert event.action == "product.update"
    assert event.before == {"category": "shoes"} and event.after == {"category": "trail shoes"}
    events = count(session, AuditEvent)
    assert products.update_product(session, holder, product.id, raw) is False
    assert count(session, AuditEvent) == events


def test_holder_cannot_touch_another_tenant(session, world):
    with pytest.raises(NotFound):
        products.update_product(session, world.b.holder, world.a.product.id, _product_raw())
    with pytest.raises(NotFound):
        suppliers.delete_supplier(session, world.b.holder, world.a.supplier.id)
    with pytest.raises(NotFound):
        products.register_product(session, world.b.holder, world.a.organisation.id, _product_raw())


def test_officer_reads_but_cannot_edit(session, world):
    with pytest.raises(Forbidden):
        products.update_product(session, world.officer, world.a.product.id, _product_raw())
    with pytest.raises(Forbidden):
        products.delete_product(session, world.legal, world.a.product.id)


def test_product_of_another_tenants_right_is_refused(session, world):
    with pytest.raises(ValidationError) as error:
        products.register_product(session, world.a.holder, world.a.organisation.id,
                                  _product_raw(right_id=world.b.right.id))
    assert "right_id" in error.value.errors


def test_delete_product_removes_features_and_images(session, world):
    product_id = world.a.product.id
    products.delete_product(session, world.a.holder, product_id)
    session.commit()
    assert session.get(Product, product_id) is None
    assert session.scalar(select(func.count()).select_from(ProductFeature)
                          .where(ProductFeature.product_id == product_id)) == 0


# -- rights ---------------------------------------------------------------------------------

def _right_raw(**overrides):
    today = date.today()
    raw = {"kind": "word", "mark_text": "DELTA", "registration_number": "D-1", "office": "USPTO",
           "nice_classes": "9", "protection_number": "CBP-1", "protection_jurisdictions": "US",
           "protection_valid_from": today, "protection_valid_until": today + timedelta(days=365)}
    raw.update(overrides)
    return raw


@pytest.mark.parametrize("overrides, field", [
    ({"registration_expiry": date(2020, 1, 1)}, "registration_expiry"),
    ({"protection_valid_until": date.today() - timedelta(days=1),
      "protection_valid_from": date.today() - timedelta(days=30)}, "protection_valid_until"),
    ({"protection_valid_until": date.today() + timedelta(days=1),
      "protection_valid_from": date.today() + timedelta(days=30)}, "protection_valid_until"),
    ({"protection_number": ""}, "protection_number"),
    # Reg. 608/2013 Art. 11(1): an application for action (EU or national) runs one year at most.
    ({"protection_jurisdictions": "EU", "protection_valid_until": date.today() + timedelta(days=367)},
     "protection_valid_until"),
    ({"protection_jurisdictions": "US, DE", "protection_valid_until": date.today() + timedelta(days=800)},
     "protection_valid_until"),
    ({"office": "national", "office_country": ""}, "office_country"),
    ({"nice_classes": ""}, "nice_classes"),
])
def test_bad_right_input(session, world, overrides, field):
    before = count(session, Right)
    with pytest.raises(ValidationError) as error:
        rights.register_right(session, world.a.holder, world.a.organisation.id, _right_raw(**overrides))
    session.rollback()
    assert field in error.value.errors
    assert count(session, Right) == before


def test_a_us_recordation_may_run_for_years_an_eu_application_for_one(session, world):
    start = date(2028, 2, 29)
    eu = rights.right_values(_right_raw(protection_jurisdictions="EU", protection_valid_from=start,
                                        protection_valid_until=date(2029, 2, 28)), today=date(2028, 1, 1))
    assert eu["protection_valid_until"] == date(2029, 2, 28)
    us = rights.right_values(_right_raw(protection_valid_from=start, protection_valid_until=date(2031, 2, 28)),
                             today=date(2028, 1, 1))
    assert us["protection_valid_until"] == date(2031, 2, 28)
    with pytest.raises(ValidationError, match="at most one year"):
        rights.right_values(_right_raw(protection_jurisdictions="FR", protection_valid_from=start,
                                       protection_valid_until=date(2029, 3, 1)), today=date(2028, 1, 1))


def test_right_protection_in_force(session, world):
    right = rights.register_right(session, world.a.holder, world.a.organisation.id, _right_raw())
    assert right.protection_in_force(date.today())
    assert not right.protection_in_force(date.today() + timedelta(days=400))


# -- completeness and reminders -------------------------------------------------------------

def test_completeness_names_what_is_missing(session, world):
    bare = products.register_product(session, world.a.holder, world.a.organisation.id,
                                     {"name": "Bare", "model": ""})
    result = product_completeness(bare, supplier_count=0)
    assert result.score == 0
    assert "no packaging image" in result.missing and "no authorised suppliers" in result.missing
    full = product_completeness(world.a.product, supplier_count=1)
    assert full.score > 60
    assert "no packaging image" not in full.missing
    assert "no label image" in full.missing


@freeze_time("2026-11-23")
def test_reminder_for_protection_ending_within_30_working_days(session, world):
    today = date(2026, 11, 23)  # a Monday
    rights.register_right(session, world.a.holder, world.a.organisation.id, _right_raw(
        mark_text="SOON", protection_jurisdictions="DE", protection_valid_from=today,
        protection_valid_until=date(2026, 12, 31)), )
    rights.register_right(session, world.a.holder, world.a.organisation.id, _right_raw(
        mark_text="LATER", protection_jurisdictions="DE", protection_valid_from=today,
        protection_valid_until=date(2027, 3, 1)))
    found = protection_reminders(session, world.a.holder, today=today)
    by_mark = {r.right.mark_text: r for r in found}
    assert "SOON" in by_mark and "LATER" not in by_mark
    # 28 weekdays after 23 Nov up to 31 Dec, less Christmas Day (a Friday; Boxing Day is a Saturday).
    assert by_mark["SOON"].working_days_left == 27
    assert "27 working days" in by_mark["SOON"].message
    # Another tenant does not see these reminders.
    assert all(r.right.organisation_id == world.b.organisation.id
               for r in protection_reminders(session, world.b.holder, today=today))


# -- audit chain ----------------------------------------------------------------------------

def test_audit_chain_verifies_and_detects_tampering(session, world):
    report = audit.verify_chain(session)
    assert report.ok and report.events == count(session, AuditEvent) > 10
    victim = session.scalars(select(AuditEvent).where(AuditEvent.seq == 5)).one()
    victim.after = {"name": "forged"}
    session.commit()
    report = audit.verify_chain(session)
    assert not report.ok and report.first_broken_seq == 5 and "altered" in report.problem


def test_audit_chain_detects_deletion(session, world):
    session.delete(session.scalars(select(AuditEvent).where(AuditEvent.seq == 3)).one())
    session.commit()
    report = audit.verify_chain(session)
    assert not report.ok and report.first_broken_seq == 3


def test_audit_chain_detects_removal_of_the_last_events(session, world):
    last = session.scalars(select(AuditEvent).order_by(AuditEvent.seq.desc())).first()
    session.delete(last)
    session.commit()
    assert not audit.verify_chain(session).ok


@pytest.mark.parametrize("today", [date(2026, 11, 23), date(2026, 12, 18), date(2027, 3, 26)])
def test_right_standing_counts_only_inside_the_window_and_agrees_with_the_plain_count(today):
    """``right_standing`` stops counting at the window's edge; across weekends, Christmas and
    Easter, each last day gets the state and days left that counting every day gives."""
    from types import SimpleNamespace

    from registry.services.calendar import working_days_between
    from registry.services.reminders import right_standing

    window = 10
    for offset in range(-2, 40):
        last_day = today + timedelta(days=offset)
        right = SimpleNamespace(protection_number="AFA-1", protection_valid_from=today - timedelta(days=30),
                                protection_valid_until=last_day, registration_expiry=None,
                                protection_jurisdictions=["DE"], organisation=None)
        protection = right_standing(right, window_working_days=window, today=today).protection
        if last_day < today:
            assert protection.state == "ended", last_day
            continue
        left = working_days_between(today, last_day, "DE")
        assert protection.state == ("ending" if left <= window else "in_force"), (last_day, left)
        assert protection.working_days_left == (left if left <= window else None), last_day
