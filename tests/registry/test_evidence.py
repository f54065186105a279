"""Evidence packages: complete, byte-exact, signed, and rejected after any change."""

from __future__ import annotations

import hashlib
import io
import json
import os
import random
import re
import shutil
import subprocess
import sys
import zipfile
from datetime import date, datetime, timezone

import pytest
from PIL import Image
from sqlalchemy import func, select

from registry import evidence_verifier as ev
from registry.models import AuditCheckpoint, AuditEvent, Check, CheckPhoto, EvidenceExport, Suggestion
from registry.services import audit, cases, evidence
from registry.services.errors import Forbidden, NotFound
from registry.services.evidence_report import RefusedResource, package_fetcher, render_report
from registry.services.profiles import load_profiles
from registry.services.signing import load_or_create
from registry.storage import BlobStore
from tests.registry.conftest import pin_protection

PROFILES = load_profiles()


def photo_bytes(seed: int, size=(640, 480)) -> bytes:
    """A textured JPEG with EXIF (GPS-like) metadata: evidence keeps every byte of it."""
    rng = random.Random(seed)
    image = Image.effect_noise(size, 40).convert("RGB")
    for _ in range(20):
        x, y = rng.randrange(size[0]), rng.randrange(size[1])
        image.paste((rng.randrange(256), rng.randrange(256), rng.randrange(256)), (x, y, x + 60, y + 40))
    exif = Image.Exif()
    exif[0x010F] = f"Camera {seed}"
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=85, exif=exif.tobytes())
    return out.getvalue()


@pytest.fixture
def case(session, world, blobs):
    """A detained case with two photos, a matched registered image, the holder's answer and a sample."""
    pin_protection(session, world)  # the case runs on fixed days
    photos = [photo_bytes(1), photo_bytes(2)]
    check = Check(officer_id=world.officer.id, declared_brand="A1pha", description="running shoes",
                  declarant="Declarant Trading Ltd", consignor="Shenzhen Shipper Co", origin_country="CN",
                  quantity=200, quantity_unit="pairs", declared_value=600, currency="EUR",
                  snapshot_id="snap-test-1", thresholds_version="thresholds/1",
                  created_at=datetime(2026, 12, 18, 9, 0, tzinfo=timezone.utc))
    for position, data in enumerate(photos, start=1):
        check.photos.append(CheckPhoto(position=position, sha256=blobs.put(data), thumbnail_sha256=blobs.put(data),
                                       content_type="image/jpeg", byte_size=len(data), width=640, height=480,
                                       original_filename=f"border-{position}.jpg"))
    check.suggestions.append(Suggestion(
        rank=1, right_id=world.a.right.id, brand_name="ALPHA", score=0.91, recommendation="detain",
        signals=[{"name": "word mark", "score": 0.9, "reason": "declared brand 'A1pha' reads as ALPHA",
                  "available": True},
                 {"name": "price", "score": 0.8, "reason": "3.00 EUR a pair, the genuine range is 50-90 EUR",
                  "available": True},
                 {"name": "printed text", "score": 0.0, "reason": "OCR not available", "available": False}],
        evidence=[{"photo": 1, "reference_image_id": world.a.image.id,
                   "polygon": [[100, 80], [400, 90], [390, 330], [110, 320]], "method": "local features",
                   "inliers": 57, "score": 0.88}]))
    session.add(check)
    session.commit()
    opened = cases.open_detention(session, world.officer, PROFILES, check.id, {
        "jurisdiction": "EU", "procedure": "standard", "legal_basis": "application",
        "office": "Hamburg customs office", "office_country": "DE"}, today=date(2026, 12, 18))
    cases.advance(session, world.officer, opened.id, "notify", today=date(2026, 12, 21), profiles=PROFILES)
    # Another organisation's work lands in the chain between the case's events.
    audit.record(session, world.b.holder, "product.update", object_type="product", object_id=world.b.product.id,
                 organisation_id=world.b.organisation.id, after={"covert_features": "BETA-SECRET-CANARY"})
    cases.advance(session, world.officer, opened.id, "await_response", today=date(2026, 12, 21))
    cases.respond(session, world.a.holder, opened.id, {
        "answer": "infringement", "wrong_features": [str(world.a.product.features[0].id)],
        "cited_images": [str(world.a.image.id)], "consent_to_destruction": True,
        "reasons": "the embossed logo is printed, not embossed"}, today=date(2026, 12, 22))
    cases.record_sample(session, world.officer, opened.id, {
        "reference": "S-1", "quantity": "2 pairs", "handed_to": "Alpha lab", "handed_on": "2026-12-23"})
    session.commit()
    opened._photos = photos  # the bytes as uploaded, for comparison
    return opened


