"""Signals -> score, recommendation and reasons.

Two questions are kept apart, because they have different evidence:

* **Which brand?** *Identity* signals: a reference image found in a photo, a word mark in the
  declared brand, the description or the text printed on the goods, a GTIN registered by the
  brand. They are combined as independent pieces of evidence (noisy-OR):
  ``identity = 1 - prod(1 - weight_i * score_i)``.
* **Is it counterfeit?** *Suspicion* signals, each in [0, 1]: the supplier (0 when it is an
  authorised one, 1 for a near copy of an authorised name), the price (1 far below the genuine
  range), the origin (0 when it is a production country), the goods type (HS code against
  the brand's goods) and a barcode that is broken or not the brand's. They are combined as
  half the strongest red flag plus half a weighted mean that also counts an "unknown" prior
  of 0.5, so that one strong flag counts, missing facts pull towards "don't know", and a
  shipment whose facts are all in order comes out near 0.

``score = identity * (FLOOR + (1 - FLOOR) * suspicion)``: goods that are surely of a brand but
entirely in order (authorised supplier, normal price, production-country origin) score at most
``FLOOR`` = 0.3, below the default inspect threshold, so a genuine shipment is released;
goods that surely carry a brand and whose facts are unknown score about 0.65 (inspect).

The recommendation is "detain" when ``score >= thresholds.detain`` and ``identity >=
thresholds.detain_identity`` and the brand's protection is in force; "inspect" when ``score
>= thresholds.inspect``; otherwise "release". An unprotected brand is never "detain".
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from functools import lru_cache

from .codes import HS_LEVEL_NAMES, gtin_has_prefix, hs_level, normalize_hs
from .countries import country_code, country_name
from .suppliers import check_supplier
from .text import MarkHit
from .types import Recommendation, Reference, Signal, Thresholds

__all__ = [
    "FLOOR",
    "IDENTITY_WEIGHTS",
    "SUSPICION_WEIGHTS",
    "barcode_signals",
    "combine",
    "goods_signal",
    "identity_of",
    "image_signal",
    "mark_signal",
    "origin_signal",
    "price_signal",
    "recommend",
    "spelling_signal",
    "supplier_signal",
    "text_identity",
    "validity_signal",
]

FLOOR = 0.3
_PRIOR_SUSPICION = 0.5
_PRIOR_WEIGHT = 1.5

#: How much each identity signal can say on its own (multiplies its score in the noisy-OR).
IDENTITY_WEIGHTS = {
    "image": 0.97,
    "declared_brand": 1.0,
    "description": 0.95,
    "ocr": 0.9,
    "barcode": 1.0,
}
#: Weight of each suspicion signal in the weighted mean.
SUSPICION_WEIGHTS = {
    "spelling": 2.0,
    "supply_chain": 3.0,
    "price": 2.0,
    "origin": 1.5,
    "goods_type": 1.0,
    "barcode_check": 1.5,
}


@lru_cache(maxsize=65536)
def _country_codes(values: tuple[str, ...]) -> list[str]:
    # Cached per registered tuple: the same brand is compared with many declarations.
    return sorted({c for c in (country_code(p) for p in values) if c})


@lru_cache(maxsize=65536)
def _hs_codes(values: tuple[str, ...]) -> list[str]:
    return sorted({c for c in (normalize_hs(h) for h in values) if c})


def _country(value: str | None) -> str:
    code = country_code(value) if value else None
    return f"{country_name(code)} ({code})" if code else str(value)


def _q(text: object, limit: int = 60) -> str:
    s = str(text)
    return repr(s if len(s) <= limit else s[: limit - 1] + "…")


def text_identity(similarity: float) -> float:
    """Map a word-mark similarity (0..1) to identity evidence (0..1).

    Exact and near-exact spellings (similarity >= 0.9, e.g. "Adibas", "Louis Vuiton") give
    0.75-1.0; one ordinary typo in a short word (0.8, e.g. "Prado" for "Prada") gives a weak
    0.3; below 0.75 nothing.
    """
    if similarity >= 0.9:
        return min(1.0, 0.75 + (similarity - 0.9) * 2.5)
    if similarity >= 0.8:
        return 0.3 + (similarity - 0.8) * 4.5
    return max(0.0, (similarity - 0.75) * 6.0)


_SOURCE_LABEL = {
    "declared_brand": "declared brand",
    "description": "description",
    "ocr": "text read from the photos",
}


def mark_signal(name: str, hit: MarkHit | None, ref: Reference, *, unavailable: str = "",
                as_written: str | None = None) -> Signal:
    """Identity signal for a word mark found (or not) in one source of text.

    ``as_written`` is the text as declared (e.g. "N1KE"), quoted in the reason when it
    differs from the normalised words that matched.
    """
    label = _SOURCE_LABEL[name]
    if unavailable:
        return Signal(name, 0.0, unavailable, available=False)
    if hit is None:
        return Signal(name, 0.0, f"{label} does not resemble a word mark of {ref.name}")
    score = round(text_identity(hit.similarity), 4)
    verb = "contains"
    if as_written and as_written.strip().lower() != hit.found and len(as_written) <= 60:
        label = f"{label} {_q(as_written.strip())}"
        verb = "reads as"
    if hit.how == "exact":
        reason = f"{label} {verb} {_q(hit.found)}, the word mark {_q(hit.mark)}"
    elif hit.how == "phonetic":
        reason = (f"{label} {verb} {_q(hit.found)}, which sounds like the word mark "
                  f"{_q(hit.mark)} (similarity {hit.similarity:.2f})")
    else:
        strength = "a look-alike of" if score >= 0.7 else "weakly similar to"
        reason = (f"{label} {verb} {_q(hit.found)}, {strength} the word mark {_q(hit.mark)} "
                  f"(similarity {hit.similarity:.2f})")
    return Signal(name, score, reason)


def image_signal(score: float | None, reason: str, ref: Reference, *, unavailable: str = "") -> Signal:
    """Identity signal for the best reference image of ``ref`` found in the photos."""
    if unavailable:
        return Signal("image", 0.0, unavailable, available=False)
    if score is None:
        return Signal("image", 0.0, f"no reference image of {ref.name} was found in the photos")
    return Signal("image", round(max(0.0, min(1.0, score)), 4), reason)


def barcode_signals(valid: Sequence[str], invalid: Sequence[tuple[str, str]],
                    ref: Reference) -> tuple[Signal, Signal]:
    """Identity ("barcode") and suspicion ("barcode_check") signals for the GTINs of a query.

    ``valid`` are 14-digit GTINs (declared or read from the photos), ``invalid`` pairs of
    (as written, problem).
    """
    if not valid and not invalid:
        msg = "no GTIN declared or read from the photos"
        return (Signal("barcode", 0.0, msg, available=False),
                Signal("barcode_check", 0.0, msg, available=False, kind="suspicion"))
    own = {g.zfill(14) for g in ref.gtins if g.isdigit()}
    exact = sorted(g for g in valid if g in own)
    prefixed = sorted(g for g in valid if any(gtin_has_prefix(g, p) for p in ref.gs1_prefixes))
    registered = bool(own or ref.gs1_prefixes)
    if exact:
        ident = Signal("barcode", 1.0, f"GTIN {exact[0].lstrip('0') or '0'} is registered for {ref.name}")
    elif prefixed:
        ident = Signal("barcode", 0.9,
                       f"GTIN {prefixed[0]} belongs to a GS1 company prefix of {ref.name}")
    elif registered:
        ident = Signal("barcode", 0.0, f"no GTIN of the goods is registered for {ref.name}")
    else:
        ident = Signal("barcode", 0.0, f"{ref.name} has registered no GTINs or company prefixes",
                       available=False)
    if exact or prefixed:
        check = Signal("barcode_check", 0.0, f"the goods' GTIN is one of {ref.name}'s",
                       kind="suspicion")
    elif invalid:
        _, problem = invalid[0]
        check = Signal("barcode_check", 0.8, f"{problem}: genuine goods carry valid GTINs",
                       kind="suspicion")
    elif registered:
        check = Signal("barcode_check", 0.7,
                       f"GTIN {valid[0]} is not among {ref.name}'s registered GTINs or company "
                       f"prefixes", kind="suspicion")
    else:
        check = Signal("barcode_check", 0.0, f"{ref.name} has registered no GTINs to compare with",
                       available=False, kind="suspicion")
    return ident, check


def supplier_signal(supplier: str | None, supplier_country: str | None, ref: Reference) -> Signal:
    """Suspicion signal: the declared supplier against the brand's authorised supply chain."""
    name = "supply_chain"
    if not supplier:
        return Signal(name, 0.0, "no supplier declared", available=False, kind="suspicion")
    n = len(ref.authorized_suppliers)
    check = check_supplier(supplier, supplier_country, ref.authorized_suppliers)
    if check.verdict == "none-registered":
        return Signal(name, 0.0, f"{ref.name} has registered no authorised suppliers",
                      available=False, kind="suspicion")
    if check.verdict == "authorised":
        assert check.authorised is not None
        return Signal(name, 0.0, f"declared supplier {_q(supplier)} is the authorised supplier "
                      f"{_q(check.authorised.name)} of {ref.name}", kind="suspicion")
    if check.verdict == "authorised-other-country":
        assert check.authorised is not None
        return Signal(name, 0.6, f"declared supplier {_q(supplier)} has the name of authorised "
                      f"supplier {_q(check.authorised.name)} of {ref.name}, but is declared in "
                      f"{_country(supplier_country)}, not {_country(check.authorised.country)}",
                      kind="suspicion")
    if check.verdict == "near-copy":
        assert check.authorised is not None
        return Signal(name, 1.0, f"declared supplier {_q(supplier)} is not an authorised supplier "
                      f"of {ref.name} but imitates the name of authorised supplier "
                      f"{_q(check.authorised.name)} ({check.edits} letter(s) different)",
                      kind="suspicion")
    return Signal(name, 0.8, f"declared supplier {_q(supplier)} is not among the {n} authorised "
                  f"supplier{'s' if n != 1 else ''} of {ref.name}", kind="suspicion")


