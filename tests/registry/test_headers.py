"""Security headers on every GET route, generated from the URL map.

Every page, download and JSON route is fetched by every role (and by nobody), with the ids of
real objects, whatever the answer (200, 403, 404, a redirect to sign in): each response must
carry a Content-Security-Policy that allows no inline or evaluated script and no framing,
``nosniff``, a Referrer-Policy and X-Frame-Options, and, when someone is signed in or a token
is sent, ``no-store``. A new GET route is covered the moment it is added.
"""

from __future__ import annotations

import pytest

from registry.services import api_tokens
from tests.registry.test_tenancy import object_url, world_with_check  # noqa: F401 (fixture)


def get_routes(app, *, api: bool) -> list:
    return [rule for rule in app.url_map.iter_rules()
            if "GET" in rule.methods and rule.endpoint != "static" and rule.rule.startswith("/api/") == api]


def header_problems(url: str, response, *, signed_in: bool) -> list[str]:
    problems = []
    csp = {part.strip().split(" ", 1)[0]: part.strip() for part in
           response.headers.get("Content-Security-Policy", "").split(";") if part.strip()}
    scripts = csp.get("script-src", csp.get("default-src", ""))
    if not scripts or "'unsafe-inline'" in scripts or "'unsafe-eval'" in scripts:
        problems.append(f"script-src allows inline or evaluated script, or is missing: {scripts!r}")
    if csp.get("frame-ancestors") != "frame-ancestors 'none'":
        problems.append(f"frame-ancestors is {csp.get('frame-ancestors')!r}")
    expected = {"X-Content-Type-Options": "nosniff", "Referrer-Policy": "same-origin", "X-Frame-Options": "DENY"}
    for name, value in expected.items():
        if response.headers.get(name) != value:
            problems.append(f"{name} is {response.headers.get(name)!r}")
    if signed_in and "no-store" not in response.headers.get("Cache-Control", ""):
        problems.append(f"Cache-Control is {response.headers.get('Cache-Control')!r} for a signed-in user")
    for cookie in response.headers.getlist("Set-Cookie"):
        if "HttpOnly" not in cookie or "SameSite=" not in cookie:
            problems.append(f"cookie without HttpOnly or SameSite: {cookie.split(';')[0].split('=')[0]}")
    if response.status_code >= 500:
        problems.append(f"server error {response.status_code}")
    return [f"GET {url} ({response.status_code}): {p}" for p in problems]


@pytest.mark.parametrize("who", ["anonymous", "holder", "officer", "legal", "admin"])
def test_every_page_and_download_carries_the_security_headers(app, world_with_check, signed_in, client_factory,
                                                              who):
    world = world_with_check
    users = {"holder": world.a.holder, "officer": world.officer, "legal": world.legal, "admin": world.admin}
    client = client_factory() if who == "anonymous" else signed_in(users[who])
    routes = get_routes(app, api=False)
    assert len(routes) >= 40
    problems = []
    for rule in routes:
        url = object_url(rule, world)
        response = client.get(url)
        response.get_data()
        problems += header_problems(url, response, signed_in=who != "anonymous")
    assert not problems, "\n".join(problems)


def test_every_api_route_carries_the_security_headers(app, session, world_with_check):
    world = world_with_check
    tokens = {}
    for user in (world.a.holder, world.officer, world.legal):
        _, secret = api_tokens.create_token(session, user, "headers")
        tokens[user.role.value] = {"Authorization": f"Bearer {secret}"}
    session.commit()
    client = app.test_client()
    routes = get_routes(app, api=True)
    assert len(routes) >= 10
    problems = []
    for rule in routes:
        url = object_url(rule, world)
        with app.app_context():
            anonymous = client.get(url)
            anonymous.get_data()
        # Refused (401) before anything is read; only the API's own documentation is public.
        public = anonymous.status_code == 200
        assert public == (url in ("/api/v1/openapi.json", "/api/v1/docs")), (url, anonymous.status_code)
        problems += header_problems(url, anonymous, signed_in=False)
        for headers in tokens.values():
            with app.app_context():
                response = client.get(url, headers=headers)
                response.get_data()
            problems += header_problems(url, response, signed_in=not public)
    assert not problems, "\n".join(problems)
