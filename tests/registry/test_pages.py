"""The dossier, registry and admin pages as their users drive them."""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import func, select

from registry.models import (ContactPerson, Organisation, OrganisationStatus, Product, Right,
                             Supplier, User)


def count(session, model) -> int:
    session.expire_all()
    return session.scalar(select(func.count()).select_from(model))


def test_holder_registers_a_product_through_the_form(signed_in, session, world):
    client = signed_in(world.a.holder)
    client.refresh_token("/dossier/products/new")
    response = client.post("/dossier/products/new", {
        "name": "Alpha Glide", "model": "G7", "right_id": str(world.a.right.id),
        "gtins": "4006381333931, 96385074", "hs_codes": "6404.11", "price_min": "49.90",
        "price_max": "89", "currency": "EUR", "production_countries": "VN",
        "covert_features": "micro-text on the insole"})
    assert response.status_code == 302
    product = session.scalar(select(Product).where(Product.name == "Alpha Glide"))
    assert product.gtins == ["4006381333931", "96385074"] and product.right_id == world.a.right.id
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "micro-text on the insole" in page and "no packaging image" in page


def test_bad_product_form_shows_every_error_and_stores_nothing(signed_in, session, world):
    client = signed_in(world.a.holder)
    before = count(session, Product)
    response = client.post("/dossier/products/new", {
        "name": "Alpha Bad", "gtins": "4006381333932", "hs_codes": "12", "price_min": "9",
        "price_max": "3", "currency": "EUR", "production_countries": "Narnia"})
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "There is a problem" in page  # the error summary
    assert "wrong check digit" in page and "4, 6, 8 or 10 digits" in page
    assert "not an ISO 3166 country" in page
    assert count(session, Product) == before
    # min > max is a cross-field rule: the service reports it once the fields parse.
    response = client.post("/dossier/products/new", {"name": "Alpha Bad", "price_min": "9",
                                                      "price_max": "3", "currency": "EUR"})
    assert response.status_code == 400 and "above the maximum" in response.get_data(as_text=True)
    assert count(session, Product) == before


def test_form_posted_twice_registers_once(signed_in, session, world):
    client = signed_in(world.a.holder)
    data = {"name": "Alpha Twice", "model": "T"}
    assert client.post("/dossier/products/new", data).status_code == 302
    second = client.post("/dossier/products/new", data)
    assert second.status_code == 400 and "already registered" in second.get_data(as_text=True)
    assert session.scalar(select(func.count(Product.id)).where(Product.name == "Alpha Twice")) == 1


def test_holder_edits_and_removes_a_supplier(signed_in, session, world):
    client = signed_in(world.a.holder)
    supplier_id = world.a.supplier.id
    response = client.post(f"/dossier/suppliers/{supplier_id}/edit", {
        "role": "manufacturer", "name": "Alpha Factory Co., Ltd.", "country": "Viet Nam",
        "address": "Lot 9, Binh Duong"})
    assert response.status_code == 302
    session.expire_all()
    assert session.get(Supplier, supplier_id).address == "Lot 9, Binh Duong"
    assert client.post(f"/dossier/suppliers/{supplier_id}/delete").status_code == 302
    session.expire_all()
    assert session.scalar(select(Supplier).where(Supplier.id == supplier_id)) is None


def test_holder_registers_a_right_and_its_logo(signed_in, session, world):
    import io

    from tests.registry.conftest import png_bytes

    client = signed_in(world.a.holder)
    today = date.today()
    response = client.post("/dossier/rights/new", {
        "kind": "figurative", "mark_text": "ALPHA", "registration_number": "018000001", "office": "EUIPO",
        "nice_classes": "25, 18", "protection_number": "AFA-2", "protection_jurisdictions": "EU, CH",
        "protection_valid_from": today.isoformat(),
        "protection_valid_until": (today + timedelta(days=20)).isoformat(), "small_consignments": "y"})
    assert response.status_code == 302
    right = session.scalar(select(Right).where(Right.registration_number == "018000001"))
    assert right.nice_classes == [18, 25] and right.protection_jurisdictions == ["EU", "CH"]
    assert right.small_consignments
    response = client.post(f"/dossier/rights/{right.id}/logos",
                           {"image": (io.BytesIO(png_bytes()), "logo.png")}, content_type="multipart/form-data")
    assert response.status_code == 302
    overview = client.get("/dossier").get_data(as_text=True)
    assert "Customs protection for ALPHA ends on" in overview and "working days" in overview


def test_expired_protection_dates_refused_on_the_page(signed_in, session, world):
    client = signed_in(world.a.holder)
    before = count(session, Right)
    response = client.post("/dossier/rights/new", {
        "kind": "word", "mark_text": "OLD", "registration_number": "1", "office": "USPTO",
        "nice_classes": "9", "protection_number": "X", "protection_jurisdictions": "US",
        "protection_valid_from": "2020-01-01", "protection_valid_until": "2021-01-01"})
    assert response.status_code == 400
    assert "customs protection ended on 2021-01-01" in response.get_data(as_text=True)
    assert count(session, Right) == before