def price_signal(price: float | None, currency: str | None, ref: Reference) -> Signal:
    """Suspicion signal: declared unit price against the genuine range.

    No exchange rates are applied: a price in another currency is reported, not converted.
    """
    name = "price"
    if price is None:
        return Signal(name, 0.0, "no usable unit price declared", available=False, kind="suspicion")
    pr = ref.price_range
    if pr is None:
        return Signal(name, 0.0, f"{ref.name} has registered no price range", available=False,
                      kind="suspicion")
    if not (math.isfinite(pr.min) and math.isfinite(pr.max) and 0 <= pr.min <= pr.max):
        return Signal(name, 0.0, f"the registered price range of {ref.name} is not usable "
                      f"({pr.min!r}-{pr.max!r})", available=False, kind="suspicion")
    cur = (currency or "").strip().upper()
    ref_cur = str(pr.currency).strip().upper()
    if cur and cur != ref_cur:
        return Signal(name, 0.0, f"unit price declared in {cur}, genuine range of {ref.name} is in "
                      f"{ref_cur}: not compared (no exchange rates)", available=False,
                      kind="suspicion")
    shown = f"{price:g} {cur or ref_cur}" + ("" if cur else " (currency not declared)")
    rng = f"{pr.min:g}-{pr.max:g} {ref_cur}"
    if pr.min > 0 and price < pr.min:
        ratio = price / pr.min
        # 60% below the genuine minimum is as suspicious as it gets; just below is a mild flag.
        score = min(1.0, max(0.1, (1.0 - ratio) / 0.6))
        return Signal(name, round(score, 4), f"unit price {shown} is {100 * (1 - ratio):.0f}% "
                      f"below the genuine range of {ref.name} ({rng})", kind="suspicion")
    if price > pr.max:
        return Signal(name, 0.1, f"unit price {shown} is above the genuine range of {ref.name} "
                      f"({rng})", kind="suspicion")
    return Signal(name, 0.0, f"unit price {shown} is within the genuine range of {ref.name} ({rng})",
                  kind="suspicion")


