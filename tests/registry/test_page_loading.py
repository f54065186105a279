"""The read pages loaded and drawn for less give exactly what they gave before.

The registry search, the case page and the check page read what they show in fewer queries
(Core rows, empty collections known without a query, one statement for a check and its case);
form fields are drawn without a second pass through Flask's ``render_template`` and kept by
their params; each role's menu is built once. Each test here compares a page or a fragment with
what the plain way makes (every relationship loaded as the template reaches it, the library's
own widget rendering), and shows that nothing kept for one user reaches another.
"""

from __future__ import annotations

import random
import re

import pytest
from flask import render_template
from flask_login import login_user
from govuk_frontend_wtf.gov_form_base import GovFormBase
from markupsafe import Markup
from sqlalchemy import select

from registry.extensions import db
from registry.forms import widgets
from registry.forms.checks import CheckForm, DecisionForm, VerdictForm
from registry.forms.dossier import SearchForm
from registry.models import Check, DetentionCase, Product, Role, User
from registry.services import cases, evidence
from registry.services.registry_search import RegistryIndex, search_listed, search_products
from registry.web import cases as case_pages
from registry.web import fragments, navigation
from registry.web import registry_browse
from tests.registry.test_evidence import PROFILES, case, signer  # noqa: F401  (fixtures)
from tests.registry.test_registry_search import _queries, crowded_registry  # noqa: F401  (fixture)


def same_page(html: str) -> str:
    """A page without what differs between two requests for it: CSRF tokens and CSP nonces."""
    html = re.sub(r'(<input[^>]*name="csrf_token"[^>]*value=")[^"]*"', r'\1-"', html)
    return re.sub(r'nonce="[^"]*"', 'nonce="-"', html)


# -- registry search ---------------------------------------------------------------------------

def _shown(item) -> tuple:
    """What the product table shows of a product."""
    return (item.id, item.label, item.category, list(item.gtins), item.organisation.name,
            item.right.mark_text if item.right else None, item.images[0].id if item.images else None)


def test_listed_products_show_what_the_products_show(session, world, crowded_registry):  # noqa: F811
    index = RegistryIndex()
    for query in _queries(session, random.Random(5)) + [world.a.product.name, "runner"]:
        for limit in (200, 3):
            listed = search_listed(session, world.officer, query, limit=limit, index=index)
            plain = search_products(session, world.officer, query, limit=limit, index=index)
            assert [_shown(p) for p in listed] == [_shown(p) for p in plain], f"query {query!r}"
    shown = {p.id: _shown(p) for p in search_listed(session, world.officer, "runner", index=index)}
    assert shown[world.a.product.id][-1] == world.a.image.id  # the first image is found
    # A holder's search is their own dossier, as before (ORM products from the SQL search).
    assert [p.id for p in search_listed(session, world.b.holder, "runner", index=index)] == [world.b.product.id]


def test_index_scan_matches_within_one_product_only(session, world, crowded_registry):  # noqa: F811
    index = RegistryIndex()
    search_listed(session, world.officer, "", index=index)
    first, second = index._entries[0].text, index._entries[1].text
    # The end of one product's text and the start of the next (adjacent in the joined text)
    # never make a match, with or without the boundary between them.
    for query in (first[-4:] + second[:4], first[-4:] + "\x1e" + second[:4], "run\x1eners"):
        listed = [p.id for p in search_listed(session, world.officer, query, index=index)]
        assert listed == [p.id for p in search_products(session, world.officer, query, index=index)], repr(query)
        assert index._entries[1].product_id not in listed or query.lower() in second


def test_registry_page_is_the_same_as_from_orm_products(signed_in, world, crowded_registry, monkeypatch):  # noqa: F811
    officer = signed_in(world.officer)
    for query in ("runner", "alpha", "4006381333931", "zzzz-nothing", ""):
        page = officer.get(f"/registry?q={query}").get_data(as_text=True)
        with monkeypatch.context() as patch:
            patch.setattr(registry_browse, "search_listed", search_products)
            plain = officer.get(f"/registry?q={query}").get_data(as_text=True)
        assert same_page(page) == same_page(plain), query


# -- case page ---------------------------------------------------------------------------------

def _plain_case_page(case_id: int) -> tuple[None, bool]:
    """Nothing loaded ahead: the template reaches every relationship itself, exports are read."""
    return None, True


