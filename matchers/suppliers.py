"""Supply chain: is the declared supplier one of the brand's authorised companies?

Company names are compared after :func:`company_key`: transliterated to ASCII (Cyrillic by a
table, accented Latin by NFKD without the accents), case-folded, punctuation removed, "&" read as "and", and legal-form words removed
wherever they end the name ("Co., Ltd.", "Company Limited", "GmbH", "S.A.", "S.p.A.", "Pte.
Ltd.", "Inc.", "LLC", "Corp.", "SARL", "B.V.", "AG", "Sp. z o.o.", ...), and the few written
before the name ("OOO", "PT"). Two names with the same
key are the same company: "ACME Manufactoring Co., Ltd." is "Acme Manufactoring Company
Limited".

A declared name whose key is a small edit away from an authorised one (one or two letters in a
long name) is *not* that company: it is the classic way to pass a counterfeiter's shell company
off as the rights holder's factory, and it is reported as suspicious with both names.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

from rapidfuzz.distance import Levenshtein

from .countries import country_code
from .types import Supplier

__all__ = ["LEADING_LEGAL_FORMS", "LEGAL_FORMS", "SupplierCheck", "check_supplier", "company_key"]

#: Legal-form words (after punctuation is removed and one-letter runs joined: "S.A." -> "sa",
#: "Sp. z o.o." -> "sp zoo"). Removed from the end of a name, repeatedly.
LEGAL_FORMS = frozenset(
    """co company companies ltd limited llc llp lp inc incorporated corp corporation plc
    gmbh mbh ag kg kgaa ohg ug sa sas sarl sarl eurl srl spa sapa bv nv vof cv ab as asa oy oyj
    aps pte pty pvt private public sp zoo sro spol kft zrt rt doo dd ad ood eood sl slu sau
    kk yk gk bhd sdn tbk pt jsc ojsc cjsc pjsc ooo zao oao ltda eireli me epp cia lda ko
    tov""".split()
)
#: Legal forms written before the name ("OOO Romashka", "PT Sinar Jaya").
LEADING_LEGAL_FORMS = frozenset("ooo zao oao pao ao jsc ojsc cjsc pjsc pt tov".split())
_PUNCT = re.compile(r"[^a-z0-9]+")


#: Cyrillic to Latin as passports and trade registers write it (ICAO 9303 / GOST 2006 style),
#: so "ООО Ромашка" and "Romashka LLC" compare equal. Accented Latin letters are handled by NFKD.
_CYRILLIC = str.maketrans({
    "а": "a", "б": "b", "в": "v", "г": "g", "д": "d", "е": "e", "ё": "e", "ж": "zh", "з": "z",
    "и": "i", "й": "i", "к": "k", "л": "l", "м": "m", "н": "n", "о": "o", "п": "p", "р": "r",
    "с": "s", "т": "t", "у": "u", "ф": "f", "х": "kh", "ц": "ts", "ч": "ch", "ш": "sh",
    "щ": "shch", "ъ": "", "ы": "y", "ь": "", "э": "e", "ю": "iu", "я": "ia", "і": "i",
    "ї": "i", "є": "ie", "ґ": "g", "ў": "u",
})


def _ascii(text: str) -> str:
    if text.isascii():
        return text.lower()
    text = text.casefold().translate(_CYRILLIC)
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch)).casefold()


@lru_cache(maxsize=65536)
def company_key(name: str) -> str:
    """Return the comparison key of a company name (legal forms and punctuation removed)."""
    if not isinstance(name, str):
        return ""
    text = _ascii(name).replace("&", " and ")
    text = text.replace("'", "").replace("\u2019", "")
    tokens = _PUNCT.sub(" ", text).split()
    # "S.A." and "Sp. z o.o." become runs of one-letter words; join them so that they can
    # be recognised as legal forms.
    joined: list[str] = []
    run = ""
    for tok in tokens:
        if len(tok) == 1:
            run += tok
            continue
        if run:
            joined.append(run)
            run = ""
        joined.append(tok)
    if run:
        joined.append(run)
    while len(joined) > 1 and joined[-1] in LEGAL_FORMS:
        joined.pop()
    while len(joined) > 1 and joined[0] in LEADING_LEGAL_FORMS:
        joined.pop(0)
    # A name that is only legal forms ("Company Limited") keeps its words.
    return " ".join(joined)


@dataclass(frozen=True)
class SupplierCheck:
    """The outcome of comparing a declared supplier with a brand's authorised list."""

    #: "authorised", "authorised-other-country", "near-copy", "unknown" or "none-registered".
    verdict: str
    #: The authorised supplier concerned (for authorised or near-copy verdicts).
    authorised: Supplier | None
    #: Edits between the two keys for a near copy.
    edits: int = 0


def _near_copy_limit(length: int) -> int:
    # One edit in a short name is already a different name; two in a long one still look alike.
    if length < 5:
        return 0
    if length < 12:
        return 1
    return 2


@lru_cache(maxsize=65536)
def _keys(authorised: tuple[Supplier, ...]) -> list[tuple[str, Supplier]]:
    # One brand's list is compared with many declarations: normalise it once.
    return [(company_key(s.name), s) for s in authorised]


def check_supplier(declared: str, declared_country: str | None,
                   authorised: Sequence[Supplier]) -> SupplierCheck:
    """Compare a declared supplier name (and optional country) with an authorised list."""
    if not authorised:
        return SupplierCheck("none-registered", None)
    key = company_key(declared)
    keys = _keys(tuple(authorised))
    exact = [s for k, s in keys if k and k == key]
    if exact:
        code = country_code(declared_country) if declared_country else None
        if code is None:
            return SupplierCheck("authorised", exact[0])
        for s in exact:
            if s.country is None or country_code(s.country) == code:
                return SupplierCheck("authorised", s)
        return SupplierCheck("authorised-other-country", exact[0])
    best: tuple[int, str, Supplier] | None = None
    for k, s in keys:
        if not k or not key:
            continue
        limit = _near_copy_limit(max(len(k), len(key)))
        d = Levenshtein.distance(k, key, score_cutoff=limit)
        if d <= limit and (best is None or (d, s.name) < (best[0], best[1])):
            best = (d, s.name, s)
    if best is not None:
        return SupplierCheck("near-copy", best[2], best[0])
    return SupplierCheck("unknown", None)