def origin_signal(origin_code: str | None, ref: Reference, *, as_written: str | None = None) -> Signal:
    """Suspicion signal: the origin country against the brand's production countries.

    ``as_written`` is the declared origin when it was not recognised as a country.
    """
    name = "origin"
    if origin_code is None:
        reason = (f"origin {_q(as_written)} is not a country we recognise: not compared"
                  if as_written else "no origin country declared")
        return Signal(name, 0.0, reason, available=False, kind="suspicion")
    countries = _country_codes(ref.production_countries)
    if not countries:
        return Signal(name, 0.0, f"{ref.name} has registered no production countries",
                      available=False, kind="suspicion")
    shown = f"{country_name(origin_code)} ({origin_code})"
    if origin_code in countries:
        return Signal(name, 0.0, f"origin {shown} is a production country of {ref.name}",
                      kind="suspicion")
    return Signal(name, 0.7, f"origin {shown} is not among the production countries of {ref.name} "
                  f"({', '.join(countries)})", kind="suspicion")


def goods_signal(hs: str | None, ref: Reference) -> Signal:
    """Suspicion signal: the declared HS code against the brand's registered goods."""
    name = "goods_type"
    if hs is None:
        return Signal(name, 0.0, "no usable HS code declared", available=False, kind="suspicion")
    own = _hs_codes(ref.hs_codes)
    if not own:
        return Signal(name, 0.0, f"{ref.name} has registered no HS codes", available=False,
                      kind="suspicion")
    level = max(hs_level(hs, c) for c in own)
    listed = ", ".join(own[:5]) + (" ..." if len(own) > 5 else "")
    if level >= 4:
        return Signal(name, 0.0, f"HS {hs} is in the {HS_LEVEL_NAMES[level]} as goods of {ref.name}",
                      kind="suspicion")
    if level == 2:
        return Signal(name, 0.2, f"HS {hs} is in the same chapter as, but not a heading of, the "
                      f"goods of {ref.name} ({listed})", kind="suspicion")
    return Signal(name, 0.6, f"HS {hs} is not a kind of goods {ref.name} registered ({listed}): "
                  "branded goods outside the brand's range are often unlicensed", kind="suspicion")


