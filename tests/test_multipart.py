"""Uploads arrive byte for byte: the multipart parser against body sizes around every 64 KiB
read boundary (see registry/multipart.py), with file endings that look like part of a boundary."""

from __future__ import annotations

import io
import random

import pytest
from werkzeug.formparser import parse_form_data
from werkzeug.test import EnvironBuilder

from registry.multipart import _affected, correct_werkzeug_multipart

ENDINGS = (b"", b"\r", b"\n", b"\r\n", b"--", b"\r\n-", b"\r\n--")


def _environ(files: dict[str, bytes]) -> dict:
    data = {name: (io.BytesIO(content), f"{name}.png", "image/png") for name, content in files.items()}
    return EnvironBuilder(method="POST", data=data).get_environ()


def _parsed(files: dict[str, bytes]) -> dict[str, bytes]:
    _, _, parsed = parse_form_data(_environ(files))
    return {name: parsed[name].read() for name in parsed}


@pytest.fixture(scope="module", autouse=True)
def corrected():
    correct_werkzeug_multipart()  # as create_app does


def test_single_files_around_every_64_kib_read_arrive_unchanged():
    rng = random.Random(1)
    overhead = int(_environ({"photo": b"x"})["CONTENT_LENGTH"]) - 1
    changed = []
    for multiple in range(1, 81):  # bodies up to 5 MiB
        for delta in range(-5, 6):
            size = multiple * 65536 + 3 + delta - overhead
            ending = rng.choice(ENDINGS)
            content = rng.randbytes(size - len(ending)) + ending
            if _parsed({"photo": content})["photo"] != content:
                changed.append(size)
    assert changed == [], f"{len(changed)} uploads changed, sizes {changed[:5]}"


def test_several_files_and_small_ones_arrive_unchanged():
    rng = random.Random(2)
    for _ in range(200):
        files = {f"p{i}": rng.randbytes(rng.choice((0, 1, 2, rng.randrange(200_000)))) + rng.choice(ENDINGS)
                 for i in range(rng.randint(1, 3))}
        assert _parsed(files) == files


def test_the_correction_applies_to_the_affected_releases_only():
    assert _affected("3.1.9") and _affected("3.1.5")
    assert not _affected("3.1.4") and not _affected("3.2.0")
