"""Bulk import: row-by-row report, partial failure, idempotency and hostile archives."""

from __future__ import annotations

import csv
import io
import json
import zipfile

import pytest
from sqlalchemy import func, select

from registry.models import AuditEvent, Product, ReferenceImage, Supplier
from registry.services import importing
from registry.services.errors import ValidationError
from registry.services.products import UploadPolicy
from tests.registry.conftest import png_bytes


def product_csv(rows: list[dict]) -> bytes:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=importing.PRODUCT_COLUMNS)
    writer.writeheader()
    for row in rows:
        writer.writerow(row)
    return out.getvalue().encode()


def image_zip(files: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return out.getvalue()


GOOD = {"name": "Alpha Sprint", "model": "S1", "category": "shoes", "brand": "ALPHA",
        "gtins": "4006381333931", "hs_codes": "6404.11", "price_min": "40", "price_max": "80",
        "currency": "EUR", "production_countries": "VN, Indonesia", "intended_markets": "DE",
        "overt_features": "embossed logo|heel tab", "covert_features": "UV thread",
        "counterfeit_clues": "glue marks", "images": "packaging:box.png; logo:img/logo.png"}


def run(session, world, blobs, data: bytes, *, filename="products.csv", kind="products", images=None):
    return importing.import_dossier(session, world.a.holder, blobs, UploadPolicy(),
                                    organisation_id=world.a.organisation.id, kind=kind, data=data,
                                    filename=filename, images_zip=images)


def counts(session) -> tuple[int, int, int]:
    return tuple(session.scalar(select(func.count()).select_from(m)) for m in (Product, ReferenceImage, Supplier))


def test_partial_import_reports_each_row_and_reimport_changes_nothing(session, world, blobs):
    rows = [
        GOOD,
        {**GOOD, "name": "Bad GTIN", "gtins": "4006381333932", "images": ""},
        {**GOOD, "name": "Bad country", "production_countries": "Mordor", "images": ""},
        {**GOOD, "name": "Bad price", "price_min": "90", "price_max": "10", "images": ""},
        {**GOOD, "name": "Missing image", "images": "packaging:nothere.png"},
        {**GOOD, "name": "Unknown brand", "brand": "OMEGA", "images": ""},
        {**GOOD, "name": "Alpha Walk", "model": "W1", "gtins": "", "images": "label:box.png"},
    ]
    archive = image_zip({"box.png": png_bytes(colour=(1, 2, 3)), "img/logo.png": png_bytes(colour=(9, 9, 9))})
    before = counts(session)
    report = run(session, world, blobs, product_csv(rows), images=archive)
    session.commit()
    assert [r.status for r in report.rows] == ["created", "rejected", "rejected", "rejected",
                                               "rejected", "rejected", "created"]
    reasons = {r.key: " ".join(r.messages) for r in report.rows}
    assert "wrong check digit" in reasons["Bad GTIN S1"]
    assert "not an ISO 3166 country" in reasons["Bad country S1"]
    assert "above the maximum" in reasons["Bad price S1"]
    assert "not in the ZIP" in reasons["Missing image S1"]
    assert "not one of your registered rights" in reasons["Unknown brand S1"]
    assert [r.line for r in report.rows] == [2, 3, 4, 5, 6, 7, 8]
    after = counts(session)
    assert after[0] == before[0] + 2 and after[1] == before[1] + 3
    sprint = session.scalar(select(Product).where(Product.name == "Alpha Sprint"))
    assert sprint.production_countries == ["VN", "ID"]
    assert [f.description for f in sprint.features] == ["embossed logo", "heel tab", "UV thread"]
    assert sprint.right_id == world.a.right.id
    # A rejected row left nothing behind, not even its images.
    assert session.scalar(select(Product).where(Product.name == "Missing image")) is None

    events = session.scalar(select(func.count(AuditEvent.id)))
    again = run(session, world, blobs, product_csv(rows), images=archive)
    session.commit()
    assert [r.status for r in again.rows] == ["unchanged", "rejected", "rejected", "rejected",
                                              "rejected", "rejected", "unchanged"]
    assert counts(session) == after
    # Only the import itself is recorded the second time.
    new = session.scalars(select(AuditEvent.action).where(AuditEvent.id > 0).order_by(AuditEvent.seq.desc())
                          .limit(session.scalar(select(func.count(AuditEvent.id))) - events)).all()
    assert new == ["import.products"]


def test_changed_row_is_updated(session, world, blobs):
    run(session, world, blobs, product_csv([{**GOOD, "images": ""}]))
    report = run(session, world, blobs, product_csv([{**GOOD, "images": "", "category": "trail shoes"}]))
    assert report.rows[0].status == "updated"
    assert session.scalar(select(Product.category).where(Product.name == "Alpha Sprint")) == "trail shoes"


def test_json_products_and_suppliers(session, world, blobs):
    data = json.dumps({"products": [{**GOOD, "images": [{"kind": "packaging", "file": "box.png"}]}]}).encode()
    report = run(session, world, blobs, data, filename="dossier.json",
                 images=image_zip({"box.png": png_bytes()}))
    assert [r.status for r in report.rows] == ["created"]
    suppliers = json.dumps([
        {"role": "manufacturer", "name": "Alpha Vietnam Ltd", "country": "VN"},
        {"role": "forger", "name": "Nope Ltd", "country": "CN"},
        {"role": "exporter", "name": "Alpha Export", "country": "Neverland"},
        "not an object",
    ]).encode()
    report = run(session, world, blobs, suppliers, filename="suppliers.json", kind="suppliers")
    assert [r.status for r in report.rows] == ["created", "rejected", "rejected", "rejected"]
    assert "choose manufacturer" in report.rows[1].messages[0]
    report = run(session, world, blobs, suppliers, filename="suppliers.json", kind="suppliers")
    assert report.rows[0].status == "unchanged"


@pytest.mark.parametrize("data, filename, message", [
    (b"\xff\xfe\x00garbage", "x.csv", "not UTF-8"),
    (b"", "x.csv", "empty"),
    (b'{"products": [', "x.json", "malformed at line 1"),
    (b'"just a string"', "x.json", "list of objects"),
    (b"name\n", "x.xlsx", "upload a .csv or .json"),
    (b'name,model\n"unterminated,quote\n', "x.csv", "malformed"),
])
def test_unreadable_file_changes_nothing(session, world, blobs, data, filename, message):
    before = counts(session)
    with pytest.raises(ValidationError) as error:
        run(session, world, blobs, data, filename=filename)
    assert message in str(error.value)
    session.rollback()
    assert counts(session) == before


def test_row_with_extra_fields_is_rejected(session, world, blobs):
    data = b"name,model\nA,1\nB,2,unexpected\n"
    report = run(session, world, blobs, data)
    assert [r.status for r in report.rows] == ["created", "rejected"]
    assert "more field" in report.rows[1].messages[0]


def _raw_zip(name: str, data: bytes) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        info = zipfile.ZipInfo(name)
        archive.writestr(info, data)
    return out.getvalue()


@pytest.mark.parametrize("name", ["../evil.png", "/etc/evil.png", "a/../../evil.png", "C:\\evil.png", "..\\evil.png"])
def test_zip_with_unsafe_paths_is_refused(session, world, blobs, name):
    before = counts(session)
    with pytest.raises(ValidationError, match="unsafe path"):
        run(session, world, blobs, product_csv([{**GOOD, "images": ""}]), images=_raw_zip(name, png_bytes()))
    session.rollback()
    assert counts(session) == before


def test_zip_bomb_is_refused(session, world, blobs):
    bomb = image_zip({"box.png": b"\x00" * (50 * 1024 * 1024)})
    assert len(bomb) < 200_000
    with pytest.raises(ValidationError, match="ZIP bomb"):
        run(session, world, blobs, product_csv([GOOD]), images=bomb)


def test_not_a_zip(session, world, blobs):
    with pytest.raises(ValidationError, match="not a valid ZIP"):
        run(session, world, blobs, product_csv([GOOD]), images=b"PK\x03\x04 not really")


def test_hostile_image_inside_zip_rejects_only_its_row(session, world, blobs):
    archive = image_zip({"box.png": b"<svg onload=alert(1)>", "ok.png": png_bytes()})
    rows = [GOOD, {**GOOD, "name": "Fine", "images": "packaging:ok.png"}]
    report = run(session, world, blobs, product_csv(rows), images=archive)
    assert [r.status for r in report.rows] == ["rejected", "created"]
    assert "box.png" in report.rows[0].messages[0] and "SVG" in report.rows[0].messages[0]


def test_import_page_shows_the_report(signed_in, world, session):
    client = signed_in(world.a.holder)
    client.refresh_token("/dossier/import")
    rows = [{**GOOD, "images": ""}, {**GOOD, "name": "Broken", "gtins": "123", "images": ""}]
    response = client.post("/dossier/import", {"kind": "products",
                                               "data": (io.BytesIO(product_csv(rows)), "p.csv"),
                                               "images": (io.BytesIO(b""), "")},
                           content_type="multipart/form-data")
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "1</strong> created" in page and "1</strong> rejected" in page
    assert "has 3 digits" in page
    response = client.post("/dossier/import", {"kind": "products",
                                               "data": (io.BytesIO(b"\xff\xfe"), "p.csv")},
                           content_type="multipart/form-data")
    assert response.status_code == 400 and "not UTF-8" in response.get_data(as_text=True)
