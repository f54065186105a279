"""The versioned JSON API under ``/api/v1``, for customs systems and rights holders' systems.

Authentication is by API token only (``Authorization: Bearer cgr_...``), created and revoked
by a user under Account → API tokens; the token acts as its user. No cookie is read here, so
no CSRF token is needed. Every error has the shape ``{"error": {"code", "message",
"details"}}``. POSTs that create something honour ``Idempotency-Key``. Requests are validated
against the document: an unknown query parameter, field or file is a 422 naming it, a body of
a content type its operation does not accept a 415 naming those it does. The OpenAPI document is
generated from the schemas (flask-smorest) at ``/api/v1/openapi.json``, readable at
``/api/v1/docs``.
"""

from __future__ import annotations

import hashlib
import json
from functools import wraps
from typing import Any, Callable

from flask import Flask, current_app, g, jsonify, request
from flask_smorest import Api
from sqlalchemy.exc import IntegrityError
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from registry.api.parsing import READS_QUERY
from registry.api.ratelimit import TokenRateLimit, parsed as parsed_limits
from registry.extensions import csrf, db, limiter
from registry.models import IdempotentReply
from registry.services import api_tokens
from registry.services.errors import Conflict, Forbidden, NotFound, ValidationError

PREFIX = "/api/v1"
_CODES = {400: "bad_request", 401: "unauthorised", 403: "forbidden", 404: "not_found", 405: "method_not_allowed",
          409: "conflict", 413: "too_large", 415: "unsupported_media_type", 422: "validation_failed",
          429: "rate_limited", 500: "internal_error", 503: "unavailable"}


def error_response(status: int, message: str, details: dict[str, Any] | None = None, code: str | None = None):
    response = jsonify({"error": {"code": code or _CODES.get(status, "error"), "message": message,
                                  "details": details or {}}})
    response.status_code = status
    return response


def is_api_request() -> bool:
    return request.path == PREFIX or request.path.startswith(PREFIX + "/")


# The API's requests are counted per token by _count_request: Flask-Limiter (which guards the
# sign-in page) leaves them at once instead of resolving its limits for each of them.
limiter.request_filter(is_api_request)


class RegistryApi(Api):
    # Every operation documents this shape as its "default" (error) response.
    from registry.api.schemas import ErrorOut as ERROR_SCHEMA  # noqa: N811

    def handle_http_exception(self, error: HTTPException):
        # webargs puts validation messages in error.data["messages"]; keep them as details.
        data = getattr(error, "data", None) or {}
        details = data.get("messages") or {}
        if isinstance(details, dict) and set(details) <= {"json", "query", "form", "files", "body", "multipart"}:
            flat: dict[str, Any] = {}
            for part in details.values():
                if isinstance(part, dict):
                    # A multipart part with no name comes as the key None: named so, a text key
                    # like every other (a reply's keys are sorted, and None sorts with no text).
                    flat.update({"(a part without a name)" if key is None else str(key): value
                                 for key, value in part.items()})
                else:
                    flat.setdefault("request", []).extend(part if isinstance(part, list) else [part])
            details = flat
        status = error.code or 500
        message = {422: "the request does not match the schema"}.get(status, error.description or error.name)
        if status == 400 and "Invalid JSON body." in json.dumps(details):
            message = "the body is not valid JSON"
        return error_response(status, message, details)


def commit_created(*, keep_loaded: bool = False) -> None:
    """Make what a POST created durable. Under an ``Idempotency-Key`` only flushed: the key's
    wrapper commits it together with the reply to replay, so no moment exists at which the
    thing is saved and its reply is not (a worker killed in between would otherwise leave a
    retry nothing to replay, and no way to know the thing exists).

    ``keep_loaded``: the objects the view returns are serialised as they are, instead of being
    read back after the commit (a check, its photos and suggestions)."""
    if g.get("idempotency_claim") is not None:
        db.session.flush()
        return
    from registry.web.common import commit

    commit(keep_loaded=keep_loaded)


def keep_reply(status: int, body: Any) -> None:
    """For a view that must commit before it replies (a bulk job is committed before a worker
    may take it): under an ``Idempotency-Key``, the reply the key will replay, stored with the
    claim so that the view's own commit carries both."""
    claim = g.get("idempotency_claim")
    if claim is not None:
        claim.status, claim.body = status, body


def current_api_user():
    return g.api_user


