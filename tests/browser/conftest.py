"""Serving the app on loopback for Chromium, and launching Debian's Chromium."""

from __future__ import annotations

import os
import threading

import pytest

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run"]


def serve(app):
    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@pytest.fixture
def demo_server(tmp_path):
    """The app with the demo registry, as scripts/run serves it."""
    from flask_migrate import upgrade

    from registry import create_app
    from registry.extensions import db

    app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'app.sqlite3'}",
                      "BLOB_DIR": str(tmp_path / "blobs"), "SIGNING_KEY_FILE": str(tmp_path / "signing_key.pem"), "MAIL_OUTBOX_DIR": str(tmp_path / "outbox"),
                      "SECRET_KEY": "browser-test", "ENGINE_OCR": False})
    with app.app_context():
        upgrade()
        db.engine.dispose()
    assert app.test_cli_runner().invoke(args=["demo", "seed", "--password", "demo-password-2026"]).exit_code == 0
    server = serve(app)
    yield app, f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


@pytest.fixture
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield instance
        instance.close()