@pytest.fixture
def signer(app):
    return app.extensions["signer"]


def export(session, world, blobs, signer, case, actor=None, **kwargs):
    made = evidence.export_evidence(session, actor or world.legal, blobs, signer, case.id, profiles=PROFILES, **kwargs)
    session.commit()
    return made, blobs.get(made.package_sha256)


@pytest.fixture
def package(session, world, blobs, signer, case):
    made, data = export(session, world, blobs, signer, case)
    return made, data, ev.read_zip(data)


def test_package_holds_everything_byte_exact_and_verifies(session, world, blobs, signer, case, package):
    made, data, files = package
    assert evidence.verify_package(data, signer).ok
    names = set(files)
    assert {"manifest.json", "manifest.sig", "public_key.pem", "verify.py", "report.pdf", "case.json",
            "matches.json", "audit/chain.json", "README.txt"} <= names
    photos = sorted(n for n in names if n.startswith("photos/"))
    assert [files[n] for n in photos] == case._photos  # the originals, EXIF and all
    reference = next(n for n in names if n.startswith("references/"))
    assert files[reference] == blobs.get(world.a.image.sha256)
    manifest = json.loads(files["manifest.json"])
    assert {e["path"] for e in manifest["files"]} == names - {"manifest.json", "manifest.sig"}
    assert all(hashlib.sha256(files[e["path"]]).hexdigest() == e["sha256"] and len(files[e["path"]]) == e["size"]
               for e in manifest["files"])
    assert manifest["exported_by"]["email"] == world.legal.email and manifest["case"]["interim"] is True
    record = json.loads(files["case.json"])
    assert record["responses"][0]["answer"] == "infringement" and record["samples"][0]["handed_to"] == "Alpha lab"
    assert [e["to_state"] for e in record["timeline"]][:3] == ["detained", "notified", "awaiting_response"]
    assert any(d["due"] for d in record["deadlines"]) and record["notices"]
    matches = json.loads(files["matches.json"])
    assert matches["engine"] == {"registry_snapshot": "snap-test-1", "thresholds_version": "thresholds/1", "notes": []}
    assert matches["suggestions"][0]["signals"][1]["reason"].startswith("3.00 EUR")
    assert matches["suggestions"][0]["image_evidence"][0]["reference_file"] == reference

    # The export is in the chain, signed, and its manifest's hash recorded after it.
    exported = session.scalar(select(AuditEvent).where(AuditEvent.action == "case.evidence_export"))
    assert exported.seq == made.audit_seq and session.scalar(
        select(AuditCheckpoint).where(AuditCheckpoint.seq == exported.seq)) is not None
    sealed = session.scalar(select(AuditEvent).where(AuditEvent.action == "case.evidence_sealed"))
    assert sealed.after["manifest_sha256"] == hashlib.sha256(files["manifest.json"]).hexdigest() == made.manifest_sha256
    assert audit.verify_chain(session, signer).ok
    chain = json.loads(files["audit/chain.json"])
    full = [e for e in chain["events"] if "content" in e]
    assert {e["content"]["action"] for e in full} >= {"case.open", "case.notify", "case.await_response",
                                                      "case.disclose", "case.response", "case.evidence_export"}
    # Other organisations' and unrelated events are links only: no content leaks.
    assert any("content" not in e for e in chain["events"])
    assert "BETA-SECRET-CANARY" not in b"".join(files.values()).decode("latin-1")


def test_report_states_the_key_facts(case, package):
    from pypdf import PdfReader

    made, _, files = package
    reader = PdfReader(io.BytesIO(files["report.pdf"]))
    text = " ".join(page.extract_text() for page in reader.pages)
    text = " ".join(text.split())
    manifest = json.loads(files["manifest.json"])
    for fact in [evidence.case_reference(case), "INTERIM", "Alpha Brands GmbH", "Declarant Trading Ltd",
                 "Hamburg customs office", "running shoes", "ALPHA", "3.00 EUR a pair",
                 "the embossed logo is printed", "Alpha lab", "S-1", made.package_id,
                 manifest["evidence_digest"][:32], "Legal"]:
        assert fact in text, fact
    images = sum(len(page.images) for page in reader.pages)
    assert images >= 3  # two photos and the matched registered image


