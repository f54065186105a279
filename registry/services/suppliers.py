"""The authorised supply chain: manufacturers, licensees, distributors, exporters."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from registry.models import Supplier, SupplierRole, User
from registry.services.errors import ValidationError
from registry.services.records import create_record, delete_record, update_record
from registry.services.tenancy import get_editable, require_dossier_editor
from registry.services.validation import parse_country


def supplier_values(raw: Mapping[str, Any]) -> dict[str, Any]:
    errors: dict[str, str] = {}
    values: dict[str, Any] = {}
    role = str(raw.get("role") or "").strip().lower()
    if role not in {r.value for r in SupplierRole}:
        errors["role"] = "choose manufacturer, licensee, distributor or exporter"
    else:
        values["role"] = SupplierRole(role)
    values["name"] = " ".join(str(raw.get("name") or "").split())
    if not values["name"]:
        errors["name"] = "enter the company's name"
    try:
        values["country"] = parse_country(raw.get("country") or "", "country")
    except ValidationError as exc:
        errors.update(exc.errors)
    values["address"] = str(raw.get("address") or "").strip()
    values["identifiers"] = str(raw.get("identifiers") or "").strip()
    if errors:
        raise ValidationError(errors)
    return values


def find_supplier(session: Session, organisation_id: int, values: Mapping[str, Any]) -> Supplier | None:
    return session.scalar(select(Supplier).where(
        Supplier.organisation_id == organisation_id, Supplier.name == values["name"],
        Supplier.country == values["country"], Supplier.role == values["role"]))


def add_supplier(session: Session, actor: User, organisation_id: int,
                 raw: Mapping[str, Any]) -> Supplier:
    require_dossier_editor(actor, organisation_id)
    values = supplier_values(raw)
    if find_supplier(session, organisation_id, values) is not None:
        raise ValidationError({"name": f"{values['name']} ({values['country']}) is already "
                                       f"listed as {values['role'].value}"})
    return create_record(session, actor, Supplier(organisation_id=organisation_id, **values),
                         "supplier")


def update_supplier(session: Session, actor: User, supplier_id: int,
                    raw: Mapping[str, Any]) -> Supplier:
    supplier = get_editable(session, actor, Supplier, supplier_id)
    values = supplier_values(raw)
    other = find_supplier(session, supplier.organisation_id, values)
    if other is not None and other.id != supplier.id:
        raise ValidationError({"name": "another entry already lists this company in this role"})
    update_record(session, actor, supplier, values, "supplier")
    return supplier


def delete_supplier(session: Session, actor: User, supplier_id: int) -> None:
    delete_record(session, actor, get_editable(session, actor, Supplier, supplier_id), "supplier")


def authorised_suppliers(session: Session, organisation_id: int) -> list[Supplier]:
    """The holder's authorised supply chain: who may make and ship its goods."""
    return list(session.scalars(select(Supplier).where(Supplier.organisation_id == organisation_id)
                                .order_by(Supplier.role, Supplier.name)))