def test_case_page_is_the_same_as_with_every_relationship_loaded_plainly(
        app, session, world, blobs, signer, case, signed_in, monkeypatch):  # noqa: F811
    evidence.export_evidence(session, world.legal, blobs, signer, case.id, profiles=PROFILES)
    session.commit()
    full = case
    empty = cases.open_detention(session, world.officer, PROFILES, _bare_check(session, world).id, {
        "jurisdiction": "EU", "procedure": "standard", "legal_basis": "ex_officio",
        "office": "Hamburg customs office", "office_country": "DE"})
    session.commit()
    for user in (world.officer, world.legal, world.a.holder, world.admin):
        client = signed_in(user)
        for item in (full, empty):
            if user.role == Role.HOLDER and item.organisation_id != user.organisation_id:
                continue
            page = client.get(f"/cases/{item.id}").get_data(as_text=True)
            with monkeypatch.context() as patch:
                patch.setattr(case_pages, "_load_case_page", _plain_case_page)
                plain = client.get(f"/cases/{item.id}").get_data(as_text=True)
            assert same_page(page) == same_page(plain), (user.email, item.id)
    officer_page = signed_in(world.officer).get(f"/cases/{full.id}").get_data(as_text=True)
    for shown in ("Photo 1 of the detained goods", "S-1", "the embossed logo is printed, not embossed",
                  "Download"):
        assert shown in officer_page
    legal_page = signed_in(world.legal).get(f"/cases/{empty.id}").get_data(as_text=True)
    assert "No photos." in legal_page and "No samples taken." in legal_page and "Download" not in legal_page


def test_each_case_view_is_still_audited(session, world, case, signed_in):  # noqa: F811
    from registry.models import AuditEvent

    def views() -> int:
        session.expire_all()
        return len(session.scalars(select(AuditEvent).where(AuditEvent.action == "case.view",
                                                            AuditEvent.object_id == case.id)).all())

    before = views()
    client = signed_in(world.officer)
    for _ in range(3):
        assert client.get(f"/cases/{case.id}").status_code == 200
    assert views() == before + 3


def _bare_check(session, world) -> Check:
    """A check with no photos, suggestions or case."""
    check = Check(officer_id=world.officer.id, declared_brand="Nothing Like It", description="plain boxes",
                  snapshot_id="snap", thresholds_version="t/1")
    session.add(check)
    session.commit()
    return check


# -- check page --------------------------------------------------------------------------------

def _plain_check_page(app, user_id: int, check_id: int) -> str:
    """The check page as it was made before: the check got by id, every relationship loaded as
    the template reaches it, the case read as an object."""
    with app.test_request_context(f"/checks/{check_id}"):
        app.preprocess_request()  # the CSP nonce, as for a request served
        login_user(db.session.get(User, user_id))
        check = db.session.get(Check, check_id)
        image_ids = {e["reference_image_id"] for s in check.suggestions for e in s.evidence
                     if e.get("reference_image_id")}
        from registry.models import ReferenceImage

        references = {i.id: i for i in db.session.scalars(
            select(ReferenceImage).where(ReferenceImage.id.in_(image_ids)))} if image_ids else {}
        right_ids = [s.right_id for s in check.suggestions if s.right_id]
        products = {}
        for product in (db.session.scalars(select(Product).where(Product.right_id.in_(right_ids))
                                           .order_by(Product.name)) if right_ids else ()):
            products.setdefault(product.right_id, []).append(product)
        found = db.session.scalar(select(DetentionCase).where(DetentionCase.check_id == check.id))
        from registry.web.checks import SIGNAL_GROUPS, SIGNAL_NAMES

        html = render_template("checks/show.html", check=check, references=references, products=products,
                               verdict_form=VerdictForm(), decision_form=DecisionForm(),
                               case_id=found.id if found else None, signal_groups=SIGNAL_GROUPS,
                               signal_names=SIGNAL_NAMES)
        db.session.rollback()
        return html


def test_check_page_is_the_same_as_with_every_relationship_loaded_plainly(app, session, world, case, signed_in):  # noqa: F811
    detained = case.check_id
    bare = _bare_check(session, world).id
    session.expire_all()
    for user in (world.officer, world.legal, world.admin):
        client = signed_in(user)
        for check_id in (detained, bare):
            page = client.get(f"/checks/{check_id}").get_data(as_text=True)
            session.expire_all()
            assert same_page(page) == same_page(_plain_check_page(app, user.id, check_id)), (user.email, check_id)
    page = signed_in(world.officer).get(f"/checks/{detained}").get_data(as_text=True)
    assert f"case #{case.id}" in page and "How to recognise genuine ALPHA Runner R1" in page
    assert "contact@alpha.example" in page and "COVERT-CANARY-ALPHA" in page
    # A check with nothing close suggests release; the officer may still detain, by a plain link.
    assert "Detain the goods anyway and open a case" in signed_in(world.officer).get(f"/checks/{bare}").get_data(as_text=True)


