"""Supply chain: authorised suppliers, near copies of their names, unknown suppliers."""

from __future__ import annotations

import pytest

from matchers.scoring import supplier_signal
from matchers.suppliers import check_supplier, company_key
from matchers.types import Reference, Supplier

AUTHORISED = (
    Supplier("Acme Manufactoring Company Limited", "CN"),
    Supplier("Acme Europe GmbH", "DE"),
    Supplier("Calzaturificio Acmé S.p.A.", "IT"),
    Supplier("Acme Polska Sp. z o.o.", "PL"),
)
ACME = Reference("acme", "ACME", authorized_suppliers=AUTHORISED)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("Acme Manufactoring Company Limited", "ACME MANUFACTORING CO., LTD."),
        ("Acme Europe GmbH", "acme europe g.m.b.h"),
        ("Calzaturificio Acmé S.p.A.", "CALZATURIFICIO ACME SPA"),
        ("Acme Polska Sp. z o.o.", "Acme Polska sp.z.o.o"),
        ("Tan & Sons Pte. Ltd.", "Tan and Sons Pte Ltd"),
        ("Muller AG", "Müller AG"),
    ],
)
def test_same_company_after_normalisation(a: str, b: str) -> None:
    assert company_key(a.replace("ü", "u")) == company_key(b)


def test_legal_form_only_name_keeps_words() -> None:
    assert company_key("Company Limited") == "company"


def test_exact_authorised_supplier() -> None:
    check = check_supplier("ACME MANUFACTORING CO., LTD.", "China", AUTHORISED)
    assert check.verdict == "authorised"
    sig = supplier_signal("ACME MANUFACTORING CO., LTD.", None, ACME)
    assert sig.score == 0.0 and "is the authorised supplier" in sig.reason


def test_near_copy_is_suspicious_and_names_both() -> None:
    # The authorised factory is registered as "Manufactoring"; the declared correctly spelt
    # "Manufacturing" is a different company name one letter away: the shell-company trick.
    check = check_supplier("Acme Manufacturing Co Ltd", None, AUTHORISED)
    assert check.verdict == "near-copy" and check.edits == 1
    sig = supplier_signal("Acme Manufacturing Co Ltd", None, ACME)
    assert sig.score == 1.0
    assert "'Acme Manufacturing Co Ltd'" in sig.reason
    assert "'Acme Manufactoring Company Limited'" in sig.reason


def test_unknown_supplier_names_the_count() -> None:
    sig = supplier_signal("Shenzen Sportwear Co", None, ACME)
    assert sig.reason == ("declared supplier 'Shenzen Sportwear Co' is not among the 4 authorised "
                          "suppliers of ACME")
    assert sig.score >= 0.7


def test_authorised_name_in_another_country() -> None:
    check = check_supplier("Acme Europe GmbH", "China", AUTHORISED)
    assert check.verdict == "authorised-other-country"
    assert supplier_signal("Acme Europe GmbH", "CN", ACME).score > 0.3


def test_no_authorised_list_or_no_supplier() -> None:
    assert not supplier_signal("X Ltd", None, Reference("b", "B")).available
    assert not supplier_signal(None, None, ACME).available


def test_short_names_are_not_near_copies() -> None:
    assert check_supplier("Abc Ltd", None, (Supplier("Abd Ltd"),)).verdict == "unknown"


def test_cyrillic_company_names_are_transliterated() -> None:
    assert company_key("ООО Ромашка") == company_key("Romashka LLC") == "romashka"
    assert company_key("Шанхай Текстиль Ко., Лтд.") == company_key("Shankhai Tekstil Co., Ltd.")
