"""Evidence packages: a detention case exported as one ZIP that anyone can verify offline.

The package holds the photos byte for byte as uploaded, the registered images they were
matched against, the engine's results, the case record, the notices and answers, the samples,
the case's slice of the audit chain with the signed checkpoint that covers it, a PDF report,
and a manifest of every file (SHA-256 and size) signed with the installation's Ed25519 key.
``verify.py`` inside the package (a copy of ``registry.evidence_verifier``) checks it all with
nothing but Python and ``cryptography``.

An export is itself an audit event, written and signed (checkpoint) before the slice is cut,
so the package proves who exported it and when. A second event afterwards records the
manifest's hash in the chain. If any stored file is missing or no longer matches its hash,
the export refuses and names the file: a package is complete or it does not exist.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any

from PIL import Image, ImageDraw, ImageOps
from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from registry import evidence_verifier
from registry.models import (AuditCheckpoint, AuditEvent, DetentionCase, EvidenceExport, Notice,
                             ReferenceImage, Role, User)
from registry.models.base import as_utc
from registry.services import audit
from registry.services.auth import require_role
from registry.services.calendar import local_date, zone_name
from registry.services.cases import OPEN_STATES, STATES, case_deadlines, get_case
from registry.services.errors import DomainError, NotFound, ValidationError
from registry.services.profiles import Profile
from registry.services.signing import Signer
from registry.storage import BlobNotFound, BlobStore
from registry.services.spreadsheet import safe_cell as _cell

EXPORT_ROLES = (Role.LEGAL, Role.OFFICER)
_EXTENSIONS = {"image/jpeg": "jpg", "image/png": "png", "image/webp": "webp"}
REPORT_IMAGE_SIZE = 900


class EvidenceIncomplete(DomainError):
    """A stored file the package needs is missing or no longer matches its hash."""


def case_reference(case: DetentionCase) -> str:
    return f"CASE-{case.id:06d}"


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _stored(blobs: BlobStore, sha256: str, what: str) -> bytes:
    try:
        data = blobs.get(sha256)
    except BlobNotFound:
        raise EvidenceIncomplete(f"{what} is missing from storage (SHA-256 {sha256}); "
                                 "nothing was exported") from None
    if _sha256(data) != sha256:
        raise EvidenceIncomplete(f"{what} no longer matches its SHA-256 {sha256}: the stored file was "
                                 "changed or damaged; nothing was exported")
    return data


def _iso(value: datetime | date | None) -> str | None:
    if value is None:
        return None
    return (as_utc(value) if isinstance(value, datetime) else value).isoformat()


def _person(user: User | None) -> dict[str, Any] | None:
    if user is None:
        return None
    return {"id": user.id, "name": user.name, "email": user.email, "role": user.role.value,
            "office": user.office or None}


# -- collecting -------------------------------------------------------------------------------

@dataclass
class _Collected:
    files: dict[str, bytes]
    photos: list[dict[str, Any]]
    references: dict[int, dict[str, Any]]


def _collect_images(session: Session, blobs: BlobStore, case: DetentionCase) -> _Collected:
    """Originals byte for byte (refusing any that changed), plus report-sized copies with the
    matched region outlined (the originals stay untouched)."""
    files: dict[str, bytes] = {}
    photos = []
    outlines: dict[int, list[list[list[float]]]] = {}
    for suggestion in case.check.suggestions:
        for item in suggestion.evidence:
            outlines.setdefault(int(item.get("photo") or 0), []).append(item.get("polygon") or [])
    for photo in case.check.photos:
        what = f"photo {photo.position} ('{photo.original_filename or 'unnamed'}')"
        data = _stored(blobs, photo.sha256, what)
        path = f"photos/{photo.position:02d}-{photo.sha256[:12]}.{_EXTENSIONS.get(photo.content_type, 'bin')}"
        files[path] = data
        shown = f"report/photo-{photo.position:02d}.png"
        files[shown] = _report_image(data, outlines.get(photo.position, []))
        photos.append({"position": photo.position, "file": path, "report_image": shown, "sha256": photo.sha256,
                       "bytes": photo.byte_size, "width": photo.width, "height": photo.height,
                       "content_type": photo.content_type, "original_filename": photo.original_filename})

    wanted: set[int] = {int(item["reference_image_id"]) for s in case.check.suggestions for item in s.evidence
                        if item.get("reference_image_id")}
    for response in case.responses:
        wanted.update(int(i) for i in response.cited_image_ids)
    references: dict[int, dict[str, Any]] = {}
    for image in session.scalars(select(ReferenceImage).where(ReferenceImage.id.in_(wanted))
                                 .order_by(ReferenceImage.id)) if wanted else []:
        data = _stored(blobs, image.sha256, f"registered image {image.id} ('{image.original_filename or 'unnamed'}')")
        path = f"references/{image.id:06d}-{image.sha256[:12]}.{_EXTENSIONS.get(image.content_type, 'bin')}"
        files[path] = data
        shown = f"report/reference-{image.id:06d}.png"
        files[shown] = _report_image(data, [])
        owner = image.product.name if image.product else (image.right.mark_text if image.right else "")
        references[image.id] = {"id": image.id, "file": path, "report_image": shown, "sha256": image.sha256,
                                "kind": image.kind.value, "of": owner, "original_filename": image.original_filename}
    return _Collected(files, photos, references)


def _report_image(data: bytes, polygons: list[list[list[float]]]) -> bytes:
    """A PNG for the report, at most REPORT_IMAGE_SIZE pixels, with each region outlined."""
    with Image.open(io.BytesIO(data)) as opened:
        image = ImageOps.exif_transpose(opened).convert("RGB")
    scale = min(1.0, REPORT_IMAGE_SIZE / max(image.size))
    if scale < 1.0:
        image = image.resize((max(1, round(image.width * scale)), max(1, round(image.height * scale))),
                             Image.Resampling.LANCZOS)
    draw = ImageDraw.Draw(image)
    width = max(3, round(max(image.size) / 150))
    for polygon in polygons:
        points = [(float(x) * scale, float(y) * scale) for x, y in polygon]
        if len(points) >= 2:
            draw.line(points + points[:1], fill=(255, 0, 170), width=width, joint="curve")
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def _related_filter(case: DetentionCase):
    """The audit events about this case, its check and the check's suggestions."""
    suggestion_ids = [s.id for s in case.check.suggestions] or [-1]
    return or_(and_(AuditEvent.object_type == "case", AuditEvent.object_id == case.id),
               and_(AuditEvent.object_type == "check", AuditEvent.object_id == case.check_id),
               and_(AuditEvent.object_type == "suggestion", AuditEvent.object_id.in_(suggestion_ids)))


