"""Plain value types of the matching engine.

Everything here is a frozen dataclass made of plain Python values, so that the web
application, the CLI, bulk jobs and the API can build inputs without knowing anything about
how the engine works, and so that results can be stored, compared and serialised as they are.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal, Union

if TYPE_CHECKING:  # Pillow is only needed by whoever passes an Image object
    from PIL.Image import Image as PILImage

__all__ = [
    "ImageEvidence",
    "ImageSource",
    "Match",
    "PriceRange",
    "Query",
    "Recommendation",
    "Reference",
    "Screening",
    "Signal",
    "SignalKind",
    "Supplier",
    "Thresholds",
]

#: A photo or reference image: a file path, the encoded bytes of a file, or a PIL image.
ImageSource = Union[str, "os.PathLike[str]", bytes, "PILImage"]

Recommendation = Literal["detain", "inspect", "release"]

#: What a signal says: "identity" signals say *which* brand the goods carry (image, word mark,
#: barcode); "suspicion" signals say whether goods of that brand look counterfeit (supply
#: chain, price, origin, goods type, a foreign or broken barcode); "validity" says whether the
#: brand's customs protection is in force.
SignalKind = Literal["identity", "suspicion", "validity"]


@dataclass(frozen=True)
class Supplier:
    """A company in a brand's authorised supply chain (or a declared party)."""

    name: str
    #: ISO 3166-1 alpha-2 code, or None when not known.
    country: str | None = None


@dataclass(frozen=True)
class PriceRange:
    """The genuine unit-price range of a brand's goods."""

    min: float
    max: float
    currency: str


@dataclass(frozen=True)
class Reference:
    """One registered brand as the engine sees it (a snapshot of the registry).

    ``brand_id`` is opaque to the engine and comes back unchanged in each :class:`Match`.
    ``images`` are the reference logo / packaging / label images; their position in the
    tuple is how :class:`ImageEvidence` names them.
    """

    brand_id: str
    name: str
    aliases: tuple[str, ...] = ()
    images: tuple[ImageSource, ...] = ()
    authorized_suppliers: tuple[Supplier, ...] = ()
    price_range: PriceRange | None = None
    hs_codes: tuple[str, ...] = ()
    gtins: tuple[str, ...] = ()
    gs1_prefixes: tuple[str, ...] = ()
    production_countries: tuple[str, ...] = ()
    #: False when the right's customs protection is not in force: such a brand is still
    #: recognised and reported, but never recommended for detention.
    protected: bool = True


@dataclass(frozen=True)
class Query:
    """What a customs officer knows about a consignment. Every field may be missing."""

    description: str | None = None
    declared_brand: str | None = None
    supplier: str | None = None
    #: ISO 3166-1 alpha-2/alpha-3 code or an English country name.
    origin_country: str | None = None
    unit_price: float | None = None
    currency: str | None = None
    quantity: float | None = None
    hs_code: str | None = None
    gtins: tuple[str, ...] = ()
    photos: tuple[ImageSource, ...] = ()
    #: Country of the declared supplier (ISO code or English name), compared with the
    #: country registered for the authorised supplier of the same name.
    supplier_country: str | None = None


@dataclass(frozen=True)
class Signal:
    """One piece of evidence for (or against) a match, with a sentence an officer can read.

    ``score`` is in [0, 1]: how strongly this signal points at the brand being imitated
    (for supply chain, price and origin: how suspicious the goods are). ``available`` is
    False when the signal could not be computed (no photo, OCR not installed, ...); such a
    signal carries a reason but does not count in the score.
    """

    name: str
    score: float
    reason: str
    available: bool = True
    kind: SignalKind = "identity"


@dataclass(frozen=True)
class ImageEvidence:
    """Which reference image matched which photo, and where in the photo."""

    photo_index: int
    reference_image_index: int
    score: float
    #: The reference image's outline projected into the photo, as (x, y) pixel corners in
    #: the photo's original coordinates; a box is four corners.
    polygon: tuple[tuple[float, float], ...]
    #: How it was found, e.g. "pdq", "phash", "orb+ransac", "sift+ransac".
    method: str
    #: Number of geometrically consistent feature matches (0 for hash matches).
    inliers: int = 0


@dataclass(frozen=True)
class Match:
    """A registered brand the goods may imitate, best first in ``Engine.screen``'s result."""

    brand_id: str
    #: Risk that the goods are a counterfeit of this brand, in [0, 1]; the recommendation
    #: compares it with :class:`Thresholds`. It is ``identity`` scaled by the suspicion.
    score: float
    recommendation: Recommendation
    signals: tuple[Signal, ...]
    image_evidence: tuple[ImageEvidence, ...] = ()
    #: How sure the engine is that the goods carry this brand (word mark, image, barcode),
    #: in [0, 1]. Matches are ranked by it: "which brand" comes before "how suspicious".
    identity: float = 0.0
    #: How suspicious the goods are for this brand (supplier, price, origin, goods type),
    #: in [0, 1]; 0.5 when nothing is known.
    suspicion: float = 0.0
    #: The brand's display name (its main word mark).
    name: str = ""

    def signal(self, name: str) -> Signal | None:
        """Return the signal called ``name``, or None."""
        for s in self.signals:
            if s.name == name:
                return s
        return None


@dataclass(frozen=True)
class Thresholds:
    """Score cut-offs for the recommendation; configuration, not code."""

    detain: float = 0.75
    inspect: float = 0.45
    version: str = field(default="default-1")
    #: A brand is reported only when its identity reaches this.
    report: float = 0.25
    #: "detain" also needs this much identity: suspicion alone never detains.
    detain_identity: float = 0.7


class Screening(list):  # type: ignore[type-arg]
    """The result of :meth:`matchers.Engine.screen`: a ``list[Match]``, best first.

    Besides the matches it carries ``notes``: what the engine could not use in the query and
    why (a photo that is not an image, an unknown country, a truncated description). A note
    never means a match is wrong; it says what the matches were computed without.
    """

    notes: tuple[str, ...]
    snapshot_id: str
    thresholds_version: str

    def __init__(self, matches: list[Match] | tuple[Match, ...] = (), *,
                 notes: tuple[str, ...] = (), snapshot_id: str = "",
                 thresholds_version: str = ""):
        super().__init__(matches)
        self.notes = tuple(notes)
        self.snapshot_id = snapshot_id
        self.thresholds_version = thresholds_version

    def __repr__(self) -> str:
        return f"Screening({list.__repr__(self)}, notes={self.notes!r})"
