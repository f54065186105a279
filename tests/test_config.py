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


def test_a_time_zone_that_does_not_exist_stops_the_start_with_its_reason(tmp_path):
    import pytest

    from registry import create_app
    from registry.services import calendar

    assert from_environment({"TIMEZONE": "Europe/Berlin"}) == {"TIMEZONE": "Europe/Berlin"}
    before = calendar.local_zone()
    with pytest.raises(ValueError, match="'Mars/Olympus' is not a time zone name"):
        create_app({"TIMEZONE": "Mars/Olympus", "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'x.db'}"})
    assert calendar.local_zone() is before  # nothing half-set