def _audit_slice(session: Session, case: DetentionCase, last_seq: int) -> dict[str, Any]:
    """From the case's first event to the export: the case's events in full, the others only
    as links (their content belongs to other organisations), and the checkpoints."""
    first = session.scalar(select(AuditEvent.seq).where(_related_filter(case)).order_by(AuditEvent.seq).limit(1))
    first = first or last_seq
    related = set(session.scalars(select(AuditEvent.seq).where(_related_filter(case), AuditEvent.seq >= first,
                                                               AuditEvent.seq <= last_seq)))
    events = [audit.event_record(e, with_content=e.seq in related)
              for e in session.scalars(select(AuditEvent).where(AuditEvent.seq >= first, AuditEvent.seq <= last_seq)
                                       .order_by(AuditEvent.seq)).yield_per(2000)]
    checkpoints = [audit.checkpoint_record(c) for c in session.scalars(
        select(AuditCheckpoint).where(AuditCheckpoint.seq >= first, AuditCheckpoint.seq <= last_seq)
        .order_by(AuditCheckpoint.seq))]
    return {"about": "Audit events of this case (content) between other events (links only), "
                     "with the signed checkpoints that cover them.",
            "from_seq": first, "to_seq": last_seq, "events": events, "checkpoints": checkpoints}


# -- the records ------------------------------------------------------------------------------

