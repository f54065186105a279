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
    # Each value is named by its column in the manifest, as the officer sees it in the file.
    assert "value 'abc' is not a number" in reasons[2] and "unknown currency 'QQQ'" in reasons[2]
    assert "unknown origin country 'Atlantis'" in reasons[2] and "HS code '12ab'" in reasons[2]
    assert "qty must be zero or more" in reasons[2]
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
    assert reasons[2].startswith("brand must be text, not a list")
    assert reasons[3] == "value must be a number, not an object"
    assert reasons[4] == "not a JSON object" and reasons[5].startswith("brand must be text, not true or false")
    assert reasons[6].startswith("not valid JSON") and reasons[7] == "has 300 keys; at most 200"


# -- line numbers, quotes, line endings, numbers (review of bulk screening) -----------------------

def _generated_csv(rows: int, seed: int) -> tuple[bytes, list[int]]:
    """A manifest mixing plain rows, quote marks inside unquoted fields (27" monitor), quoted
    fields over several lines and blank lines; with the line each row starts on."""
    import random

    rng = random.Random(seed)
    out, starts, line = ["description,brand,qty\n"], [], 1
    for i in range(rows):
        line += 1
        while rng.random() < 0.1:  # blank lines between rows
            out.append("\n")
            line += 1
        kind = rng.randrange(4)
        if kind == 0:
            text = f'{rng.randint(10, 99)}" monitor {i},Dell,1\n'
        elif kind == 1:
            text = f'5\'11" "tall" jacket {i},Gucc1,2\n'
        elif kind == 2:
            breaks = rng.randint(1, 3)
            text = '"a bag ""with"" a strap' + "\nmore" * breaks + f' {i}",Prada,3\n'
        else:
            text = f"running shoes {i},N1KE,4\n"
        starts.append(line)
        line += text.count("\n") - 1
        out.append(text)
    return "".join(out).encode(), starts


def test_quote_marks_inside_unquoted_fields_keep_every_line_number():
    data, starts = _generated_csv(2_000, seed=7)
    lines, report = read_all(data)
    assert report.errors == [] and report.lines == report.usable == 2_000
    assert [l.line_no for l in lines] == starts  # what an editor shows: unique, the record's first line
    inch = read_all(b'description,brand\n27" monitor,Dell\nrunning shoes,A1pha\nbag,Gucci\n')[0]
    assert [(l.line_no, l.ref, l.description) for l in inch] == [(2, "", '27" monitor'), (3, "", "running shoes"),
                                                                 (4, "", "bag")]


def test_blank_lines_before_the_header_count():
    lines, report = read_all(b"\n\n  \nid,description\n1,shoes\n\n2,bags\n1,dup\n")
    assert [l.line_no for l in lines] == [5, 7]
    assert report.errors == [(8, "duplicate id '1' (first on line 5)")]
    lines, report = read_all(b'\n\n{"id":1,"description":"x"}\n{"id":1,"description":"y"}\n', filename="m.jsonl")
    assert [l.line_no for l in lines] == [3]
    assert report.errors == [(4, "duplicate id '1' (first on line 3)")]


def test_an_unclosed_quote_names_its_line_and_the_lines_not_read():
    rows = ["id,description,brand", "P1,running shoes,A1pha", 'P2,"leather bag,Gucci'] + \
           [f"P{i},running shoes,A1pha" for i in range(3, 103)]
    lines, report = read_all(("\n".join(rows) + "\n").encode())
    assert [l.ref for l in lines] == ["P1"]
    assert report.errors == [(3, "a quoted field opens on this line and is never closed: lines 3 to 103 were not read")]
    assert report.lines == 102 and report.error_count == 101  # every line counted, none lost
    # A quote that closes later, far from where it opened, is reported the same way.
    lines, report = read_all(b'id,description\n1,"bag\n2,shoes\n3,27" monitor\n4,hat\n')
    assert [l.ref for l in lines] == ["4"]
    assert report.errors[0][0] == 2 and "lines 2 to 4 were not read" in report.errors[0][1]
    assert report.lines == 4 and report.error_count == 3
    # An open quote on the last line.
    lines, report = read_all(b'id,description\n1,shoes\n2,"bag\n')
    assert report.errors == [(3, "a quoted field opens on this line and is never closed")]


