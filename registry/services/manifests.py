"""Reading cargo and parcel manifests for bulk screening: CSV or JSON Lines, up to millions of
lines, from systems nobody here controls.

The reader streams: it never holds the file, and never more than ``MAX_LINE_BYTES`` of one
line, in memory. Every unusable row is reported with its line number and the reason, and
reading goes on; only a file that cannot be a manifest at all (no usable header, thousands of
columns, mostly undecodable) is refused as a whole.

Columns (first matching name wins, case and spacing ignored):

=================  ===========================================================
field              accepted column names
=================  ===========================================================
id                 id, line_id, item_id, parcel_id, reference, ref
description        description, goods_description, item_description, goods
declared_brand     declared_brand, brand, brand_name, trademark
consignor          consignor, shipper, sender, exporter, seller
consignee          consignee, receiver, recipient, importer, buyer
manufacturer       manufacturer, producer, maker
origin_country     origin_country, origin, country_of_origin, coo
hs_code            hs_code, hs, hscode, tariff_code, commodity_code
declared_value     declared_value, value, item_value, customs_value
currency           currency, value_currency, ccy
quantity           quantity, qty, pieces, units
gtins              gtins, gtin, ean, barcode, upc
=================  ===========================================================
"""

from __future__ import annotations

import codecs
import csv
import io
import itertools
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import IO, Any

from registry.services.errors import ValidationError
from registry.services.validation import parse_country, parse_currency

FIELDS: dict[str, tuple[str, ...]] = {
    "id": ("id", "line_id", "item_id", "parcel_id", "reference", "ref"),
    "description": ("description", "goods_description", "item_description", "goods"),
    "declared_brand": ("declared_brand", "brand", "brand_name", "trademark"),
    "consignor": ("consignor", "shipper", "sender", "exporter", "seller"),
    "consignee": ("consignee", "receiver", "recipient", "importer", "buyer"),
    "manufacturer": ("manufacturer", "producer", "maker"),
    "origin_country": ("origin_country", "origin", "country_of_origin", "coo"),
    "hs_code": ("hs_code", "hs", "hscode", "tariff_code", "commodity_code"),
    "declared_value": ("declared_value", "value", "item_value", "customs_value"),
    "currency": ("currency", "value_currency", "ccy"),
    "quantity": ("quantity", "qty", "pieces", "units"),
    "gtins": ("gtins", "gtin", "ean", "barcode", "upc"),
}
_ALIASES = {alias: name for name, aliases in FIELDS.items() for alias in aliases}
MAX_COLUMNS = 200
MAX_LINE_BYTES = 64 * 1024
MAX_HEADER_BYTES = 1024 * 1024
MAX_FIELD_CHARS = 4_000
MAX_REPORTED_ERRORS = 1_000
_TOO_LONG = "\x00line-too-long\x00"
_DELIMITERS = ",;\t|"


class ManifestRefused(ValueError):
    """The file as a whole cannot be read as a manifest."""


@dataclass
class ManifestLine:
    line_no: int
    ref: str
    description: str = ""
    declared_brand: str = ""
    consignor: str = ""
    consignee: str = ""
    manufacturer: str = ""
    origin_country: str = ""
    hs_code: str = ""
    declared_value: float | None = None
    currency: str = ""
    quantity: float | None = None
    gtins: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if v not in ("", None, [])}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ManifestLine:
        return cls(**data)


@dataclass
class ReadReport:
    lines: int = 0
    usable: int = 0
    errors: list[tuple[int, str]] = field(default_factory=list)
    error_count: int = 0
    columns: dict[str, str] = field(default_factory=dict)  # field -> the column it came from
    ignored_columns: list[str] = field(default_factory=list)
    format: str = ""

    def reject(self, line_no: int, reason: str) -> None:
        self.error_count += 1
        if len(self.errors) < MAX_REPORTED_ERRORS:
            self.errors.append((line_no, reason))


def _normal(name: str) -> str:
    return re.sub(r"[\s\-]+", "_", name.strip().lstrip("\ufeff").lower())


# -- bytes to text lines ------------------------------------------------------------------------

def _text_lines(stream: IO[bytes], report: ReadReport) -> Iterator[str]:
    """Decoded lines (with their newline), each at most MAX_LINE_BYTES; a longer line is skipped
    to its end and stands as one marker line, so a 2 GB line costs no memory. Bytes that are
    not UTF-8 survive as surrogates, so the line that holds them can be reported."""
    head = stream.read(3)
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise ManifestRefused("the file is UTF-16; save it as UTF-8 (with or without a BOM)")
    stream.seek(3 if head.startswith(codecs.BOM_UTF8) else 0)
    limit = MAX_HEADER_BYTES  # a header may be wide; it is refused later if it has too many columns
    while True:
        line = stream.readline(limit + 1)
        if not line:
            return
        too_long = len(line) > limit and not line.endswith(b"\n")
        limit = MAX_LINE_BYTES
        if too_long:
            while True:  # skip the rest of the over-long line
                rest = stream.readline(1024 * 1024)
                if not rest or rest.endswith(b"\n"):
                    break
            yield _TOO_LONG + "\n"
            continue
        yield line.decode("utf-8", "surrogateescape")


