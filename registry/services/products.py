"""Products, their distinguishing features, and their reference images."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from registry.models import ImageKind, Product, ProductFeature, ReferenceImage, Right, User
from registry.services import audit
from registry.services.errors import ValidationError
from registry.services.records import create_record, delete_record, update_record
from registry.services.tenancy import get_editable, get_visible, require_dossier_editor
from registry.services.uploads import inspect_image, make_thumbnail
from registry.services.validation import (FieldCollector, check_price_range, parse_countries, parse_currency,
                                          parse_gtins, parse_hs_codes, parse_price)
from registry.storage import BlobStore


@dataclass(frozen=True)
class UploadPolicy:
    max_bytes: int = 25 * 1024 * 1024
    max_pixels: int = 50_000_000
    thumbnail_size: int = 320


def product_values(session: Session, organisation_id: int, raw: Mapping[str, Any]) -> dict[str, Any]:
    """Parse and check a product's fields, collecting every problem at once.

    ``raw`` holds what a form or an import row gave: strings, or lists for list fields.
    Features come as ``overt_features`` / ``covert_features``: one per line.
    """
    fields = FieldCollector()
    values, errors, attempt = fields.values, fields.errors, fields.attempt

    values["name"] = " ".join(str(raw.get("name") or "").split())
    if not values["name"]:
        errors["name"] = "enter the product's name"
    values["model"] = " ".join(str(raw.get("model") or "").split())
    values["category"] = str(raw.get("category") or "").strip()
    attempt("gtins", lambda: parse_gtins(raw.get("gtins")))
    attempt("hs_codes", lambda: parse_hs_codes(raw.get("hs_codes")))
    attempt("price_min", lambda: parse_price(raw.get("price_min"), "price_min"))
    attempt("price_max", lambda: parse_price(raw.get("price_max"), "price_max"))
    currency = str(raw.get("currency") or "").strip()
    if currency:
        attempt("currency", lambda: parse_currency(currency))
    else:
        values["currency"] = ""
    if not errors.keys() & {"price_min", "price_max", "currency"}:
        attempt("_price", lambda: check_price_range(values["price_min"], values["price_max"],
                                                    values["currency"]))
        values.pop("_price", None)
    attempt("production_countries",
            lambda: parse_countries(raw.get("production_countries"), "production_countries"))
    attempt("intended_markets",
            lambda: parse_countries(raw.get("intended_markets"), "intended_markets"))
    values["counterfeit_clues"] = split_lines(raw.get("counterfeit_clues"))
    right_id = raw.get("right_id")
    values["right_id"] = None
    if right_id not in (None, "", 0, "0"):
        right = session.get(Right, int(right_id)) if str(right_id).isdigit() else None
        if right is None or right.organisation_id != organisation_id:
            errors["right_id"] = "choose one of your organisation's registered rights"
        else:
            values["right_id"] = right.id
    values["features"] = (
        [(text, False) for text in split_lines(raw.get("overt_features"))]
        + [(text, True) for text in split_lines(raw.get("covert_features"))]
    )
    fields.raise_errors()
    return values


def split_lines(value: Any) -> list[str]:
    if value is None:
        return []
    lines = value.splitlines() if isinstance(value, str) else [str(v) for v in value]
    return [line.strip() for line in lines if line.strip()]


def find_product(session: Session, organisation_id: int, name: str, model: str) -> Product | None:
    return session.scalar(select(Product).where(Product.organisation_id == organisation_id,
                                                Product.name == name, Product.model == model))


def _set_features(session: Session, actor: User, product: Product,
                  features: list[tuple[str, bool]]) -> bool:
    current = [(f.description, f.covert) for f in product.features]
    if current == features:
        return False
    product.features[:] = [ProductFeature(description=d, covert=c) for d, c in features]
    session.flush()
    audit.record(session, actor, "product.features", object_type="product", object_id=product.id,
                 organisation_id=product.organisation_id,
                 before={"features": [list(f) for f in current]},
                 after={"features": [list(f) for f in features]})
    return True


def register_product(session: Session, actor: User, organisation_id: int,
                     raw: Mapping[str, Any]) -> Product:
    require_dossier_editor(actor, organisation_id)
    values = product_values(session, organisation_id, raw)
    if find_product(session, organisation_id, values["name"], values["model"]) is not None:
        raise ValidationError({"name": "a product with this name and model is already registered"})
    features = values.pop("features")
    product = create_record(session, actor, Product(organisation_id=organisation_id, **values),
                            "product")
    _set_features(session, actor, product, features)
    return product


def update_product(session: Session, actor: User, product_id: int,
                   raw: Mapping[str, Any]) -> bool:
    """Apply the fields; returns whether anything changed (so re-imports change nothing)."""
    product = get_editable(session, actor, Product, product_id)
    values = product_values(session, product.organisation_id, raw)
    other = find_product(session, product.organisation_id, values["name"], values["model"])
    if other is not None and other.id != product.id:
        raise ValidationError({"name": "another product already has this name and model"})
    features = values.pop("features")
    changed = update_record(session, actor, product, values, "product")
    return _set_features(session, actor, product, features) or changed


def delete_product(session: Session, actor: User, product_id: int) -> None:
    product = get_editable(session, actor, Product, product_id)
    for image in list(product.images):
        delete_record(session, actor, image, "image")
    delete_record(session, actor, product, "product")


def add_reference_image(session: Session, actor: User, blobs: BlobStore, policy: UploadPolicy, *,
                        kind: str, data: bytes, filename: str = "",
                        product_id: int | None = None, right_id: int | None = None,
                        ) -> tuple[ReferenceImage, bool]:
    """Validate and store an image for a product or a figurative mark.

    Returns the image row and whether it was new: the same bytes for the same product
    are stored once, so an upload repeated (or re-imported) changes nothing.
    """
    if (product_id is None) == (right_id is None):
        raise ValueError("an image belongs to exactly one product or one right")
    owner = (get_editable(session, actor, Product, product_id) if product_id is not None
             else get_editable(session, actor, Right, right_id))
    try:
        image_kind = ImageKind(str(kind).strip().lower())
    except ValueError:
        raise ValidationError({"kind": "choose logo, packaging, label, product or document"}) from None
    display_name = _display_name(filename)
    info = inspect_image(data, max_bytes=policy.max_bytes, max_pixels=policy.max_pixels,
                         name=f"'{display_name}'" if display_name else "the file")
    # Blobs first, durable on disk, then the row: a row never points at a missing blob.
    sha = blobs.put(data)
    thumbnail_sha = blobs.put(make_thumbnail(data, size=policy.thumbnail_size))
    owner_column = ReferenceImage.product_id if product_id is not None else ReferenceImage.right_id
    existing = session.scalar(select(ReferenceImage).where(owner_column == owner.id,
                                                           ReferenceImage.sha256 == sha))
    if existing is not None:
        if existing.kind != image_kind:
            update_record(session, actor, existing, {"kind": image_kind}, "image")
        return existing, False
    image = ReferenceImage(
        organisation_id=owner.organisation_id, product_id=product_id, right_id=right_id,
        kind=image_kind, sha256=sha, thumbnail_sha256=thumbnail_sha,
        content_type=info.content_type, byte_size=info.byte_size, width=info.width,
        height=info.height, original_filename=display_name)
    return create_record(session, actor, image, "image"), True


def delete_reference_image(session: Session, actor: User, image_id: int) -> None:
    # Blobs stay: other rows (or evidence) may use the same bytes; a cleanup job removes orphans.
    delete_record(session, actor, get_editable(session, actor, ReferenceImage, image_id), "image")


def get_image(session: Session, actor: User, image_id: int) -> ReferenceImage:
    return get_visible(session, actor, ReferenceImage, image_id)


def _display_name(filename: str) -> str:
    # Keep only the last path component's printable characters; for display, never for paths.
    name = str(filename or "").replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if ch.isprintable() and ch not in "\u202e\u202d\u200f\u200e")
    return name[:255]