def test_an_unclosed_quote_in_a_long_file_stops_at_the_field_limit_and_reading_goes_on():
    import csv

    rows = ["id,description,brand", 'P1,"running shoes,A1pha'] + \
           [f"P{i},running shoes {i},A1pha" for i in range(2, 8002)]
    lines, report = read_all(("\n".join(rows) + "\n").encode())
    line, reason = report.errors[0]
    assert line == 2 and f"more than {csv.field_size_limit():,} characters" in reason
    last = int(reason.split(" to ")[1].split()[0])
    assert len(report.errors) == 1 and report.error_count == last - 1
    assert [l.line_no for l in lines] == list(range(last + 1, 8003))
    assert all(l.ref == f"P{l.line_no - 1}" for l in lines)
    assert report.lines == 8001 == report.usable + report.error_count


def test_cr_line_endings_are_read():
    data = b"\xef\xbb\xbfid,description,brand\r1,shoes,N1KE\r\r2,\"a bag\rwith a strap\",Gucc1\r3,,\r"
    lines, report = read_all(data)
    assert [(l.line_no, l.description) for l in lines] == [(2, "shoes"), (4, "a bag\rwith a strap")]
    assert report.errors == [(6, "no description or declared brand")]
    # a long one, and an over-long line in it
    rows = [b"%d,item %d,Brand\r" % (i, i) for i in range(50_000)]
    rows.insert(10, b"x" * 100_000 + b"\r")
    lines, report = read_all(b"id,description,brand\r" + b"".join(rows))
    assert report.lines == 50_001 and report.usable == 50_000 and len(lines) == 50_000
    assert report.errors == [(12, "the line is longer than 64 KiB")] and lines[-1].line_no == 50_002
    lines, report = read_all(b'{"description":"x"}\r{"description":"y"}\r', filename="m.jsonl")
    assert [l.line_no for l in lines] == [1, 2]


def test_a_cr_file_leaves_the_stream_open():
    stream = io.BytesIO(b"id,description\r1,shoes\r")
    report = manifests.ReadReport()
    assert [l.description for l in manifests.read_manifest(stream, report)] == ["shoes"]
    assert not stream.closed


def test_a_header_that_is_not_csv_is_refused():
    with pytest.raises(ManifestRefused, match="header line is not valid CSV"):
        read_all(b"description," + b"x" * 200_000 + b"\n1,2\n")


def test_json_numbers_of_thousands_of_digits_and_deep_nesting_reject_their_line():
    data = (b'{"id":"A","description":"shoes"}\n{"id":"B","description":"x","quantity":' + b"1" * 5000 + b"}\n"
            b'{"id":' + b"9" * 5000 + b',"description":"x"}\n{"id":"C","description":' + b"[" * 50_000 + b"\n"
            b'{"id":"D","description":"bags"}\n')
    lines, report = read_all(data, filename="m.jsonl")
    assert [l.ref for l in lines] == ["A", "D"]
    assert report.errors[0] == (2, "not valid JSON (a number has more than 4,300 digits)")
    assert report.errors[1][0] == 3 and report.errors[2] == (4, "not valid JSON (nested too deeply)")


def test_numbers_beyond_what_a_check_holds_are_rejected():
    rows = ["shoes,1e400,EUR,1", "shoes,1" + "0" * 400 + ",EUR,1", "shoes,100000000000,EUR,1", "shoes,Infinity,EUR,1",
            "shoes,99999999999.99,EUR,99999999999", "shoes,1,EUR,1e11", "shoes,NaN,EUR,1"]
    lines, report = read_all(("description,value,currency,qty\n" + "\n".join(rows) + "\n").encode())
    assert [(l.line_no, l.declared_value, l.quantity) for l in lines] == [(6, 99999999999.99, 99999999999.0)]
    reasons = dict(report.errors)
    for line in (2, 3, 4, 5):
        assert reasons[line].startswith("value '") and "out of range: it must be below 100,000,000,000" in reasons[line]
    assert "qty '1e11' is out of range" in reasons[7] and reasons[8] == "value 'NaN' is not a number"
    data = (json.dumps({"description": "x", "value": 10**400, "currency": "EUR"}) + "\n" +
            '{"description": "y", "value": 1e400, "currency": "EUR"}\n').encode()
    lines, report = read_all(data, filename="m.jsonl")
    assert lines == [] and all("out of range" in reason for _, reason in report.errors)
    assert json.dumps([l.as_dict() for l in read_all(b"description,value,currency\nx,1e10,EUR\n")[0]], allow_nan=False)


