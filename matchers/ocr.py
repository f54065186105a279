"""Printed text on photos, read with Tesseract (optional).

Tesseract is a Debian package (``tesseract-ocr``) driven through ``pytesseract``. Where it is
missing, :func:`ocr_available` says so and :func:`read_text` returns None, so the engine can
report the signal as unavailable instead of failing.
"""

from __future__ import annotations

import functools
import os
import shutil

import numpy as np

from .photos import DecodedPhoto

__all__ = ["ocr_available", "read_text"]


@functools.lru_cache(maxsize=1)
def ocr_available() -> bool:
    """True when pytesseract is importable and a working ``tesseract`` binary is found."""
    try:
        import pytesseract
    except ImportError:
        return False
    cmd = getattr(pytesseract.pytesseract, "tesseract_cmd", "tesseract")
    if shutil.which(cmd) is None and not os.path.isfile(cmd):
        return False
    try:
        pytesseract.get_tesseract_version()
    except Exception:  # noqa: BLE001 - any failure to run it means OCR is unavailable
        return False
    return True


def read_text(
    photo: DecodedPhoto,
    *,
    max_side: int = 1200,
    timeout: float = 3.0,
    lang: str = "eng",
    psm: int = 11,
) -> str | None:
    """The text Tesseract reads on ``photo``, whitespace-normalised; None when unavailable.

    The photo is turned grey and reduced to ``max_side`` pixels (labels are large print; more
    pixels only cost time). Page segmentation mode 11 ("sparse text") suits labels and
    packaging, where words are scattered rather than set in paragraphs. A run longer than
    ``timeout`` seconds is abandoned. Never raises: errors and timeouts give None.
    """
    if not ocr_available():
        return None
    try:
        import cv2
        import pytesseract
        from PIL import Image

        gray = np.asarray(photo.image.convert("L"))
        h, w = gray.shape
        if max(h, w) > max_side:
            f = max_side / max(h, w)
            gray = cv2.resize(
                gray, (round(w * f), round(h * f)), interpolation=cv2.INTER_AREA
            )
        # Tesseract's OpenMP threads fight over cores with the rest of screening and make
        # a single read slower on small machines; one thread per read is the better trade.
        os.environ.setdefault("OMP_THREAD_LIMIT", "1")
        text = pytesseract.image_to_string(
            Image.fromarray(gray),
            lang=lang,
            config=f"--oem 1 --psm {int(psm)}",
            timeout=timeout,
        )
    except Exception:  # noqa: BLE001 - timeouts (RuntimeError), a missing language, a crash
        return None
    text = " ".join(text.split())
    return text
