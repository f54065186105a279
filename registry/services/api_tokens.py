"""API tokens: created and revoked by their user in the app, checked on every API request.

A token is shown once, when it is made; only its SHA-256 is kept. It acts as its user with
the role (and organisation) the user had when it was made: a role change, a disabled account
or a revocation ends it at once.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timezone

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session, joinedload

from registry.models import ApiToken, User
from registry.models.base import as_utc
from registry.services import audit
from registry.services.errors import NotFound, ValidationError

PREFIX = "cgr_"
MAX_TOKENS_PER_USER = 20


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def create_token(session: Session, actor: User, name: str) -> tuple[ApiToken, str]:
    """A new token for ``actor``; returns the row and the token itself (shown once)."""
    name = (name or "").strip()
    if not name or len(name) > 100:
        raise ValidationError({"name": "name the token (up to 100 characters), e.g. the system that will use it"})
    active = session.scalars(select(ApiToken).where(ApiToken.user_id == actor.id, ApiToken.revoked_at.is_(None))).all()
    if len(active) >= MAX_TOKENS_PER_USER:
        raise ValidationError({"name": f"you have {len(active)} tokens; revoke one you no longer use first"})
    secret = PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(user_id=actor.id, name=name, token_hash=_hash(secret), prefix=secret[:12],
                     role=actor.role.value, organisation_id=actor.organisation_id)
    session.add(token)
    session.flush()
    audit.record(session, actor, "api_token.create", object_type="api_token", object_id=token.id,
                 organisation_id=actor.organisation_id, after={"name": name, "prefix": token.prefix})
    return token, secret


def list_tokens(session: Session, actor: User) -> list[ApiToken]:
    return list(session.scalars(select(ApiToken).where(ApiToken.user_id == actor.id).order_by(ApiToken.id.desc())))


def revoke_token(session: Session, actor: User, token_id: int) -> ApiToken:
    token = session.get(ApiToken, token_id)
    if token is None or token.user_id != actor.id:
        raise NotFound(f"token {token_id}")
    if token.revoked_at is None:
        token.revoked_at = datetime.now(timezone.utc)
        audit.record(session, actor, "api_token.revoke", object_type="api_token", object_id=token.id,
                     organisation_id=actor.organisation_id, after={"prefix": token.prefix})
    return token


#: The token with its user, by hash: asked on every API request, so built once.
_BY_HASH = select(ApiToken).options(joinedload(ApiToken.user)).where(ApiToken.token_hash == bindparam("token_hash"))


def authenticate(session: Session, secret: str) -> tuple[ApiToken, User] | None:
    """The token and its user, or None when the token is unknown, revoked or out of scope."""
    if not secret.startswith(PREFIX) or len(secret) > 200:
        return None
    token = session.scalar(_BY_HASH, {"token_hash": _hash(secret)})
    if token is None or token.revoked_at is not None:
        return None
    user = token.user
    if not user.active or user.role.value != token.role or user.organisation_id != token.organisation_id:
        return None
    now = datetime.now(timezone.utc)
    last = as_utc(token.last_used_at)
    if last is None or (now - last).total_seconds() > 300:
        token.last_used_at = now  # at most every five minutes: not a write per request
    return token, user
