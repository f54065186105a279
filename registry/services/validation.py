"""Parsers for the registry's coded values, shared by forms, imports and services.

Each parser takes what a user typed and returns the canonical value, or raises
``ValidationError`` with a message that says what is wrong and what is expected.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

import pycountry
from stdnum import ean
from stdnum.exceptions import InvalidChecksum, InvalidFormat, InvalidLength, ValidationError as StdnumError

from registry.services.errors import ValidationError

_SPLIT = re.compile(r"[,;\n]+")
#: Customs-protection jurisdictions that are not countries.
REGIONAL_JURISDICTIONS = {"EU": "European Union"}
#: Where Regulation (EU) No 608/2013 governs customs protection: the Union, and each member
#: state for a national application.
EU_JURISDICTIONS = frozenset({"EU", "AT", "BE", "BG", "HR", "CY", "CZ", "DK", "EE", "FI", "FR", "DE", "GR", "HU",
                              "IE", "IT", "LV", "LT", "LU", "MT", "NL", "PL", "PT", "RO", "SK", "SI", "ES", "SE"})


class FieldCollector:
    """Runs field parsers and collects every problem, so a form or a row reports all at once."""

    def __init__(self) -> None:
        self.values: dict[str, Any] = {}
        self.errors: dict[str, str] = {}

    def attempt(self, key: str, parse: Callable[[], Any]) -> None:
        try:
            self.values[key] = parse()
        except ValidationError as exc:
            self.errors.update(exc.errors)

    def raise_errors(self) -> None:
        if self.errors:
            raise ValidationError(self.errors)


def split_list(value: str | Iterable[str] | None) -> list[str]:
    """Split "a, b; c" or a list into trimmed, non-empty items, keeping their order."""
    if value is None:
        return []
    items = _SPLIT.split(value) if isinstance(value, str) else list(value)
    return [str(item).strip() for item in items if str(item).strip()]


def parse_gtin(value: str, field: str = "gtins") -> str:
    """A GTIN-8, -12, -13 or -14 with a correct check digit, as digits."""
    digits = re.sub(r"[\s-]", "", str(value))
    if not digits.isdigit():
        raise ValidationError({field: f"GTIN '{value}' must contain digits only"})
    if len(digits) not in (8, 12, 13, 14):
        raise ValidationError({field: f"GTIN '{value}' has {len(digits)} digits; "
                                      "a GTIN has 8, 12, 13 or 14"})
    try:
        ean.validate(digits)
    except InvalidChecksum:
        expected = ean.calc_check_digit(digits[:-1])
        raise ValidationError({field: f"GTIN '{value}' has a wrong check digit "
                                      f"(expected {expected}, found {digits[-1]})"}) from None
    except (InvalidFormat, InvalidLength, StdnumError):
        raise ValidationError({field: f"GTIN '{value}' is not a valid GTIN"}) from None
    return digits


def parse_gtins(value: str | Iterable[str] | None, field: str = "gtins") -> list[str]:
    return _unique(parse_gtin(item, field) for item in split_list(value))


def parse_hs_code(value: str, field: str = "hs_codes") -> str:
    """An HS / CN / HTS code: 4, 6, 8 or 10 digits, dots and spaces allowed ("6403.99")."""
    digits = re.sub(r"[\s.]", "", str(value))
    if not digits.isdigit() or len(digits) not in (4, 6, 8, 10):
        raise ValidationError({field: f"HS code '{value}' must be 4, 6, 8 or 10 digits, "
                                      "for example 6403.99"})
    chapter = int(digits[:2])
    if not 1 <= chapter <= 97 or chapter == 77:
        raise ValidationError({field: f"HS code '{value}' starts with chapter {digits[:2]}, "
                                      "which does not exist (chapters are 01-97, without 77)"})
    return digits


def parse_hs_codes(value: str | Iterable[str] | None, field: str = "hs_codes") -> list[str]:
    return _unique(parse_hs_code(item, field) for item in split_list(value))


def parse_country(value: str, field: str = "country") -> str:
    """An ISO 3166-1 country, given as alpha-2, alpha-3 or its English name; returns alpha-2."""
    text = str(value).strip()
    country = None
    if len(text) == 2:
        country = pycountry.countries.get(alpha_2=text.upper())
    elif len(text) == 3:
        country = pycountry.countries.get(alpha_3=text.upper())
    if country is None and len(text) > 3:
        try:
            country = pycountry.countries.lookup(text)
        except LookupError:
            country = None
    if country is None:
        raise ValidationError({field: f"'{value}' is not an ISO 3166 country "
                                      "(use a code such as DE or DEU, or the English name)"})
    return country.alpha_2


def parse_region(value: str, country: str, field: str = "region") -> str:
    """A region of ``country`` with public holidays of its own, given as its ISO 3166-2 code
    with or without the country (DE-HH or HH); returns the code without the country ("" when
    none is given)."""
    from registry.services.calendar import regions_of

    text = str(value or "").strip().upper()
    if not text:
        return ""
    if text.startswith(f"{country}-"):
        text = text[len(country) + 1:]
    known = regions_of(country)
    if text not in known:
        if not known:
            raise ValidationError({field: f"{country}'s public holidays are the same everywhere: leave the region "
                                          "empty"})
        raise ValidationError({field: f"'{value}' is not a region of {country} with holidays of its own "
                                      f"(one of: {', '.join(known)})"})
    return text


def parse_zone(value: str, country: str, field: str = "zone") -> str:
    """An office's time zone: one of ``country``'s IANA zones, matched without regard to case
    (america/los_angeles); with none given, the country's default (``calendar.default_zone``)."""
    from registry.services.calendar import default_zone, zones_of

    text = str(value or "").strip()
    if not text:
        return default_zone(country)
    known = zones_of(country)
    found = next((zone for zone in known if zone.lower() == text.lower()), None)
    if found is None:
        # Cities before the sub-regions of a state (America/Indiana/Vevay): the list can be long.
        ordered = sorted(known, key=lambda zone: zone.count("/") > 1)
        shown = ", ".join(ordered[:16]) + (f" and {len(known) - 16} more" if len(known) > 16 else "")
        raise ValidationError({field: f"'{text}' is not a time zone of {country}"
                                      + (f" (one of: {shown})" if known else "")})
    return found


