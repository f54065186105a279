"""The registry as the matching engine sees it: one ``matchers.Reference`` per registered mark.

This is the only place that turns registry rows into engine values. A brand is a right (its
mark); it carries the logos of the mark, the images and codes of the products sold under it,
its holder's authorised supply chain, and whether its customs protection is in force today.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from matchers import PriceRange, Reference
from matchers import Supplier as AuthorisedSupplier
from registry.models import (ImageKind, Organisation, OrganisationStatus, Product, ReferenceImage,
                             Right, Supplier)
from registry.services import tenancy
from registry.services.calendar import local_today
from registry.storage import BlobStore

# Images that show the brand as it appears on goods; documents do not.
_MATCHABLE = (ImageKind.LOGO, ImageKind.PACKAGING, ImageKind.LABEL, ImageKind.PRODUCT)


def brand_id(right: Right) -> str:
    return f"right-{right.id}"


def right_id_of(brand: str) -> int | None:
    prefix, _, number = brand.partition("-")
    return int(number) if prefix == "right" and number.isdigit() else None


def registry_references(session: Session, blobs: BlobStore, *, today: date | None = None
                        ) -> tuple[list[Reference], dict[str, list[int]]]:
    """References for every right of every approved holder.

    Returns the references and, per brand, the ids of its reference images in the order
    of ``Reference.images`` (so an engine's ``reference_image_index`` names a stored image).
    """
    if not tenancy.sees_every_tenant(session):
        # Cached and shared by every officer afterwards: built from one holder's view, it would
        # silently miss every other holder's marks.
        raise PermissionError("the engine is built from every tenant's registry, not from one tenant's view")
    today = today or local_today()
    rights = session.scalars(
        select(Right).join(Organisation, Organisation.id == Right.organisation_id)
        .where(Organisation.status == OrganisationStatus.APPROVED)
        .options(selectinload(Right.logos), selectinload(Right.organisation))
        .order_by(Right.id)
    ).all()
    products_by_right: dict[int, list[Product]] = defaultdict(list)
    for product in session.scalars(select(Product).where(Product.right_id.is_not(None))
                                   .options(selectinload(Product.images)).order_by(Product.id)):
        products_by_right[product.right_id].append(product)
    suppliers_by_org: dict[int, list[Supplier]] = defaultdict(list)
    for supplier in session.scalars(select(Supplier).order_by(Supplier.id)):
        suppliers_by_org[supplier.organisation_id].append(supplier)

    references, image_ids = [], {}
    for right in rights:
        products = products_by_right.get(right.id, [])
        images: list[ReferenceImage] = [*right.logos, *(image for p in products for image in p.images)]
        images = [image for image in images if image.kind in _MATCHABLE]
        key = brand_id(right)
        image_ids[key] = [image.id for image in images]
        references.append(Reference(
            brand_id=key,
            name=right.mark_text,
            images=tuple(str(blobs.path_for(image.sha256)) for image in images),
            authorized_suppliers=tuple(AuthorisedSupplier(s.name, s.country)
                                       for s in suppliers_by_org.get(right.organisation_id, [])),
            price_range=_price_range(products),
            hs_codes=tuple(sorted({code for p in products for code in p.hs_codes})),
            gtins=tuple(sorted({gtin for p in products for gtin in p.gtins})),
            production_countries=tuple(sorted({c for p in products for c in p.production_countries})),
            protected=right.protection_in_force(today),
        ))
    return references, image_ids


def _price_range(products: list[Product]) -> PriceRange | None:
    """The widest genuine range over the mark's products, when they share one currency."""
    priced = [p for p in products if p.price_min is not None and p.price_max is not None and p.currency]
    if not priced or len({p.currency for p in priced}) != 1:
        return None
    return PriceRange(float(min(p.price_min for p in priced)), float(max(p.price_max for p in priced)),
                      priced[0].currency)