def test_report_is_byte_identical_for_the_same_input(session, world, blobs, signer, case):
    captured = {}

    def capture(context, files):
        captured.update(context=context, files=dict(files))
        return render_report(context, files)

    made, data = export(session, world, blobs, signer, case, render_pdf=capture)
    first = ev.read_zip(data)["report.pdf"]
    again = render_report(captured["context"], captured["files"])
    assert again == first


def test_report_reads_nothing_outside_the_package():
    fetcher = package_fetcher({"report/photo-01.png": b"png"})
    assert fetcher.fetch("file:///package/report/photo-01.png").read() == b"png"
    for url in ["file:///etc/passwd", "file:///package/../../etc/passwd", "http://169.254.169.254/latest",
                "https://example.com/x.png", "file:///package/manifest.json", "data:text/plain,hi"]:
        with pytest.raises((RefusedResource, ValueError)):
            fetcher.fetch(url)


def test_exported_open_and_closed_cases(session, world, blobs, signer, case):
    # Within the declarant's period, which ends on 6 January 2027.
    cases.record_declarant_answer(session, world.officer, case.id, "consent", profiles=PROFILES,
                                  today=date(2026, 12, 23))
    cases.advance(session, world.officer, case.id, "destroy", profiles=PROFILES, note="certificate V-7",
                  today=date(2026, 12, 23))
    cases.advance(session, world.officer, case.id, "close", profiles=PROFILES, today=date(2026, 12, 23))
    session.commit()
    made, data = export(session, world, blobs, signer, case)
    assert made.interim is False
    from pypdf import PdfReader

    text = " ".join(p.extract_text() for p in PdfReader(io.BytesIO(ev.read_zip(data)["report.pdf"])).pages)
    assert "INTERIM" not in text and "Closed" in text


def test_who_may_export(session, world, blobs, signer, case):
    with pytest.raises(Forbidden):
        evidence.export_evidence(session, world.admin, blobs, signer, case.id, profiles=PROFILES)
    with pytest.raises((Forbidden, NotFound)):
        evidence.export_evidence(session, world.a.holder, blobs, signer, case.id, profiles=PROFILES)
    session.rollback()
    made, _ = export(session, world, blobs, signer, case, actor=world.officer)
    assert made.exported_by_id == world.officer.id


@pytest.mark.parametrize("damage", ["missing", "changed"])
def test_a_missing_or_changed_blob_refuses_the_export(session, world, blobs, signer, case, damage):
    target = blobs.path_for(case.check.photos[1].sha256)
    if damage == "missing":
        target.unlink()
    else:
        target.write_bytes(target.read_bytes()[:-10] + b"0123456789")
    events_before = session.scalar(select(func.count(AuditEvent.id)))
    with pytest.raises(evidence.EvidenceIncomplete) as raised:
        evidence.export_evidence(session, world.legal, blobs, signer, case.id, profiles=PROFILES)
    session.rollback()
    assert "photo 2 ('border-2.jpg')" in str(raised.value)
    assert ("missing" if damage == "missing" else "no longer matches") in str(raised.value)
    assert session.scalar(select(func.count(AuditEvent.id))) == events_before
    assert session.scalar(select(func.count(EvidenceExport.id))) == 0


# -- tampering --------------------------------------------------------------------------------

def _verify(files, signer):
    return ev.verify_files(files, trusted_fingerprint=signer.fingerprint)


