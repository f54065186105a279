"""CSRF on every unsafe route, generated from the URL map.

Every page route that accepts POST is called by every role, with the ids of real objects and
form data that would otherwise pass, once without a CSRF token and once with a token taken
from another session. Each call must be refused with 400 before the view runs, and nothing may
change: not a row, not an audit event. (The JSON API takes no cookies, only bearer tokens, so
it has no CSRF to check; ``test_api.py`` shows a session cookie does not authenticate it.)
"""

from __future__ import annotations

import pytest

from tests.registry.test_tenancy import (database_state, last_seq, object_url,  # noqa: F401 (fixture)
                                         world_with_check)

FORM = {"name": "changed", "role": "manufacturer", "country": "DE", "kind": "word", "mark_text": "X",
        "email": "x@example.com", "password": "a-long-enough-password-1", "note": "n", "action": "release"}


def unsafe_page_routes(app) -> list:
    return [rule for rule in app.url_map.iter_rules()
            if not rule.rule.startswith("/api/") and rule.methods & {"POST", "PUT", "PATCH", "DELETE"}]


@pytest.mark.parametrize("who", ["anonymous", "holder", "officer", "legal", "admin"])
def test_every_unsafe_route_refuses_a_missing_or_foreign_csrf_token(app, session, world_with_check, signed_in,
                                                                    client_factory, who):
    world = world_with_check
    users = {"holder": world.a.holder, "officer": world.officer, "legal": world.legal, "admin": world.admin}
    client = client_factory() if who == "anonymous" else signed_in(users[who])
    foreign = client_factory().refresh_token("/login")  # valid, but for another session
    routes = unsafe_page_routes(app)
    assert len(routes) >= 30
    before, seq = database_state(session), last_seq(session)
    problems = []
    for rule in routes:
        url = object_url(rule, world)
        for token in (None, foreign):
            data = dict(FORM, **({"csrf_token": token} if token else {}))
            response = client.post(url, data, csrf=False)
            # Refused by the CSRF check itself, not by the form's own validation.
            if response.status_code != 400 or "security token" not in response.get_data(as_text=True):
                problems.append(f"POST {url} with {'a foreign' if token else 'no'} token -> {response.status_code}")
    assert not problems, "\n".join(problems)
    assert database_state(session) == before
    assert last_seq(session) == seq  # not even an audit event
