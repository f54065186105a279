"""Bulk import of products (with their images) and suppliers from CSV or JSON plus a ZIP.

Every row is validated by the same services a form uses and applied in its own savepoint:
a bad row is rejected with its reasons and the others still go in. Rows are matched to what
is already registered by their natural key (product name + model; supplier name + country +
role; image bytes), so importing the same file twice changes nothing the second time.
"""

from __future__ import annotations

import csv
import io
import json
import posixpath
import zipfile
import zlib
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from registry.models import Right, User
from registry.services import audit
from registry.services.errors import ValidationError
from registry.services.products import (UploadPolicy, add_reference_image, find_product,
                                        product_values, register_product, update_product)
from registry.services.suppliers import (add_supplier, find_supplier, supplier_values,
                                         update_supplier)
from registry.services.tenancy import require_dossier_editor
from registry.storage import BlobStore

KINDS = ("products", "suppliers")
PRODUCT_COLUMNS = ("name", "model", "category", "brand", "gtins", "hs_codes", "price_min",
                   "price_max", "currency", "production_countries", "intended_markets",
                   "overt_features", "covert_features", "counterfeit_clues", "images")
SUPPLIER_COLUMNS = ("role", "name", "country", "address", "identifiers")
_MULTILINE = ("overt_features", "covert_features", "counterfeit_clues")


class ImportFileError(ValidationError):
    """The file as a whole cannot be read; nothing was imported."""


@dataclass(frozen=True)
class ImportLimits:
    max_rows: int = 20_000
    max_zip_entries: int = 5_000
    max_zip_uncompressed: int = 1024 * 1024 * 1024
    max_ratio: int = 200  # compressed-to-uncompressed: beyond this an entry is a bomb


@dataclass
class RowResult:
    line: int
    key: str
    status: str  # created, updated, unchanged, rejected
    messages: list[str] = field(default_factory=list)


@dataclass
class ImportReport:
    kind: str
    rows: list[RowResult] = field(default_factory=list)

    @property
    def counts(self) -> dict[str, int]:
        counts = Counter(row.status for row in self.rows)
        return {status: counts.get(status, 0)
                for status in ("created", "updated", "unchanged", "rejected")}


def read_rows(data: bytes, filename: str, *, max_rows: int) -> list[tuple[int, dict[str, Any]]]:
    """Rows of a CSV or JSON file as (line or item number, fields); ``ImportFileError`` if unreadable."""
    lower = filename.lower()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ImportFileError({"file": "the file is not UTF-8 text; save it as CSV UTF-8 or JSON"}) from None
    if lower.endswith(".json"):
        try:
            document = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ImportFileError({"file": f"the JSON is malformed at line {exc.lineno}, "
                                           f"column {exc.colno}: {exc.msg}"}) from None
        if isinstance(document, dict):
            items = next((v for v in document.values() if isinstance(v, list)), None)
        else:
            items = document
        if not isinstance(items, list):
            raise ImportFileError({"file": "the JSON must be a list of objects, or an object "
                                           "holding one such list"})
        if len(items) > max_rows:
            raise ImportFileError({"file": f"the file has {len(items)} rows; the limit is {max_rows}"})
        rows = []
        for number, item in enumerate(items, start=1):
            rows.append((number, item if isinstance(item, dict) else {"__invalid__": True}))
        return rows
    if not lower.endswith((".csv", ".txt")):
        raise ImportFileError({"file": "upload a .csv or .json file"})
    try:
        reader = csv.DictReader(io.StringIO(text, newline=""), restkey="__extra__", strict=True)
        header = reader.fieldnames
        if not header:
            raise ImportFileError({"file": "the CSV file is empty"})
        rows = []
        for item in reader:
            if len(rows) >= max_rows:
                raise ImportFileError({"file": f"the file has more than {max_rows} rows"})
            rows.append((reader.line_num, item))
    except csv.Error as exc:
        raise ImportFileError({"file": f"the CSV is malformed near line {reader.line_num}: {exc}"}) from None
    return rows


