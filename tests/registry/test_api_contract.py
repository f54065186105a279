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
