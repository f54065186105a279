"""Countries as officers and rights holders write them: ISO alpha-2, alpha-3 or an English name."""

from __future__ import annotations

from functools import lru_cache

import pycountry

from .normalize import normalize_text

__all__ = ["country_code", "country_name"]

# Names in everyday use that ISO 3166 spells differently. pycountry already knows most common
# names ("Vietnam", "South Korea", "Taiwan"); these are the ones it does not.
_ALIASES = {
    "uk": "GB", "great britain": "GB", "britain": "GB", "england": "GB", "scotland": "GB",
    "wales": "GB", "northern ireland": "GB", "russia": "RU", "turkey": "TR", "turkiye": "TR",
    "ivory coast": "CI", "macau": "MO", "macao": "MO", "burma": "MM", "holland": "NL",
    "the netherlands": "NL", "usa": "US", "us": "US", "america": "US", "united states of america": "US",
    "uae": "AE", "emirates": "AE", "korea": "KR", "north korea": "KP", "czechia": "CZ",
    "prc": "CN", "mainland china": "CN", "peoples republic of china": "CN", "hongkong": "HK",
    "cape verde": "CV", "swaziland": "SZ", "east timor": "TL", "vatican": "VA",
    "syria": "SY", "moldova": "MD", "bolivia": "BO", "venezuela": "VE", "tanzania": "TZ",
    "iran": "IR", "laos": "LA", "palestine": "PS", "brunei": "BN", "micronesia": "FM",
}


@lru_cache(maxsize=4096)
def country_code(value: str | None) -> str | None:
    """Return the ISO 3166-1 alpha-2 code of a country code or English name, else None.

    Never raises: anything that is not a recognisable country gives None, and the caller
    reports it as unknown.
    """
    if not isinstance(value, str):
        return None
    raw = value.strip()
    if not raw or len(raw) > 80:
        return None
    key = normalize_text(raw)
    if key in _ALIASES:
        return _ALIASES[key]
    try:
        return pycountry.countries.lookup(raw).alpha_2
    except LookupError:
        pass
    try:
        return pycountry.countries.lookup(key).alpha_2
    except LookupError:
        return None


@lru_cache(maxsize=1024)
def country_name(code: str) -> str:
    """Return a readable English name for an alpha-2 code (the code itself if unknown)."""
    c = pycountry.countries.get(alpha_2=code)
    if c is None:
        return code
    return getattr(c, "common_name", None) or c.name
