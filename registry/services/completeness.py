"""How well a product's dossier equips the matching engine, and what is missing.

Each check names something that helps customs recognise the genuine article or tell a
counterfeit; its weight is how much it helps. The score is the weighted share present.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from registry.models import ImageKind, Product
from registry.services.calendar import local_today

_CHECKS: tuple[tuple[str, int, str], ...] = (
    ("right", 3, "not linked to a registered right with customs protection in force"),
    ("logo", 2, "no logo image (on the product or its figurative mark)"),
    ("packaging", 2, "no packaging image"),
    ("label", 1, "no label image"),
    ("suppliers", 2, "no authorised suppliers"),
    ("gtins", 2, "no GTIN"),
    ("hs_codes", 1, "no HS code"),
    ("price", 1, "no genuine price range"),
    ("production_countries", 1, "no production countries"),
    ("features", 1, "no distinguishing features"),
    ("clues", 1, "no known counterfeit clues"),
)


@dataclass(frozen=True)
class Completeness:
    score: int  # 0-100
    missing: tuple[str, ...]


def product_completeness(product: Product, *, supplier_count: int, today: date | None = None
                         ) -> Completeness:
    today = today or local_today()
    image_kinds = {image.kind for image in product.images}
    right = product.right
    present = {
        "right": right is not None and right.protection_in_force(today),
        "logo": ImageKind.LOGO in image_kinds or bool(right and right.logos),
        "packaging": ImageKind.PACKAGING in image_kinds,
        "label": ImageKind.LABEL in image_kinds,
        "suppliers": supplier_count > 0,
        "gtins": bool(product.gtins),
        "hs_codes": bool(product.hs_codes),
        "price": product.price_min is not None and product.price_max is not None,
        "production_countries": bool(product.production_countries),
        "features": bool(product.features),
        "clues": bool(product.counterfeit_clues),
    }
    total = sum(weight for _, weight, _ in _CHECKS)
    got = sum(weight for key, weight, _ in _CHECKS if present[key])
    missing = tuple(message for key, _, message in _CHECKS if not present[key])
    return Completeness(round(100 * got / total), missing)
