"""Serving the app on loopback for Chromium, launching Debian's Chromium, and the accessibility
check and screenshots that the end-to-end journeys keep as test artefacts."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run"]
DEMO_PASSWORD = "demo-password-2026"
AXE_SOURCE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
# axe-core's impact levels that fail a page: "serious" and "critical" barriers keep people out.
BLOCKING_IMPACTS = {"serious", "critical"}


def serve(app):
    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def demo_app(folder: Path, **overrides):
    """The app on a migrated SQLite database in ``folder`` with the demo registry seeded."""
    from flask_migrate import upgrade

    from registry import create_app
    from registry.extensions import db

    app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{folder / 'app.sqlite3'}",
                      "BLOB_DIR": str(folder / "blobs"), "SIGNING_KEY_FILE": str(folder / "signing_key.pem"),
                      "MAIL_OUTBOX_DIR": str(folder / "outbox"), "BULK_ENGINE_DIR": str(folder / "engines"),
                      "SECRET_KEY": "browser-test", "ENGINE_OCR": False, **overrides})
    with app.app_context():
        upgrade()
        db.engine.dispose()
    assert app.test_cli_runner().invoke(args=["demo", "seed", "--password", DEMO_PASSWORD]).exit_code == 0
    return app


@pytest.fixture
def demo_server(tmp_path):
    """The app with the demo registry, as scripts/run serves it."""
    app = demo_app(tmp_path)
    server = serve(app)
    yield app, f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


@dataclass
class Served:
    """The app under gunicorn (``url``), and the same app in this process (``app``) on the same
    database and blob store, for making test data and reading back what the server stored."""

    app: object
    url: str


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def gunicorn_server(tmp_path):
    """The app factory under gunicorn on loopback, as production serves it: two worker
    processes (so nothing may live only in one worker's memory), on a migrated SQLite database
    with the demo registry."""
    app = demo_app(tmp_path)
    env = {key: value for key, value in os.environ.items()
           if key not in {"DATABASE_URL", "REDIS_URL", "RATELIMIT_STORAGE_URI"}}
    env.update({"DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"], "BLOB_DIR": app.config["BLOB_DIR"],
                "SIGNING_KEY_FILE": app.config["SIGNING_KEY_FILE"], "MAIL_OUTBOX_DIR": app.config["MAIL_OUTBOX_DIR"],
                "BULK_ENGINE_DIR": app.config["BULK_ENGINE_DIR"], "SECRET_KEY": app.config["SECRET_KEY"]})
    port = _free_port()
    log = open(tmp_path / "gunicorn.log", "wb")
    # OCR is off as in the other browser tests: Tesseract is optional and slow on a shared
    # 2-core machine, and none of the journeys depends on text read from a photo.
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "--workers", "2", "--threads", "2", "--timeout", "120",
         "--bind", f"127.0.0.1:{port}", "--log-level", "warning", "registry:create_app({'ENGINE_OCR': False})"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            if server.poll() is not None:
                pytest.fail(f"gunicorn exited with {server.returncode}: {(tmp_path / 'gunicorn.log').read_text()}")
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    pytest.fail("gunicorn did not start listening within 60 s")
                time.sleep(0.2)
        yield Served(app, f"http://127.0.0.1:{port}")
    finally:
        if server.poll() is None:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=30)
        log.close()
    # A traceback in a worker is a failure even when the page the test looked at was fine.
    errors = (tmp_path / "gunicorn.log").read_text(errors="replace")
    assert "Traceback" not in errors, errors


@pytest.fixture
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield instance
        instance.close()


def artifacts_dir() -> Path:
    return Path(os.environ.get("ARTIFACTS_DIR") or ROOT / "test-artifacts")


class Journey:
    """Key pages of one user journey: each is screenshotted (full page, numbered in order,
    under ``<ARTIFACTS_DIR>/screenshots/<journey>/``) and checked with axe-core in the page.

    Pages are watched for console errors, so that a script or image the Content Security
    Policy blocks fails the journey; axe is injected through the DevTools protocol
    (``page.evaluate``), which the CSP does not govern, so the policy stays as served.
    """

    def __init__(self, name: str) -> None:
        if not AXE_SOURCE.exists():
            pytest.fail(f"{AXE_SOURCE} is missing: run scripts/bootstrap test (npm ci installs axe-core)")
        self.axe = AXE_SOURCE.read_text()
        self.folder = artifacts_dir() / "screenshots" / name
        self.folder.mkdir(parents=True, exist_ok=True)
        for old in [*self.folder.glob("*.png"), *self.folder.glob("axe.json")]:
            old.unlink()
        self.findings: dict[str, list[dict]] = {}
        self.count = 0
        self.console_errors: list[str] = []
        self.violations: list[str] = []

    def watch(self, page):
        """Record what a person would not see but that breaks the page: a script error, or a
        script, style sheet or image that the CSP blocked or the server failed. (A form page
        answered 400 or 422 with its error messages is the app working; it is not counted.)"""
        def console(message):
            if message.type == "error" and not message.text.startswith("Failed to load resource"):
                self.console_errors.append(f"{page.url}: {message.text}")

        def response(response):
            if response.status >= 400 and response.request.resource_type != "document":
                self.console_errors.append(f"{page.url}: {response.url} answered {response.status}")

        page.on("console", console)
        page.on("pageerror", lambda error: self.console_errors.append(f"{page.url}: {error}"))
        page.on("response", response)
        page.on("requestfailed", lambda request: self.console_errors.append(
            f"{page.url}: {request.url} failed ({request.failure})") if request.resource_type != "document" else None)
        return page

    def key_page(self, page, name: str) -> Path:
        """Screenshot the page as it is now and check it with axe-core."""
        self.count += 1
        path = self.folder / f"{self.count:02d}-{name}.png"
        page.screenshot(path=str(path), full_page=True)
        if not page.evaluate("() => typeof window.axe !== 'undefined'"):
            page.evaluate(self.axe)
        results = page.evaluate("() => axe.run(document, {resultTypes: ['violations']})")
        # Every finding, of any impact, is kept beside the screenshots for a person to read.
        self.findings[path.name] = [{"id": v["id"], "impact": v["impact"], "help": v["help"],
                                     "targets": [node["target"] for node in v["nodes"]]}
                                    for v in results["violations"]]
        (self.folder / "axe.json").write_text(json.dumps(self.findings, indent=2))
        for violation in results["violations"]:
            if violation["impact"] in BLOCKING_IMPACTS:
                targets = "; ".join(json.dumps(node["target"]) for node in violation["nodes"])
                self.violations.append(f"{path.name} ({page.url}): [{violation['impact']}] {violation['id']}: "
                                       f"{violation['help']} -> {targets}")
        return path

    def check(self) -> None:
        """Fail on what the key pages showed: serious accessibility violations, blocked or
        failing scripts and resources."""
        problems = []
        if self.violations:
            problems.append("accessibility violations (axe-core, serious or critical):\n  " + "\n  ".join(self.violations))
        if self.console_errors:
            problems.append("console errors:\n  " + "\n  ".join(self.console_errors))
        assert not problems, "\n".join(problems)


@pytest.fixture
def journey(request):
    """A :class:`Journey` named after the test; the test calls ``check()`` after its last step."""
    return Journey(request.node.name.removeprefix("test_").replace("_", "-"))
