"""CSV cells that a spreadsheet opens as text, never as a formula."""

from __future__ import annotations

from datetime import date
from typing import Any

_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: Any) -> str:
    """The value as text; one that starts like a formula gets a leading apostrophe."""
    text = value.isoformat() if isinstance(value, date) else str(value)
    return "'" + text if text[:1] in _FORMULA_STARTS else text
