"""Manifest reading against hostile files: every line is either read or reported, never lost,
and nothing makes the reader hold more than a line in memory."""

from __future__ import annotations

import io
import json
import tracemalloc

import pytest

from registry.services import manifests
from registry.services.manifests import ManifestRefused, read_all


def test_aliases_bom_and_decimal_commas():
    data = "\ufeffParcel ID;Goods Description;Brand;Shipper;HS Code;Value;CCY;Country of Origin\n" \
           "A1;running shoes;N1KE;Shenzhen X;6404.11;12,50;eur;China\n"
    lines, report = read_all(data.encode())
    assert report.format == "csv" and report.error_count == 0
    assert lines[0].ref == "A1" and lines[0].declared_value == 12.5 and lines[0].currency == "EUR"
    assert lines[0].origin_country == "CN" and lines[0].hs_code == "640411" and lines[0].consignor == "Shenzhen X"
    assert report.columns["description"] == "Goods Description"


def test_quoted_newlines_keep_line_numbers():
    data = b'id,description,brand\n1,"a bag\nwith a strap",Guccl\n2,"shoes ""special""",Adibas\n3,,\n'
    lines, report = read_all(data)
    assert [(l.line_no, l.description) for l in lines] == [(2, "a bag\nwith a strap"), (4, 'shoes "special"')]
    assert report.errors == [(5, "no description or declared brand")]


def test_wrong_encoding_is_reported_per_line():
    data = "id,description,brand\n1,café crème,Lacoste\n".encode("latin-1") + b"2,plain,Puma\n"
    lines, report = read_all(data)
    assert [l.ref for l in lines] == ["2"]
    assert report.errors[0][0] == 2 and "not UTF-8" in report.errors[0][1]


def test_a_file_mostly_in_another_encoding_is_refused():
    rows = b"".join(f"{i},caf\xe9 {i},Brand\n".encode("latin-1") if False else
                    b"%d,caf\xe9 %d,Brand\n" % (i, i) for i in range(1500))
    with pytest.raises(ManifestRefused, match="UTF-8"):
        read_all(b"id,description,brand\n" + rows)


def test_utf16_is_refused_with_a_hint():
    with pytest.raises(ManifestRefused, match="UTF-16"):
        read_all("id,description\n1,x\n".encode("utf-16"))


def test_mixed_delimiters_and_wrong_field_counts():
    data = b"id;description;brand\n1;shoes;Nike\n2,bags,Gucci\n3;toys;Lego;extra\n"
    lines, report = read_all(data)
    assert [l.ref for l in lines] == ["1"]
    assert report.errors[0] == (3, "has 1 fields, the header has 3 (mixed delimiters?)")
    assert report.errors[1][0] == 4 and "has 4 fields" in report.errors[1][1]


def test_ten_thousand_columns_are_refused():
    header = ",".join(f"col{i}" for i in range(10_000)) + "\n"
    with pytest.raises(ManifestRefused, match="10,000 columns"):
        read_all(header.encode() + b"x\n")


def test_no_usable_column_is_refused():
    with pytest.raises(ManifestRefused, match="no column describes the goods"):
        read_all(b"weight,colour\n1,red\n")
    with pytest.raises(ManifestRefused, match="empty"):
        read_all(b"\n\n")


def test_duplicate_ids_keep_the_first():
    lines, report = read_all(b"id,brand\nX,Nike\nX,Puma\nY,Puma\n")
    assert [l.declared_brand for l in lines] == ["Nike", "Puma"]
    assert report.errors == [(3, "duplicate id 'X' (first on line 2)")]


def test_bad_values_are_all_named():
    lines, report = read_all(b"id,brand,value,currency,origin,hs,qty\n"
                             b"1,Nike,abc,QQQ,Atlantis,12ab,-4\n2,Nike,10,,,,\n")
    assert lines == []
    reasons = dict(report.errors)
    assert "declared_value 'abc' is not a number" in reasons[2] and "unknown currency 'QQQ'" in reasons[2]
    assert "unknown origin country 'Atlantis'" in reasons[2] and "HS code '12ab'" in reasons[2]
    assert "quantity must be zero or more" in reasons[2]
    assert reasons[3] == "a declared value needs its currency"


class _Endless(io.RawIOBase):
    """A stream of ``size`` bytes of one long line, produced as it is read."""

    def __init__(self, head: bytes, size: int, tail: bytes) -> None:
        self.head, self.remaining, self.tail, self.position = head, size, tail, 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = 0) -> int:
        assert offset == 0 and whence == 0 and self.position == 3
        self.position = 0
        self.head = b"id,description\n" + self.head[len(b"id,description\n"):]
        return 0

    def readinto(self, buffer) -> int:
        n = len(buffer)
        if self.head:
            chunk, self.head = self.head[:n], self.head[n:]
        elif self.remaining:
            chunk = b"x" * min(n, self.remaining)
            self.remaining -= len(chunk)
        else:
            chunk, self.tail = self.tail[:n], self.tail[n:]
        buffer[:len(chunk)] = chunk
        self.position += len(chunk)
        return len(chunk)


def test_a_two_gigabyte_line_costs_no_memory():
    stream = io.BufferedReader(_Endless(b"id,description\n1,", 2 * 1024**3, b"\n2,after the long line\n"),
                               buffer_size=1024 * 1024)
    report = manifests.ReadReport()
    tracemalloc.start()
    lines = list(manifests.read_manifest(stream, report))
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert [l.description for l in lines] == ["after the long line"]
    assert report.errors == [(2, "the line is longer than 64 KiB")]
    assert peak < 16 * 1024 * 1024


def test_json_lines():
    rows = [{"id": "a", "goods_description": "shoes", "brand": "N1KE", "value": 12.5, "currency": "EUR"},
            {"id": "b", "brand": ["not", "text"]},
            {"id": "c", "brand": "Puma", "value": {"amount": 3}},
            "just a string", {"id": "d", "brand": True}]
    data = "\n".join(json.dumps(r) for r in rows) + "\n{not json\n" + json.dumps({f"k{i}": i for i in range(300)}) + "\n"
    lines, report = read_all(data.encode(), filename="m.jsonl")
    assert [l.ref for l in lines] == ["a"] and lines[0].declared_value == 12.5
    reasons = dict(report.errors)
    assert reasons[2].startswith("declared_brand must be text, not list")
    assert reasons[3] == "declared_value must be a number, not dict"
    assert reasons[4] == "not a JSON object" and reasons[5].startswith("declared_brand must be text, not bool")
    assert reasons[6].startswith("not valid JSON") and reasons[7] == "has 300 keys; at most 200"
