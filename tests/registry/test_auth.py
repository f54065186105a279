"""Sign-in, server-side session revocation, CSRF and the login rate limit."""

from __future__ import annotations

from sqlalchemy import func, select

from registry.models import Product, User
from registry.services import users
from tests.registry.conftest import PASSWORD


def _copy_cookie(source, target) -> None:
    cookie = source.raw.get_cookie("session")
    target.raw.set_cookie("session", cookie.value)


def test_sign_in_and_out(signed_in, world):
    client = signed_in(world.a.holder)
    assert client.get("/dossier").status_code == 200
    assert client.post("/logout").status_code == 302
    assert client.get("/dossier").status_code == 302  # back to the sign-in page


def test_wrong_password_is_refused_without_saying_which_part(client_factory, world):
    client = client_factory()
    response = client.login(world.a.holder.email, "not-the-password")
    assert response.status_code == 400
    assert "e-mail address or password is not right" in response.get_data(as_text=True)
    response = client.login("nobody@test.example", "not-the-password")
    assert "e-mail address or password is not right" in response.get_data(as_text=True)


def test_copied_cookie_stops_working_after_logout(signed_in, client_factory, world):
    client = signed_in(world.a.holder)
    thief = client_factory()
    _copy_cookie(client, thief)
    assert thief.get("/dossier").status_code == 200
    client.post("/logout")
    assert thief.get("/dossier").status_code == 302


def test_password_change_ends_other_sessions(signed_in, client_factory, world):
    client = signed_in(world.a.holder)
    other = signed_in(world.a.holder)
    copied = client_factory()
    _copy_cookie(client, copied)
    client.refresh_token("/account/password")
    response = client.post("/account/password", {"current_password": PASSWORD,
                                                  "new_password": "a-brand-new-passphrase",
                                                  "confirm": "a-brand-new-passphrase"})
    assert response.status_code == 302
    assert client.get("/dossier").status_code == 200  # the one that changed it stays in
    assert other.get("/dossier").status_code == 302
    assert copied.get("/dossier").status_code == 302
    assert client_factory().login(world.a.holder.email, "a-brand-new-passphrase").status_code == 302


def test_wrong_current_password_changes_nothing(signed_in, session, world):
    client = signed_in(world.a.holder)
    old_hash = world.a.holder.password_hash
    response = client.post("/account/password", {"current_password": "wrong-wrong-wrong",
                                                  "new_password": "a-brand-new-passphrase",
                                                  "confirm": "a-brand-new-passphrase"})
    assert response.status_code == 400
    assert "current password is not correct" in response.get_data(as_text=True)
    session.expire_all()
    assert session.get(User, world.a.holder.id).password_hash == old_hash


def test_disabled_account_is_signed_out_at_once(signed_in, session, world):
    client = signed_in(world.a.holder)
    users.set_user_active(session, world.admin, session.get(User, world.a.holder.id), False)
    session.commit()
    assert client.get("/dossier").status_code == 302
    assert client.login(world.a.holder.email).status_code == 400


def test_post_without_csrf_token_is_refused_and_changes_nothing(signed_in, session, world):
    client = signed_in(world.a.holder)
    before = session.scalar(select(func.count(Product.id)))
    response = client.post("/dossier/products/new", {"name": "Sneaky", "model": "X"}, csrf=False)
    assert response.status_code == 400
    assert "security token" in response.get_data(as_text=True)
    response = client.post(f"/dossier/products/{world.a.product.id}/delete", csrf=False)
    assert response.status_code == 400
    assert session.scalar(select(func.count(Product.id))) == before


def test_login_is_rate_limited(app, client_factory, world):
    app.config["RATELIMIT_ENABLED"] = True
    from registry.extensions import limiter

    limiter.enabled = True
    try:
        client = client_factory()
        statuses = [client.login(world.a.holder.email, "wrong-password-x").status_code for _ in range(12)]
    finally:
        limiter.enabled = False
        limiter.reset()
    assert statuses[:10] == [400] * 10
    assert statuses[10:] == [429, 429]


def test_signup_waits_for_approval(client_factory, session, world):
    client = client_factory()
    client.refresh_token("/signup")
    response = client.post("/signup", {"organisation": "Gamma Optics", "country": "Sweden",
                                       "name": "Greta", "email": "greta@gamma.example",
                                       "password": "long-enough-password"})
    assert response.status_code == 302
    client.login("greta@gamma.example", "long-enough-password")
    page = client.get("/dossier").get_data(as_text=True)
    assert "pending" in page and "must approve" in page
    client.refresh_token("/dossier/products/new")
    response = client.post("/dossier/products/new", {"name": "Lens"})
    assert response.status_code == 403
    assert "awaiting approval" in response.get_data(as_text=True)


def test_signup_refuses_a_taken_name(client_factory, world):
    client = client_factory()
    client.refresh_token("/signup")
    response = client.post("/signup", {"organisation": "alpha brands gmbh", "country": "DE",
                                       "name": "X", "email": "x@x.example", "password": "long-enough-password"})
    assert response.status_code == 400
    assert "already registered" in response.get_data(as_text=True)


def test_a_token_form_sent_again_makes_no_second_token(signed_in, session, world):
    from registry.models import ApiToken

    client = signed_in(world.officer)
    client.refresh_token("/account/tokens")
    first = client.post("/account/tokens", {"name": "Port system"})
    assert first.status_code == 200 and "cgr_" in first.get_data(as_text=True)
    again = client.post("/account/tokens", {"name": "port system"})  # the page reloaded, or the same name
    assert again.status_code == 400 and "already have a token named" in again.get_data(as_text=True)
    assert session.scalar(select(func.count(ApiToken.id)).where(ApiToken.user_id == world.officer.id)) == 1
