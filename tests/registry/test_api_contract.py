"""Contract tests of the JSON API: schemathesis generates requests from the OpenAPI document
(valid and invalid) and checks that no answer is a server error and every answer conforms to
the documented status codes, content types and schemas."""

from __future__ import annotations

import schemathesis
from schemathesis import GenerationMode
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (content_type_conformance, response_schema_conformance,
                                               status_code_conformance)

from registry.services import api_tokens

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


def test_api_contract(app, session, world):
    tokens = {}
    for name, user in (("officer", world.officer), ("holder", world.a.holder)):
        _, tokens[name] = api_tokens.create_token(session, user, f"contract {name}")
    session.commit()
    # Submitting a manifest starts a background job; its own tests cover it.
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app).exclude(method="POST", path="/api/v1/bulk-jobs")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 12
    for operation, mode in [(o, m) for o in operations for m in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)]:
        token = tokens["holder"] if operation.path.startswith("/api/v1/dossier") else tokens["officer"]

        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def run(case):
            with app.app_context():
                case.call_and_validate(headers={"Authorization": f"Bearer {token}"}, checks=CHECKS)

        run()


def test_bodies_and_query_strings_only_as_documented(app, session, world):
    """Every operation of the document, beyond what schemathesis generates: a body of a content
    type its operation does not document is a 415 naming those it does, and a query parameter it
    does not document a 422 naming it (each answer in the API's error shape)."""
    import re

    tokens = {}
    for name, user in (("officer", world.officer), ("holder", world.a.holder)):
        _, tokens[name] = api_tokens.create_token(session, user, f"contract {name}")
    session.commit()
    client = app.test_client()

    def call(method: str, path: str, **kwargs):
        token = tokens["holder"] if path.startswith("/api/v1/dossier") else tokens["officer"]
        with app.app_context():
            response = client.open(path, method=method, headers={"Authorization": f"Bearer {token}"}, **kwargs)
            response.get_data()
        return response

    with app.app_context():
        spec = client.get("/api/v1/openapi.json").get_json()
    bodies = 0
    for template, operations in spec["paths"].items():
        path = re.sub(r"\{[^}]+\}", "1", template)
        for method, operation in operations.items():
            if method not in ("get", "post", "put", "patch", "delete"):
                continue
            documented = {p["name"] for p in operation.get("parameters", []) if p["in"] == "query"}
            assert "undocumented" not in documented
            stray = call(method.upper(), f"{path}?undocumented=1")
            assert stray.status_code == 422, (method, template, stray.get_data(as_text=True)[:300])
            assert stray.get_json()["error"]["details"] == {"undocumented": ["Unknown field."]}
            if "requestBody" not in operation:
                continue
            bodies += 1
            for content_type in ("text/plain", "application/x-www-form-urlencoded", None):
                kwargs = {"content_type": content_type} if content_type else {}
                refused = call(method.upper(), path, data="{}", **kwargs)
                assert refused.status_code == 415, (method, template, refused.get_data(as_text=True)[:300])
                error = refused.get_json()["error"]
                assert error["code"] == "unsupported_media_type"
                assert set(error["details"]["accepted"]) == set(operation["requestBody"]["content"])
    assert bodies >= 6