def parse_countries(value: str | Iterable[str] | None, field: str = "countries") -> list[str]:
    return _unique(parse_country(item, field) for item in split_list(value))


def parse_jurisdictions(value: str | Iterable[str] | None,
                        field: str = "protection_jurisdictions") -> list[str]:
    """Countries or regional jurisdictions (EU) where customs protection applies."""
    result = []
    for item in split_list(value):
        if item.upper() in REGIONAL_JURISDICTIONS:
            result.append(item.upper())
        else:
            result.append(parse_country(item, field))
    return _unique(result)


def parse_currency(value: str, field: str = "currency") -> str:
    code = str(value).strip().upper()
    if pycountry.currencies.get(alpha_3=code) is None:
        raise ValidationError({field: f"'{value}' is not an ISO 4217 currency code (e.g. EUR, USD)"})
    return code


def parse_price(value: str | Decimal | float | None, field: str) -> Decimal | None:
    if value is None or str(value).strip() == "":
        return None
    try:
        price = Decimal(str(value).strip().replace(",", ""))
    except InvalidOperation:
        raise ValidationError({field: f"'{value}' is not a number"}) from None
    if not price.is_finite() or price < 0:
        raise ValidationError({field: "a price must be zero or more"})
    if price >= Decimal("1e10"):
        raise ValidationError({field: "a price must be below 10,000,000,000"})
    return price.quantize(Decimal("0.01"))


def check_price_range(price_min: Decimal | None, price_max: Decimal | None,
                      currency: str | None) -> None:
    if price_min is not None and price_max is not None and price_min > price_max:
        raise ValidationError({"price_min": f"the minimum price {price_min} is above "
                                            f"the maximum {price_max}"})
    if (price_min is not None or price_max is not None) and not currency:
        raise ValidationError({"currency": "give the currency of the price range"})


def parse_nice_classes(value: str | Iterable[str] | None, field: str = "nice_classes") -> list[int]:
    classes = []
    for item in split_list(value):
        if not item.isdigit() or not 1 <= int(item) <= 45:
            raise ValidationError({field: f"Nice class '{item}' must be a number from 1 to 45"})
        classes.append(int(item))
    return sorted(set(classes))


def parse_date(value: str | date | None, field: str) -> date | None:
    if value is None or value == "":
        return None
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value).strip())
    except ValueError:
        raise ValidationError({field: f"'{value}' is not a date (use YYYY-MM-DD)"}) from None


def _unique(items: Iterable[str]) -> list:
    seen: dict = {}
    for item in items:
        seen.setdefault(item, None)
    return list(seen)
