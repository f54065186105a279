"""A product as its pages show it: under which right customs protect it and until when, who is
authorised to make and ship it, and one label on everything customs see and other holders do not."""

from __future__ import annotations

import re
from datetime import date, timedelta
from pathlib import Path

from registry.models import Product, Right
from registry.services import products

#: What ``customs_only`` in templates/macros.html draws: the one label of confidential fields.
CUSTOMS_ONLY = ('<span class="govuk-body-s app-customs-only">(customs only<span class="govuk-visually-hidden">'
                ': other rights holders never see this</span>)</span>')
TEMPLATES = Path(__file__).resolve().parents[2] / "templates"


def long_date(day: date) -> str:
    return day.strftime("%d %B %Y")


def product_pages(signed_in, world) -> dict[str, str]:
    """The product of organisation A as its holder's dossier and the officer's registry show it."""
    product_id = world.a.product.id
    return {"dossier": signed_in(world.a.holder).get(f"/dossier/products/{product_id}").get_data(as_text=True),
            "registry": signed_in(world.officer).get(f"/registry/products/{product_id}").get_data(as_text=True)}


def set_dates(session, world, *, protection_until: date, registration_expiry: date | None = None) -> None:
    # Written as the days pass, not through the form: the service refuses a date already gone.
    right = session.get(Right, world.a.right.id)
    right.protection_valid_from = min(protection_until, date.today()) - timedelta(days=30)
    right.protection_valid_until = protection_until
    right.registration_expiry = registration_expiry
    session.commit()


def test_the_product_shows_its_right_until_when_it_protects_and_who_may_make_and_ship_it(signed_in, world):
    until = world.a.right.protection_valid_until
    pages = product_pages(signed_in, world)
    for where, page in pages.items():
        assert "ALPHA (EUIPO ALPHA-001)" in page, where
        protection = re.search(r"Customs protection\s*</dt>\s*<dd[^>]*>(.*?)</dd>", page, re.S).group(1)
        assert f"until <strong>{long_date(until)}</strong>" in protection, where
        assert '<strong class="govuk-tag govuk-tag--green">in force</strong>' in protection, where
        assert "AFA-ALPHA" in protection and "in EU" in protection, where
        assert "govuk-warning-text" not in page, where  # nothing to flag
        suppliers = page[page.index('id="authorised-suppliers"'):]
        assert "Authorised supply chain" in suppliers and "ALPHA Factory Co., Ltd." in suppliers, where
        assert "Manufacturer" in suppliers and "SUPPLIER-CANARY-ALPHA" in suppliers, where
    # The holder's own page links the mark to the right's page.
    assert f'href="/dossier/rights/{world.a.right.id}">ALPHA (EUIPO ALPHA-001)</a>' in pages["dossier"]


def test_a_right_ending_soon_or_ended_is_flagged_plainly(signed_in, session, world):
    soon = date.today() + timedelta(days=3)
    set_dates(session, world, protection_until=soon, registration_expiry=date.today() + timedelta(days=400))
    for where, page in product_pages(signed_in, world).items():
        assert f"Customs protection for ALPHA ends on {long_date(soon)}, in " in page, where
        assert re.search(r'govuk-tag--orange">ends in \d working days?</strong>', page), where
        assert 'govuk-tag--green">in force</strong>' in page, where  # the registration runs on

    ended, expired = date.today() - timedelta(days=2), date.today() - timedelta(days=1)
    set_dates(session, world, protection_until=ended, registration_expiry=expired)
    for where, page in product_pages(signed_in, world).items():
        assert (f"Customs protection for ALPHA ended on {long_date(ended)}: goods cannot be detained "
                "under this right.") in page, where
        assert f"The registration of ALPHA expired on {long_date(expired)}." in page, where
        assert page.count('govuk-tag--red">ended</strong>') == 2, where
    holder_page = signed_in(world.officer).get(f"/registry/holders/{world.a.organisation.id}").get_data(as_text=True)
    assert 'customs protection <strong class="govuk-tag govuk-tag--red">ended</strong>' in holder_page
    assert f"registration expired on {long_date(expired)}" in holder_page


def test_a_product_under_no_right_says_customs_cannot_detain_under_it(signed_in, session, world):
    product = products.register_product(session, world.a.holder, world.a.organisation.id, {"name": "Alpha Sock"})
    session.commit()
    page = signed_in(world.officer).get(f"/registry/products/{product.id}").get_data(as_text=True)
    assert "This product is not linked to a right: customs cannot detain goods under it." in page
    assert "ALPHA Factory Co., Ltd." in page  # the holder's supply chain all the same
    assert session.get(Product, product.id).right_id is None


def test_what_customs_see_and_other_holders_do_not_has_one_label_everywhere(signed_in, world):
    pages = product_pages(signed_in, world)
    holder = signed_in(world.a.holder)
    pages["suppliers"] = holder.get("/dossier/suppliers").get_data(as_text=True)
    for where, page in pages.items():
        assert CUSTOMS_ONLY in page, where
        for variant in ("It is confidential", "Shown to customs officers and legal staff only",
                        "<strong>Covert:</strong>", "(covert)"):
            assert variant not in page, (where, variant)
    dossier = pages["dossier"]
    assert f"Covert features {CUSTOMS_ONLY}" in dossier and f"Authorised supply chain {CUSTOMS_ONLY}" in dossier
    form = holder.get("/dossier/products/new").get_data(as_text=True)
    assert "Customs only: other rights holders never see them." in form
    # Every template says it through the one macro, none in words of its own (base.html's footer
    # says that reads of confidential data are recorded: a notice, not a label).
    own_words = [str(path.relative_to(TEMPLATES)) for path in TEMPLATES.rglob("*.html")
                 if path.name not in ("macros.html", "base.html")
                 and re.search(r"customs only|confidential|\(covert\)", path.read_text(), re.I)]
    assert own_words == [], own_words


def _list_row(page: str, label: str) -> str:
    row = page[page.index(label):]
    return row[:row.index("</tr>")]


def test_product_lists_show_where_each_right_stands(signed_in, session, world):
    """The officer's registry list (read from the search index) and the holder's own product list
    (read through the ORM) both say whether customs protection is in force, and until when."""
    until = world.a.right.protection_valid_until
    lists = {"registry": signed_in(world.officer).get("/registry?q=runner").get_data(as_text=True),
             "dossier": signed_in(world.a.holder).get("/dossier/products").get_data(as_text=True)}
    for where, page in lists.items():
        row = _list_row(page, "ALPHA Runner")
        assert 'govuk-tag--green">in force</strong>' in row and f"until {until.strftime('%d %b %Y')}" in row, where

    ended = date.today() - timedelta(days=2)
    set_dates(session, world, protection_until=ended)
    registry = signed_in(world.officer).get("/registry?q=runner").get_data(as_text=True)
    row = _list_row(registry, "ALPHA Runner")
    assert 'govuk-tag--red">ended</strong>' in row and f"ended on {ended.strftime('%d %b %Y')}" in row
    # Another holder's right in the same list keeps its own standing.
    assert 'govuk-tag--green">in force</strong>' in _list_row(registry, "BETA Runner")
    row = _list_row(signed_in(world.a.holder).get("/dossier/products").get_data(as_text=True), "ALPHA Runner")
    assert 'govuk-tag--red">ended</strong>' in row