def test_two_thousand_single_bit_flips_are_all_rejected(signer, package):
    _, _, files = package
    rng = random.Random(5)
    names = sorted(files)
    # Every file gets flips; manifest and signature get extra ones.
    targets = names * (2000 // len(names) + 1)
    targets = targets[:2000 - 200] + ["manifest.json"] * 100 + ["manifest.sig"] * 100
    for name in targets:
        data = bytearray(files[name])
        index = rng.randrange(len(data))
        data[index] ^= 1 << rng.randrange(8)
        report = _verify({**files, name: bytes(data)}, signer)
        assert not report.ok, f"a flipped bit in {name} at byte {index} was accepted"


def test_a_changed_byte_anywhere_in_the_zip_is_rejected_not_a_crash(signer, package):
    """Flips in the package as downloaded, half of them in the ZIP's own bytes (headers, dates,
    attributes, the central directory), which no file's hash covers: each is reported as not
    intact, none crashes the verifier."""
    data = package[1]
    rng = random.Random(11)
    archive = zipfile.ZipFile(io.BytesIO(data))
    contents = set()
    for info in archive.infolist():
        start = info.header_offset + 30 + len(info.orig_filename)
        contents.update(range(start, start + info.compress_size))
    container = [i for i in range(len(data)) if i not in contents]
    assert all(info.compress_type == zipfile.ZIP_STORED for info in archive.infolist())
    for index in rng.sample(range(len(data)), 300) + rng.sample(container, 300):
        changed = bytearray(data)
        changed[index] ^= 1 << rng.randrange(8)
        report = evidence.verify_package(bytes(changed), signer)
        assert not report.ok, f"a flipped bit at byte {index} of the ZIP was accepted"


def test_a_changed_file_is_named_and_a_changed_container_is_told_apart(signer, package):
    """A byte changed inside a member's data is reported as that file changed (not as an
    unreadable package); one changed in the ZIP's own records, every file intact, as the ZIP
    changed after export."""
    _, data, _ = package
    archive = zipfile.ZipFile(io.BytesIO(data))
    info = archive.getinfo("case.json")
    start = info.header_offset + 30 + len(info.orig_filename)
    changed = bytearray(data)
    changed[start + 20] ^= 0x04
    report = evidence.verify_package(bytes(changed), signer)
    assert report.problems == ["case.json changed: its SHA-256 does not match the manifest"]
    rechecked = bytearray(data)
    rechecked[info.header_offset + 14] ^= 0x01  # the CRC-32 in the local header
    report = evidence.verify_package(bytes(rechecked), signer)
    assert len(report.problems) == 1
    assert report.problems[0].startswith("every file is as signed, but the ZIP itself was changed after it was "
                                         f"exported: from byte {info.header_offset + 14:,}")
    appended = evidence.verify_package(data + b"\0", signer)
    assert not appended.ok and "added after its end" in appended.problems[0]


def test_a_package_of_the_earlier_compressed_format_still_verifies(signer, package):
    """Packages exported before members were stored (deflated, by ``zipfile``) keep verifying
    by their files; the report says their ZIP headers are not checked. A package exported
    stored and compressed afterwards is not taken for one of them: its signed manifest says
    how it was written."""
    files = package[2]
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name in ev.package_order(files):
            archive.writestr(name, files[name])
    recompressed = evidence.verify_package(out.getvalue(), signer)
    assert recompressed.problems == ["every file is as signed, but the ZIP itself was changed after it was "
                                     "exported: it was written with its files stored and is now compressed"]
    # An earlier package: the same files, its manifest without "container", signed then.
    earlier = dict(files)
    manifest = json.loads(files["manifest.json"])
    del manifest["container"]
    earlier["manifest.json"] = json.dumps(manifest).encode()
    earlier["manifest.sig"] = ev.signature_text(signer.sign(earlier["manifest.json"]))
    files = earlier
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name in ev.package_order(files):
            archive.writestr(zipfile.ZipInfo(name, date_time=(2026, 11, 2, 10, 0, 0)), files[name],
                             compress_type=zipfile.ZIP_DEFLATED)
    report = evidence.verify_package(out.getvalue(), signer)
    assert report.ok, report.problems
    assert "compressed" in report.facts["ZIP container"]
    changed = dict(files, **{"case.json": files["case.json"] + b" "})
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name in ev.package_order(changed):
            archive.writestr(name, changed[name])
    assert not evidence.verify_package(out.getvalue(), signer).ok


def test_the_zip_is_rebuilt_byte_for_byte_from_its_files(package):
    """What the container check rests on: the writer makes the downloaded package again from
    its files and date alone, and ``zipfile`` reads what it writes."""
    made, data, files = package
    stamp = zipfile.ZipFile(io.BytesIO(data)).infolist()[0].date_time
    assert ev.write_zip(files, stamp) == data
    assert ev.read_zip(ev.write_zip(files, stamp)) == files
    assert list(ev.read_zip(data)) == ev.package_order(files)


def test_every_file_removed_added_or_renamed_is_rejected(signer, package):
    _, _, files = package
    for name in files:
        removed = {k: v for k, v in files.items() if k != name}
        report = _verify(removed, signer)
        assert not report.ok and any(name in p for p in report.problems), name
        renamed = {**removed, name + ".orig": files[name]}
        report = _verify(renamed, signer)
        assert not report.ok and any(name + ".orig" in p for p in report.problems), name
    for extra in ["photos/03-extra.jpg", "notes.txt", "audit/extra.json"]:
        report = _verify({**files, extra: b"planted"}, signer)
        assert not report.ok and any(extra in p and "not in the manifest" in p for p in report.problems)


def resign(files: dict[str, bytes], key) -> dict[str, bytes]:
    """What a forger with another key does: new photo, new manifest, new signature, new key."""
    forged = dict(files)
    photo = next(n for n in files if n.startswith("photos/"))
    forged[photo] = photo_bytes(99)
    manifest = json.loads(files["manifest.json"])
    manifest["signing_key"]["fingerprint"] = key.fingerprint
    for entry in manifest["files"]:
        if entry["path"] == "public_key.pem":
            forged["public_key.pem"] = key.public_pem
        entry["sha256"] = hashlib.sha256(forged[entry["path"]]).hexdigest()
        entry["size"] = len(forged[entry["path"]])
    manifest["evidence_digest"] = ev.evidence_digest(manifest["files"])
    forged["manifest.json"] = json.dumps(manifest).encode()
    forged["manifest.sig"] = ev.signature_text(key.sign(forged["manifest.json"]))
    return forged


def test_a_package_resigned_with_another_key_is_rejected(signer, package, tmp_path):
    _, _, files = package
    forged = resign(files, load_or_create(tmp_path / "forger.pem"))
    assert ev.verify_files(forged, trusted_fingerprint=ev.key_fingerprint(
        load_or_create(tmp_path / "forger.pem").public_key)).problems  # the audit checkpoint still fails
    report = _verify(forged, signer)
    assert not report.ok and any("re-signed" in p for p in report.problems)


def _zip(files: dict[str, bytes]) -> bytes:
    return evidence.build_zip(files, datetime(2026, 12, 1, tzinfo=timezone.utc))


def _run_verifier(cwd, *args):
    """The shipped verify.py, in a fresh interpreter without network (or with sockets refused)."""
    command = [sys.executable, "verify.py", *args]
    if shutil.which("unshare") and subprocess.run(["unshare", "-rn", "true"], capture_output=True).returncode == 0:
        command = ["unshare", "-rn", *command]
    env = {"PATH": os.environ.get("PATH", ""), "PYTHONDONTWRITEBYTECODE": "1", "no_proxy": "*"}
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=120)


