"""What the environment sets: each variable reaches its config key, typed."""

from __future__ import annotations

from registry.config import from_environment


def test_environment_variables_reach_their_keys_typed():
    config = from_environment({"ENGINE_OCR": "0", "FORCE_HTTPS": "yes", "BULK_CHUNK_LINES": "500",
                               "DATABASE_URL": "postgres://app@db/registry",
                               "MIGRATION_DATABASE_URL": "postgresql://owner@db/registry", "MAIL_SERVER": ""})
    assert config == {"ENGINE_OCR": False, "FORCE_HTTPS": True, "BULK_CHUNK_LINES": 500,
                      "SQLALCHEMY_DATABASE_URI": "postgresql+psycopg://app@db/registry",
                      "MIGRATION_DATABASE_URI": "postgresql+psycopg://owner@db/registry"}
    assert from_environment({"ENGINE_OCR": "true"}) == {"ENGINE_OCR": True}