class ImageArchive:
    """A ZIP of images, read defensively: names are looked up, never used as paths."""

    def __init__(self, data: bytes | None, limits: ImportLimits) -> None:
        self._entries: dict[str, zipfile.ZipInfo] = {}
        self._zip: zipfile.ZipFile | None = None
        if not data:
            return
        try:
            self._zip = zipfile.ZipFile(io.BytesIO(data))
            infos = self._zip.infolist()
        except (zipfile.BadZipFile, OSError, ValueError, EOFError, NotImplementedError):
            raise ImportFileError({"images": "the images file is not a valid ZIP archive"}) from None
        if len(infos) > limits.max_zip_entries:
            raise ImportFileError({"images": f"the ZIP holds {len(infos)} entries; "
                                             f"the limit is {limits.max_zip_entries}"})
        total = 0
        for info in infos:
            if info.is_dir():
                continue
            name = info.filename
            if ("\x00" in name or name.startswith(("/", "\\")) or "\\" in name
                    or ".." in name.split("/") or (len(name) > 1 and name[1] == ":")):
                raise ImportFileError({"images": f"the ZIP entry '{name[:100]}' has an unsafe "
                                                 "path (absolute or with '..'); nothing was imported"})
            total += info.file_size
            if info.compress_size and info.file_size / info.compress_size > limits.max_ratio:
                raise ImportFileError({"images": f"the ZIP entry '{name[:100]}' expands "
                                                 f"{info.file_size // info.compress_size}-fold: "
                                                 "refused as a ZIP bomb"})
            self._entries[posixpath.normpath(name)] = info
        if total > limits.max_zip_uncompressed:
            raise ImportFileError({"images": "the ZIP expands beyond "
                                             f"{limits.max_zip_uncompressed // 2**20} MB"})

    def read(self, name: str, max_bytes: int) -> bytes:
        key = posixpath.normpath(name.strip().replace("\\", "/"))
        info = self._entries.get(key)
        if info is None or self._zip is None:
            raise ValidationError({"images": f"image '{name}' is not in the ZIP"})
        if info.file_size > max_bytes:
            raise ValidationError({"images": f"image '{name}' is larger than "
                                             f"{max_bytes // 2**20} MB"})
        if info.flag_bits & 0x1:
            raise ValidationError({"images": f"image '{name}' is encrypted in the ZIP"})
        try:
            with self._zip.open(info) as handle:
                data = handle.read(max_bytes + 1)  # never trust the header's size
        except (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError, NotImplementedError,
                RuntimeError) as exc:
            # A damaged entry (bad CRC, broken deflate data, an unknown compression method)
            # is this row's problem, said as such, not a failure of the whole import.
            raise ValidationError({"images": f"image '{name}' cannot be read from the ZIP "
                                             f"({str(exc)[:120] or type(exc).__name__})"}) from None
        if len(data) > max_bytes:
            raise ValidationError({"images": f"image '{name}' is larger than {max_bytes // 2**20} MB"})
        return data


def parse_image_list(value: Any) -> list[tuple[str, str]]:
    """"packaging:box.jpg; logo:logo.png" -> [("packaging", "box.jpg"), ("logo", "logo.png")]."""
    if not value:
        return []
    items = value if isinstance(value, list) else str(value).replace("\n", ";").split(";")
    pairs = []
    for item in items:
        if isinstance(item, dict):
            pairs.append((str(item.get("kind", "")), str(item.get("file", ""))))
            continue
        text = str(item).strip()
        if not text:
            continue
        kind, sep, name = text.partition(":")
        if not sep:
            raise ValidationError({"images": f"'{text}' must read kind:file, e.g. packaging:box.jpg"})
        pairs.append((kind.strip(), name.strip()))
    return pairs


