"""Product codes: GTIN check digits, GS1 company prefixes and HS (Harmonized System) codes.

GTINs are compared in their 14-digit form (GTIN-8, -12 and -13 padded with leading zeros), the
form GS1 uses to compare identifiers of different lengths. Check digits are verified with
python-stdnum's ``ean`` module rather than by hand.
"""

from __future__ import annotations

import re

from stdnum import ean
from stdnum.exceptions import ValidationError

__all__ = [
    "HS_LEVEL_NAMES",
    "gtin_has_prefix",
    "hs_level",
    "normalize_gtin",
    "normalize_hs",
    "normalize_prefix",
]

_NON_DIGITS = re.compile(r"[\s\-.]")
_GTIN_LENGTHS = (8, 12, 13, 14)


def normalize_gtin(code: object) -> tuple[str | None, str]:
    """Return ``(gtin14, problem)``: the GTIN as 14 digits, or None and why it is not one.

    Spaces, dashes and dots are ignored. ``problem`` is "" for a valid GTIN.
    """
    if not isinstance(code, (str, int)) or isinstance(code, bool):
        return None, "not a GTIN (not text)"
    text = _NON_DIGITS.sub("", str(code))
    if not text:
        return None, "empty GTIN"
    if not text.isdigit() or not text.isascii():
        return None, f"GTIN {text[:20]!r} contains characters other than digits"
    if len(text) not in _GTIN_LENGTHS:
        return None, f"GTIN {text[:20]!r} has {len(text)} digits (GTIN-8, -12, -13 or -14 expected)"
    try:
        ean.validate(text)
    except ValidationError:
        return None, f"GTIN {text} has a wrong check digit"
    return text.zfill(14), ""


def normalize_prefix(prefix: object) -> str:
    """Return a GS1 company prefix as digits only ("" when it has none)."""
    text = _NON_DIGITS.sub("", str(prefix))
    return text if text.isdigit() and text.isascii() else ""


def gtin_has_prefix(gtin14: str, prefix: str) -> bool:
    """True when the GTIN (14 digits) belongs to the GS1 company prefix ``prefix``.

    Company prefixes are written for the 13-digit form (GTIN-14 without its indicator digit).
    A U.P.C. company prefix (for 12-digit GTINs) is the same number without the leading 0, so
    both spellings are accepted.
    """
    prefix = normalize_prefix(prefix)
    if not prefix or len(gtin14) != 14:
        return False
    body = gtin14[1:]
    if body.startswith(prefix):
        return True
    return body.startswith("0") and body[1:].startswith(prefix)


#: Names of the levels :func:`hs_level` returns.
HS_LEVEL_NAMES = {0: "different chapter", 2: "same chapter", 4: "same heading",
                  6: "same subheading"}


def normalize_hs(code: object) -> str | None:
    """Return an HS code as digits ("6403.99" and "640399" -> "640399"), or None.

    Accepts 2 to 10 digits after removing dots and spaces (national tariff lines extend the
    6-digit international code).
    """
    if not isinstance(code, (str, int)) or isinstance(code, bool):
        return None
    text = _NON_DIGITS.sub("", str(code))
    if not text.isascii() or not text.isdigit() or not 2 <= len(text) <= 10:
        return None
    return text


def hs_level(a: str, b: str) -> int:
    """How far two normalised HS codes agree: 6 (subheading), 4 (heading), 2 (chapter) or 0."""
    for level in (6, 4, 2):
        if len(a) >= level and len(b) >= level and a[:level] == b[:level]:
            return level
    # A registered code given only as a chapter or heading agrees as far as it goes.
    shorter = min(len(a), len(b))
    if shorter in (2, 4) and a[:shorter] == b[:shorter]:
        return shorter
    return 0
