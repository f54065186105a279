"""Log-in, server-side sessions, passwords and account state.

The session cookie carries only a random token. Its SHA-256 is stored in ``user_sessions``;
logging out revokes that row, and changing a password or disabling an account revokes all of
the user's rows, so a copied cookie stops working at once.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timezone

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select, update
from sqlalchemy.orm import Session, joinedload

from registry.models import Role, User, UserSession
from registry.services import audit
from registry.services.errors import Forbidden, ValidationError

_hasher = PasswordHasher()  # Argon2id with the library's current recommended parameters
MIN_PASSWORD_LENGTH = 12
# Verified against when the e-mail is unknown, so both cases take the same time.
_DUMMY_HASH = _hasher.hash("not a real password, only for timing")


def hash_password(password: str) -> str:
    check_password_strength(password)
    return _hasher.hash(password)


def check_password_strength(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValidationError({"password": f"use at least {MIN_PASSWORD_LENGTH} characters"})


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def authenticate(session: Session, email: str, password: str) -> User | None:
    """The active user with these credentials, or None (with no hint which part was wrong)."""
    user = session.scalar(select(User).where(User.email == email.strip().lower()))
    try:
        _hasher.verify(user.password_hash if user else _DUMMY_HASH, password)
    except (VerificationError, InvalidHashError):
        return None
    if user is None or not user.active:
        return None
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = _hasher.hash(password)
    return user


def start_session(session: Session, user: User) -> str:
    token = secrets.token_urlsafe(32)
    session.add(UserSession(user_id=user.id, token_hash=_token_hash(token)))
    user.last_login_at = datetime.now(timezone.utc)
    audit.record(session, user, "login", object_type="user", object_id=user.id,
                 organisation_id=user.organisation_id)
    user.session_token = token
    return token


def load_session(session: Session, token: str) -> User | None:
    """The user of a live session token, or None when revoked, unknown or disabled."""
    row = session.scalar(
        select(UserSession).options(joinedload(UserSession.user))  # one query on every page, not two
        .where(UserSession.token_hash == _token_hash(token), UserSession.revoked_at.is_(None))
    )
    if row is None or not row.user.active:
        return None
    row.user.session_token = token
    return row.user


def end_session(session: Session, user: User, token: str) -> None:
    session.execute(
        update(UserSession)
        .where(UserSession.token_hash == _token_hash(token), UserSession.revoked_at.is_(None))
        .values(revoked_at=datetime.now(timezone.utc))
    )
    audit.record(session, user, "logout", object_type="user", object_id=user.id,
                 organisation_id=user.organisation_id)


def revoke_all_sessions(session: Session, user: User) -> None:
    session.execute(
        update(UserSession)
        .where(UserSession.user_id == user.id, UserSession.revoked_at.is_(None))
        .values(revoked_at=datetime.now(timezone.utc))
    )


def change_password(session: Session, actor: User, current: str, new: str) -> str:
    """Change the actor's own password; every session ends and a new one is returned."""
    try:
        _hasher.verify(actor.password_hash, current)
    except (VerificationError, InvalidHashError):
        raise ValidationError({"current_password": "the current password is not correct"}) from None
    actor.password_hash = hash_password(new)
    revoke_all_sessions(session, actor)
    audit.record(session, actor, "password.change", object_type="user", object_id=actor.id,
                 organisation_id=actor.organisation_id)
    return start_session(session, actor)


def require_role(actor: User, *roles: Role) -> None:
    if actor.role not in roles:
        raise Forbidden("your role does not allow this")