def test_the_shipped_verifier_runs_alone(signer, package, tmp_path):
    _, data, files = package
    shipped = files["verify.py"].decode()
    assert f"EXPECTED_FINGERPRINT: str | None = {signer.fingerprint!r}" in shipped
    imports = {line.split()[1].split(".")[0] for line in shipped.splitlines() if line.startswith(("import ", "from "))}
    assert imports <= {"__future__", "argparse", "hashlib", "io", "json", "re", "struct", "sys", "zipfile", "dataclasses",
                       "datetime", "zlib", "pathlib", "typing", "cryptography"}

    unpacked = tmp_path / "unpacked"
    for name, content in files.items():
        (unpacked / name).parent.mkdir(parents=True, exist_ok=True)
        (unpacked / name).write_bytes(content)
    result = _run_verifier(unpacked)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "intact" in result.stdout and signer.fingerprint in result.stdout

    (tmp_path / "case.zip").write_bytes(data)
    assert _run_verifier(unpacked, str(tmp_path / "case.zip")).returncode == 0

    flipped = bytearray(files["case.json"])
    flipped[10] ^= 4
    (tmp_path / "changed.zip").write_bytes(_zip({**files, "case.json": bytes(flipped)}))
    result = _run_verifier(unpacked, str(tmp_path / "changed.zip"))
    assert result.returncode == 1 and "case.json changed" in result.stdout

    # The files intact, the ZIP not: the first member's date in its local header moved a day.
    redated = bytearray(data)
    redated[12] ^= 1
    (tmp_path / "redated.zip").write_bytes(bytes(redated))
    result = _run_verifier(unpacked, str(tmp_path / "redated.zip"))
    assert result.returncode == 1 and "the ZIP itself was changed after it was exported: from byte 12 " in result.stdout

    forged = resign(files, load_or_create(tmp_path / "forger.pem"))
    (tmp_path / "forged.zip").write_bytes(_zip(forged))
    result = _run_verifier(unpacked, str(tmp_path / "forged.zip"))
    assert result.returncode == 1 and "re-signed" in result.stdout

    (unpacked / "photos" / "extra.jpg").write_bytes(b"x")
    result = _run_verifier(unpacked)
    assert result.returncode == 1 and "photos/extra.jpg is in the package but not in the manifest" in result.stdout