def authenticate() -> None:
    """Before every API request: a body of acceptable size, and a valid, unrevoked token."""
    limit = current_app.config["API_MAX_BODY_BYTES"]
    if request.endpoint == "api_bulk.BulkJobs":
        # A manifest has its own limit, set before anything (an Idempotency-Key's digest) parses it.
        request.max_content_length = current_app.config["MAX_MANIFEST_BYTES"] + 1024 * 1024
    else:
        too_large = f"the request body is larger than {limit // (1024 * 1024)} MB"
        if request.content_length and request.content_length > limit:
            raise _TooLarge(too_large)
        # A chunked body has no length to judge it by: read it now, under the limit, so that a
        # client streaming gigabytes is stopped at the limit instead of filling a worker's memory.
        # (Werkzeug stops reading a stream at ``max_content_length`` without saying so: one byte
        # more than the limit is allowed through, and its arrival means the body was too long.)
        request.max_content_length = limit + 1
        if request.content_length is None and request.environ.get("wsgi.input_terminated"):
            try:
                body = request.get_data(cache=True, parse_form_data=False)
            except RequestEntityTooLarge:
                raise _TooLarge(too_large) from None
            if len(body) > limit:
                raise _TooLarge(too_large)
    header = request.headers.get("Authorization", "")
    scheme, _, secret = header.partition(" ")
    if scheme.lower() != "bearer" or not secret.strip():
        raise _Unauthorised("send an API token: Authorization: Bearer <token>")
    found = api_tokens.authenticate(db.session, secret.strip())
    if found is None:
        retry_after = _count(current_app.config["API_AUTH_FAILURE_LIMIT"], "authfail:" + (request.remote_addr or "?"))
        if retry_after is not None:
            raise _TooManyFailures(retry_after)
        raise _Unauthorised("the API token is unknown, revoked, or no longer matches its user's role")
    g.api_token, g.api_user = found, found.user  # the session is bound to the user's tenant
    if found.touched:
        db.session.commit()  # last_used_at, when it moved


class _Unauthorised(Exception):
    pass


class _TooLarge(Exception):
    pass


class _TooManyFailures(Exception):
    def __init__(self, retry_after: int) -> None:
        super().__init__(retry_after)
        self.retry_after = retry_after


def token_key() -> str:
    """Rate limits count per token (unauthenticated calls per address)."""
    header = request.headers.get("Authorization", "")
    if header.lower().startswith("bearer "):
        return "token:" + hashlib.sha256(header[7:].strip().encode()).hexdigest()[:32]
    return "addr:" + (request.remote_addr or "?")


def idempotent(view: Callable) -> Callable:
    """Replay the stored reply when a POST comes again with the same ``Idempotency-Key``.

    The key is claimed (a row, unique per token and key) in the request's own transaction,
    before the view runs, and committed only with what the view created and the reply to
    replay (``commit_created``, ``keep_reply``): a request that dies at any point leaves either
    nothing, so a retry starts afresh, or the thing and its reply. A concurrent retry with the
    same key waits on the claim's unique index until the first request ends, then replays its
    reply (or, if the first one failed, goes ahead itself).
    """

    @wraps(view)
    def wrapped(*args: Any, **kwargs: Any):
        key = request.headers.get("Idempotency-Key", "").strip()
        if not key:
            return view(*args, **kwargs)
        if len(key) > 200:
            return error_response(400, "Idempotency-Key is longer than 200 characters")
        digest = _request_digest()
        token_id = g.api_token.id
        existing = _claim_of(token_id, key)
        if existing is not None:
            return _replay(existing, digest)
        claim = IdempotentReply(token_id=token_id, key=key, request_hash=digest, status=0, body=None)
        db.session.add(claim)
        try:
            db.session.flush()
        except IntegrityError:  # the same key, committed by a concurrent request meanwhile
            db.session.rollback()
            existing = _claim_of(token_id, key)
            if existing is None:
                return error_response(409, "a request with this Idempotency-Key is still being processed",
                                      code="idempotency_in_progress")
            return _replay(existing, digest)
        claim_id = claim.id
        g.idempotency_claim = claim
        try:
            response = current_app.make_response(view(*args, **kwargs))
        except BaseException:
            db.session.rollback()
            # A view that committed before it failed (one that must commit before replying)
            # stored its reply with that commit, and its claim stays to replay it; one found
            # without a reply is let go, so that the key can be used again.
            db.session.query(IdempotentReply).filter_by(id=claim_id, status=0).delete()
            db.session.commit()
            raise
        finally:
            g.pop("idempotency_claim", None)
        if 200 <= response.status_code < 300 and response.is_json:
            if claim.status == 0:
                claim.status, claim.body = response.status_code, response.get_json()
        else:
            db.session.delete(claim)  # a failed request may be retried with the same key
        db.session.commit()
        return response

    return wrapped


def _request_digest() -> str:
    """What makes a retry the same request: method, path and query, and the body; a multipart
    body by its fields and files, not its bytes, since a client's retry carries them under a
    new boundary (and a manifest's file is hashed as it lies on disk, not read into memory)."""
    digest = hashlib.sha256(f"{request.method} {request.full_path}\n".encode())
    if request.mimetype != "multipart/form-data":
        digest.update(request.get_data())
        return digest.hexdigest()
    for name, value in request.form.items(multi=True):
        digest.update(json.dumps(["field", name, value]).encode())
    for name, upload in request.files.items(multi=True):
        content = hashlib.sha256()
        upload.stream.seek(0)
        for block in iter(lambda: upload.stream.read(1024 * 1024), b""):
            content.update(block)
        upload.stream.seek(0)
        digest.update(json.dumps(["file", name, upload.filename or "", content.hexdigest()]).encode())
    return digest.hexdigest()


