"""API tokens: created and revoked by their user in the app, checked on every API request.

A token is shown once, when it is made; only its SHA-256 is kept. It acts as its user with
the role (and organisation) the user had when it was made: a role change, a disabled account
or a revocation ends it at once.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from sqlalchemy import String, bindparam, case, cast, delete, func, literal, or_, select, update
from sqlalchemy.orm import Session, make_transient_to_detached
from sqlalchemy.orm.util import identity_key

from registry.models import ApiToken, IdempotentReply, User
from registry.models.users import WHOLE_REGISTRY_ROLES
from registry.models.base import as_utc
from registry.models.dossier import GENERATION_COLUMN, note_generation
from registry.services import audit, tenancy
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
    if any(t.name.casefold() == name.casefold() for t in active):
        # Also what makes a page reloaded after a token was made (the form sent again) make no
        # second one: the secret was shown once, with the first.
        raise ValidationError({"name": f"you already have a token named '{name}' (its secret was shown when it was "
                                       "made); give this one another name, or revoke that one first"})
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


@dataclass(frozen=True)
class TokenUse:
    """A valid token, as the request that sent it uses it."""

    id: int
    user: User
    #: ``last_used_at`` was moved in the session's transaction (at most every five minutes):
    #: the caller commits it.
    touched: bool


_tokens, _users = ApiToken.__table__, User.__table__
_USER_KEYS = tuple(column.key for column in _users.columns)
#: What decides whether a token still holds, and its user's row, by the token's hash: asked on
#: every API request, so built once and read as a plain row (making ORM objects of both cost
#: more than the query itself). The registry generation comes with it: a screening then knows
#: whether its engine is current without a query of its own (``note_generation``).
_BY_HASH = (select(_tokens.c.id.label("token_id"), _tokens.c.revoked_at, _tokens.c.role.label("token_role"),
                   _tokens.c.organisation_id.label("token_organisation_id"), _tokens.c.last_used_at,
                   GENERATION_COLUMN.label("registry_generation"), *_users.columns)
            .join_from(_tokens, _users, _users.c.id == _tokens.c.user_id)
            .where(_tokens.c.token_hash == bindparam("token_hash")))
#: On PostgreSQL the lookup also sets the transaction's tenant (``tenancy``) from the token's own
#: role and organisation, as ``tenancy.tenant_of`` its user would: every API request then
#: needs no statement of its own to set it. A token that does not hold sets no tenant, and
#: ``authenticate`` compares what was set with ``tenant_of`` the user, setting it again on any
#: difference, so the database's line never rests on this expression alone.
_TENANT_OF_TOKEN = case(
    (or_(_tokens.c.revoked_at.is_not(None), _users.c.active.is_(False)), literal(tenancy.NO_TENANT)),
    (_tokens.c.role.in_(sorted(role.value for role in WHOLE_REGISTRY_ROLES)), literal(tenancy.EVERY_TENANT)),
    (_tokens.c.organisation_id.is_not(None), cast(_tokens.c.organisation_id, String)),
    else_=literal(tenancy.NO_TENANT))
_BY_HASH_SETTING_TENANT = _BY_HASH.add_columns(
    func.set_config(tenancy.SETTING_NAME, _TENANT_OF_TOKEN, True).label("tenant_set"))
_TOUCH = update(_tokens).where(_tokens.c.id == bindparam("token_id")).values(last_used_at=bindparam("now"))


def authenticate(session: Session, secret: str) -> TokenUse | None:
    """The token's use with its user, or None when the token is unknown, revoked or out of scope.

    A token that holds binds ``session`` to its user's tenant (``tenancy.bind_actor``)."""
    if not secret.startswith(PREFIX) or len(secret) > 200:
        return None
    if session.autoflush:
        session.flush()  # as a query through the ORM would: the row read is the session's
    postgres = session.get_bind().dialect.name == "postgresql"
    row = session.execute(_BY_HASH_SETTING_TENANT if postgres else _BY_HASH, {"token_hash": _hash(secret)}).first()
    if row is None:
        return None
    if row.revoked_at is not None or not row.active or row.role.value != row.token_role \
            or row.organisation_id != row.token_organisation_id:
        if postgres and row.tenant_set != tenancy.NO_TENANT:
            tenancy.bind(session, tenancy.NO_TENANT)  # whatever the lookup set, this request reaches nothing
        return None
    now = datetime.now(timezone.utc)
    last = as_utc(row.last_used_at)
    touched = last is None or (now - last).total_seconds() > 300
    note_generation(session, row.registry_generation)
    if touched:  # at most every five minutes: not a write per request
        session.execute(_TOUCH, {"token_id": row.token_id, "now": now})
    user = _loaded_user(session, row)
    tenancy.bind(session, tenancy.tenant_of(user), already_set=row.tenant_set if postgres else None)
    return TokenUse(row.token_id, user, touched)


def _loaded_user(session: Session, row) -> User:
    """The user of ``row`` as the session's object: the one it holds already, or one made from
    the row and added as if loaded (no query, nothing to flush)."""
    user = session.identity_map.get(identity_key(User, row.id))
    if user is None:
        user = User(**{key: row._mapping[key] for key in _USER_KEYS})
        make_transient_to_detached(user)
        session.add(user)
    return user


#: How long an ``Idempotency-Key``'s reply is kept for replay: far longer than any client's
#: retries, short enough that the table does not grow with every POST for ever.
REPLY_RETENTION = timedelta(days=7)


def prune_idempotent_replies(session: Session, *, older_than: timedelta = REPLY_RETENTION,
                             now: datetime | None = None) -> int:
    """Forget the replies of keys older than ``older_than``; returns how many. A key used
    again after that is a new request."""
    cutoff = (now or datetime.now(timezone.utc)) - older_than
    return session.execute(delete(IdempotentReply).where(IdempotentReply.created_at < cutoff)).rowcount