def test_hostile_zips_are_refused_without_writing(tmp_path, signer):
    bomb = io.BytesIO()
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("manifest.json", b"\0" * (300 * 1024 * 1024))
    with pytest.raises(ev.UnreadablePackage, match="ZIP bomb"):
        ev.read_zip(bomb.getvalue())
    for name in ["../evil.txt", "/etc/passwd", "a/../../b", "C:\\x", ".hidden", "photos/", "photos/\u202egpj.exe", "x" * 300]:
        archive_bytes = io.BytesIO()
        with zipfile.ZipFile(archive_bytes, "w") as archive:
            archive.writestr(zipfile.ZipInfo(name), b"x")
        with pytest.raises(ev.UnreadablePackage, match="unsafe name"):
            ev.read_zip(archive_bytes.getvalue())
    assert not (tmp_path.parent / "evil.txt").exists()
    report = evidence.verify_package(b"PK\x03\x04 not really a zip", signer)
    assert not report.ok and "cannot be read" in report.problems[0]


def test_cli_export_and_verify(app, session, world, case, tmp_path):
    runner = app.test_cli_runner()
    out = tmp_path / "package.zip"
    result = runner.invoke(args=["evidence", "export", str(case.id), "--actor", world.legal.email, "--out", str(out)])
    assert result.exit_code == 0, result.output
    result = runner.invoke(args=["evidence", "verify", str(out)])
    assert result.exit_code == 0 and "intact" in result.output
    files = ev.read_zip(out.read_bytes())
    files["matches.json"] = files["matches.json"].replace(b"0.91", b"0.19")
    (tmp_path / "changed.zip").write_bytes(_zip(files))
    result = runner.invoke(args=["evidence", "verify", str(tmp_path / "changed.zip")])
    assert result.exit_code == 1 and "matches.json changed" in result.output
    (tmp_path / "junk.zip").write_bytes(b"junk")
    result = runner.invoke(args=["evidence", "verify", str(tmp_path / "junk.zip")])
    assert result.exit_code == 2 and "not a ZIP" in result.output
    result = runner.invoke(args=["evidence", "key"])
    assert app.extensions["signer"].fingerprint in result.output


def test_case_register(session, world, blobs, signer, case):
    export(session, world, blobs, signer, case)
    text = evidence.case_register_csv(session, world.legal, PROFILES, start=date(2026, 12, 1), end=date(2026, 12, 31))
    import csv

    rows = list(csv.DictReader(io.StringIO(text)))
    assert len(rows) == 1 and rows[0]["case"] == evidence.case_reference(case)
    assert rows[0]["detained_on"] == "2026-12-18" and rows[0]["evidence_exports"] == "1"
    assert rows[0]["state"] == "Infringement confirmed" and rows[0]["rights_holder"] == "Alpha Brands GmbH"
    assert (rows[0]["office_country"], rows[0]["office_region"]) == ("DE", "")  # the national calendar
    assert rows[0]["office_zone"] == "Europe/Berlin"  # the office's days, on a service run in UTC
    case.office_region = "HH"
    session.commit()
    text = evidence.case_register_csv(session, world.legal, PROFILES, start=date(2026, 12, 1), end=date(2026, 12, 31))
    assert next(csv.DictReader(io.StringIO(text)))["office_region"] == "HH"
    assert evidence.case_register_csv(session, world.legal, PROFILES, start=date(2027, 1, 1),
                                      end=date(2027, 1, 31)).count("\n") == 1
    with pytest.raises(Forbidden):
        evidence.case_register_csv(session, world.a.holder, PROFILES, start=date(2026, 1, 1), end=date(2026, 12, 31))


# -- pages ------------------------------------------------------------------------------------