_NOT_ASCII_ALNUM = re.compile(r"[^a-z0-9]+")


def _letters(text: str) -> str:
    return _NOT_ASCII_ALNUM.sub("", text.casefold())


def spelling_signal(hits: Sequence[tuple[str, MarkHit | None, str | None]], ref: Reference) -> Signal:
    """Suspicion signal: is the brand written the way it is registered?

    ``hits`` are (source label, best hit of this brand in that source, the text as written).
    Genuine goods are declared under the registered spelling; a look-alike spelling
    ("Adibas") or look-alike characters ("N1KE", a Greek "Ρ") is how counterfeits get past
    keyword checks. Faint resemblances (identity below 0.5) are left to the identity score,
    and a registered spelling says nothing either way, so it is not counted.
    """
    name = "spelling"
    for label, hit, written in hits:
        if hit is None or text_identity(hit.similarity) < 0.5:
            continue
        if hit.how != "exact":
            return Signal(name, 0.6, f"{label} spells the brand {_q(hit.found)}, a look-alike of "
                          f"the word mark {_q(hit.mark)}: genuine goods are declared under the "
                          "registered spelling", kind="suspicion")
        if written and _letters(hit.mark) not in _letters(written):
            return Signal(name, 0.8, f"{label} writes the word mark {_q(hit.mark)} with look-alike "
                          f"characters or spacing ({_q(written[:40])})", kind="suspicion")
    return Signal(name, 0.0, f"{ref.name} is not written in a disguised spelling",
                  available=False, kind="suspicion")


def validity_signal(ref: Reference) -> Signal:
    """Validity signal: whether the brand's customs protection is in force."""
    if ref.protected:
        return Signal("validity", 1.0, f"customs protection of {ref.name} is in force",
                      kind="validity")
    return Signal("validity", 0.0, f"customs protection of {ref.name} is not in force: the goods "
                  "can be inspected but not detained on this right", kind="validity")


def identity_of(signals: Sequence[Signal]) -> float:
    """Noisy-OR of the available identity signals (unrounded)."""
    miss = 1.0
    for s in signals:
        if s.kind == "identity" and s.available and s.score > 0:
            w = IDENTITY_WEIGHTS.get(s.name, 0.9)
            miss *= 1.0 - w * min(1.0, s.score)
    return 1.0 - miss


def combine(signals: Sequence[Signal]) -> tuple[float, float, float]:
    """Return ``(identity, suspicion, score)`` from a match's signals (see the module doc)."""
    identity = identity_of(signals)
    total = _PRIOR_WEIGHT * _PRIOR_SUSPICION
    weight = _PRIOR_WEIGHT
    strongest = None
    for s in signals:
        if s.kind == "suspicion" and s.available:
            w = SUSPICION_WEIGHTS.get(s.name, 1.0)
            total += w * s.score
            weight += w
            strongest = s.score if strongest is None else max(strongest, s.score)
    mean = total / weight
    suspicion = mean if strongest is None else 0.5 * strongest + 0.5 * mean
    score = identity * (FLOOR + (1.0 - FLOOR) * suspicion)
    clean = [x if math.isfinite(x) else 0.0 for x in (identity, suspicion, score)]
    return round(clean[0], 4), round(clean[1], 4), round(clean[2], 4)


def recommend(identity: float, score: float, protected: bool, thresholds: Thresholds) -> Recommendation:
    """Return "detain", "inspect" or "release" (an unprotected brand never gets "detain")."""
    if score >= thresholds.detain and identity >= thresholds.detain_identity and protected:
        return "detain"
    if score >= thresholds.inspect:
        return "inspect"
    if not protected and score >= thresholds.detain:
        return "inspect"
    return "release"

