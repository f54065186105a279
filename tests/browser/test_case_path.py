"""The whole path in Chromium: an officer checks goods with a photo, sees the match, detains;
the rights holder reads the notice and confirms; the officer has the goods destroyed and closes."""

from __future__ import annotations

import io
import os

import pytest
from PIL import Image, ImageDraw, ImageFilter

from tests.browser.conftest import CHROMIUM

pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(not os.path.exists(CHROMIUM), reason=f"chromium not installed at {CHROMIUM}")]


def suspect_photo(app, path) -> None:
    """The registered Kobalt box, rotated and blurred on a cluttered table."""
    from sqlalchemy import select

    from registry.extensions import db
    from registry.models import ReferenceImage

    with app.app_context():
        box = db.session.scalar(select(ReferenceImage).where(ReferenceImage.original_filename == "kobalt-kb-pro2-box.png"))
        packaging = Image.open(io.BytesIO(app.extensions["blobs"].get(box.sha256))).convert("RGB")
    photo = Image.new("RGB", (1600, 1200), "#8a7f70")
    draw = ImageDraw.Draw(photo)
    for i in range(40):
        draw.rectangle((37 * i % 1500, 53 * i % 1100, 37 * i % 1500 + 90, 53 * i % 1100 + 60),
                       fill=((i * 40) % 256, (i * 90) % 256, (i * 150) % 256))
    photo.paste(packaging.rotate(17, expand=True, fillcolor="#8a7f70").resize((520, 640)), (500, 300))
    photo.filter(ImageFilter.GaussianBlur(1.2)).save(path, quality=80)


def sign_in(page, base, email):
    page.goto(base + "/login")
    page.get_by_label("E-mail address").fill(email)
    page.get_by_label("Password", exact=True).first.fill("demo-password-2026")
    page.get_by_role("button", name="Sign in").click()


def test_check_detain_answer_close(demo_server, browser, tmp_path):
    from playwright.sync_api import expect

    app, base = demo_server
    photo = tmp_path / "table.jpg"
    suspect_photo(app, photo)

    officer = browser.new_page()
    sign_in(officer, base, "officer@demo.example")
    expect(officer.get_by_role("heading", name="Check suspect goods")).to_be_visible()
    officer.get_by_label("Declared brand").fill("K0balt")
    officer.get_by_label("Goods description").fill("wireless earphones")
    officer.get_by_label("Photos of the goods").set_input_files(str(photo))
    officer.get_by_label("Manufacturer, as declared").fill("Shenzhen Kobolt Audio Co Ltd")
    officer.get_by_label("Quantity", exact=True).fill("200")
    officer.get_by_label("Declared value (total)").fill("1800")
    officer.get_by_label("Currency").fill("EUR")
    officer.get_by_role("button", name="Check against the registry").click()
    expect(officer.locator("h1")).to_contain_text("KOBALT")
    expect(officer.locator(".app-evidence__outline").first).to_be_attached()
    expect(officer.get_by_text("geometrically consistent feature matches")).to_be_visible()

    officer.get_by_role("link", name="Detain and open a case").click()
    officer.get_by_label("Responsible customs office").fill("Hamburg customs office")
    officer.get_by_label("Country of the office").fill("DE")
    officer.get_by_role("button", name="Detain and open the case").click()
    expect(officer.locator("h1")).to_have_text("Detained")
    officer.get_by_role("button", name="Record that the parties were notified").click()
    officer.get_by_role("button", name="Wait for the rights holder's response").click()
    expect(officer.locator("h1")).to_have_text("Awaiting the rights holder's response")
    case_url = officer.url

    holder = browser.new_page()
    sign_in(holder, base, "holder@kobalt.demo.example")
    holder.get_by_role("link", name="Notices").click()
    expect(holder.get_by_text("Detention notice: case #1, KOBALT")).to_be_visible()
    holder.get_by_role("link", name="Open the case").click()
    holder.get_by_label("Yes: they are counterfeit").check()
    holder.get_by_label("Kobalt Buds Pro KB-PRO2: KOBALT embossed on the side").check()
    holder.get_by_label("We agree to the destruction of the goods").check()
    holder.get_by_label("Reasons").fill("The logo is printed, not embossed.")
    holder.get_by_role("button", name="Send our answer").click()
    expect(holder.get_by_text("Your answer is recorded in the case.")).to_be_visible()

    officer.goto(case_url)
    expect(officer.locator("h1")).to_have_text("Infringement confirmed")
    expect(officer.get_by_text("The logo is printed, not embossed.").first).to_be_visible()
    # Destruction waits for the declarant's consent, which the officer records.
    expect(officer.get_by_role("button", name="Goods destroyed")).to_have_count(0)
    officer.get_by_label("consents to destruction").check()
    officer.get_by_label("How it was received (optional)").fill("Signed consent form, faxed.")
    officer.get_by_role("button", name="Record the declarant's answer").click()
    expect(officer.get_by_text("The declarant's answer is recorded.")).to_be_visible()
    officer.get_by_text("Goods destroyed…").click()  # opened first, recorded with a note
    officer.get_by_label("Where, when and by whom were they destroyed (certificate reference)?").fill(
        "Incinerated at the port, certificate V-2026-114.")
    officer.get_by_role("button", name="Goods destroyed").click()
    officer.get_by_role("button", name="Close the case").click()
    expect(officer.locator("h1")).to_have_text("Closed")
    officer.screenshot(path=str(tmp_path / "closed.png"), full_page=True)

    # Legal staff export the evidence, download it and verify it on the verify page.
    legal = browser.new_page()
    sign_in(legal, base, "legal@demo.example")
    legal.goto(case_url)
    legal.get_by_role("button", name="Export evidence package").click()
    expect(legal.get_by_text("Evidence package exported")).to_be_visible()
    with legal.expect_download() as download_info:
        legal.get_by_role("link", name="Download").first.click()
    package = tmp_path / "package.zip"
    download_info.value.save_as(package)
    legal.screenshot(path=str(tmp_path / "exported.png"), full_page=True)

    legal.get_by_role("link", name="Verify").click()
    legal.get_by_label("Package ZIP").set_input_files(str(package))
    legal.get_by_role("button", name="Verify").click()
    expect(legal.locator("#verify-result")).to_contain_text("The package is intact")

    import zipfile

    changed = tmp_path / "changed.zip"
    with zipfile.ZipFile(package) as source, zipfile.ZipFile(changed, "w") as target:
        for info in source.infolist():
            data = source.read(info)
            if info.filename == "case.json":
                data = data.replace(b"Hamburg", b"Hamborg", 1)
            target.writestr(info, data)
    legal.get_by_label("Package ZIP").set_input_files(str(changed))
    legal.get_by_role("button", name="Verify").click()
    expect(legal.locator("#verify-result")).to_contain_text("case.json changed")
    legal.screenshot(path=str(tmp_path / "verify-rejected.png"), full_page=True)
    if os.environ.get("SCREENSHOT_DIR"):
        import shutil

        for name in ("closed.png", "exported.png", "verify-rejected.png", "package.zip"):
            shutil.copy(tmp_path / name, os.path.join(os.environ["SCREENSHOT_DIR"], name))