def _undecodable(text: str) -> bool:
    return any("\udc80" <= ch <= "\udcff" for ch in text)


# -- reading ------------------------------------------------------------------------------------

def read_manifest(stream: IO[bytes], report: ReadReport, *, filename: str = "") -> Iterator[ManifestLine]:
    """Yield every usable line of a CSV or JSON Lines manifest; record the others in ``report``."""
    lines = _text_lines(stream, report)
    first = next(lines, None)
    while first is not None and not first.strip():
        first = next(lines, None)
    if first is None:
        raise ManifestRefused("the file is empty")
    if first.lstrip().startswith("{") or filename.lower().endswith((".jsonl", ".ndjson")):
        report.format = "jsonl"
        yield from _read_jsonl(first, lines, report)
    else:
        report.format = "csv"
        yield from _read_csv(first, lines, report)


def _map_columns(names: list[str], report: ReadReport) -> dict[int, str]:
    if len(names) > MAX_COLUMNS:
        raise ManifestRefused(f"the header has {len(names):,} columns; a manifest has at most {MAX_COLUMNS}")
    mapping: dict[int, str] = {}
    for index, name in enumerate(names):
        target = _ALIASES.get(_normal(name))
        if target is None or target in report.columns:
            report.ignored_columns.append(name.strip()[:60])
            continue
        mapping[index] = target
        report.columns[target] = name.strip()
    if not {"description", "declared_brand"} & set(report.columns):
        raise ManifestRefused("no column describes the goods: name one 'description' (or goods_description, "
                              "item_description, goods) or 'declared_brand' (or brand)")
    return mapping


def _read_csv(first: str, lines: Iterator[str], report: ReadReport) -> Iterator[ManifestLine]:
    if first.startswith(_TOO_LONG):
        raise ManifestRefused("the header line is longer than any manifest header")
    if _undecodable(first):
        raise ManifestRefused("the header is not UTF-8 text; save the file as UTF-8")
    counts = {d: first.count(d) for d in _DELIMITERS}
    delimiter = max(counts, key=counts.get)
    if counts[delimiter] == 0:
        delimiter = ","
    header = next(csv.reader([first], delimiter=delimiter))
    mapping = _map_columns(header, report)
    width = len(header)
    numbered = _numbered(lines)
    reader = csv.reader((text for _, text in numbered), delimiter=delimiter, strict=True)
    seen: dict[str, int] = {}
    undecodable = 0
    while True:
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            report.lines += 1
            report.reject(numbered.line_no, f"not valid CSV ({exc})")
            reader = csv.reader((text for _, text in numbered), delimiter=delimiter, strict=True)
            continue
        line_no = numbered.line_no
        if not row or (len(row) == 1 and not row[0].strip()):
            continue
        report.lines += 1
        if row[0].startswith(_TOO_LONG):
            report.reject(line_no, f"the line is longer than {MAX_LINE_BYTES // 1024} KiB")
            continue
        if any(_undecodable(cell) for cell in row):
            undecodable += 1
            report.reject(line_no, "not UTF-8 text (is the file in another encoding? save it as UTF-8)")
            if undecodable > 1000 and undecodable > report.lines // 2:
                raise ManifestRefused("most lines are not UTF-8 text; save the file as UTF-8")
            continue
        if len(row) != width:
            hint = " (mixed delimiters?)" if any(d in "".join(row) for d in _DELIMITERS if d != delimiter) else ""
            report.reject(line_no, f"has {len(row)} fields, the header has {width}{hint}")
            continue
        values = {target: row[index] for index, target in mapping.items()}
        line = _validated(line_no, values, report, seen)
        if line is not None:
            yield line


class _numbered:
    """Feeds the CSV reader and remembers the physical line number of the record's first line."""

    def __init__(self, lines: Iterator[str]) -> None:
        self._lines = lines
        self.physical = 1  # the header
        self.line_no = 1
        self._starting = True
        self._quotes = 0

    def __iter__(self):
        return self

    def __next__(self) -> tuple[int, str]:
        text = next(self._lines)
        self.physical += 1
        if self._starting:
            self.line_no = self.physical
        # A record continues while a quoted field is open: an odd number of quotes so far.
        self._quotes += text.count('"')
        self._starting = self._quotes % 2 == 0
        if self._starting:
            self._quotes = 0
        return self.line_no, text


