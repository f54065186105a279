"""Trade-mark rights and the customs protection recorded for them."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from registry.models import MarkKind, Office, Product, Right, User
from registry.services.calendar import local_today
from registry.services.errors import ValidationError
from registry.services.records import create_record, delete_record, update_record
from registry.services.tenancy import get_editable, require_dossier_editor
from registry.services.validation import (EU_JURISDICTIONS, FieldCollector, parse_country, parse_date,
                                          parse_jurisdictions, parse_nice_classes)


def right_values(raw: Mapping[str, Any], *, today: date | None = None) -> dict[str, Any]:
    """Parse and check a right's fields, collecting every problem at once."""
    today = today or local_today()
    fields = FieldCollector()
    values, errors, attempt = fields.values, fields.errors, fields.attempt

    kind = str(raw.get("kind") or "").strip().lower()
    if kind not in {k.value for k in MarkKind}:
        errors["kind"] = "choose word mark or figurative mark"
    else:
        values["kind"] = MarkKind(kind)
    values["mark_text"] = str(raw.get("mark_text") or "").strip()
    if not values["mark_text"]:
        errors["mark_text"] = "enter the word mark (or the words in the logo)"
    values["registration_number"] = str(raw.get("registration_number") or "").strip()
    if not values["registration_number"]:
        errors["registration_number"] = "enter the registration number"
    office = str(raw.get("office") or "").strip()
    matched = next((o for o in Office if o.value.lower() == office.lower()), None)
    if matched is None:
        errors["office"] = "choose EUIPO, USPTO, WIPO or a national office"
    else:
        values["office"] = matched
    values["office_country"] = ""
    if matched == Office.NATIONAL:
        attempt("office_country", lambda: parse_country(raw.get("office_country") or "",
                                                        "office_country"))
    attempt("nice_classes", lambda: parse_nice_classes(raw.get("nice_classes")))
    attempt("registration_expiry", lambda: parse_date(raw.get("registration_expiry"),
                                                      "registration_expiry"))
    values["protection_number"] = str(raw.get("protection_number") or "").strip()
    attempt("protection_jurisdictions", lambda: parse_jurisdictions(raw.get("protection_jurisdictions")))
    attempt("protection_valid_from", lambda: parse_date(raw.get("protection_valid_from"),
                                                        "protection_valid_from"))
    attempt("protection_valid_until", lambda: parse_date(raw.get("protection_valid_until"),
                                                         "protection_valid_until"))
    values["small_consignments"] = str(raw.get("small_consignments") or "").lower() in {
        "1", "true", "yes", "on", "y"}

    if not values.get("nice_classes") and "nice_classes" not in errors:
        errors["nice_classes"] = "enter at least one Nice class (1 to 45)"
    expiry = values.get("registration_expiry")
    if expiry is not None and expiry < today:
        errors["registration_expiry"] = (f"the registration expired on {expiry.isoformat()}; "
                                         "register only rights in force")
    start, end = values.get("protection_valid_from"), values.get("protection_valid_until")
    if start and end and end < start:
        errors["protection_valid_until"] = "customs protection must end after it starts"
    if start and end and EU_JURISDICTIONS & set(values.get("protection_jurisdictions") or ()) \
            and end > _one_year_after(start) \
            and "protection_valid_until" not in errors:
        errors["protection_valid_until"] = (
            f"an EU application for action is granted for at most one year (Reg. 608/2013 Art. 11(1)): "
            f"until {_one_year_after(start).isoformat()} at the latest; ask customs to extend it before it ends")
    if end is not None and end < today and "protection_valid_until" not in errors:
        errors["protection_valid_until"] = (f"customs protection ended on {end.isoformat()}; "
                                            "enter the dates of the current application")
    if values["protection_number"] or start or end or values.get("protection_jurisdictions"):
        # Customs protection is all or nothing: a partial record would never be in force.
        if not values["protection_number"]:
            errors.setdefault("protection_number", "enter the application or recordation number")
        if not values.get("protection_jurisdictions") and "protection_jurisdictions" not in errors:
            errors["protection_jurisdictions"] = "enter where customs protection applies (e.g. EU, US)"
        if start is None and "protection_valid_from" not in errors:
            errors["protection_valid_from"] = "enter the date customs protection starts"
        if end is None and "protection_valid_until" not in errors:
            errors["protection_valid_until"] = "enter the date customs protection ends"
    fields.raise_errors()
    return values


def _one_year_after(day: date) -> date:
    try:
        return day.replace(year=day.year + 1)
    except ValueError:  # 29 February
        return day.replace(year=day.year + 1, day=28)


def register_right(session: Session, actor: User, organisation_id: int,
                   raw: Mapping[str, Any]) -> Right:
    require_dossier_editor(actor, organisation_id)
    right = Right(organisation_id=organisation_id, **right_values(raw))
    return create_record(session, actor, right, "right")


def update_right(session: Session, actor: User, right_id: int, raw: Mapping[str, Any]) -> Right:
    right = get_editable(session, actor, Right, right_id)
    update_record(session, actor, right, right_values(raw), "right")
    return right


def delete_right(session: Session, actor: User, right_id: int) -> None:
    right = get_editable(session, actor, Right, right_id)
    if right.logos:
        raise ValidationError("remove the logo images of this right first")
    # Products sold under this mark stay in the dossier, unlinked.
    for product in session.scalars(select(Product).where(Product.right_id == right.id)):
        update_record(session, actor, product, {"right_id": None}, "product")
    delete_record(session, actor, right, "right")
