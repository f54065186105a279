"""A rights holder signs in, registers a product and adds its packaging image, in Chromium.

The app is served on loopback by a real WSGI server in a thread; Debian's Chromium
(installed by scripts/install-system-packages) is driven with Playwright. No browser is
downloaded.
"""

from __future__ import annotations

import os
import threading
from datetime import date, timedelta

import pytest
from PIL import Image, ImageDraw

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not os.path.exists(CHROMIUM), reason=f"chromium not installed at {CHROMIUM}"),
]


@pytest.fixture
def live_server(tmp_path):
    from flask_migrate import upgrade
    from werkzeug.serving import make_server

    from registry import create_app
    from registry.extensions import db
    from registry.models import OrganisationStatus, Role
    from registry.services import organisations, rights, users

    app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'app.sqlite3'}",
                      "BLOB_DIR": str(tmp_path / "blobs"), "SIGNING_KEY_FILE": str(tmp_path / "signing_key.pem"), "SECRET_KEY": "browser-test"})
    with app.app_context():
        upgrade()
        admin = users.create_user(db.session, None, email="admin@browser.example", name="Admin",
                                  password="long-enough-password", role=Role.ADMIN)
        holder = organisations.register_organisation(
            db.session, {"name": "Epsilon Shoes", "country": "PT"}, user_name="Eva",
            email="eva@epsilon.example", password="long-enough-password")
        organisations.set_organisation_status(db.session, admin, holder.organisation, OrganisationStatus.APPROVED)
        rights.register_right(db.session, holder, holder.organisation_id, {
            "kind": "word", "mark_text": "EPSILON", "registration_number": "E-1", "office": "EUIPO",
            "nice_classes": "25", "protection_number": "AFA-E", "protection_jurisdictions": "EU",
            "protection_valid_from": date.today(), "protection_valid_until": date.today() + timedelta(days=365)})
        db.session.commit()
        db.engine.dispose()
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


def packaging_png(path) -> None:
    image = Image.new("RGB", (600, 800), "#123456")
    draw = ImageDraw.Draw(image)
    draw.rectangle((50, 50, 550, 400), fill="#f0c040")
    draw.text((100, 200), "EPSILON", fill="black")
    image.save(path)


def test_holder_adds_a_product_with_an_image(live_server, tmp_path):
    from playwright.sync_api import expect, sync_playwright

    picture = tmp_path / "box.png"
    packaging_png(picture)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--no-first-run"])
        page = browser.new_page()
        console_errors = []
        page.on("console", lambda m: console_errors.append(m.text) if m.type == "error" else None)
        page.goto(live_server + "/login")
        page.get_by_label("E-mail address").fill("eva@epsilon.example")
        page.get_by_label("Password", exact=True).first.fill("long-enough-password")
        page.get_by_role("button", name="Sign in").click()
        expect(page.get_by_role("heading", name="Epsilon Shoes")).to_be_visible()

        page.get_by_role("link", name="Register a product").first.click()
        page.get_by_label("Product name").fill("Epsilon Walker")
        page.get_by_label("Model or reference").fill("EW-1")
        page.get_by_label("Sold under the mark").select_option(label="EPSILON (EUIPO E-1)")
        page.get_by_label("GTINs").fill("4006381333932")  # wrong check digit first
        page.get_by_role("button", name="Save product").click()
        expect(page.get_by_text("There is a problem")).to_be_visible()
        expect(page.locator(".govuk-error-summary")).to_contain_text("wrong check digit")
        page.get_by_label("GTINs").fill("4006381333931")
        page.get_by_role("button", name="Save product").click()
        expect(page.get_by_role("heading", name="Epsilon Walker EW-1")).to_be_visible()

        page.get_by_label("Kind of image").select_option("packaging")
        page.get_by_label("Image", exact=True).set_input_files(str(picture))
        page.get_by_role("button", name="Upload image").click()
        expect(page.get_by_text("Image uploaded.")).to_be_visible()
        thumbnail = page.locator("img[alt^='packaging image']")
        expect(thumbnail).to_be_visible()
        assert thumbnail.evaluate("img => img.naturalWidth") > 0
        page.screenshot(path=str(tmp_path / "product.png"), full_page=True)
        browser.close()
    # The page runs under a CSP without inline scripts; nothing may have been blocked.
    assert not [e for e in console_errors if "Content Security Policy" in e]