def _right_for_brand(session: Session, organisation_id: int, brand: str) -> int | None:
    if not brand:
        return None
    right_id = session.scalar(
        select(Right.id).where(Right.organisation_id == organisation_id,
                               or_(func.lower(Right.mark_text) == brand.lower(),
                                   Right.registration_number == brand))
        .order_by(Right.id))
    if right_id is None:
        raise ValidationError({"brand": f"'{brand}' is not one of your registered rights "
                                        "(give the mark or its registration number)"})
    return right_id


def _normalise_row(row: dict[str, Any]) -> dict[str, Any]:
    clean = {str(k).strip().lower(): v for k, v in row.items() if k is not None}
    for key in _MULTILINE:
        if isinstance(clean.get(key), str):
            clean[key] = clean[key].replace("|", "\n")
    return clean


def import_dossier(session: Session, actor: User, blobs: BlobStore, policy: UploadPolicy, *,
                   organisation_id: int, kind: str, data: bytes, filename: str,
                   images_zip: bytes | None = None, limits: ImportLimits = ImportLimits(),
                   ) -> ImportReport:
    """Import a file of products or suppliers; returns the row-by-row report."""
    require_dossier_editor(actor, organisation_id)
    if kind not in KINDS:
        raise ImportFileError({"kind": "choose products or suppliers"})
    rows = read_rows(data, filename, max_rows=limits.max_rows)
    archive = ImageArchive(images_zip, limits)
    report = ImportReport(kind)
    for line, raw in rows:
        row = _normalise_row(raw)
        key = " ".join(str(row.get(k) or "") for k in (("name", "model") if kind == "products"
                                                       else ("name", "country", "role"))).strip()
        result = RowResult(line, key or "(no name)", "rejected")
        if raw.get("__invalid__"):
            result.messages.append("the item is not an object with named fields")
        elif raw.get("__extra__"):
            result.messages.append(f"the row has {len(raw['__extra__'])} more field(s) than the header")
        else:
            savepoint = session.begin_nested()
            try:
                if kind == "products":
                    result.status = _import_product(session, actor, blobs, policy, archive,
                                                    organisation_id, row)
                else:
                    result.status = _import_supplier(session, actor, organisation_id, row)
                savepoint.commit()
            except ValidationError as exc:
                savepoint.rollback()
                result.status = "rejected"
                result.messages.extend(
                    f"{name.replace('_', ' ')}: {message}" if name else message
                    for name, message in exc.errors.items())
        report.rows.append(result)
    audit.record(session, actor, f"import.{kind}", object_type="organisation",
                 object_id=organisation_id, organisation_id=organisation_id,
                 after={"file": filename[:200], **report.counts})
    return report


def _import_product(session: Session, actor: User, blobs: BlobStore, policy: UploadPolicy,
                    archive: ImageArchive, organisation_id: int, row: dict[str, Any]) -> str:
    row["right_id"] = _right_for_brand(session, organisation_id, str(row.get("brand") or "").strip())
    images = parse_image_list(row.get("images"))
    values = product_values(session, organisation_id, row)  # validates before anything changes
    existing = find_product(session, organisation_id, values["name"], values["model"])
    if existing is None:
        product = register_product(session, actor, organisation_id, row)
        status = "created"
    else:
        product = existing
        status = "updated" if update_product(session, actor, existing.id, row) else "unchanged"
    for image_kind, name in images:
        image_data = archive.read(name, policy.max_bytes)
        try:
            _, new = add_reference_image(session, actor, blobs, policy, kind=image_kind,
                                         data=image_data, filename=name, product_id=product.id)
        except ValidationError as exc:
            raise ValidationError({"images": f"{name}: {'; '.join(exc.errors.values())}"}) from None
        if new and status == "unchanged":
            status = "updated"
    return status


def _import_supplier(session: Session, actor: User, organisation_id: int, row: dict[str, Any]) -> str:
    values = supplier_values(row)
    existing = find_supplier(session, organisation_id, values)
    if existing is None:
        add_supplier(session, actor, organisation_id, row)
        return "created"
    before = (existing.address, existing.identifiers)
    update_supplier(session, actor, existing.id, row)
    return "unchanged" if before == (existing.address, existing.identifiers) else "updated"
