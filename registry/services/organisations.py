"""Organisations: sign-up, approval by an administrator, profile and contact persons."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from registry.models import ContactPerson, Organisation, OrganisationStatus, Role, User
from registry.services import auth, users
from registry.services.errors import Conflict, ValidationError
from registry.services.records import create_record, delete_record, update_record
from registry.services.tenancy import for_every_tenant, get_editable, require_dossier_editor
from registry.services.validation import parse_countries, parse_country


def _profile_values(raw: Mapping[str, Any]) -> dict[str, Any]:
    errors: dict[str, str] = {}
    values: dict[str, Any] = {}
    name = str(raw.get("name") or "").strip()
    if not name:
        errors["name"] = "enter the organisation's name"
    values["name"] = name
    try:
        values["country"] = parse_country(raw.get("country") or "", "country")
    except ValidationError as exc:
        errors.update(exc.errors)
    values["address"] = str(raw.get("address") or "").strip()
    website = str(raw.get("website") or "").strip()
    if website and not website.startswith(("https://", "http://")):
        errors["website"] = "a website address starts with https://"
    values["website"] = website
    if errors:
        raise ValidationError(errors)
    return values


def _check_name_free(session: Session, name: str, exclude_id: int | None = None) -> None:
    query = select(Organisation.id).where(func.lower(Organisation.name) == name.lower())
    if exclude_id is not None:
        query = query.where(Organisation.id != exclude_id)
    if session.scalar(query) is not None:
        raise ValidationError({"name": "an organisation with this name is already registered"})


def register_organisation(session: Session, raw: Mapping[str, Any], *, user_name: str,
                          email: str, password: str) -> User:
    """Self sign-up of a rights holder: the organisation waits for an administrator."""
    values = _profile_values(raw)
    # The applicant belongs to no organisation yet: the system checks the name against every
    # organisation and creates theirs (the database would otherwise let the request see none).
    with for_every_tenant(session):
        _check_name_free(session, values["name"])
        organisation = create_record(session, None, Organisation(**values), "organisation")
    # The caller rolls the organisation back if the account cannot be created.
    return users.create_user(session, None, email=email, name=user_name, password=password,
                             role=Role.HOLDER, organisation=organisation)


def set_organisation_status(session: Session, actor: User, organisation: Organisation,
                            status: OrganisationStatus) -> None:
    auth.require_role(actor, Role.ADMIN)
    if organisation.status == status:
        raise Conflict(f"{organisation.name} is already {status.value}")
    values: dict[str, Any] = {"status": status}
    if status == OrganisationStatus.APPROVED:
        values["approved_at"] = datetime.now(timezone.utc)
    update_record(session, actor, organisation, values, "organisation")


def update_profile(session: Session, actor: User, organisation_id: int,
                   raw: Mapping[str, Any]) -> Organisation:
    organisation = get_editable(session, actor, Organisation, organisation_id)
    values = _profile_values(raw)
    _check_name_free(session, values["name"], exclude_id=organisation.id)
    update_record(session, actor, organisation, values, "organisation")
    return organisation


def _contact_values(raw: Mapping[str, Any]) -> dict[str, Any]:
    errors: dict[str, str] = {}
    values = {key: str(raw.get(key) or "").strip() for key in ("name", "role", "email", "phone")}
    if not values["name"]:
        errors["name"] = "enter the contact's name"
    if "@" not in values["email"]:
        errors["email"] = "enter an e-mail address such as name@example.com"
    try:
        values["countries"] = parse_countries(raw.get("countries"), "countries")
    except ValidationError as exc:
        errors.update(exc.errors)
    if errors:
        raise ValidationError(errors)
    return values


def add_contact(session: Session, actor: User, organisation_id: int,
                raw: Mapping[str, Any]) -> ContactPerson:
    require_dossier_editor(actor, organisation_id)
    values = _contact_values(raw)
    duplicate = session.scalar(select(ContactPerson.id).where(
        ContactPerson.organisation_id == organisation_id,
        func.lower(ContactPerson.email) == values["email"].lower(), ContactPerson.name == values["name"]))
    if duplicate is not None:  # e.g. the same form sent twice
        raise ValidationError({"email": f"{values['name']} <{values['email']}> is already a contact"})
    return create_record(session, actor, ContactPerson(organisation_id=organisation_id, **values), "contact")


def update_contact(session: Session, actor: User, contact_id: int,
                   raw: Mapping[str, Any]) -> ContactPerson:
    contact = get_editable(session, actor, ContactPerson, contact_id)
    update_record(session, actor, contact, _contact_values(raw), "contact")
    return contact


def delete_contact(session: Session, actor: User, contact_id: int) -> None:
    delete_record(session, actor, get_editable(session, actor, ContactPerson, contact_id), "contact")