# -- form fields -------------------------------------------------------------------------------

def _library_render(widget, params: dict) -> Markup:
    """The field as govuk_frontend_wtf draws it itself (through Flask's render_template)."""
    return GovFormBase.render(widget, params)


def test_fields_are_drawn_as_the_library_draws_them(app, world, monkeypatch):
    calls = [{}, {"params": {"classes": "govuk-input--width-20", "type": "search"}}, {"params": {"rows": 2}}]
    with app.test_request_context("/checks/new", method="POST", data={"declared_brand": "Alpha", "quantity": "7"}):
        login_user(db.session.get(User, world.officer.id))
        checked = CheckForm()
        checked.validate()
        checked.declared_brand.errors = ["keep this under 200 characters"]
        forms = [DecisionForm(), DecisionForm(formdata=None, decision="release", reason="looked <fake> & cheap"),
                 VerdictForm(), SearchForm(formdata=None, q="Runner <b>&"), checked]
        fields = [field for form in forms for field in form if isinstance(field.widget, widgets._Drawn)]
        ours = [field(**kwargs) for field in fields for kwargs in calls]
        again = [field(**kwargs) for field in fields for kwargs in calls]  # from what was kept
        with monkeypatch.context() as patch:
            patch.setattr(widgets._Drawn, "render", GovFormBase.render)  # the library's own drawing
            library = [field(**kwargs) for field in fields for kwargs in calls]
    assert len(fields) >= 20 and len(fragments.fragments(app)) > 0
    assert ours == library and again == library
    assert any("keep this under 200 characters" in html for html in ours)
    assert any("looked &lt;fake&gt; &amp; cheap" in html for html in ours)


def test_kept_fields_never_carry_one_users_values_to_another(app, world, signed_in):
    alpha, beta = signed_in(world.a.holder), signed_in(world.b.holder)
    first = alpha.get("/registry?q=alpha-private-words").get_data(as_text=True)
    second = beta.get("/registry?q=beta").get_data(as_text=True)
    assert "alpha-private-words" in first and "alpha-private-words" not in second
    assert 'value="beta"' in second
    again = beta.get("/registry?q=alpha-private-words").get_data(as_text=True)  # the same params: the same HTML
    assert 'value="alpha-private-words"' in again


def test_kept_fields_are_told_apart_by_type_and_order():
    frozen = fragments.frozen
    assert frozen({"text": "1"}) != frozen({"text": 1})
    assert frozen({"v": True}) != frozen({"v": 1})
    assert frozen({"html": Markup("<b>")}) != frozen({"html": "<b>"})
    assert frozen({"a": 1, "b": 2}) != frozen({"b": 2, "a": 1})
    with pytest.raises(fragments.NotPlain):
        frozen({"value": object()})
    kept = fragments.Fragments(size=2)
    for n in range(3):
        kept.put(("t", n), Markup(str(n)))
    assert len(kept) == 2 and kept.get(("t", 0)) is None and kept.get(("t", 2)) == "2"


# -- navigation --------------------------------------------------------------------------------

def _menu(page: str) -> list[tuple[str, str, bool]]:
    nav = page.split('<nav class="app-nav"', 1)[1].split("</nav>", 1)[0]
    return [(text, href, "aria-current" in item) for item, href, text in
            re.findall(r'(<li[^>]*><a class="app-nav__link" href="([^"]+)"[^>]*>([^<]+)</a>)', nav)]