def test_legal_exports_downloads_and_verifies_in_the_app(session, world, case, signed_in, signer):
    client = signed_in(world.legal)
    page = client.get(f"/cases/{case.id}").get_data(as_text=True)
    assert "Export evidence package" in page and "interim" in page
    client.refresh_token(f"/cases/{case.id}")
    response = client.post(f"/cases/{case.id}/evidence")
    assert response.status_code == 302
    made = session.scalar(select(EvidenceExport))
    page = client.get(f"/cases/{case.id}").get_data(as_text=True)
    assert made.manifest_sha256 in page
    download = client.get(f"/cases/{case.id}/evidence/{made.id}")
    assert download.status_code == 200 and download.mimetype == "application/zip"
    assert "attachment" in download.headers["Content-Disposition"]
    data = download.get_data()
    assert hashlib.sha256(data).hexdigest() == made.package_sha256
    actions = set(session.scalars(select(AuditEvent.action)))
    assert {"case.view", "case.evidence_export", "case.evidence_sealed", "case.evidence_download"} <= actions

    client.refresh_token("/evidence/verify")
    result = client.post("/evidence/verify", {"package": (io.BytesIO(data), "case.zip")},
                         content_type="multipart/form-data")
    page = result.get_data(as_text=True)
    assert result.status_code == 200 and "The package is intact" in page
    # The page counts files as the export did, says whether the package is final, and reads its time.
    assert f"{made.file_count} (" in page and "interim: exported while the case was open" in page
    assert re.search(r"\d{2} \w+ \d{4}, \d{2}:\d{2}:\d{2} UTC", page)

    files = ev.read_zip(data)
    photo = next(n for n in files if n.startswith("photos/"))
    changed = bytearray(files[photo])
    changed[len(changed) // 2] ^= 0x10
    result = client.post("/evidence/verify", {"package": (io.BytesIO(_zip({**files, photo: bytes(changed)})), "c.zip")},
                         content_type="multipart/form-data")
    body = result.get_data(as_text=True)
    assert result.status_code == 422 and "not intact" in body and f"{photo} changed" in body
    result = client.post("/evidence/verify", {"package": (io.BytesIO(b"not a zip"), "c.zip")},
                         content_type="multipart/form-data")
    body = result.get_data(as_text=True)
    assert result.status_code == 422 and "cannot be read" in body and "not an evidence package" in body
    assert signer.fingerprint in client.get("/evidence/verify").get_data(as_text=True)
    assert client.get("/evidence/public-key.pem").get_data() == signer.public_pem

    register = client.get("/cases/register.csv?start=2026-12-01&end=2026-12-31")
    assert register.status_code == 200 and evidence.case_reference(case) in register.get_data(as_text=True)
    bad = client.get("/cases/register.csv?start=2026-12-31&end=2026-12-01")
    assert bad.status_code == 302


def test_holders_cannot_export_or_download(session, world, blobs, signer, case, signed_in):
    made, _ = export(session, world, blobs, signer, case)
    client = signed_in(world.a.holder)
    client.refresh_token(f"/cases/{case.id}")
    assert "Export evidence package" not in client.get(f"/cases/{case.id}").get_data(as_text=True)
    assert client.post(f"/cases/{case.id}/evidence").status_code == 403
    assert client.get(f"/cases/{case.id}/evidence/{made.id}").status_code == 403
    assert client.get("/cases/register.csv").status_code == 403
    assert session.scalar(select(func.count(EvidenceExport.id))) == 1


def test_export_refused_in_the_app_names_the_file(session, world, blobs, case, signed_in):
    blobs.path_for(case.check.photos[0].sha256).unlink()
    client = signed_in(world.legal)
    client.refresh_token(f"/cases/{case.id}")
    response = client.post(f"/cases/{case.id}/evidence")
    assert response.status_code == 302
    page = client.get(f"/cases/{case.id}").get_data(as_text=True)
    assert "was not exported" in page and "border-1.jpg" in page
    assert session.scalar(select(func.count(EvidenceExport.id))) == 0


def test_rendering_a_report_leaves_upload_checks_strict(package):
    # WeasyPrint's import turns on Pillow's truncated-image loading for the whole process.
    from registry.services.errors import ValidationError
    from registry.services.uploads import inspect_image

    truncated = photo_bytes(3)[:2000]
    with pytest.raises(ValidationError, match="damaged or truncated"):
        inspect_image(truncated, max_bytes=10**7, max_pixels=10**8, name="photo")