def _read_jsonl(first: str, lines: Iterator[str], report: ReadReport) -> Iterator[ManifestLine]:
    seen: dict[str, int] = {}
    names_seen: set[str] = set()
    line_no = 0
    for text in itertools.chain((first,), lines):
        line_no += 1
        if not text.strip():
            continue
        report.lines += 1
        if text.startswith(_TOO_LONG):
            report.reject(line_no, f"the line is longer than {MAX_LINE_BYTES // 1024} KiB")
            continue
        if _undecodable(text):
            report.reject(line_no, "not UTF-8 text (save the file as UTF-8)")
            continue
        try:
            item = json.loads(text)
        except ValueError as exc:
            report.reject(line_no, f"not valid JSON ({exc.msg} at column {getattr(exc, 'colno', '?')})")
            continue
        if not isinstance(item, dict):
            report.reject(line_no, "not a JSON object")
            continue
        if len(item) > MAX_COLUMNS:
            report.reject(line_no, f"has {len(item)} keys; at most {MAX_COLUMNS}")
            continue
        values: dict[str, Any] = {}
        for key, value in item.items():
            target = _ALIASES.get(_normal(str(key)))
            if target is None:
                if key not in names_seen and len(names_seen) < 100:
                    names_seen.add(key)
                    report.ignored_columns.append(str(key)[:60])
                continue
            if target not in values:
                values[target] = value
                report.columns.setdefault(target, str(key))
        line = _validated(line_no, values, report, seen)
        if line is not None:
            yield line


# -- one line -----------------------------------------------------------------------------------

def _text(values: dict[str, Any], key: str, problems: list[str]) -> str:
    value = values.get(key)
    if value is None:
        return ""
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        problems.append(f"{key} must be text, not {type(value).__name__}")
        return ""
    text = str(value).strip()
    if len(text) > MAX_FIELD_CHARS:
        problems.append(f"{key} is longer than {MAX_FIELD_CHARS} characters")
        return ""
    return text


def _number(values: dict[str, Any], key: str, problems: list[str]) -> float | None:
    value = values.get(key)
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        problems.append(f"{key} must be a number, not {type(value).__name__}")
        return None
    text = str(value).strip().replace(" ", "")
    if text.count(",") == 1 and "." not in text:
        text = text.replace(",", ".")  # a decimal comma
    try:
        number = Decimal(text)
    except InvalidOperation:
        problems.append(f"{key} '{str(value)[:40]}' is not a number")
        return None
    if not number.is_finite() or number < 0:
        problems.append(f"{key} must be zero or more")
        return None
    return float(number)


@lru_cache(maxsize=4096)
def _country(value: str) -> str:
    return parse_country(value, "origin_country")


@lru_cache(maxsize=512)
def _currency(value: str) -> str:
    return parse_currency(value)


def _validated(line_no: int, values: dict[str, Any], report: ReadReport, seen: dict[str, int]) -> ManifestLine | None:
    problems: list[str] = []
    texts = {key: _text(values, key, problems) for key in
             ("id", "description", "declared_brand", "consignor", "consignee", "manufacturer",
              "origin_country", "hs_code", "currency", "gtins")}
    ref = texts["id"] or str(line_no)
    if texts["id"]:
        if texts["id"] in seen:
            report.reject(line_no, f"duplicate id '{texts['id'][:60]}' (first on line {seen[texts['id']]})")
            return None
        seen[texts["id"]] = line_no
    if not (texts["description"] or texts["declared_brand"]):
        problems.append("no description or declared brand")
    country = ""
    if texts["origin_country"]:
        try:
            country = _country(texts["origin_country"])
        except ValidationError:
            problems.append(f"unknown origin country '{texts['origin_country'][:40]}'")
    currency = ""
    if texts["currency"]:
        try:
            currency = _currency(texts["currency"].upper())
        except ValidationError:
            problems.append(f"unknown currency '{texts['currency'][:10]}'")
    value = _number(values, "declared_value", problems)
    quantity = _number(values, "quantity", problems)
    if value is not None and not currency:
        problems.append("a declared value needs its currency")
    hs = re.sub(r"[\s.]", "", texts["hs_code"])
    if hs and not (hs.isdigit() and 2 <= len(hs) <= 10):
        problems.append(f"HS code '{texts['hs_code'][:20]}' is not 2-10 digits")
        hs = ""
    gtins = [g for g in re.split(r"[,;\s]+", texts["gtins"]) if g][:20] if texts["gtins"] else []
    if problems:
        report.reject(line_no, "; ".join(problems))
        return None
    report.usable += 1
    return ManifestLine(line_no=line_no, ref=ref[:100], description=texts["description"],
                        declared_brand=texts["declared_brand"], consignor=texts["consignor"],
                        consignee=texts["consignee"], manufacturer=texts["manufacturer"], origin_country=country,
                        hs_code=hs, declared_value=value, currency=currency, quantity=quantity,
                        gtins=[re.sub(r"\D", "", g) for g in gtins if re.sub(r"\D", "", g)])


def read_all(data: bytes, *, filename: str = "") -> tuple[list[ManifestLine], ReadReport]:
    """The whole of a small manifest at once (tests, the API)."""
    report = ReadReport()
    lines = list(read_manifest(io.BytesIO(data), report, filename=filename))
    return lines, report
