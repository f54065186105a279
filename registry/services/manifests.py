"""Reading cargo and parcel manifests for bulk screening: CSV or JSON Lines, up to millions of
lines, from systems nobody here controls.

The reader streams: it never holds the file, and never more than ``MAX_LINE_BYTES`` of one
line, in memory. Every unusable row is reported with its line number and the reason, and
reading goes on; only a file that cannot be a manifest at all (no usable header, thousands of
columns, mostly undecodable) is refused as a whole.

Columns (first matching name wins, case and spacing ignored):

==================  ============================================================
field               accepted column names
==================  ============================================================
id                  id, line_id, item_id, parcel_id, reference, ref
transport_document  transport_document, document_number, awb, air_waybill, airway_bill, hawb,
                    house_awb, mawb, bill_of_lading, b/l, bl, bl_number, awb_number, waybill, cmr,
                    tracking_number
description         description, goods_description, item_description, goods
declared_brand      declared_brand, brand, brand_name, trademark
consignor           consignor, shipper, sender, exporter, seller
consignee           consignee, receiver, recipient, importer, buyer
manufacturer        manufacturer, producer, maker
origin_country      origin_country, origin, country_of_origin, coo
hs_code             hs_code, hs, hscode, tariff_code, commodity_code
declared_value      declared_value, value, item_value, customs_value
currency            currency, value_currency, ccy
quantity            quantity, qty, pieces, units
gtins               gtins, gtin, ean, barcode, upc
==================  ============================================================

A line's ``ref`` is the manifest's own id for it, and only that: a line without an id has an
empty ``ref`` and is named by its line number (``line_label``), so nothing made up for one line
can ever be taken for the id another line carries.
"""

from __future__ import annotations

import codecs
import csv
import io
import itertools
import json
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import IO, Any

from registry.services.errors import ValidationError
from registry.services.validation import parse_country, parse_currency

