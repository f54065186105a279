"""``Engine(references).screen(query)``: ranked, explained matches for a consignment.

The engine is built once per registry snapshot (every index is built in the constructor) and
is then read-only, so one engine can serve many screenings. ``screen`` never raises for a bad
field of a query: what it cannot use is skipped and listed in the result's ``notes``
(:class:`~matchers.types.Screening`). It raises :class:`~matchers.errors.ScreeningError` only
when the query is not a :class:`~matchers.types.Query` at all.

Each photo is decoded once (``matchers.photos.decode_all``) and the decoded photos go to the
image index, to OCR and to the barcode reader.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from .codes import normalize_gtin, normalize_hs, normalize_prefix
from .countries import country_code
from .errors import ScreeningError
from .normalize import normalize_text
from .scoring import (
    barcode_signals,
    combine,
    goods_signal,
    identity_of,
    image_signal,
    mark_signal,
    origin_signal,
    price_signal,
    recommend,
    spelling_signal,
    supplier_signal,
    validity_signal,
)
from .text import MarkHit, TextIndex, best_per_brand
from .types import (
    ImageEvidence,
    Match,
    PriceRange,
    Query,
    Reference,
    Screening,
    Signal,
    Supplier,
    Thresholds,
)

__all__ = [
    "ENGINE_VERSION",
    "MAX_DESCRIPTION_CHARS",
    "MAX_FIELD_CHARS",
    "OCR_SKIP_IMAGE_SCORE",
    "Engine",
]

#: Changes whenever scoring changes, so a stored result can say which engine produced it.
ENGINE_VERSION = "matchers-1"
#: Longer descriptions are cut (and the result says so); a real one is a few hundred characters.
MAX_DESCRIPTION_CHARS = 20_000
#: Longer declared brands / suppliers / codes are cut.
MAX_FIELD_CHARS = 500
_MAX_PHOTOS = 20
#: Photos already matched this surely by the image index are not read by OCR.
OCR_SKIP_IMAGE_SCORE = 0.9
_MAX_GTINS = 50
_FORMAT_VERSION = 1


@dataclass
class _Facts:
    """What the engine could use from one query, prepared once for all candidate brands."""

    notes: list[str] = field(default_factory=list)
    has_declared: bool = False
    declared_text: str | None = None
    description_text: str | None = None
    has_description: bool = False
    declared: dict[str, MarkHit] = field(default_factory=dict)
    description: dict[str, MarkHit] = field(default_factory=dict)
    ocr: dict[str, MarkHit] = field(default_factory=dict)
    ocr_unavailable: str = ""
    barcode_unavailable: str = ""
    image_hits: dict[str, list[Any]] = field(default_factory=dict)
    image_unavailable: str = ""
    gtins: list[str] = field(default_factory=list)
    bad_gtins: list[tuple[str, str]] = field(default_factory=list)
    supplier: str | None = None
    supplier_country: str | None = None
    origin: str | None = None
    origin_text: str | None = None
    price: float | None = None
    currency: str | None = None
    hs: str | None = None


def _clean_str(value: object, what: str, notes: list[str], limit: int = MAX_FIELD_CHARS) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        notes.append(f"{what} ignored: not text")
        return None
    value = value.strip()
    if not value:
        return None
    if len(value) > limit:
        notes.append(f"{what} cut to its first {limit} characters (it had {len(value)})")
        value = value[:limit]
    return value


def _as_tuple(value: object, what: str, notes: list[str]) -> tuple[Any, ...]:
    if value is None:
        return ()
    # One photo or code given on its own (a path, bytes, a PIL image) is a list of one.
    if isinstance(value, (str, bytes, os.PathLike)) or hasattr(value, "getpixel"):
        return (value,)
    if isinstance(value, (list, tuple)):
        return tuple(value)
    notes.append(f"{what} ignored: expected a list")
    return ()


def _digest_source(src: Any) -> str:
    """A stable digest of a reference image for the snapshot id."""
    if isinstance(src, bytes):
        return hashlib.sha256(src).hexdigest()
    if isinstance(src, (str, os.PathLike)):
        return "path:" + os.fspath(src)
    tobytes = getattr(src, "tobytes", None)
    if callable(tobytes):
        return hashlib.sha256(tobytes()).hexdigest()
    return "object:" + type(src).__name__


def _reference_to_json(ref: Reference) -> dict[str, Any]:
    d = asdict(replace(ref, images=()))
    d["image_count"] = len(ref.images)
    return d


def _reference_from_json(d: dict[str, Any]) -> Reference:
    pr = d.get("price_range")
    return Reference(
        brand_id=d["brand_id"],
        name=d["name"],
        aliases=tuple(d.get("aliases", ())),
        images=(),
        authorized_suppliers=tuple(Supplier(**s) for s in d.get("authorized_suppliers", ())),
        price_range=PriceRange(**pr) if pr else None,
        hs_codes=tuple(d.get("hs_codes", ())),
        gtins=tuple(d.get("gtins", ())),
        gs1_prefixes=tuple(d.get("gs1_prefixes", ())),
        production_countries=tuple(d.get("production_countries", ())),
        protected=bool(d.get("protected", True)),
    )


def _box(polygon: Sequence[tuple[float, float]]) -> tuple[float, float, float, float] | None:
    if not polygon:
        return None
    xs = [p[0] for p in polygon]
    ys = [p[1] for p in polygon]
    return min(xs), min(ys), max(xs), max(ys)


def _overlap(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> float:
    """Intersection over the smaller box (1.0 when one box lies inside the other)."""
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    if w <= 0 or h <= 0:
        return 0.0
    smaller = min((a[2] - a[0]) * (a[3] - a[1]), (b[2] - b[0]) * (b[3] - b[1]))
    return (w * h) / smaller if smaller > 0 else 0.0


def _explain_away(hits: Sequence[Any], *, margin: float = 0.05, min_overlap: float = 0.5) -> list[Any]:
    """Drop image hits on a part of a photo that a clearly better hit of another brand explains.

    One printed logo or box is one brand: when two brands' reference images are found on the
    same region of the same photo, the weaker one is a chance resemblance (shared shapes,
    fonts or colours), and reporting it would send genuine goods to inspection.
    """
    ordered = sorted(hits, key=lambda h: (-h.score, h.brand_id))
    kept: list[Any] = []
    for h in ordered:
        box = _box(h.evidence.polygon)
        explained = False
        if box is not None:
            for k in kept:
                kbox = _box(k.evidence.polygon)
                if (k.brand_id != h.brand_id and k.evidence.photo_index == h.evidence.photo_index
                        and kbox is not None and k.score >= h.score + margin
                        and _overlap(box, kbox) >= min_overlap):
                    explained = True
                    break
        if not explained:
            kept.append(h)
    return kept


class Engine:
    """Screens declarations and photos against a snapshot of the registry.

    ``references`` are the registered brands; each ``brand_id`` must be unique. Every index
    (word marks, GTINs, reference images) is built here, once. Keyword-only options:

    * ``thresholds``: score cut-offs for the recommendation (configuration).
    * ``ocr``: read printed text from photos when Tesseract is installed.
    * ``workers``: processes used to build the image index.
    * ``images``: set False to skip building the image index (text and codes only).
    """

    def __init__(self, references: Iterable[Reference], *, thresholds: Thresholds | None = None,
                 ocr: bool = True, workers: int = 1, images: bool = True):
        self._setup(references, thresholds=thresholds, ocr=ocr, workers=workers,
                    build_images=images, image_index=None, image_counts=None)

    def _setup(self, references: Iterable[Reference], *, thresholds: Thresholds | None,
               ocr: bool, workers: int, build_images: bool, image_index: Any,
               image_counts: dict[str, int] | None, snapshot_id: str | None = None) -> None:
        refs = list(references)
        for r in refs:
            if not isinstance(r, Reference):
                raise ScreeningError(f"references must be Reference objects, got {type(r).__name__}")
            if not isinstance(r.brand_id, str) or not r.brand_id:
                raise ScreeningError("every reference needs a non-empty brand_id")
            if not isinstance(r.name, str):
                raise ScreeningError(f"reference {r.brand_id!r}: name must be text")
        refs.sort(key=lambda r: r.brand_id)  # results must not depend on the input order
        seen: set[str] = set()
        for r in refs:
            if r.brand_id in seen:
                raise ScreeningError(f"brand_id {r.brand_id!r} appears more than once")
            seen.add(r.brand_id)
        self.thresholds = thresholds or Thresholds()
        t = self.thresholds
        if not (0.0 <= t.inspect <= t.detain <= 1.0 and 0.0 <= t.report <= 1.0
                and 0.0 <= t.detain_identity <= 1.0):
            raise ScreeningError(
                f"thresholds {t.version!r} must satisfy 0 <= inspect ({t.inspect}) <= detain "
                f"({t.detain}) <= 1, with report and detain_identity between 0 and 1")
        self.ocr = bool(ocr)
        self.workers = max(1, int(workers))
        self.notes: list[str] = []
        self._refs: dict[str, Reference] = {r.brand_id: r for r in refs}
        self._image_counts = image_counts if image_counts is not None else {
            r.brand_id: len(r.images) for r in refs}
        # A loaded engine keeps the id it was saved under (its references no longer carry their
        # images, and hashing 10,000 references again would be a third of a worker's start).
        self.snapshot_id = snapshot_id or self._snapshot_id(refs)
        self._text = TextIndex((r.brand_id, m) for r in refs for m in (r.name, *r.aliases)
                               if isinstance(m, str))
        for brand_id, mark in self._text.skipped:
            self.notes.append(f"word mark {mark!r} of brand {brand_id} has no Latin letters or "
                              "digits and cannot be matched in text")
        self._gtins: dict[str, list[str]] = {}
        self._prefixes: dict[str, list[str]] = {}
        for r in refs:
            for g in r.gtins:
                g14, problem = normalize_gtin(g)
                if g14 is None:
                    self.notes.append(f"brand {r.brand_id}: registered {problem}")
                    continue
                self._gtins.setdefault(g14, []).append(r.brand_id)
            for p in r.gs1_prefixes:
                p = normalize_prefix(p)
                if p:
                    self._prefixes.setdefault(p, []).append(r.brand_id)
        self._prefix_lengths = sorted({len(p) for p in self._prefixes})
        self._images = image_index
        if self._images is None and build_images and any(r.images for r in refs):
            self._images = self._build_images(refs)

    # -- building ---------------------------------------------------------------------------

    def _build_images(self, refs: Sequence[Reference]) -> Any:
        try:
            from .image import ImageIndex
        except Exception as exc:  # the image extra missing must not stop text screening
            self.notes.append(f"image matching unavailable: {type(exc).__name__}: {exc}")
            return None
        items = [(r.brand_id, i, src) for r in refs for i, src in enumerate(r.images)]
        index = ImageIndex(items, workers=self.workers)
        self.notes.extend(getattr(index, "notes", []))
        return index

    @staticmethod
    def _snapshot_id(refs: Sequence[Reference]) -> str:
        h = hashlib.sha256(ENGINE_VERSION.encode())
        for r in refs:
            d = _reference_to_json(r)
            d["images"] = [_digest_source(s) for s in r.images]
            h.update(json.dumps(d, sort_keys=True, default=str).encode())
        return f"{ENGINE_VERSION}:{h.hexdigest()[:20]}"

    @property
    def references(self) -> list[Reference]:
        """The registered brands, sorted by brand_id (images are not kept after loading)."""
        return list(self._refs.values())

    # -- saving -----------------------------------------------------------------------------

    def save(self, path: str | os.PathLike[str]) -> None:
        """Save the engine to directory ``path`` (JSON and numpy arrays; no pickle).

        Reference images are not stored, only the image index built from them.
        """
        d = Path(path)
        d.mkdir(parents=True, exist_ok=True)
        if self._images is not None:
            self._images.save(d / "images")
        meta = {
            "format": _FORMAT_VERSION,
            "engine_version": ENGINE_VERSION,
            "snapshot_id": self.snapshot_id,
            "thresholds": asdict(self.thresholds),
            "ocr": self.ocr,
            "has_images": self._images is not None,
            "references": [_reference_to_json(r) for r in self._refs.values()],
        }
        tmp = d / "engine.json.tmp"
        tmp.write_text(json.dumps(meta), encoding="utf-8")
        os.replace(tmp, d / "engine.json")

    @classmethod
    def load(cls, path: str | os.PathLike[str], *, thresholds: Thresholds | None = None,
             ocr: bool | None = None) -> Engine:
        """Load an engine saved by :meth:`save` (the word-mark index is rebuilt, in well under a second)."""
        d = Path(path)
        try:
            meta = json.loads((d / "engine.json").read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ScreeningError(f"cannot read a saved engine at {os.fspath(path)!r}: {exc}") from exc
        if meta.get("format") != _FORMAT_VERSION:
            raise ScreeningError(f"saved engine format {meta.get('format')!r} is not "
                                 f"{_FORMAT_VERSION}; build it again")
        refs = [_reference_from_json(x) for x in meta["references"]]
        counts = {x["brand_id"]: int(x.get("image_count", 0)) for x in meta["references"]}
        images = None
        if meta.get("has_images"):
            from .image import ImageIndex
            images = ImageIndex.load(d / "images")
        engine = cls.__new__(cls)
        engine._setup(refs, thresholds=thresholds or Thresholds(**meta["thresholds"]),
                      ocr=meta.get("ocr", True) if ocr is None else ocr, workers=1,
                      build_images=False, image_index=images, image_counts=counts,
                      snapshot_id=meta["snapshot_id"])
        return engine

    # -- screening --------------------------------------------------------------------------

    def screen(self, query: Query) -> Screening:
        """Return the registered brands the goods may imitate, best first, with reasons.

        Matches are ranked by ``identity`` (how sure the engine is of the brand), then by
        ``score``, then by ``brand_id``. Brands whose identity is below
        ``thresholds.report`` are left out, so the list is empty when nothing is close.
        The result's ``notes`` say what in the query could not be used.
        """
        if not isinstance(query, Query):
            raise ScreeningError(f"screen() needs a Query, got {type(query).__name__}")
        facts = self._facts(query)
        candidates: set[str] = set()
        candidates.update(facts.declared, facts.description, facts.ocr, facts.image_hits)
        for g in facts.gtins:
            candidates.update(self._brands_of_gtin(g))
        matches = []
        for brand_id in candidates:
            m = self._match(self._refs[brand_id], facts)
            if m is not None:
                matches.append(m)
        matches.sort(key=lambda m: (-m.identity, -m.score, m.brand_id))
        return Screening(matches, notes=tuple(facts.notes), snapshot_id=self.snapshot_id,
                         thresholds_version=self.thresholds.version)

    def _brands_of_gtin(self, g14: str) -> set[str]:
        out = set(self._gtins.get(g14, ()))
        body = g14[1:]
        for n in self._prefix_lengths:
            out.update(self._prefixes.get(body[:n], ()))
            if body.startswith("0"):
                out.update(self._prefixes.get(body[1:n + 1], ()))
        return out

    def _facts(self, q: Query) -> _Facts:
        f = _Facts()
        notes = f.notes
        declared = _clean_str(q.declared_brand, "declared brand", notes)
        description = _clean_str(q.description, "description", notes, MAX_DESCRIPTION_CHARS)
        if declared:
            f.has_declared = True
            f.declared_text = declared
            f.declared = self._text.search(declared, name=True)
        if description:
            f.has_description = True
            f.description_text = description
            f.description = self._text.search(description)
        f.supplier = _clean_str(q.supplier, "supplier", notes)
        sc = _clean_str(q.supplier_country, "supplier country", notes)
        if sc:
            f.supplier_country = sc if country_code(sc) else None
            if f.supplier_country is None:
                notes.append(f"supplier country {sc[:60]!r} is not a country we recognise")
        origin = _clean_str(q.origin_country, "origin country", notes)
        if origin:
            f.origin_text = origin
            f.origin = country_code(origin)
            if f.origin is None:
                notes.append(f"origin country {origin[:60]!r} is not a country we recognise; "
                             "origin not compared")
        f.price = self._price(q.unit_price, notes)
        currency = _clean_str(q.currency, "currency", notes, 10)
        if currency and not (len(currency) == 3 and currency.isalpha() and currency.isascii()):
            notes.append(f"currency {currency!r} is not an ISO 4217 code; price not compared")
            f.price = None
        f.currency = currency
        raw_hs = q.hs_code
        if isinstance(raw_hs, int) and not isinstance(raw_hs, bool):
            raw_hs = str(raw_hs)  # a spreadsheet import turns "640399" into a number
        hs = _clean_str(raw_hs, "HS code", notes, 40)
        if hs:
            f.hs = normalize_hs(hs)
            if f.hs is None:
                notes.append(f"HS code {hs!r} is not 2 to 10 digits; goods type not compared")
        for raw in _as_tuple(q.gtins, "GTINs", notes)[:_MAX_GTINS]:
            self._add_gtin(raw, "declared", f)
        photos = _as_tuple(q.photos, "photos", notes)
        if len(photos) > _MAX_PHOTOS:
            notes.append(f"only the first {_MAX_PHOTOS} of {len(photos)} photos were examined")
            photos = photos[:_MAX_PHOTOS]
        self._photo_facts(photos, f)
        return f

    @staticmethod
    def _price(value: object, notes: list[str]) -> float | None:
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            notes.append("unit price ignored: not a number")
            return None
        price = float(value)
        if not math.isfinite(price) or price < 0:
            notes.append(f"unit price {value!r} ignored: not a finite, non-negative number")
            return None
        return price

    @staticmethod
    def _add_gtin(raw: object, source: str, f: _Facts) -> None:
        g14, problem = normalize_gtin(raw)
        if g14 is None:
            shown = str(raw)[:30]
            f.bad_gtins.append((shown, problem))
            f.notes.append(f"{source} {problem}")
        elif g14 not in f.gtins:
            f.gtins.append(g14)

    def _photo_facts(self, photos: tuple[Any, ...], f: _Facts) -> None:
        if not photos:
            f.image_unavailable = "no photos given"
            f.ocr_unavailable = "no photos given"
            return
        try:
            from .photos import decode_all
            decoded, photo_notes = decode_all(photos)
        except Exception as exc:  # photos must never stop the text signals
            f.notes.append(f"photos could not be examined: {type(exc).__name__}")
            f.image_unavailable = f.ocr_unavailable = "photos could not be examined"
            return
        f.notes.extend(photo_notes)
        usable = [p for p in decoded if p is not None]
        if not usable:
            f.image_unavailable = f.ocr_unavailable = "none of the photos could be used"
            return
        found: list[Any] = []
        if self._images is None:
            f.image_unavailable = "no reference images are registered" if not any(
                self._image_counts.values()) else "image matching is not available"
        else:
            try:
                found = [h for h in self._images.search(decoded, top_k=10) if h.brand_id in self._refs]
                for hit in _explain_away(found):
                    f.image_hits.setdefault(hit.brand_id, []).append(hit)
            except Exception as exc:
                f.notes.append(f"image matching failed: {type(exc).__name__}: {exc}")
                f.image_unavailable = "image matching failed on these photos"
        self._ocr_facts(decoded, f, found)
        try:
            from .barcode import read_gtins
        except ImportError:
            # Barcode reading is an optional part; the barcode signal then rests on the
            # declared GTINs alone, as its reason says.
            f.barcode_unavailable = "barcodes were not read from the photos (reader not installed)"
            return
        for i, photo in enumerate(decoded):
            if photo is None:
                continue
            try:
                raws = read_gtins(photo)[:_MAX_GTINS]
            except Exception as exc:
                f.notes.append(f"barcodes could not be read from photo {i + 1}: {type(exc).__name__}")
                continue
            for raw in raws:
                self._add_gtin(raw, f"GTIN read from photo {i + 1}:", f)

    def _ocr_facts(self, decoded: list[Any], f: _Facts, image_hits: Sequence[Any]) -> None:
        if not self.ocr:
            f.ocr_unavailable = "reading text from photos is switched off"
            return
        try:
            from .ocr import ocr_available, read_text
        except Exception:
            f.ocr_unavailable = "reading text from photos is not installed"
            return
        if not ocr_available():
            f.ocr_unavailable = "Tesseract (OCR) is not installed: printed text was not read"
            return
        # Reading text costs about 300 ms a photo and matters where the images found nothing
        # sure; a photo whose logo or packaging was already matched with certainty is not
        # read again (the reason says so), which keeps screening with OCR within budget.
        certain = {h.evidence.photo_index for h in image_hits if h.score >= OCR_SKIP_IMAGE_SCORE}
        to_read = [i for i, p in enumerate(decoded) if p is not None and i not in certain]
        if not to_read:
            f.ocr_unavailable = ("printed text was not read: every photo already matched a "
                                 f"reference image with confidence {OCR_SKIP_IMAGE_SCORE:.2f} or more")
            return
        texts = []
        for i in to_read:
            photo = decoded[i]
            try:
                t = read_text(photo)
            except Exception as exc:
                f.notes.append(f"text could not be read from a photo: {type(exc).__name__}")
                continue
            if t:
                texts.append(t[:MAX_DESCRIPTION_CHARS])
        hits: list[MarkHit] = []
        for t in texts:
            # OCR reads scattered words (clutter, other labels) in arbitrary order, so joining
            # neighbouring words would invent marks ("ear ear" for "Carear"): a printed mark
            # must be read with as many words as it is registered with.
            hits.extend(h for h in self._text.hits(t)
                        if len(h.found.split()) == len(normalize_text(h.mark).split()))
        f.ocr = best_per_brand(hits)

    def _match(self, ref: Reference, f: _Facts) -> Match | None:
        """The match for one candidate brand, or None when its identity is below ``report``."""
        bid = ref.brand_id
        hits = sorted(f.image_hits.get(bid, ()), key=lambda h: (-h.score, h.evidence.photo_index,
                                                                h.evidence.reference_image_index))
        if f.image_unavailable:
            img = image_signal(None, "", ref, unavailable=f.image_unavailable)
        elif not self._image_counts.get(bid):
            img = image_signal(None, "", ref, unavailable=f"{ref.name} has no reference images")
        else:
            img = image_signal(hits[0].score if hits else None, hits[0].reason if hits else "", ref)
        evidence: tuple[ImageEvidence, ...] = tuple(h.evidence for h in hits)
        ident, check = barcode_signals(f.gtins, f.bad_gtins, ref)
        if f.barcode_unavailable and not ident.available:
            ident = replace(ident, reason=f"{ident.reason}; {f.barcode_unavailable}")
        identity_signals = [
            mark_signal("declared_brand", f.declared.get(bid), ref,
                        unavailable="" if f.has_declared else "no brand declared",
                        as_written=f.declared_text),
            mark_signal("description", f.description.get(bid), ref,
                        unavailable="" if f.has_description else "no description given"),
            mark_signal("ocr", f.ocr.get(bid), ref, unavailable=f.ocr_unavailable),
            img,
            ident,
        ]
        # Most candidates of a long description are faint; they are dropped before the
        # suspicion signals are worked out, which is where the time would go.
        if round(identity_of(identity_signals), 4) < self.thresholds.report:
            return None
        goods = goods_signal(f.hs, ref)
        only_described = [s.name for s in identity_signals if s.available and s.score > 0] == [
            "description"]
        if only_described and goods.available and goods.score >= 0.6:
            # A mark that is also an ordinary word ("apple juice", "jaguar figurine"), found
            # only in the description of goods the brand does not make, is more likely the
            # word than the brand: it weakens the identity instead of raising suspicion.
            desc = identity_signals[1]
            identity_signals[1] = replace(desc, score=round(desc.score * 0.5, 4), reason=(
                f"{desc.reason}; the goods are not of a kind {ref.name} registered, so the word "
                "may be meant in its ordinary sense"))
            goods = replace(goods, available=False, reason=(
                f"{goods.reason} (not counted: the brand is only named in the description)"))
            if round(identity_of(identity_signals), 4) < self.thresholds.report:
                return None
        signals: list[Signal] = identity_signals + [
            supplier_signal(f.supplier, f.supplier_country, ref),
            price_signal(f.price, f.currency, ref),
            origin_signal(f.origin, ref, as_written=f.origin_text),
            goods,
            spelling_signal((("declared brand", f.declared.get(bid), f.declared_text),
                             ("description", f.description.get(bid), f.description_text)), ref),
            check,
            validity_signal(ref),
        ]
        identity, suspicion, score = combine(signals)
        rec = recommend(identity, score, ref.protected, self.thresholds)
        return Match(brand_id=bid, score=score, recommendation=rec, signals=tuple(signals),
                     image_evidence=evidence, identity=identity, suspicion=suspicion,
                     name=ref.name)