def test_each_role_gets_its_own_menu_whoever_asked_first(app, world, signed_in):
    pages = {
        Role.OFFICER: (world.officer, "/checks"),
        Role.HOLDER: (world.a.holder, "/dossier/products"),
        Role.ADMIN: (world.admin, "/admin/users"),
        Role.LEGAL: (world.legal, "/cases"),
    }
    seen = {}
    for role, (user, path) in pages.items():
        menu = _menu(signed_in(user).get(path).get_data(as_text=True))
        with app.test_request_context(path):
            expected = navigation._items(role)
        assert [(text, href) for text, href, _ in menu] == expected
        assert [href for _, href, active in menu if active] == [path]
        seen[role] = menu
    assert ("New check", "/checks/new", False) in seen[Role.OFFICER]
    assert not any(text == "New check" for text, _, _ in seen[Role.LEGAL])
    assert not any(text in ("Checks", "Holders") for text, _, _ in seen[Role.HOLDER])
    # Two holders of different organisations share a menu with nothing of either in it.
    beta = _menu(signed_in(world.b.holder).get("/dossier/products").get_data(as_text=True))
    assert beta == seen[Role.HOLDER]
    assert not any("Alpha" in text or "Beta" in text for text, _, _ in beta)


def test_page_macros_given_to_templates_draw_as_imported_ones(app, world):
    params = {"govukTag": {"text": "detain", "classes": "govuk-tag--red"},
              "govukBackLink": {"href": "/checks", "text": "All checks"},
              "govukWarningText": {"text": "Overdue <since> today", "iconFallbackText": "Warning"},
              "govukSummaryList": {"rows": [{"key": {"text": "Goods"}, "value": {"text": "shoes & bags"}}]},
              "govukErrorSummary": {"titleText": "There is a problem", "errorList": [{"text": "wrong"}]},
              "govukNotificationBanner": {"type": "success", "text": "Saved."}}
    with app.test_request_context("/checks"):
        login_user(db.session.get(User, world.officer.id))
        for name, folder in navigation.PAGE_MACROS.items():
            imported = app.jinja_env.from_string(
                f'{{% from "govuk_frontend_jinja/components/{folder}/macro.html" import {name} %}}{{{{ {name}(p) }}}}')
            given = app.jinja_env.from_string(f"{{{{ {name}(p) }}}}")
            context = {"p": params[name]}
            app.update_template_context(context)
            expected = imported.render(p=params[name])
            assert given.render(context) == expected and given.render(context) == expected, name  # drawn, kept
        assert navigation.page_macros()["govukTag"](params={"text": "x"}) == \
            app.jinja_env.from_string('{% from "govuk_frontend_jinja/components/tag/macro.html" import govukTag %}'
                                      '{{ govukTag(params={"text": "x"}) }}').render()  # by keyword: simply run


def _case_of(session, world, tenant) -> DetentionCase:
    """A case opened under ``tenant``'s right."""
    from registry.models import Suggestion

    check = Check(officer_id=world.officer.id, declared_brand=tenant.right.mark_text, description="boxes of shoes",
                  snapshot_id="snap", thresholds_version="t/1")
    check.suggestions.append(Suggestion(rank=1, right_id=tenant.right.id, brand_name=tenant.right.mark_text,
                                        score=0.9, recommendation="detain", signals=[], evidence=[]))
    session.add(check)
    session.commit()
    opened = cases.open_detention(session, world.officer, PROFILES, check.id, {
        "jurisdiction": "EU", "procedure": "standard", "legal_basis": "application",
        "office": "Hamburg customs office", "office_country": "DE", "goods_description": f"shoes of {tenant.right.mark_text}"})
    session.commit()
    return opened


def test_kept_fragments_never_carry_one_organisations_case_to_another(session, world, signed_in):
    # Both cases' pages draw the same macros (summary list, tags, back link) with each case's own
    # values; every response is also searched for the other tenant's canaries (canary_sweep).
    ours, theirs = _case_of(session, world, world.a), _case_of(session, world, world.b)
    alpha, beta, officer = signed_in(world.a.holder), signed_in(world.b.holder), signed_in(world.officer)
    for _ in range(2):
        a_page = alpha.get(f"/cases/{ours.id}").get_data(as_text=True)
        b_page = beta.get(f"/cases/{theirs.id}").get_data(as_text=True)
        both = officer.get(f"/cases/{ours.id}").get_data(as_text=True) + officer.get(f"/cases/{theirs.id}").get_data(as_text=True)
        assert "Alpha Brands GmbH" in a_page and "shoes of ALPHA" in a_page
        assert "Beta Goods SA" not in a_page and "shoes of BETA" not in a_page
        assert "Beta Goods SA" in b_page and "shoes of BETA" in b_page
        assert "Alpha Brands GmbH" not in b_page and "shoes of ALPHA" not in b_page
        assert "shoes of ALPHA" in both and "shoes of BETA" in both
    assert alpha.get(f"/cases/{theirs.id}").status_code == 404