FIELDS: dict[str, tuple[str, ...]] = {
    "id": ("id", "line_id", "item_id", "parcel_id", "reference", "ref"),
    "transport_document": ("transport_document", "document_number", "awb", "air_waybill", "airway_bill", "hawb",
                           "house_awb", "mawb", "bill_of_lading", "b/l", "bl", "bl_number", "awb_number", "waybill",
                           "cmr", "tracking_number"),
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
#: What each field is, in the words of a customs declaration.
FIELD_LABELS: dict[str, str] = {
    "id": "Line id",
    "transport_document": "Transport document",
    "description": "Goods description",
    "declared_brand": "Declared brand",
    "consignor": "Consignor",
    "consignee": "Consignee",
    "manufacturer": "Manufacturer",
    "origin_country": "Country of origin",
    "hs_code": "HS code",
    "declared_value": "Declared value",
    "currency": "Currency",
    "quantity": "Quantity",
    "gtins": "GTINs (barcode numbers)",
}
_ALIASES = {alias: name for name, aliases in FIELDS.items() for alias in aliases}
MAX_COLUMNS = 200
MAX_LINE_BYTES = 64 * 1024
MAX_HEADER_BYTES = 1024 * 1024
MAX_FIELD_CHARS = 4_000
MAX_REPORTED_ERRORS = 1_000
#: A declared value or quantity must be below this: what a check (the declaration a hit is
#: opened as) records, and far beyond any real consignment line.
MAX_NUMBER = Decimal("1e11")
_TOO_LONG = "\x00line-too-long\x00"
_DELIMITERS = ",;\t|"


class ManifestRefused(ValueError):
    """The file as a whole cannot be read as a manifest."""


def line_label(line_no: int, ref: str = "") -> str:
    """How a manifest line is named to officers: its line number in the file, and the
    manifest's own id for it when it has one."""
    return f"line {line_no} (id {ref})" if ref else f"line {line_no}"


@dataclass
class ManifestLine:
    line_no: int
    #: The manifest's id for the line; empty when it has none (never made up from line_no).
    ref: str = ""
    transport_document: str = ""
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
    #: The manifest's id of each reported line that had one readable, by line number.
    error_refs: dict[int, str] = field(default_factory=dict)
    error_count: int = 0
    columns: dict[str, str] = field(default_factory=dict)  # field -> the column it came from
    ignored_columns: list[str] = field(default_factory=list)
    format: str = ""

    def reject(self, line_no: int, reason: str, *, lines: int = 1, ref: str = "") -> None:
        """Report line ``line_no`` (with the ``lines - 1`` after it, for a record that could
        not be told apart from them) as unusable, for ``reason``; ``ref`` is the line's id in
        the manifest, when it could be read."""
        self.error_count += lines
        if len(self.errors) < MAX_REPORTED_ERRORS:
            self.errors.append((line_no, reason))
            if ref:
                self.error_refs[line_no] = ref[:100]

    def rejects(self) -> list[list[Any]]:
        """The reported lines as a job keeps them: ``[line, reason]``, or ``[line, reason, id]``
        for a line whose id in the manifest could be read."""
        return [[line, reason, self.error_refs[line]] if line in self.error_refs else [line, reason]
                for line, reason in self.errors]


def _normal(name: str) -> str:
    return re.sub(r"[\s\-]+", "_", name.strip().lstrip("\ufeff").lower())


# -- bytes to text lines ------------------------------------------------------------------------

def _text_lines(stream: IO[bytes], report: ReadReport) -> Iterator[str]:
    """Decoded lines (with their newline), each at most MAX_LINE_BYTES; a longer line is skipped
    to its end and stands as one marker line, so a 2 GB line costs no memory. Bytes that are
    not UTF-8 survive as surrogates, so the line that holds them can be reported. A file whose
    first line ends in a bare CR (old Mac exports) is read as lines ending in CR."""
    head = stream.read(3)
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise ManifestRefused("the file is UTF-16; save it as UTF-8 (with or without a BOM)")
    start = 3 if head.startswith(codecs.BOM_UTF8) else 0
    stream.seek(start)
    limit = MAX_HEADER_BYTES  # a header may be wide; it is refused later if it has too many columns
    line = stream.readline(limit + 1)
    if b"\r" in line and b"\n" not in line:
        stream.seek(start)
        yield from _cr_lines(stream)
        return
    while line:
        too_long = len(line) > limit and not line.endswith(b"\n")
        limit = MAX_LINE_BYTES
        if too_long:
            while True:  # skip the rest of the over-long line
                rest = stream.readline(1024 * 1024)
                if not rest or rest.endswith(b"\n"):
                    break
            yield _TOO_LONG + "\n"
        else:
            yield line.decode("utf-8", "surrogateescape")
        line = stream.readline(limit + 1)


def _cr_lines(stream: IO[bytes]) -> Iterator[str]:
    """``_text_lines`` for a file whose lines end in a bare CR."""
    text = io.TextIOWrapper(stream, encoding="utf-8", errors="surrogateescape", newline="\r")
    try:
        limit = MAX_HEADER_BYTES
        while True:
            line = text.readline(limit + 1)
            if not line:
                return
            too_long = len(line) > limit and not line.endswith("\r")
            limit = MAX_LINE_BYTES
            if too_long:
                while True:
                    rest = text.readline(1024 * 1024)
                    if not rest or rest.endswith("\r"):
                        break
                yield _TOO_LONG + "\n"
                continue
            yield line
    finally:
        try:
            text.detach()  # leave the caller's stream open, as the other path does
        except ValueError:  # the caller closed it already
            pass


_SURROGATE = re.compile("[\udc80-\udcff]")


def _undecodable(text: str) -> bool:
    return not text.isascii() and _SURROGATE.search(text) is not None


# -- reading ------------------------------------------------------------------------------------

def read_manifest(stream: IO[bytes], report: ReadReport, *, filename: str = "") -> Iterator[ManifestLine]:
    """Yield every usable line of a CSV or JSON Lines manifest; record the others in ``report``."""
    lines = _text_lines(stream, report)
    first, first_no = next(lines, None), 1  # blank lines before the first still count
    while first is not None and not first.strip():
        first, first_no = next(lines, None), first_no + 1
    if first is None:
        raise ManifestRefused("the file is empty")
    if first.lstrip().startswith("{") or filename.lower().endswith((".jsonl", ".ndjson")):
        report.format = "jsonl"
        yield from _read_jsonl(first, first_no, lines, report)
    else:
        report.format = "csv"
        yield from _read_csv(first, first_no, lines, report)


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


def _read_csv(first: str, header_no: int, lines: Iterator[str], report: ReadReport) -> Iterator[ManifestLine]:
    if first.startswith(_TOO_LONG):
        raise ManifestRefused("the header line is longer than any manifest header")
    if _undecodable(first):
        raise ManifestRefused("the header is not UTF-8 text; save the file as UTF-8")
    counts = {d: first.count(d) for d in _DELIMITERS}
    delimiter = max(counts, key=counts.get)
    if counts[delimiter] == 0:
        delimiter = ","
    try:
        header = next(csv.reader([first], delimiter=delimiter))
    except csv.Error as exc:
        raise ManifestRefused(f"the header line is not valid CSV ({exc})") from None
    mapping = _map_columns(header, report)
    width = len(header)
    id_column = next((index for index, target in mapping.items() if target == "id"), None)
    # A record ends where one of the lines the reader takes ends, and the reader counts them
    # (line_num): a record starts on the line after the one where the one before it ended,
    # whatever quotes it holds, and on an error the reader starts afresh on the next line.
    reader = csv.reader(lines, delimiter=delimiter, strict=True)
    seen: dict[str, int] = {}
    undecodable = 0
    end = header_no  # the last line of the record before
    while True:
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            line_no, end = end + 1, header_no + reader.line_num
            report.lines += end - line_no + 1
            report.reject(line_no, _csv_problem(str(exc), line_no, end), lines=end - line_no + 1)
            continue
        line_no, end = end + 1, header_no + reader.line_num
        if not row or (len(row) == 1 and not row[0].strip()):
            continue
        report.lines += 1
        if row[0].startswith(_TOO_LONG):
            report.reject(line_no, f"the line is longer than {MAX_LINE_BYTES // 1024} KiB")
            continue
        if any(map(_undecodable, row)):
            undecodable += 1
            report.reject(line_no, "not UTF-8 text (is the file in another encoding? save it as UTF-8)",
                          ref=_readable_id(row, width, id_column))
            if undecodable > 1000 and undecodable > report.lines // 2:
                raise ManifestRefused("most lines are not UTF-8 text; save the file as UTF-8")
            continue
        if len(row) != width:
            hint = " (mixed delimiters?)" if any(d in "".join(row) for d in _DELIMITERS if d != delimiter) else ""
            report.reject(line_no, f"has {len(row)} fields, the header has {width}{hint}")
            continue
        values = {target: row[index] for index, target in mapping.items()}
        line = _validated(line_no, values, report, seen, report.columns)
        if line is not None:
            yield line


def _readable_id(row: list[str], width: int, id_column: int | None) -> str:
    """The id of a row that cannot be used, when it can be trusted: the row has the header's
    fields (nothing shifted) and its id is itself readable text."""
    if id_column is None or len(row) != width or _undecodable(row[id_column]):
        return ""
    return row[id_column].strip()


def _csv_problem(error: str, first: int, last: int) -> str:
    """Why the record on lines ``first`` to ``last`` could not be read."""
    if error == "unexpected end of data":  # the file ends inside a quoted field
        if first == last:
            return "a quoted field opens on this line and is never closed"
        return f"a quoted field opens on this line and is never closed: lines {first} to {last} were not read"
    if first == last:
        return f"not valid CSV ({error})"
    if error.startswith("field larger than field limit"):
        return (f"a quoted field opens on this line and runs on for more than {csv.field_size_limit():,} "
                f"characters (is its closing quote missing?): lines {first} to {last} were not read")
    return (f"not valid CSV ({error}) in a quoted field that opens on this line "
            f"(is a quote missing?): lines {first} to {last} were not read")


def _read_jsonl(first: str, first_no: int, lines: Iterator[str], report: ReadReport) -> Iterator[ManifestLine]:
    seen: dict[str, int] = {}
    names_seen: set[str] = set()
    line_no = first_no - 1
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
        except json.JSONDecodeError as exc:
            report.reject(line_no, f"not valid JSON ({exc.msg} at column {exc.colno})")
            continue
        except ValueError:  # an integer longer than Python converts
            report.reject(line_no, f"not valid JSON (a number has more than {sys.get_int_max_str_digits():,} "
                                   "digits)")
            continue
        except RecursionError:
            report.reject(line_no, "not valid JSON (nested too deeply)")
            continue
        if not isinstance(item, dict):
            report.reject(line_no, "not a JSON object")
            continue
        if len(item) > MAX_COLUMNS:
            report.reject(line_no, f"has {len(item)} keys; at most {MAX_COLUMNS}", ref=_json_id(item))
            continue
        values: dict[str, Any] = {}
        names: dict[str, str] = {}  # field -> the key this line gave it under
        for key, value in item.items():
            target = _ALIASES.get(_normal(str(key)))
            if target is None:
                if key not in names_seen and len(names_seen) < 100:
                    names_seen.add(key)
                    report.ignored_columns.append(str(key)[:60])
                continue
            if target not in values:
                values[target] = value
                names[target] = str(key)[:60]
                report.columns.setdefault(target, str(key))
        line = _validated(line_no, values, report, seen, names)
        if line is not None:
            yield line


def _json_id(item: dict[Any, Any]) -> str:
    """The id of a JSON line that cannot be used, when it has one that is text or a number."""
    for key, value in item.items():
        if _ALIASES.get(_normal(str(key))) == "id":
            if isinstance(value, (str, int, float)) and not isinstance(value, bool):
                return str(value).strip()
            return ""
    return ""


# -- one line -----------------------------------------------------------------------------------

def _kind(value: Any) -> str:
    """What a JSON value is, as the people who write manifests call it."""
    if isinstance(value, bool):
        return "true or false"
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, (int, float)):
        return "a number"
    return "text"


