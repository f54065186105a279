"""A correction to Werkzeug's multipart parser, applied when the app is created.

Werkzeug 3.1.5 to 3.1.9 (at least) sometimes keep the CR of the CR LF that ends a file part as
the file's last byte: when the closing boundary arrives split across the parser's 64 KiB
reads, the bytes kept back as "possibly the start of a boundary" are counted against the
length of an inner boundary (``\\r\\n--`` + boundary) instead of the closing one, two bytes
longer. An upload whose body is 3 bytes past a multiple of 64 KiB could then be stored one
byte longer than sent (pallets/werkzeug#3285). Photos are evidence kept byte for byte under
their SHA-256, so the parser is corrected here; ``tests/test_multipart.py`` sweeps body sizes
around every 64 KiB multiple up to 5 MiB, against whatever Werkzeug is installed.
"""

from __future__ import annotations

from importlib.metadata import version

from werkzeug.sansio.multipart import MultipartDecoder


def _last_partial_boundary_index(self: MultipartDecoder, data: bytes | bytearray) -> int:
    # Werkzeug's own method, but with the window as long as the closing boundary.
    complete_boundary_index = len(data) - len(b"\r\n--" + self.boundary + b"--")
    earliest = len(data)
    for byte in (b"\n", b"\r"):
        index = data.rfind(byte)
        if index >= max(complete_boundary_index, 0):  # rfind gives -1 for none
            earliest = min(earliest, index)
    return earliest


def _affected(werkzeug_version: str) -> bool:
    parts = tuple(int(p) for p in werkzeug_version.split(".")[:3] if p.isdigit())
    return (3, 1, 5) <= parts < (3, 2)


def correct_werkzeug_multipart() -> bool:
    """Install the corrected method on the installed Werkzeug when it is an affected release;
    returns whether it did."""
    if not _affected(version("werkzeug")):
        return False
    MultipartDecoder._last_partial_boundary_index = _last_partial_boundary_index  # type: ignore[method-assign]
    return True