def case_record(session: Session, case: DetentionCase, profile: Profile | None) -> dict[str, Any]:
    check = case.check
    notices = session.scalars(select(Notice).where(Notice.case_id == case.id).order_by(Notice.id)).all()
    return {
        "reference": case_reference(case), "id": case.id, "state": case.state, "state_label": STATES.get(case.state),
        "open": case.state in OPEN_STATES,
        "jurisdiction": case.jurisdiction, "profile": profile.name if profile else case.jurisdiction,
        "procedure": case.procedure, "legal_basis": case.legal_basis,
        "office": case.office, "office_country": case.office_country, "office_region": case.office_region or None,
        "office_zone": zone_name(case.office_zone),
        "officer": _person(case.officer),
        "presented_on": _iso(case.presented_on), "detained_on": _iso(case.detained_on),
        "notified_on": _iso(case.notified_on), "extension_granted_on": _iso(case.extension_granted_on),
        "declarant_consent": case.declarant_consent or None,
        "goods": {"description": case.goods_description,
                  "quantity": str(case.goods_quantity) if case.goods_quantity is not None else None,
                  "unit": case.goods_unit},
        "rights_holder": None if case.organisation is None else {
            "organisation": case.organisation.name, "country": case.organisation.country,
            "right": case.right.label if case.right else None,
            "contacts": [{"name": c.name, "email": c.email} for c in case.organisation.contacts]},
        "declaration": {
            "declarant": check.declarant, "consignor": check.consignor, "consignee": check.consignee,
            "manufacturer": check.manufacturer, "origin_country": check.origin_country,
            "transit_countries": check.transit_countries, "destination_country": check.destination_country,
            "transport_mode": check.transport_mode, "document_number": check.document_number,
            "hs_code": check.hs_code, "description": check.description, "declared_brand": check.declared_brand,
            "quantity": str(check.quantity) if check.quantity is not None else None,
            "quantity_unit": check.quantity_unit,
            "declared_value": str(check.declared_value) if check.declared_value is not None else None,
            "currency": check.currency, "gtins": check.gtins},
        "deadlines": [{"key": d.rule.key, "label": d.rule.label, "basis": d.rule.basis, "due": _iso(d.due),
                       "unit": d.rule.unit, "met": d.met, "extended": d.extended, "ended": d.ended}
                      for d in (case_deadlines(case, profile) if profile else [])],
        "timeline": [{"at": _iso(e.at), "actor": e.actor.name if e.actor else "the system", "action": e.action,
                      "from_state": e.from_state, "to_state": e.to_state, "note": e.note, "details": e.details}
                     for e in case.events],
        "notices": [{"at": _iso(n.created_at), "recipient": n.recipient or "in the app", "subject": n.subject,
                     "body": n.body, "disclosed": n.disclosed, "delivery": n.delivery, "read_at": _iso(n.read_at)}
                    for n in notices],
        "responses": [{"at": _iso(r.at), "by": _person(r.actor), "answer": r.answer,
                       "wrong_features": r.wrong_features, "cited_image_ids": r.cited_image_ids,
                       "consent_to_destruction": r.consent_to_destruction, "reasons": r.reasons}
                      for r in case.responses],
        "samples": [{"reference": s.reference, "quantity": s.quantity, "handed_to": s.handed_to,
                     "handed_on": _iso(s.handed_on), "returned_on": _iso(s.returned_on)} for s in case.samples],
    }


def match_record(case: DetentionCase, collected: _Collected) -> dict[str, Any]:
    check = case.check
    return {
        "check_id": check.id, "checked_at": _iso(check.created_at), "officer": _person(check.officer),
        "engine": {"registry_snapshot": check.snapshot_id, "thresholds_version": check.thresholds_version,
                   "notes": check.notes},
        "decision": check.decision.value if check.decision else None, "decision_reason": check.decision_reason,
        "photos": collected.photos,
        "suggestions": [{
            "rank": s.rank, "brand": s.brand_name, "right_id": s.right_id, "score": s.score,
            "recommendation": s.recommendation, "signals": s.signals,
            "image_evidence": [{**item, "reference_file": collected.references.get(
                int(item.get("reference_image_id") or 0), {}).get("file")} for item in s.evidence],
            "verdict": s.verdict.value if s.verdict else None, "verdict_at": _iso(s.verdict_at)}
            for s in check.suggestions],
        "references": list(collected.references.values()),
    }


README = """Evidence package {reference}
===========================

Exported {exported_at} by {exporter}.{interim}

To check that nothing in this package was changed since it was exported:

    pip install cryptography
    python verify.py {zip_name}        (or, unpacked: python verify.py)

The script checks the signature of manifest.json against the key it was exported with
({fingerprint}); compare that fingerprint with the one the exporting customs
authority publishes on its "Verify a package" page, or pass --public-key / --fingerprint.

Contents: report.pdf (the human-readable report), photos/ (as taken, byte for byte),
references/ (the registered images they were matched against), report/ (copies of both with
the matched region outlined, for the report), case.json, matches.json, audit/chain.json,
manifest.json, manifest.sig, public_key.pem, verify.py.
"""


# -- the package ------------------------------------------------------------------------------