def _text(values: dict[str, Any], key: str, problems: list[str], names: dict[str, str]) -> str:
    value = values.get(key)
    if value is None:
        return ""
    name = names.get(key, key)[:60]
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        problems.append(f"{name} must be text, not {_kind(value)}")
        return ""
    text = str(value).strip()
    if len(text) > MAX_FIELD_CHARS:
        problems.append(f"{name} is longer than {MAX_FIELD_CHARS} characters")
        return ""
    return text


#: One comma and three digits after it: 1,000 is a thousand in one convention, one in another.
_THOUSANDS = re.compile(r"[+-]?[1-9][0-9]{0,2},[0-9]{3}")


def _number(values: dict[str, Any], key: str, problems: list[str], names: dict[str, str]) -> float | None:
    value = values.get(key)
    if value is None or value == "":
        return None
    name = names.get(key, key)[:60]
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        problems.append(f"{name} must be a number, not {_kind(value)}")
        return None
    text = str(value).strip().replace(" ", "")
    if "," in text and text.count(",") == 1 and "." not in text:
        if _THOUSANDS.fullmatch(text):
            problems.append(f"{name} '{text}' is ambiguous (a thousands separator or a decimal comma?): "
                            f"write it as {text.replace(',', '')} or as {text.replace(',', '.')}, with a "
                            "decimal point")
            return None
        text = text.replace(",", ".")  # a decimal comma
    try:
        number = Decimal(text)
    except InvalidOperation:
        hint = " (write it without thousands separators)" if "," in text else ""
        problems.append(f"{name} '{str(value)[:40]}' is not a number{hint}")
        return None
    if number.is_nan():
        problems.append(f"{name} '{str(value)[:40]}' is not a number")
        return None
    if number < 0:
        problems.append(f"{name} must be zero or more")
        return None
    if number >= MAX_NUMBER:  # also infinity; float() would make 1e400 infinite
        problems.append(f"{name} '{str(value)[:40]}' is out of range: it must be below {MAX_NUMBER:,.0f}")
        return None
    return float(number)


