"""Reading GTINs from barcodes in photos (zxing-cpp).

Only the retail symbologies that carry a GTIN are read: EAN-13, EAN-8, UPC-A, UPC-E and
ITF-14. Every result is returned as a **14-digit GTIN** (left-padded with zeros; UPC-E is
expanded to its UPC-A form first), because that is the one form in which the same trade item
compares equal whatever symbol it was printed as; the GS1 check digit is verified and codes
that fail it are dropped.

Barcodes are read from the decoded photo (about 1,000 pixels a side for a phone photo, see
:func:`matchers.photos.decode`): a code needs roughly two pixels per bar module there, which
a close-up of the barcode has and a whole-box shot from a distance usually has not.
Reading costs a few milliseconds a photo.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .photos import DecodedPhoto

__all__ = ["gtin_check_digit_ok", "read_gtins", "to_gtin14"]


def gtin_check_digit_ok(digits: str) -> bool:
    """True when ``digits`` (8 to 14 digits) ends with a valid GS1 check digit."""
    if not digits.isdigit() or not 8 <= len(digits) <= 14:
        return False
    body, check = digits[:-1], int(digits[-1])
    # Weights 3,1,3,1,... from the digit next to the check digit leftwards.
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(body)))
    return (10 - total % 10) % 10 == check


def _upce_to_upca(code: str) -> str | None:
    """Expand an 8-digit UPC-E (number system, 6 digits, check) to 12-digit UPC-A."""
    if len(code) != 8 or code[0] not in "01":
        return None
    ns, d, check = code[0], code[1:7], code[7]
    last = d[5]
    if last in "012":
        body = d[0:2] + last + "0000" + d[2:5]
    elif last == "3":
        body = d[0:3] + "00000" + d[3:5]
    elif last == "4":
        body = d[0:4] + "00000" + d[4]
    else:
        body = d[0:5] + "0000" + last
    return ns + body + check


def to_gtin14(code: str, symbology: str = "") -> str | None:
    """The 14-digit GTIN of a decoded retail barcode, or None when it is not a valid GTIN."""
    code = code.strip()
    if symbology == "UPCE" and len(code) == 8:
        code = _upce_to_upca(code) or ""
    if not code.isdigit() or len(code) not in (8, 12, 13, 14):
        return None
    gtin = code.zfill(14)
    return gtin if gtin_check_digit_ok(gtin) else None


def _formats() -> Any:
    import zxingcpp

    f = zxingcpp.BarcodeFormat
    # A sequence, not "|": zxing-cpp 3 deprecates or-ing formats together.
    return [f.EAN13, f.EAN8, f.UPCA, f.UPCE, f.ITF]


def read_gtins(photo: DecodedPhoto, *, max_side: int = 1600) -> list[str]:
    """GTINs (14 digits each, see the module docstring) read from barcodes in ``photo``.

    In the order found, without duplicates; empty when there is no readable retail barcode
    or zxing-cpp is not installed. Never raises.
    """
    try:
        import cv2
        import zxingcpp
    except ImportError:
        return []
    try:
        gray = np.asarray(photo.image.convert("L"))
        h, w = gray.shape
        if max(h, w) > max_side:
            # Beyond this the scan gets slow without finding more codes.
            f = max_side / max(h, w)
            gray = cv2.resize(
                gray, (round(w * f), round(h * f)), interpolation=cv2.INTER_AREA
            )
        gray = np.ascontiguousarray(gray)
        formats = _formats()
        try:
            results = zxingcpp.read_barcodes(gray, formats=formats)
        except TypeError:  # zxing-cpp 2.x only takes formats or-ed together
            combined = formats[0]
            for fmt in formats[1:]:
                combined = combined | fmt
            results = zxingcpp.read_barcodes(gray, formats=combined)
    except Exception:  # noqa: BLE001 - a reader crash must not stop screening
        return []
    out: list[str] = []
    for r in results:
        # zxing-cpp names formats "UPC-E", "EAN-13", "ITF"...; compare without punctuation.
        fmt = str(getattr(r, "format", "")).rsplit(".", 1)[-1].upper().replace("-", "")
        text = getattr(r, "text", "") or ""
        if fmt == "ITF" and len(text) != 14:
            continue  # interleaved 2 of 5 only carries a GTIN as ITF-14
        gtin = to_gtin14(text, fmt)
        if gtin and gtin not in out:
            out.append(gtin)
    return out