def export_evidence(session: Session, actor: User, blobs: BlobStore, signer: Signer, case_id: int, *,
                    profiles: Mapping[str, Profile], render_pdf=None) -> EvidenceExport:
    """Build, sign and store a case's evidence package; the caller commits.

    ``render_pdf(context, files) -> bytes`` renders the report (the default is WeasyPrint via
    ``registry.services.evidence_report``).
    """
    require_role(actor, *EXPORT_ROLES)
    case = get_case(session, actor, case_id)
    profile = profiles.get(case.jurisdiction)
    collected = _collect_images(session, blobs, case)  # refuses before anything is recorded
    interim = case.state in OPEN_STATES
    package_id = str(uuid.uuid4())
    event = audit.record(session, actor, "case.evidence_export", object_type="case", object_id=case.id,
                         organisation_id=case.organisation_id,
                         after={"package_id": package_id, "interim": interim, "by": actor.email})
    audit.checkpoint(session, signer, event)
    exported_at = event.at.astimezone(timezone.utc)

    files = dict(collected.files)
    record = case_record(session, case, profile)
    matches = match_record(case, collected)
    chain = _audit_slice(session, case, event.seq)
    files["case.json"] = _json_bytes(record)
    files["matches.json"] = _json_bytes(matches)
    files["audit/chain.json"] = _json_bytes(chain)
    files["public_key.pem"] = signer.public_pem
    files["verify.py"] = shipped_verifier(signer.fingerprint)
    reference = case_reference(case)
    files["README.txt"] = README.format(
        reference=reference, exported_at=exported_at.isoformat(timespec="seconds"),
        exporter=f"{actor.name} <{actor.email}>", fingerprint=signer.fingerprint,
        zip_name=f"{reference}-evidence.zip",
        interim="\nINTERIM: the case was still open at export." if interim else "").encode("utf-8")

    # The report lists every other file's hash; the manifest then covers the report too.
    listing = [{"path": p, "sha256": _sha256(d), "size": len(d)} for p, d in sorted(files.items())]
    context = {"case": record, "matches": matches, "files": listing, "interim": interim,
               "package_id": package_id, "exported_at": exported_at.isoformat(timespec="seconds"),
               "exported_by": _person(actor), "fingerprint": signer.fingerprint,
               "evidence_digest": _sha256(_json_bytes(listing)), "audit": {"seq": event.seq, "hash": event.hash},
               "references": collected.references}
    if render_pdf is None:
        from registry.services.evidence_report import render_report as render_pdf
    files["report.pdf"] = render_pdf(context, files)

    manifest = {
        "format": evidence_verifier.FORMAT, "container": evidence_verifier.STORED_CONTAINER, "package_id": package_id,
        "case": {"id": case.id, "reference": reference, "state": case.state, "interim": interim},
        "exported_at": exported_at.isoformat(), "exported_by": _person(actor),
        "signing_key": {"algorithm": "Ed25519", "fingerprint": signer.fingerprint},
        "audit": {"from_seq": chain["from_seq"], "to_seq": event.seq, "checkpoint_seq": event.seq,
                  "export_event_hash": event.hash},
        "evidence_digest": context["evidence_digest"],
        "files": [{"path": p, "sha256": _sha256(d), "size": len(d)} for p, d in sorted(files.items())],
    }
    manifest_bytes = _json_bytes(manifest)
    files[evidence_verifier.MANIFEST] = manifest_bytes
    files[evidence_verifier.SIGNATURE] = evidence_verifier.signature_text(signer.sign(manifest_bytes))
    package = build_zip(files, exported_at)
    package_sha = blobs.put(package)

    export = EvidenceExport(package_id=package_id, case_id=case.id, exported_by_id=actor.id,
                            exported_at=exported_at, interim=interim, package_sha256=package_sha,
                            manifest_sha256=_sha256(manifest_bytes), byte_size=len(package),
                            file_count=len(files), audit_seq=event.seq)
    session.add(export)
    session.flush()
    # The manifest's hash goes into the chain too, so the log alone shows what was issued.
    audit.record(session, actor, "case.evidence_sealed", object_type="case", object_id=case.id,
                 organisation_id=case.organisation_id,
                 after={"package_id": package_id, "manifest_sha256": export.manifest_sha256,
                        "package_sha256": package_sha, "files": len(files)})
    return export


def _json_bytes(value: Any) -> bytes:
    return (json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False, default=str) + "\n").encode("utf-8")


def shipped_verifier(fingerprint: str) -> bytes:
    """The verifier's source with the exporting key's fingerprint written in."""
    source = Path(evidence_verifier.__file__).read_text(encoding="utf-8")
    marker = "EXPECTED_FINGERPRINT: str | None = None"
    assert source.count(marker) == 1
    return source.replace(marker, f"EXPECTED_FINGERPRINT: str | None = {fingerprint!r}").encode("utf-8")