@lru_cache(maxsize=4096)
def _country(value: str) -> str:
    return parse_country(value, "origin_country")


@lru_cache(maxsize=512)
def _currency(value: str) -> str:
    return parse_currency(value)


def _validated(line_no: int, values: dict[str, Any], report: ReadReport, seen: dict[str, int],
               names: dict[str, str]) -> ManifestLine | None:
    """The line, or None when it is reported unusable. ``names`` gives each field's column (or
    key) as the manifest calls it, so that a reason names what the officer sees in the file;
    ``seen`` holds the explicit ids met so far, and only those: a line without an id has none
    to clash with."""
    problems: list[str] = []
    texts = {key: _text(values, key, problems, names) for key in
             ("id", "transport_document", "description", "declared_brand", "consignor", "consignee",
              "manufacturer", "origin_country", "hs_code", "currency", "gtins")}
    ref = texts["id"]
    if ref:
        if ref in seen:
            report.reject(line_no, f"duplicate id '{ref[:60]}' (first on line {seen[ref]})", ref=ref)
            return None
        seen[ref] = line_no
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
    value = _number(values, "declared_value", problems, names)
    quantity = _number(values, "quantity", problems, names)
    if value is not None and not currency:
        problems.append("a declared value needs its currency")
    hs = re.sub(r"[\s.]", "", texts["hs_code"])
    if hs and not (hs.isascii() and hs.isdigit() and 2 <= len(hs) <= 10):  # not ² or other digits
        problems.append(f"HS code '{texts['hs_code'][:20]}' is not 2-10 digits")
        hs = ""
    gtins = [g for g in re.split(r"[,;\s]+", texts["gtins"]) if g][:20] if texts["gtins"] else []
    if problems:
        report.reject(line_no, "; ".join(problems), ref=ref)
        return None
    report.usable += 1
    return ManifestLine(line_no=line_no, ref=ref[:100], transport_document=texts["transport_document"][:100],
                        description=texts["description"], declared_brand=texts["declared_brand"],
                        consignor=texts["consignor"], consignee=texts["consignee"], manufacturer=texts["manufacturer"],
                        origin_country=country, hs_code=hs, declared_value=value, currency=currency,
                        quantity=quantity, gtins=[re.sub(r"\D", "", g) for g in gtins if re.sub(r"\D", "", g)])


def read_all(data: bytes, *, filename: str = "") -> tuple[list[ManifestLine], ReadReport]:
    """The whole of a small manifest at once (tests, the API)."""
    report = ReadReport()
    lines = list(read_manifest(io.BytesIO(data), report, filename=filename))
    return lines, report
