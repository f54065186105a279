"""The registry web application: ``create_app()`` builds it; nothing heavy happens on import."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Flask

from registry import config as config_module

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def create_app(overrides: dict[str, Any] | None = None) -> Flask:
    """Application factory: defaults, then environment variables, then ``overrides``."""
    app = Flask(
        __name__,
        instance_relative_config=True,
        template_folder=str(PROJECT_ROOT / "templates"),
        static_folder=str(PROJECT_ROOT / "static"),
    )
    app.config.update(config_module.defaults(app.instance_path))
    app.config.update(config_module.from_environment())
    if overrides:
        app.config.update(overrides)
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = config_module.secret_key(app.instance_path)
    if not app.config.get("RATELIMIT_STORAGE_URI"):
        app.config["RATELIMIT_STORAGE_URI"] = app.config.get("REDIS_URL") or "memory://"

    from registry import setup
    from registry.multipart import correct_werkzeug_multipart
    from registry.services.calendar import set_local_zone

    set_local_zone(app.config["TIMEZONE"])  # a wrong name stops the start with its reason

    correct_werkzeug_multipart()  # uploads stored byte for byte (see registry/multipart.py)
    setup.init_database(app)
    setup.init_security(app)
    setup.init_templates(app)
    setup.init_storage(app)
    setup.register_blueprints(app)
    setup.register_cli(app)
    return app
