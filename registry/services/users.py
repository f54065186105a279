"""User accounts, managed by administrators (in the UI and with CLI commands)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from registry.models import Organisation, Role, User
from registry.services import audit, auth
from registry.services.errors import Conflict, ValidationError


def create_user(session: Session, actor: User | None, *, email: str, name: str, password: str,
                role: Role, organisation: Organisation | None = None, office: str = "") -> User:
    """Create an account. ``actor`` None means the command line (the operator of the host)."""
    if actor is not None:
        auth.require_role(actor, Role.ADMIN)
    email = email.strip().lower()
    if "@" not in email:
        raise ValidationError({"email": "enter an e-mail address such as name@example.com"})
    if role == Role.HOLDER and organisation is None:
        raise ValidationError({"organisation": "a rights-holder account belongs to an organisation"})
    if role != Role.HOLDER and organisation is not None:
        raise ValidationError({"organisation": "only rights-holder accounts belong to an organisation"})
    if session.scalar(select(User.id).where(User.email == email)) is not None:
        raise ValidationError({"email": "an account with this e-mail address already exists"})
    user = User(email=email, name=name.strip() or email, password_hash=auth.hash_password(password),
                role=role, organisation_id=organisation.id if organisation else None,
                office=office.strip() if role == Role.OFFICER else "")
    session.add(user)
    session.flush()
    audit.record(session, actor, "user.create", object_type="user", object_id=user.id,
                 organisation_id=user.organisation_id,
                 after=audit.snapshot(user, exclude=("password_hash",)))
    return user


def set_user_active(session: Session, actor: User | None, user: User, active: bool) -> None:
    """Enable or disable an account; disabling ends all of its sessions at once."""
    if actor is not None:
        auth.require_role(actor, Role.ADMIN)
        if actor.id == user.id and not active:
            raise Conflict("you cannot disable your own account")
    if user.active == active:
        return
    user.active = active
    if not active:
        auth.revoke_all_sessions(session, user)
    audit.record(session, actor, "user.enable" if active else "user.disable", object_type="user",
                 object_id=user.id, organisation_id=user.organisation_id,
                 before={"active": not active}, after={"active": active})


def set_user_role(session: Session, actor: User | None, user: User, role: Role,
                  organisation: Organisation | None) -> None:
    if actor is not None:
        auth.require_role(actor, Role.ADMIN)
        if actor.id == user.id and role != Role.ADMIN:
            raise Conflict("you cannot remove your own administrator role")
    if role == Role.HOLDER and organisation is None:
        raise ValidationError({"organisation": "a rights-holder account belongs to an organisation"})
    if role != Role.HOLDER:
        organisation = None
    before = {"role": user.role.value, "organisation_id": user.organisation_id}
    user.role = role
    user.organisation_id = organisation.id if organisation else None
    after = {"role": role.value, "organisation_id": user.organisation_id}
    if before != after:
        # A change of role changes what the sessions may see: make the user log in again.
        auth.revoke_all_sessions(session, user)
        audit.record(session, actor, "user.role", object_type="user", object_id=user.id,
                     organisation_id=user.organisation_id, before=before, after=after)
