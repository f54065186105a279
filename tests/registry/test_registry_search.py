"""Registry search over the whole registry: the in-memory index against the plain SQL search.

The index (``services.registry_search.RegistryIndex``) must give exactly what the SQL search
gives, in the same order, and see every change through the app in the next search.
"""

from __future__ import annotations

import random

import pytest
from sqlalchemy import select

from registry.models import Organisation, OrganisationStatus, Product, Right
from registry.services import organisations, products
from registry.services.registry_search import RegistryIndex, _search_in_database, search_products

SYLLABLES = ("ka", "lo", "ve", "run", "tor", "mi", "zen", "qua", "bri", "sol", "dex", "fy")


def _word(rng: random.Random) -> str:
    return "".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 4)))


@pytest.fixture
def crowded_registry(session, world):
    """About 240 products under 12 holders (two of them not approved), with generated names,
    models, categories, marks and GTINs, inserted directly."""
    rng = random.Random(7)
    holders = []
    for n in range(12):
        status = (OrganisationStatus.SUSPENDED if n == 3 else OrganisationStatus.PENDING if n == 7
                  else OrganisationStatus.APPROVED)
        holders.append(Organisation(name=f"{_word(rng).title()} Holdings {n}", country="DE", status=status))
    session.add_all(holders)
    session.flush()
    for holder in holders:
        for _ in range(rng.randint(1, 4)):
            right = Right(organisation_id=holder.id, kind="word", mark_text=_word(rng).upper(),
                          registration_number=f"R-{rng.randrange(10**6)}", office="EUIPO", nice_classes=[25])
            session.add(right)
            session.flush()
            for _ in range(rng.randint(3, 8)):
                session.add(Product(
                    organisation_id=holder.id, right_id=right.id if rng.random() < 0.8 else None,
                    name=f"{_word(rng).title()} {rng.choice(('Runner', 'Bag', 'Watch', 'Cap'))}",
                    model=rng.choice(("", f"M{rng.randrange(100)}", f"X-{_word(rng)}")),
                    category=rng.choice(("shoes", "bags", "watches", "")),
                    gtins=[f"{rng.randrange(10**12, 10**13)}"] if rng.random() < 0.5 else [],
                    hs_codes=[], production_countries=[], intended_markets=[], counterfeit_clues=[]))
    session.commit()
    return holders


def _queries(session, rng: random.Random) -> list[str]:
    names = session.scalars(select(Product.name)).all()
    marks = session.scalars(select(Right.mark_text)).all()
    holders = session.scalars(select(Organisation.name)).all()
    gtins = [g for row in session.scalars(select(Product.gtins)).all() for g in row]
    queries = ["", "   ", "runner", "RUN", "zzzz-nothing", "holdings", "m1", "x-", "shoes"]
    for pool in (names, marks, holders):
        for value in rng.sample(pool, 8):
            start = rng.randrange(len(value))
            queries.append(value[start:start + rng.randint(2, 6)])
    for gtin in rng.sample(gtins, 5):
        queries.append(gtin[2:11])  # a part of a GTIN (9 digits)
    return queries


def test_index_gives_what_the_database_search_gives(session, world, crowded_registry):
    index = RegistryIndex()
    for query in _queries(session, random.Random(3)):
        for limit in (200, 5):
            from_database = [p.id for p in _search_in_database(session, world.officer, query, limit=limit)]
            from_index = [p.id for p in search_products(session, world.officer, query, limit=limit, index=index)]
            assert from_index == from_database, f"query {query!r}, limit {limit}"
    assert index.builds == 1  # searching changes nothing: built once


def test_holders_of_suspended_or_pending_organisations_are_not_found(session, world, crowded_registry):
    index = RegistryIndex()
    hidden = {h.id for h in crowded_registry if h.status != OrganisationStatus.APPROVED}
    found = search_products(session, world.officer, "", limit=10_000, index=index)
    assert found and not hidden & {p.organisation_id for p in found}


def test_a_change_through_the_app_shows_in_the_next_search(session, world, crowded_registry):
    index = RegistryIndex()
    officer = world.officer
    assert [p.id for p in search_products(session, officer, "alpha runner", index=index)] == [world.a.product.id]
    products.update_product(session, world.a.holder, world.a.product.id, {"name": "Quindle Trainer"})
    session.commit()
    assert search_products(session, officer, "alpha runner", index=index) == []
    assert [p.id for p in search_products(session, officer, "quindle", index=index)] == [world.a.product.id]
    organisations.set_organisation_status(session, world.admin, world.a.organisation, OrganisationStatus.SUSPENDED)
    session.commit()
    assert search_products(session, officer, "quindle", index=index) == []
    assert index.builds == 3


def test_search_text_is_literal_not_a_pattern(session, world, crowded_registry):
    index = RegistryIndex()
    assert search_products(session, world.officer, "%", index=index) == []
    assert search_products(session, world.officer, "r_nner", index=index) == []


def test_a_holder_searches_only_their_own_dossier_even_with_the_index(session, world):
    index = RegistryIndex()
    mine = search_products(session, world.b.holder, "runner", index=index)
    assert [p.id for p in mine] == [world.b.product.id]
    assert index.builds == 0  # holders' searches never read the whole registry


def test_registry_page_and_api_search_through_the_app_index(app, session, world, signed_in):
    client = signed_in(world.officer)
    page = client.get("/registry?q=runner").get_data(as_text=True)
    assert "ALPHA Runner" in page and "BETA Runner" in page
    index = app.extensions["registry_index"]
    client.get("/registry?q=beta")
    assert index.builds == 1
