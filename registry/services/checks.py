"""Officers check suspect goods: the declaration and photos are screened against the registry,
and the officer records a verdict per suggestion and a decision for the check."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import bindparam, exists, select
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from matchers import Query
from registry.models import Check, CheckDecision, CheckPhoto, Role, Suggestion, User, Verdict
from registry.services import audit
from registry.services.auth import require_role
from registry.services.engine_cache import EngineCache
from registry.services.errors import Conflict, Forbidden, NotFound, ValidationError
from registry.services.products import UploadPolicy, _display_name
from registry.services.records import LoadedInsert
from registry.services.snapshot import right_id_of
from registry.services.uploads import inspect_image, make_thumbnail
from registry.services.validation import (FieldCollector, parse_countries, parse_country,
                                          parse_currency, parse_hs_code)
from registry.storage import BlobStore

MAX_PHOTOS = 10
MAX_SUGGESTIONS = 10
TRANSPORT_MODES = ("sea", "air", "road", "rail", "post", "courier")
_TEXT_FIELDS = {"declarant": 300, "consignor": 300, "consignee": 300, "manufacturer": 300,
                "document_number": 100, "declared_brand": 200, "quantity_unit": 20, "description": 20_000}


#: Above any real consignment's quantity, weight or value (and what the columns hold).
_LARGEST = Decimal("1e11")


def _quantity(value: Any, field: str) -> Decimal | None:
    if value in (None, ""):
        return None
    try:
        number = Decimal(str(value).strip().replace(",", ""))
    except InvalidOperation:
        raise ValidationError({field: f"'{value}' is not a number"}) from None
    if not number.is_finite():
        raise ValidationError({field: f"'{value}' is not a number"})
    if number < 0:
        raise ValidationError({field: "enter a number of zero or more"})
    if number >= _LARGEST:
        raise ValidationError({field: "enter a number below 100,000,000,000"})
    return number


def declaration_values(raw: Mapping[str, Any]) -> dict[str, Any]:
    """Parse a declaration, collecting every problem at once."""
    fields = FieldCollector()
    values = fields.values
    for key, limit in _TEXT_FIELDS.items():
        text = str(raw.get(key) or "").strip()
        if len(text) > limit:
            fields.errors[key] = f"keep this under {limit} characters"
        values[key] = text
    for key in ("origin_country", "destination_country"):
        values[key] = ""
        if raw.get(key):
            fields.attempt(key, lambda key=key: parse_country(raw[key], key))
    fields.attempt("transit_countries", lambda: parse_countries(raw.get("transit_countries"), "transit_countries"))
    values["hs_code"] = ""
    if raw.get("hs_code"):
        fields.attempt("hs_code", lambda: parse_hs_code(raw["hs_code"], "hs_code"))
    values["currency"] = ""
    if raw.get("currency"):
        fields.attempt("currency", lambda: parse_currency(raw["currency"]))
    for key in ("quantity", "gross_weight_kg", "declared_value"):
        fields.attempt(key, lambda key=key: _quantity(raw.get(key), key))
    mode = str(raw.get("transport_mode") or "").strip().lower()
    if mode and mode not in TRANSPORT_MODES:
        fields.errors["transport_mode"] = "choose sea, air, road, rail, post or courier"
    values["transport_mode"] = mode
    if values.get("declared_value") is not None and not values["currency"] and "currency" not in fields.errors:
        fields.errors["currency"] = "give the currency of the declared value"
    # Declared GTINs are kept as given (digits only): a wrong check digit is itself a sign.
    values["gtins"] = [g for g in (re.sub(r"\D", "", part) for part in re.split(r"[,;\s]+", str(raw.get("gtins") or ""))) if g][:20]
    if not any(values.get(k) for k in ("description", "declared_brand", "manufacturer", "consignor", "gtins")) \
            and not raw.get("_has_photos"):
        fields.errors["description"] = "describe the goods, name the declared brand or add a photo"
    fields.raise_errors()
    return values


def screen_declaration(session: Session, actor: User, blobs: BlobStore, engines: EngineCache,
                       policy: UploadPolicy, raw: Mapping[str, Any],
                       photos: Sequence[tuple[bytes, str]] = ()) -> Check:
    """Record a check, screen it against the current registry and store the suggestions."""
    require_role(actor, Role.OFFICER)
    if len(photos) > MAX_PHOTOS:
        raise ValidationError({"photos": f"add at most {MAX_PHOTOS} photos to one check"})
    values = declaration_values({**raw, "_has_photos": bool(photos)})
    infos = []
    for position, (data, filename) in enumerate(photos, start=1):
        name = _display_name(filename) or f"photo {position}"
        try:
            infos.append(inspect_image(data, max_bytes=policy.max_bytes, max_pixels=policy.max_pixels,
                                       name=f"photo {position} ('{name}')"))
        except ValidationError as exc:
            raise ValidationError({"photos": next(iter(exc.errors.values()))}) from None
    # Photos are evidence: byte-exact and durable before any row refers to them.
    stored = [(blobs.put(data), blobs.put(make_thumbnail(data, size=policy.thumbnail_size)))
              for data, _ in photos]

    built = engines.current(session, blobs)
    # Empty collections, not unloaded ones: reading them back would cost a query each.
    check = Check(officer_id=actor.id, photos=[], suggestions=[], **values)
    unit_price = check.unit_price
    result = built.engine.screen(Query(
        description=values["description"] or None, declared_brand=values["declared_brand"] or None,
        supplier=values["manufacturer"] or values["consignor"] or None,
        origin_country=values["origin_country"] or None, unit_price=unit_price,
        currency=values["currency"] or None, quantity=float(values["quantity"]) if values["quantity"] else None,
        hs_code=values["hs_code"] or None, gtins=tuple(values["gtins"]),
        photos=tuple(str(blobs.path_for(sha)) for sha, _ in stored)))
    check.snapshot_id, check.thresholds_version = result.snapshot_id, result.thresholds_version
    check.notes = list(result.notes)
    for position, ((sha, thumb), info, (_, filename)) in enumerate(zip(stored, infos, photos), start=1):
        check.photos.append(CheckPhoto(position=position, sha256=sha, thumbnail_sha256=thumb,
                                       content_type=info.content_type, byte_size=info.byte_size,
                                       width=info.width, height=info.height,
                                       original_filename=_display_name(filename)))
    for rank, match in enumerate(result[:MAX_SUGGESTIONS], start=1):
        image_ids = built.image_ids.get(match.brand_id, [])
        check.suggestions.append(Suggestion(
            rank=rank, right_id=right_id_of(match.brand_id), brand_name=built.names.get(match.brand_id, match.brand_id),
            score=round(float(match.score), 4), recommendation=match.recommendation,
            signals=[{"name": s.name, "score": round(float(s.score), 4), "reason": s.reason,
                      "available": s.available} for s in match.signals],
            evidence=[{"photo": e.photo_index + 1,
                       "reference_image_id": image_ids[e.reference_image_index]
                       if e.reference_image_index < len(image_ids) else None,
                       "polygon": [[round(x, 1), round(y, 1)] for x, y in e.polygon],
                       "method": e.method, "inliers": e.inliers, "score": round(float(e.score), 4)}
                      for e in match.image_evidence]))
    _store(session, check)
    audit.record(session, actor, "check.create", object_type="check", object_id=check.id,
                 organisation_id=None, after={"snapshot_id": check.snapshot_id, "photos": [s for s, _ in stored],
                                              "suggestions": [(s.brand_name, s.score, s.recommendation)
                                                              for s in check.suggestions]})
    return check


_CHECKS, _PHOTOS, _SUGGESTIONS = LoadedInsert(Check), LoadedInsert(CheckPhoto), LoadedInsert(Suggestion)


def _store(session: Session, check: Check) -> None:
    """The new check and its photos and suggestions, written with prebuilt statements and left
    in the session as loaded (a screening's rows, on every request: no unit of work)."""
    now = datetime.now(timezone.utc)
    check.created_at = check.updated_at = now
    _CHECKS.insert(session, [check])
    for child in (*check.photos, *check.suggestions):
        child.check_id = check.id
    _PHOTOS.insert(session, check.photos)
    _SUGGESTIONS.insert(session, check.suggestions)
    session.add(check)


def get_check(session: Session, actor: User, check_id: int) -> Check:
    """Checks are customs records: officers, legal staff and administrators read them."""
    if actor.role == Role.HOLDER:
        raise Forbidden("checks are customs records")
    check = session.get(Check, check_id)
    if check is None:
        raise NotFound(f"check {check_id}")
    return check


#: A check with whether it has photos and suggestions (a text-only check with no suggestion,
#: most of them, then needs no other query); and those, in their relationships' order. Built
#: once: only the check's id changes.
_CHECK_AND_WHAT_IT_HAS = (select(Check, exists().where(CheckPhoto.check_id == Check.id),
                                 exists().where(Suggestion.check_id == Check.id))
                          .where(Check.id == bindparam("check_id")))
_PHOTOS_OF = select(CheckPhoto).where(CheckPhoto.check_id == bindparam("check_id")).order_by(CheckPhoto.position)
_SUGGESTIONS_OF = select(Suggestion).where(Suggestion.check_id == bindparam("check_id")).order_by(Suggestion.rank)


def read_check(session: Session, actor: User, check_id: int) -> Check:
    """``get_check`` with the photos and suggestions loaded, in one query for a check that has
    neither and one more for each that it has (instead of always three)."""
    if actor.role == Role.HOLDER:
        raise Forbidden("checks are customs records")
    row = session.execute(_CHECK_AND_WHAT_IT_HAS, {"check_id": check_id}).one_or_none()
    if row is None:
        raise NotFound(f"check {check_id}")
    check, has_photos, has_suggestions = row
    for key, has, statement in (("photos", has_photos, _PHOTOS_OF), ("suggestions", has_suggestions, _SUGGESTIONS_OF)):
        if key not in check.__dict__:  # not already loaded in this session
            set_committed_value(check, key, list(session.scalars(statement, {"check_id": check.id})) if has else [])
    return check


def record_verdict(session: Session, actor: User, suggestion_id: int, verdict: str) -> Suggestion:
    """The officer's verdict on one suggestion: the record that tunes thresholds later."""
    require_role(actor, Role.OFFICER)
    suggestion = session.get(Suggestion, suggestion_id)
    if suggestion is None:
        raise NotFound(f"suggestion {suggestion_id}")
    try:
        value = Verdict(verdict)
    except ValueError:
        raise ValidationError({"verdict": "choose confirmed counterfeit, not counterfeit or unsure"}) from None
    before = suggestion.verdict.value if suggestion.verdict else None
    suggestion.verdict, suggestion.verdict_by_id = value, actor.id
    suggestion.verdict_at = datetime.now(timezone.utc)
    audit.record(session, actor, "suggestion.verdict", object_type="suggestion", object_id=suggestion.id,
                 organisation_id=None, before={"verdict": before}, after={"verdict": value.value})
    return suggestion


def decide_check(session: Session, actor: User, check_id: int, decision: str, reason: str = "") -> Check:
    """Release, inspect further, or detain; a check is decided once."""
    require_role(actor, Role.OFFICER)
    check = get_check(session, actor, check_id)
    if check.decision is not None:
        raise Conflict(f"this check was already decided: {check.decision.value} "
                       f"on {check.decided_at:%d %B %Y %H:%M}")
    try:
        value = CheckDecision(decision)
    except ValueError:
        raise ValidationError({"decision": "choose release, inspect further or detain"}) from None
    check.decision, check.decided_at = value, datetime.now(timezone.utc)
    check.decision_reason = reason.strip()[:5000]
    audit.record(session, actor, "check.decide", object_type="check", object_id=check.id,
                 organisation_id=None, after={"decision": value.value, "reason": check.decision_reason})
    return check
