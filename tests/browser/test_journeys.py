"""The three user journeys end to end, as people use them, in Debian's Chromium against the app
served by gunicorn on loopback:

1. a rights holder registers, is approved by an administrator, builds a product dossier with
   images and suppliers, and bulk-imports a CSV;
2. an officer checks goods with two photos, sees the matched region outlined on each, detains,
   and the rights holder answers within the deadline;
3. legal staff export the case, download the package and verify it on the verify page; a copy
   with one changed byte is rejected with a reason.

Every key page is saved as a screenshot under ``<ARTIFACTS_DIR>/screenshots/<journey>/`` and
checked with axe-core in the page; a serious or critical violation, or a console error (a
script or image the Content Security Policy blocked, say), fails the journey.
"""

from __future__ import annotations

import io
import os
import re
import zipfile
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
from PIL import Image, ImageDraw, ImageFilter
from stdnum import ean

from tests.browser.conftest import CHROMIUM, DEMO_PASSWORD

pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(not os.path.exists(CHROMIUM), reason=f"chromium not installed at {CHROMIUM}")]


# -- people and pictures ----------------------------------------------------------------------

def person(browser, journey, base: str, email: str, password: str = DEMO_PASSWORD):
    """A page in a browser context of its own (its own cookies), signed in as ``email``."""
    page = journey.watch(browser.new_context().new_page())
    page.goto(base + "/login")
    page.get_by_label("E-mail address").fill(email)
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_role("button", name="Sign in").click()
    return page


def gtin(seed: int) -> str:
    """A valid EAN-13 made by the test: 12 digits and their check digit."""
    body = f"400{seed:09d}"
    return body + ean.calc_check_digit(body)


def with_wrong_check_digit(code: str) -> str:
    return code[:-1] + str((int(code[-1]) + 1) % 10)


