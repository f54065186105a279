"""GTIN check digits, GS1 prefixes, HS codes and countries."""

from __future__ import annotations

import pytest

from matchers.codes import gtin_has_prefix, hs_level, normalize_gtin, normalize_hs
from matchers.countries import country_code


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("4006381333931", "04006381333931"),  # GTIN-13
        ("400-6381-33393-1", "04006381333931"),
        ("036000291452", "00036000291452"),  # GTIN-12 (UPC-A)
        ("96385074", "00000096385074"),  # GTIN-8
        ("10012345678902", "10012345678902"),  # GTIN-14
    ],
)
def test_valid_gtins_normalise_to_14_digits(raw: str, expected: str) -> None:
    assert normalize_gtin(raw) == (expected, "")


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        ("4006381333932", "wrong check digit"),
        ("12345", "has 5 digits"),
        ("40063813339A1", "other than digits"),
        ("", "empty"),
        (None, "not text"),
    ],
)
def test_invalid_gtins_say_why(raw: object, problem: str) -> None:
    g, why = normalize_gtin(raw)
    assert g is None and problem in why


def test_gs1_prefix_membership() -> None:
    g = normalize_gtin("4006381333931")[0]
    assert g is not None
    assert gtin_has_prefix(g, "4006381")
    assert not gtin_has_prefix(g, "4006382")
    upc = normalize_gtin("036000291452")[0]
    assert upc is not None
    assert gtin_has_prefix(upc, "036000")  # U.P.C. company prefix
    assert gtin_has_prefix(upc, "0036000")  # the same written for GTIN-13
    assert not gtin_has_prefix(g, "")


def test_hs_codes() -> None:
    assert normalize_hs("6403.99") == "640399"
    assert normalize_hs("6403 99 10") == "64039910"
    assert normalize_hs("64") == "64"
    assert normalize_hs("x") is None and normalize_hs("1") is None and normalize_hs(None) is None
    assert hs_level("640399", "640399") == 6
    assert hs_level("640399", "640391") == 4
    assert hs_level("640399", "640299") == 2
    assert hs_level("640399", "950300") == 0
    assert hs_level("640399", "64") == 2
    assert hs_level("6403", "640399") == 4


@pytest.mark.parametrize(
    ("raw", "code"),
    [("CN", "CN"), ("CHN", "CN"), ("China", "CN"), ("china", "CN"), ("Viet Nam", "VN"),
     ("Vietnam", "VN"), ("UK", "GB"), ("United Kingdom", "GB"), ("Russia", "RU"),
     ("Turkey", "TR"), ("south korea", "KR"), ("Hong Kong", "HK"), ("USA", "US")],
)
def test_countries(raw: str, code: str) -> None:
    assert country_code(raw) == code


@pytest.mark.parametrize("raw", ["Atlantis", "", "ZZ", "x" * 500, None, 12])
def test_unknown_countries_are_none(raw: object) -> None:
    assert country_code(raw) is None  # type: ignore[arg-type]