def test_a_comma_before_three_digits_is_refused_as_ambiguous():
    rows = ["a,1,000", "b,12,500", "c,12,50", "d,0,125", "e,1234,567", "f,1,000,000", "g,1.000"]
    lines, report = read_all(("description;value;currency\n" + "\n".join(r.replace(",", ";", 1) + ";EUR" for r in rows)
                              + "\n").encode())
    assert [(l.description, l.declared_value) for l in lines] == [("c", 12.5), ("d", 0.125), ("e", 1234.567),
                                                                   ("g", 1.0)]
    reasons = dict(report.errors)
    assert reasons[2] == ("value '1,000' is ambiguous (a thousands separator or a decimal comma?): "
                          "write it as 1000 or as 1.000, with a decimal point")
    assert "'12,500' is ambiguous" in reasons[3]
    assert reasons[7] == "value '1,000,000' is not a number (write it without thousands separators)"


def test_hs_codes_take_ascii_digits_only():
    lines, report = read_all("description,hs\nx,6403.99.00\ny,6403\u00b2\nz,\u0666\u0664\u0660\u0663\n".encode())
    assert [(l.description, l.hs_code) for l in lines] == [("x", "64039900")]
    assert [line for line, _ in report.errors] == [3, 4] and all("HS code" in r for _, r in report.errors)


# -- ids: the manifest's own, never made up (review of the bulk pages) ---------------------------

def test_a_line_without_an_id_gets_none_that_could_be_taken_for_another_lines_id():
    # Line 5 has no id; line 9 carries the id "5" and line 10 the id "line 5". Neither is taken
    # for line 5's, neither is reported as a duplicate, and line 5 is named by its number alone.
    rows = ["id,description", "A,shoes", "B,bags", "C,hats", ",no id here", "D,belts", "E,caps", "F,socks",
            "5,gloves", "line 5,scarves", "5,gloves again"]
    lines, report = read_all(("\n".join(rows) + "\n").encode())
    by_line = {line.line_no: line for line in lines}
    assert by_line[5].ref == "" and by_line[9].ref == "5" and by_line[10].ref == "line 5"
    assert report.errors == [(11, "duplicate id '5' (first on line 9)")]
    assert manifests.line_label(5, by_line[5].ref) == "line 5"
    assert manifests.line_label(9, by_line[9].ref) == "line 9 (id 5)"
    refs = [line.ref for line in lines if line.ref]
    assert len(refs) == len(set(refs)) == 8
    # The same in JSON Lines, where an id may be a number.
    data = b'{"description":"x"}\n{"id":1,"description":"y"}\n{"id":"1","description":"z"}\n'
    lines, report = read_all(data, filename="m.jsonl")
    assert [(line.line_no, line.ref) for line in lines] == [(1, ""), (2, "1")]
    assert report.errors == [(3, "duplicate id '1' (first on line 2)")]


def test_unusable_lines_keep_their_id_when_it_can_be_read():
    data = (b"id,description,value,currency\n"
            b"A1,shoes,abc,EUR\n"             # 2: a bad value; its id is known
            b",no id,abc,EUR\n"               # 3: no id to show
            b"A1,dup,1,EUR\n"                 # 4: a duplicate id
            b"B\xff,caf\xe9,1,EUR\n"          # 5: the id itself is not UTF-8: not shown
            b"C7,caf\xe9,1,EUR\n"             # 6: not UTF-8, but the id reads
            b"D8,too,many,fields,here\n"      # 7: fields shifted: the first one is not trusted as the id
            b"E9,fine,1,EUR\n")
    lines, report = read_all(data)
    assert [line.ref for line in lines] == ["E9"]
    assert [(line, ref) for line, _, *ref in report.rejects()] == [
        (2, ["A1"]), (3, []), (4, ["A1"]), (5, []), (6, ["C7"]), (7, [])]
    assert report.rejects()[2][1] == "duplicate id 'A1' (first on line 2)"
    rows = [{"id": "J1", "brand": ["not", "text"]}, {"ref": 77, **{f"k{i}": i for i in range(300)}},
            {"id": {"nested": 1}, "brand": "x", "value": "abc"}]
    _, report = read_all("\n".join(json.dumps(row) for row in rows).encode() + b"\n", filename="m.jsonl")
    assert [(line, ref) for line, _, *ref in report.rejects()] == [(1, ["J1"]), (2, ["77"]), (3, [])]


def test_the_transport_document_is_read_apart_from_the_line_id():
    data = b"Parcel ID;AWB;Goods Description;Brand\nP1;176-12345675;running shoes;N1KE\nP2;;bags;Gucc1\n"
    lines, report = read_all(data)
    assert [(line.ref, line.transport_document) for line in lines] == [("P1", "176-12345675"), ("P2", "")]
    assert report.columns["transport_document"] == "AWB" and report.columns["id"] == "Parcel ID"
    assert lines[0].as_dict()["transport_document"] == "176-12345675" and "transport_document" not in lines[1].as_dict()