def test_contacts_on_the_profile(signed_in, session, world):
    client = signed_in(world.a.holder)
    response = client.post("/dossier/contacts/new", {"name": "Dana", "email": "dana@alpha.example",
                                                     "role": "counsel", "countries": "FR, Spain"})
    assert response.status_code == 302
    contact = session.scalar(select(ContactPerson).where(ContactPerson.name == "Dana"))
    assert contact.countries == ["FR", "ES"]
    again = client.post("/dossier/contacts/new", {"name": "Dana", "email": "dana@alpha.example"})
    assert again.status_code == 400 and "already a contact" in again.get_data(as_text=True)
    assert session.scalar(select(func.count(ContactPerson.id)).where(ContactPerson.name == "Dana")) == 1
    page = client.get("/dossier/profile").get_data(as_text=True)
    assert "dana@alpha.example" in page


def test_legal_staff_read_the_registry_but_cannot_edit(signed_in, world):
    client = signed_in(world.legal)
    page = client.get(f"/registry/products/{world.a.product.id}").get_data(as_text=True)
    assert "COVERT-CANARY-ALPHA" in page
    assert client.get("/dossier/products/new").status_code == 403
    assert client.post("/dossier/products/new", {"name": "X"}).status_code == 403


def test_admin_approves_a_pending_organisation_in_the_ui(signed_in, session, world, client_factory):
    from registry.services import organisations

    user = organisations.register_organisation(session, {"name": "Gamma Ltd", "country": "GB"},
                                               user_name="G", email="g@gamma.example",
                                               password="long-enough-password")
    session.commit()
    admin = signed_in(world.admin)
    page = admin.get("/admin/organisations").get_data(as_text=True)
    assert "Gamma Ltd" in page and "pending" in page
    organisation_id = user.organisation_id
    assert admin.post(f"/admin/organisations/{organisation_id}/approve").status_code == 302
    session.expire_all()
    assert session.get(Organisation, organisation_id).status == OrganisationStatus.APPROVED
    # Approving twice says so and changes nothing.
    admin.post(f"/admin/organisations/{organisation_id}/approve")
    assert "already approved" in admin.get("/admin/organisations").get_data(as_text=True)


def test_admin_creates_and_disables_accounts(signed_in, session, world):
    admin = signed_in(world.admin)
    response = admin.post("/admin/users/new", {"name": "New Officer", "email": "new@customs.example",
                                               "role": "officer", "organisation_id": "",
                                               "password": "long-enough-password"})
    assert response.status_code == 302
    response = admin.post("/admin/users/new", {"name": "Holder", "email": "h@x.example", "role": "holder",
                                               "organisation_id": "", "password": "long-enough-password"})
    assert response.status_code == 400 and "belongs to an organisation" in response.get_data(as_text=True)
    officer = session.scalar(select(User).where(User.email == "new@customs.example"))
    assert admin.post(f"/admin/users/{officer.id}/disable").status_code == 302
    session.expire_all()
    assert not session.get(User, officer.id).active
    assert admin.post(f"/admin/users/{world.admin.id}/disable").status_code == 302
    session.expire_all()
    assert session.get(User, world.admin.id).active  # an administrator cannot lock themself out


def test_security_headers_on_pages(signed_in, world, client_factory):
    anonymous = client_factory().get("/login")
    client = signed_in(world.a.holder)
    for response in (anonymous, client.get("/dossier"), client.get("/dossier/no-such-page")):
        csp = response.headers["Content-Security-Policy"]
        assert "frame-ancestors 'none'" in csp and "'unsafe-inline'" not in csp
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["Referrer-Policy"] == "same-origin"
    assert client.get("/dossier").headers["Cache-Control"] == "no-store"
    cookie = anonymous.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_unknown_object_is_a_clear_404(signed_in, world):
    response = signed_in(world.a.holder).get("/dossier/products/999999")
    assert response.status_code == 404 and "Page not found" in response.get_data(as_text=True)


def test_admin_changes_a_role_and_the_user_must_sign_in_again(signed_in, session, world):
    admin = signed_in(world.admin)
    officer = signed_in(world.officer)
    response = admin.post(f"/admin/users/{world.officer.id}/role", {"role": "legal", "organisation_id": ""})
    assert response.status_code == 302
    session.expire_all()
    assert session.get(User, world.officer.id).role.value == "legal"
    assert officer.get("/registry").status_code == 302
    # A rights holder needs an organisation: refused, nothing changed.
    admin.post(f"/admin/users/{world.legal.id}/role", {"role": "holder", "organisation_id": ""})
    session.expire_all()
    assert session.get(User, world.legal.id).role.value == "legal"
    assert "belongs to an organisation" in admin.get("/admin/users").get_data(as_text=True)


def test_ids_beyond_the_database_range_are_not_found(world, signed_in):
    client = signed_in(world.officer)
    assert client.get("/cases/9223372036854775808").status_code == 404
    assert client.get("/checks/99999999999").status_code == 404