def build_zip(files: Mapping[str, bytes], when: datetime) -> bytes:
    """The package's ZIP: members stored in a fixed order with the export time on each, so that
    the same files give the same bytes and a verifier can rebuild them (``zip_pieces``)."""
    return evidence_verifier.write_zip(files, when.astimezone(timezone.utc).timetuple()[:6])


def exports_of(session: Session, actor: User, case_id: int) -> list[EvidenceExport]:
    require_role(actor, *EXPORT_ROLES)
    get_case(session, actor, case_id)
    return list(session.scalars(select(EvidenceExport).where(EvidenceExport.case_id == case_id)
                                .order_by(EvidenceExport.id.desc())))


def download_export(session: Session, actor: User, blobs: BlobStore, case_id: int, export_id: int) -> tuple[EvidenceExport, bytes]:
    """A stored package, checked against its hash; each download is an audit event."""
    require_role(actor, *EXPORT_ROLES)
    case = get_case(session, actor, case_id)
    export = session.get(EvidenceExport, export_id)
    if export is None or export.case_id != case.id:
        raise NotFound(f"export {export_id}")
    data = _stored(blobs, export.package_sha256, f"evidence package {export.package_id}")
    audit.record(session, actor, "case.evidence_download", object_type="case", object_id=case.id,
                 organisation_id=case.organisation_id, after={"package_id": export.package_id})
    return export, data


# -- verifying --------------------------------------------------------------------------------

def verify_package(data: bytes, signer: Signer) -> evidence_verifier.Report:
    """Check an uploaded package against this installation's key (what the page and CLI do)."""
    try:
        return evidence_verifier.verify_source(data, trusted_fingerprint=signer.fingerprint)
    except evidence_verifier.UnreadablePackage as exc:
        report = evidence_verifier.Report(readable=False)
        report.problems.append(f"the file cannot be read as an evidence package: {exc}")
        return report


# -- the case register ------------------------------------------------------------------------

REGISTER_COLUMNS = ["case", "state", "outcome", "jurisdiction", "procedure", "legal_basis", "office",
                    "office_country", "office_region", "office_zone", "rights_holder", "right", "goods", "quantity", "unit", "presented_on",
                    "detained_on", "notified_on", "extension_granted_on", "declarant_consent",
                    "next_deadline", "next_deadline_label", "closed_on", "evidence_exports"]
_OUTCOMES = {"destroyed": "destroyed", "released": "released", "court_proceedings": "court proceedings",
             "infringement_not_confirmed": "not confirmed"}


def case_register_csv(session: Session, actor: User, profiles: Mapping[str, Profile], *,
                      start: date, end: date) -> str:
    """Cases detained between ``start`` and ``end`` (inclusive) as CSV, for reporting."""
    require_role(actor, *EXPORT_ROLES)
    if end < start:
        raise ValidationError({"end": "the end of the period is before its start"})
    from registry.services.cases import next_deadline

    cases = session.scalars(select(DetentionCase).where(DetentionCase.detained_on >= start,
                                                        DetentionCase.detained_on <= end)
                            .order_by(DetentionCase.detained_on, DetentionCase.id)).all()
    exports = dict(session.execute(select(EvidenceExport.case_id, func.count(EvidenceExport.id))
                                   .group_by(EvidenceExport.case_id)).all())
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(REGISTER_COLUMNS)
    for case in cases:
        profile = profiles.get(case.jurisdiction)
        upcoming = next_deadline(case, profile) if profile and case.state in OPEN_STATES else None
        outcome = _OUTCOMES.get(case.state, "")
        if case.state == "closed":
            outcome = next((_OUTCOMES.get(e.from_state, e.from_state) for e in reversed(case.events)
                            if e.to_state == "closed"), "closed")
        closed_on = next((local_date(e.at, case.office_zone).isoformat() for e in reversed(case.events)
                          if e.to_state == "closed"), "")
        writer.writerow([_cell(v) for v in [
            case_reference(case), STATES.get(case.state, case.state), outcome, case.jurisdiction, case.procedure,
            case.legal_basis, case.office, case.office_country, case.office_region, zone_name(case.office_zone),
            case.organisation.name if case.organisation else "", case.right.label if case.right else "",
            case.goods_description, case.goods_quantity if case.goods_quantity is not None else "", case.goods_unit,
            case.presented_on, case.detained_on, case.notified_on or "", case.extension_granted_on or "",
            case.declarant_consent, upcoming.due if upcoming else "", upcoming.label if upcoming else "",
            closed_on, exports.get(case.id, 0)]])
    return out.getvalue()