def _claim_of(token_id: int, key: str) -> IdempotentReply | None:
    return db.session.query(IdempotentReply).filter_by(token_id=token_id, key=key).one_or_none()


def _replay(existing: IdempotentReply, digest: str):
    if existing.request_hash != digest:
        return error_response(422, "this Idempotency-Key was used with a different request",
                              code="idempotency_key_reused")
    if existing.status == 0:  # a claim of a version that committed it before its view ran
        return error_response(409, "a request with this Idempotency-Key is still being processed",
                              code="idempotency_in_progress")
    response = jsonify(existing.body)
    response.status_code = existing.status
    response.headers["Idempotent-Replayed"] = "true"
    return response


def configure_blueprint(blueprint) -> None:
    """Once per API blueprint, at import: token authentication, no CSRF (no cookies are read),
    a rate limit per token, and errors in the API's shape."""
    csrf.exempt(blueprint)
    blueprint.before_request(_count_request)
    blueprint.before_request(authenticate)
    blueprint.before_request(_no_stray_query)
    for error, status in ((NotFound, 404), (Forbidden, 403), (Conflict, 409)):
        blueprint.register_error_handler(error, lambda exc, status=status: error_response(status, str(exc) or "not found"))
    blueprint.register_error_handler(ValidationError, lambda exc: error_response(
        422, "the request breaks a rule of the registry", {k or "request": v for k, v in exc.errors.items()}))
    blueprint.register_error_handler(_Unauthorised, lambda exc: error_response(401, str(exc)))
    blueprint.register_error_handler(_TooLarge, lambda exc: error_response(413, str(exc)))
    blueprint.register_error_handler(_TooManyFailures, lambda exc: _too_many(
        "too many requests with unknown tokens from this address; slow down", exc.retry_after))


def _no_stray_query():
    """A query string on an operation that reads none is as unknown as a misspelt parameter on
    one that does (those are the schema's to refuse): a 422 naming it, not silently ignored."""
    if not request.args:
        return None
    view_class = getattr(current_app.view_functions.get(request.endpoint), "view_class", None)
    method = getattr(view_class, request.method.lower(), None)
    if method is None and request.method == "HEAD":
        method = getattr(view_class, "get", None)
    if method is None or getattr(method, READS_QUERY, False):
        return None  # no such method (Flask answers 405), or its schema judges the query
    return error_response(422, "the request does not match the schema",
                          {name: ["Unknown field."] for name in request.args})


def _count_request():
    """The token's rate limit (``API_RATE_LIMIT``; a call without a token counts against its
    address), before anything else is read: a refused request says when to retry."""
    retry_after = _count(current_app.config["API_RATE_LIMIT"], token_key())
    return None if retry_after is None else _too_many("too many requests for this token; slow down", retry_after)


def _count(limits_text: str, key: str) -> int | None:
    """One request counted against ``key``'s limits: None, or the seconds to wait."""
    if not current_app.config.get("RATELIMIT_ENABLED", True):
        return None
    return current_app.extensions["api_rate_limit"].hit(limits_text, key)


def _too_many(message: str, retry_after: int):
    response = error_response(429, message)
    response.headers["Retry-After"] = str(retry_after)
    return response


def init_api(app: Flask) -> None:
    app.config.setdefault("API_TITLE", "Counterfeit goods registry")
    app.config.setdefault("API_VERSION", "v1")
    app.config.setdefault("OPENAPI_VERSION", "3.0.3")
    app.config.setdefault("OPENAPI_URL_PREFIX", PREFIX)
    app.config.setdefault("OPENAPI_JSON_PATH", "openapi.json")
    app.config.setdefault("API_SPEC_OPTIONS", {
        "info": {"description": __doc__},
        "components": {"securitySchemes": {"token": {"type": "http", "scheme": "bearer"}}},
        "security": [{"token": []}],
    })
    for key in ("API_RATE_LIMIT", "API_AUTH_FAILURE_LIMIT"):
        try:  # a limit that cannot be read stops the start, rather than failing every API request
            parsed_limits(app.config[key])
        except ValueError:
            raise ValueError(f"{key} {app.config[key]!r} is not a rate limit such as '6000 per minute' or "
                             "'100/second;6000/hour'") from None
    app.extensions["api_rate_limit"] = TokenRateLimit(app.config["RATELIMIT_STORAGE_URI"])
    api = RegistryApi(app)
    from registry.api.schemas import DecimalText, Upload

    api.register_field(DecimalText, "string", "decimal")
    api.register_field(Upload, "string", "binary")
    from registry.api import v1

    for blueprint in v1.BLUEPRINTS:
        api.register_blueprint(blueprint)
    app.register_blueprint(v1.docs)
    app.extensions["api"] = api