def drawn_png(path: Path, *, size, background, panel, text: str) -> Path:
    image = Image.new("RGB", size, background)
    draw = ImageDraw.Draw(image)
    draw.rectangle((size[0] // 10, size[1] // 10, size[0] * 9 // 10, size[1] // 2), fill=panel)
    draw.ellipse((size[0] // 3, size[1] // 6, size[0] * 2 // 3, size[1] * 5 // 12), fill=background)
    draw.text((size[0] // 8, size[1] * 3 // 5), text, fill="black")
    image.save(path)
    return path


def registered_image(app, filename: str) -> Image.Image:
    """A reference image of the demo registry, as the server stored it."""
    from sqlalchemy import select

    from registry.extensions import db
    from registry.models import ReferenceImage

    with app.app_context():
        image = db.session.scalar(select(ReferenceImage).where(ReferenceImage.original_filename == filename))
        return Image.open(io.BytesIO(app.extensions["blobs"].get(image.sha256))).convert("RGB")


def photo_on_a_crate(item: Image.Image, path: Path, *, angle: float, size: tuple[int, int],
                     at: tuple[int, int], clutter: int) -> tuple[int, int, int, int]:
    """A 1600×1200 photo of ``item`` rotated and blurred among other things; returns the box
    (left, top, right, bottom) it was placed in, where the engine's outline must be."""
    background = "#8a7f70"
    photo = Image.new("RGB", (1600, 1200), background)
    draw = ImageDraw.Draw(photo)
    for i in range(clutter, clutter + 40):
        x, y = 37 * i % 1500, 53 * i % 1100
        draw.rectangle((x, y, x + 90, y + 60), fill=((i * 40) % 256, (i * 90) % 256, (i * 150) % 256))
    photo.paste(item.rotate(angle, expand=True, fillcolor=background).resize(size), at)
    photo.filter(ImageFilter.GaussianBlur(1.2)).save(path, quality=80)
    return at[0], at[1], at[0] + size[0], at[1] + size[1]


def polygon_of(page, photo_number: int) -> list[tuple[float, float]]:
    """The outlined region drawn over a photo on the check page, in the photo's pixels."""
    outline = page.get_by_role("img", name=f"Photo {photo_number} with the matched region outlined").locator("polygon")
    numbers = [float(n) for n in re.split(r"[ ,]+", outline.get_attribute("points").strip())]
    return list(zip(numbers[0::2], numbers[1::2]))


def centroid(points):
    return sum(x for x, _ in points) / len(points), sum(y for _, y in points) / len(points)


# -- journey 1 --------------------------------------------------------------------------------

def test_holder_registers_is_approved_builds_dossier_and_imports(gunicorn_server, browser, journey, tmp_path):
    from playwright.sync_api import expect

    base = gunicorn_server.url
    today = date.today()
    email, password = "eva@nordlicht.example", "a-long-enough-password"

    # Registration: the organisation waits for an administrator.
    holder = journey.watch(browser.new_context().new_page())
    holder.goto(base + "/login")
    holder.get_by_role("link", name="Register your organisation").click()
    expect(holder.get_by_role("heading", name="Register your organisation")).to_be_visible()
    holder.get_by_label("Organisation name").fill("Nordlicht Outdoor GmbH")
    holder.get_by_label("Country").fill("DE")
    holder.get_by_label("Your name").fill("Eva Nordlicht")
    holder.get_by_label("Your e-mail address").fill(email)
    holder.get_by_label("Password", exact=True).fill(password)
    journey.key_page(holder, "signup")
    holder.get_by_role("button", name="Ask for an account").click()
    expect(holder.get_by_text("waits for approval by an administrator")).to_be_visible()
    holder.get_by_label("E-mail address").fill(email)
    holder.get_by_label("Password", exact=True).fill(password)
    holder.get_by_role("button", name="Sign in").click()
    expect(holder.get_by_role("heading", name="Nordlicht Outdoor GmbH")).to_be_visible()
    expect(holder.get_by_text("Your organisation is pending")).to_be_visible()
    journey.key_page(holder, "dossier-pending")

    # Approval by an administrator.
    admin = person(browser, journey, base, "admin@demo.example")
    admin.get_by_role("link", name="Organisations").click()
    row = admin.get_by_role("row").filter(has_text="Nordlicht Outdoor GmbH")
    expect(row).to_contain_text("pending")
    row.get_by_role("button", name="Approve Nordlicht Outdoor GmbH").click()
    expect(admin.get_by_role("row").filter(has_text="Nordlicht Outdoor GmbH")).to_contain_text("approved")
    journey.key_page(admin, "admin-approved")

    holder.reload()
    expect(holder.get_by_text("Your organisation is pending")).to_have_count(0)

    # A word mark with customs protection, for the products to be sold under.
    holder.get_by_role("link", name="Register a right").click()
    holder.get_by_label("Kind of mark").select_option(label="Word mark")
    holder.get_by_label("Mark", exact=True).fill("NORDLICHT")
    holder.get_by_label("Registration number").fill("018-555-001")
    holder.get_by_label("Office", exact=True).select_option("EUIPO")
    holder.get_by_label("Nice classes").fill("18, 25")
    holder.get_by_label("Customs protection number").fill(f"AFA-{today.year}-77")
    holder.get_by_label("Protected in").fill("EU")
    holder.get_by_label("Customs protection valid from").fill((today - timedelta(days=10)).isoformat())
    holder.get_by_label("Customs protection valid until").fill((today + timedelta(days=300)).isoformat())
    holder.get_by_role("button", name="Save right").click()
    expect(holder.get_by_role("heading", name="NORDLICHT")).to_be_visible()

    # A product: a GTIN with a wrong check digit is refused with the reason, then corrected.
    good_gtin = gtin(1001)
    holder.get_by_role("link", name="Products").click()
    holder.get_by_role("link", name="Register a product").first.click()
    holder.get_by_label("Product name").fill("Nordlicht Trail Jacket")
    holder.get_by_label("Model or reference").fill("NTJ-2")
    holder.get_by_label("Sold under the mark").select_option(label="NORDLICHT (EUIPO 018-555-001)")
    holder.get_by_label("GTINs").fill(with_wrong_check_digit(good_gtin))
    holder.get_by_label("HS codes").fill("6201.40")
    holder.get_by_label("Lowest genuine unit price").fill("180")
    holder.get_by_label("Highest genuine unit price").fill("260")
    holder.get_by_label("Currency").fill("EUR")
    holder.get_by_label("Production countries").fill("PT")
    holder.get_by_label("Overt distinguishing features", exact=True).fill("Reflective aurora print on the back")
    holder.get_by_label("Covert distinguishing features").fill("Serial woven into the inner hem")
    holder.get_by_role("button", name="Save product").click()
    summary = holder.locator(".govuk-error-summary")
    expect(summary).to_contain_text("There is a problem")
    expect(summary).to_contain_text("wrong check digit")
    # The summary's link leads to the field in error, whose own message says the same.
    expect(holder.locator("#gtins-error")).to_contain_text("wrong check digit")
    journey.key_page(holder, "product-gtin-error")
    holder.get_by_label("GTINs").fill(good_gtin)
    holder.get_by_role("button", name="Save product").click()
    expect(holder.get_by_role("heading", name="Nordlicht Trail Jacket NTJ-2")).to_be_visible()
    expect(holder.get_by_text(good_gtin)).to_be_visible()

    # Reference images: packaging and a label, shown back as thumbnails the browser can decode.
    for kind, picture in [
        ("packaging", drawn_png(tmp_path / "ntj-box.png", size=(600, 800), background="#0b3d2e",
                                panel="#f2c14e", text="NORDLICHT Trail Jacket")),
        ("label", drawn_png(tmp_path / "ntj-label.png", size=(600, 300), background="#ffffff",
                            panel="#0b3d2e", text="NORDLICHT NTJ-2")),
    ]:
        holder.get_by_label("Kind of image").select_option(kind)
        holder.get_by_label("Image", exact=True).set_input_files(str(picture))
        holder.get_by_role("button", name="Upload image").click()
        expect(holder.get_by_text("Image uploaded.")).to_be_visible()
        thumbnail = holder.get_by_role("img", name=f"{kind} image {picture.name}")
        expect(thumbnail).to_be_visible()
        assert thumbnail.evaluate("img => img.complete && img.naturalWidth") > 0
        # Each tile's button says which image it removes, not just "Remove".
        expect(holder.get_by_role("button", name=f"Remove {kind} image {picture.name}")).to_be_visible()
    journey.key_page(holder, "product-with-images")

    # The authorised supply chain.
    holder.get_by_role("link", name="Suppliers").click()
    holder.get_by_role("link", name="Add a supplier").click()
    holder.get_by_label("Role").select_option(label="Manufacturer")
    holder.get_by_label("Company name").fill("Fábrica Norte Lda")
    holder.get_by_label("Country").fill("Portugal")
    holder.get_by_label("Address").fill("Rua do Norte 12, Porto")
    holder.get_by_label("Identifiers").fill("VAT: PT501234567")
    holder.get_by_role("button", name="Save supplier").click()
    supplier = holder.get_by_role("row").filter(has_text="Fábrica Norte Lda")
    expect(supplier).to_contain_text("Manufacturer")
    expect(supplier).to_contain_text("PT")
    expect(supplier.get_by_role("button", name="Remove Fábrica Norte Lda")).to_be_visible()
    journey.key_page(holder, "suppliers")

    # Bulk import: two good rows, one with a wrong GTIN that is listed with its reason.
    rows = [
        ("Nordlicht Fleece", "NF-1", gtin(1002), "120", "160"),
        ("Nordlicht Rain Trousers", "NRT-3", gtin(1003), "90", "130"),
        ("Nordlicht Beanie", "NB-9", with_wrong_check_digit(gtin(1004)), "25", "35"),
    ]
    csv_file = tmp_path / "nordlicht-products.csv"
    csv_file.write_text("name,model,brand,gtins,hs_codes,price_min,price_max,currency,production_countries\n"
                        + "".join(f"{n},{m},NORDLICHT,{g},6201.40,{lo},{hi},EUR,PT\n" for n, m, g, lo, hi in rows),
                        encoding="utf-8")
    holder.get_by_role("link", name="Import", exact=True).click()
    holder.get_by_label("What the file holds").select_option(label="Products (with images)")
    holder.get_by_label("CSV or JSON file").set_input_files(str(csv_file))
    holder.get_by_role("button", name="Import").click()
    expect(holder.get_by_role("heading", name="Import report")).to_be_visible()
    counts = holder.locator("#report + p")
    expect(counts).to_have_text("2 created · 0 updated · 0 unchanged · 1 rejected")
    rejected = holder.get_by_role("row").filter(has_text="NB-9")
    expect(rejected).to_contain_text("rejected")
    expect(rejected).to_contain_text("wrong check digit")
    journey.key_page(holder, "import-report")
    # The same file again changes nothing.
    holder.get_by_label("CSV or JSON file").set_input_files(str(csv_file))
    holder.get_by_role("button", name="Import").click()
    expect(holder.locator("#report + p")).to_have_text("0 created · 0 updated · 2 unchanged · 1 rejected")

    holder.get_by_role("link", name="Overview").click()
    expect(holder.get_by_text("3 products · 1 authorised suppliers")).to_be_visible()
    for label in ("Nordlicht Trail Jacket NTJ-2", "Nordlicht Fleece NF-1", "Nordlicht Rain Trousers NRT-3"):
        expect(holder.get_by_role("link", name=label)).to_be_visible()
    journey.key_page(holder, "dossier")
    # The product list says whether each right's customs protection is in force.
    holder.get_by_role("link", name="Products", exact=True).click()
    expect(holder.get_by_role("columnheader", name="Customs protection")).to_be_visible()
    journey.key_page(holder, "products")
    # A holder's systems keep the dossier in sync through the API: its reference page.
    holder.get_by_role("link", name="API tokens").click()
    holder.get_by_role("link", name="JSON API").click()
    expect(holder.get_by_role("heading", name="A rights holder's own dossier, to keep it in sync with its systems")
           ).to_be_visible()
    journey.key_page(holder, "api-reference")
    journey.check()


# -- journey 2 --------------------------------------------------------------------------------

def test_officer_checks_two_photos_detains_and_holder_answers_in_time(gunicorn_server, browser, journey, tmp_path):
    from playwright.sync_api import expect

    app, base = gunicorn_server.app, gunicorn_server.url
    placed = {
        1: photo_on_a_crate(registered_image(app, "kobalt-kb-pro2-box.png"), tmp_path / "crate-box.jpg",
                            angle=17, size=(520, 640), at=(500, 300), clutter=0),
        2: photo_on_a_crate(registered_image(app, "kobalt-logo.png"), tmp_path / "crate-logo.jpg",
                            angle=-8, size=(700, 440), at=(300, 500), clutter=7),
    }

    officer = person(browser, journey, base, "officer@demo.example")
    expect(officer.get_by_role("heading", name="Check suspect goods")).to_be_visible()
    officer.get_by_label("Declared brand").fill("K0balt")
    officer.get_by_label("Goods description").fill("wireless earphones in retail boxes")
    officer.get_by_label("Photos of the goods").set_input_files([str(tmp_path / "crate-box.jpg"),
                                                                 str(tmp_path / "crate-logo.jpg")])
    officer.get_by_label("Manufacturer, as declared").fill("Shenzhen Kobolt Audio Co Ltd")
    officer.get_by_label("Quantity", exact=True).fill("200")
    officer.get_by_label("Declared value (total)").fill("1800")
    officer.get_by_label("Currency").fill("EUR")
    journey.key_page(officer, "check-form")
    officer.get_by_role("button", name="Check against the registry").click()

    expect(officer.locator("h1")).to_contain_text("KOBALT")
    expect(officer.locator("h1")).to_contain_text("detain")
    # Each photo is shown with the region that matched a registered image outlined: the
    # outline lies where the test put the box and the logo, not somewhere on the clutter.
    for number, (left, top, right, bottom) in placed.items():
        points = polygon_of(officer, number)
        assert len(points) >= 4
        cx, cy = centroid(points)
        assert left < cx < right and top < cy < bottom, (number, points)
        assert all(-50 <= x <= 1650 and -50 <= y <= 1250 for x, y in points), (number, points)
    expect(officer.get_by_text("geometrically consistent feature matches").first).to_be_visible()
    journey.key_page(officer, "check-result-outlined")

    officer.get_by_role("link", name="Detain and open a case").click()
    officer.get_by_label("Responsible customs office").fill("Hamburg customs office")
    officer.get_by_label("Country of the office").fill("DE")
    journey.key_page(officer, "detain-form")
    officer.get_by_role("button", name="Detain and open the case").click()
    expect(officer.locator("h1")).to_have_text("Detained")
    officer.get_by_role("button", name="Record that the parties were notified").click()
    officer.get_by_role("button", name="Wait for the rights holder's response").click()
    expect(officer.locator("h1")).to_have_text("Awaiting the rights holder's response")
    response_row = officer.get_by_role("row").filter(has_text="Rights holder confirms the infringement")
    expect(response_row).to_contain_text("open")
    due = date.fromisoformat(re.search(r"\d{4}-\d{2}-\d{2}", response_row.inner_text()).group())
    assert due > date.today()
    journey.key_page(officer, "case-awaiting-response")
    case_url = officer.url

    # The rights holder reads the notice, sees the deadline and answers before it.
    holder = person(browser, journey, base, "holder@kobalt.demo.example")
    holder.get_by_role("link", name="Notices").click()
    notice = holder.locator(".govuk-summary-card").filter(has_text="Detention notice")
    expect(notice).to_contain_text("KOBALT")
    journey.key_page(holder, "notices")
    notice.get_by_role("link", name=re.compile("Open the case")).click()
    deadline = holder.locator(".govuk-inset-text").filter(has_text="Next deadline")
    expect(deadline).to_contain_text(due.strftime("%d %B %Y"))
    days_left = int(re.search(r"\(in (\d+) days;", deadline.inner_text()).group(1))
    assert days_left == (due - date.today()).days > 0
    holder.get_by_label("Yes: they are counterfeit").check()
    holder.get_by_label("Kobalt Buds Pro KB-PRO2: KOBALT embossed on the side").check()
    holder.get_by_label("We agree to the destruction of the goods").check()
    holder.get_by_label("Reasons").fill("The logo is printed, not embossed; no hologram.")
    journey.key_page(holder, "case-answer-form")
    holder.get_by_role("button", name="Send our answer").click()
    expect(holder.get_by_text("Your answer is recorded in the case.")).to_be_visible()
    expect(holder.get_by_role("row").filter(has_text="Rights holder confirms the infringement")).to_contain_text("met")

    officer.goto(case_url)
    expect(officer.locator("h1")).to_have_text("Infringement confirmed")
    expect(officer.get_by_text("The logo is printed, not embossed; no hologram.").first).to_be_visible()
    expect(officer.get_by_role("row").filter(has_text="Rights holder confirms the infringement")).to_contain_text("met")
    journey.key_page(officer, "case-confirmed")
    journey.check()


# -- journey 3 --------------------------------------------------------------------------------

def detained_case(app, photo: Path) -> int:
    """A case as journey 2 leaves it (detained, notified, confirmed by the holder), made through
    the services on the served database: this journey is about what legal staff do with it."""
    from sqlalchemy import select

    from registry.extensions import db
    from registry.models import User
    from registry.services import cases, checks
    from registry.services.profiles import load_profiles
    from registry.services.products import UploadPolicy

    with app.app_context():
        officer = db.session.scalar(select(User).where(User.email == "officer@demo.example"))
        holder = db.session.scalar(select(User).where(User.email == "holder@kobalt.demo.example"))
        profiles = load_profiles(app.config.get("JURISDICTION_PROFILES_FILE"))
        check = checks.screen_declaration(
            db.session, officer, app.extensions["blobs"], app.extensions["engine"], UploadPolicy(),
            {"declared_brand": "K0balt", "description": "wireless earphones", "quantity": "200",
             "quantity_unit": "pieces", "declared_value": "1800", "currency": "EUR"},
            [(photo.read_bytes(), photo.name)])
        db.session.commit()
        case = cases.open_detention(db.session, officer, profiles, check.id, {
            "jurisdiction": "EU", "procedure": "standard", "legal_basis": "application",
            "suggestion_id": str(check.suggestions[0].id),
            "office": "Hamburg customs office", "office_country": "DE"})
        cases.advance(db.session, officer, case.id, "notify", profiles=profiles)
        cases.advance(db.session, officer, case.id, "await_response", profiles=profiles)
        cases.respond(db.session, holder, case.id, {"answer": "infringement", "consent_to_destruction": True,
                                                    "reasons": "Printed logo."})
        db.session.commit()
        return case.id


def flip_one_byte_of(package: Path, member: str, changed: Path) -> None:
    """A copy of ``package`` with one byte in the middle of ``member``'s stored data inverted."""
    data = bytearray(package.read_bytes())
    with zipfile.ZipFile(package) as archive:
        info = archive.getinfo(member)
    # The local header is 30 bytes, then the name and the extra field, then the data.
    name_length = int.from_bytes(data[info.header_offset + 26:info.header_offset + 28], "little")
    extra_length = int.from_bytes(data[info.header_offset + 28:info.header_offset + 30], "little")
    start = info.header_offset + 30 + name_length + extra_length
    data[start + info.compress_size // 2] ^= 0xFF
    changed.write_bytes(bytes(data))


def test_legal_exports_downloads_and_verifies_the_package(gunicorn_server, browser, journey, tmp_path):
    from playwright.sync_api import expect

    app, base = gunicorn_server.app, gunicorn_server.url
    photo = tmp_path / "crate-box.jpg"
    photo_on_a_crate(registered_image(app, "kobalt-kb-pro2-box.png"), photo, angle=11, size=(520, 640),
                     at=(600, 250), clutter=3)
    case_id = detained_case(app, photo)

    legal = person(browser, journey, base, "legal@demo.example")
    legal.get_by_role("link", name="Cases", exact=True).click()
    journey.key_page(legal, "cases")
    legal.get_by_role("link", name=f"#{case_id}", exact=True).first.click()
    expect(legal.locator("h1")).to_have_text("Infringement confirmed")
    legal.get_by_role("button", name="Export evidence package").click()
    expect(legal.get_by_text("Evidence package exported")).to_be_visible()
    exported = legal.get_by_role("row").filter(has=legal.get_by_role("link", name=re.compile("^Download")))
    expect(exported).to_have_count(1)
    expect(exported).to_contain_text("interim")  # the case is still open
    manifest_sha = exported.locator("code").inner_text().strip()
    assert re.fullmatch(r"[0-9a-f]{64}", manifest_sha)
    journey.key_page(legal, "case-exported")

    with legal.expect_download() as download_info:
        exported.get_by_role("link", name=re.compile("^Download")).click()
    download = download_info.value
    assert download.suggested_filename.endswith(".zip")
    package = tmp_path / download.suggested_filename
    download.save_as(package)
    with zipfile.ZipFile(package) as archive:
        names = set(archive.namelist())
        assert {"manifest.json", "manifest.sig", "case.json"} <= names
        assert any(name.endswith(".jpg") for name in names)  # the photo as taken

    # The intact package verifies.
    legal.get_by_role("link", name="Verify").click()
    expect(legal.get_by_role("heading", name="Verify an evidence package")).to_be_visible()
    legal.get_by_label("Package ZIP").set_input_files(str(package))
    legal.get_by_role("button", name="Verify").click()
    result = legal.locator("#verify-result")
    expect(result).to_contain_text("The package is intact")
    expect(result).to_contain_text(package.name)
    journey.key_page(legal, "verify-intact")

    # One changed byte in the case record's data: rejected, and the reason names the file.
    changed = tmp_path / f"changed-{package.name}"
    flip_one_byte_of(package, "case.json", changed)
    assert changed.read_bytes() != package.read_bytes()
    legal.get_by_label("Package ZIP").set_input_files(str(changed))
    legal.get_by_role("button", name="Verify").click()
    result = legal.locator("#verify-result")
    expect(result).to_contain_text("The package is not intact")
    expect(result.locator("li").first).to_contain_text("case.json")
    expect(legal.get_by_text("The package is intact")).to_have_count(0)
    journey.key_page(legal, "verify-rejected")
    journey.check()


# -- the checks themselves --------------------------------------------------------------------

def test_the_page_checks_catch_a_blocked_script_and_a_serious_violation(demo_server, browser, tmp_path, monkeypatch):
    """What every journey relies on: a clean page passes, while a script the Content Security
    Policy blocks and an image without a text alternative (a critical axe finding) fail."""
    from tests.browser.conftest import Journey

    monkeypatch.setenv("ARTIFACTS_DIR", str(tmp_path))
    _, base = demo_server
    journey = Journey("page-checks")
    page = journey.watch(browser.new_page())
    page.goto(base + "/login")
    journey.key_page(page, "login")
    journey.check()

    # Added to the DOM by the test (page.evaluate is not subject to the CSP); the page's own
    # policy must refuse to run the inline script.
    page.evaluate("""() => {
        const script = document.createElement('script');
        script.textContent = 'window.injected = true';
        document.body.append(script);
        const image = document.createElement('img');
        image.src = '/static/favicon.svg';
        document.querySelector('main').append(image);
    }""")
    journey.key_page(page, "login-damaged")
    assert page.evaluate("() => window.injected") is None
    with pytest.raises(AssertionError) as failure:
        journey.check()
    assert "image-alt" in str(failure.value)
    assert "Content Security Policy" in str(failure.value)
    assert (tmp_path / "screenshots" / "page-checks" / "02-login-damaged.png").stat().st_size > 0
