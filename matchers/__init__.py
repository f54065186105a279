"""Matching engine: find the registered brand that suspect goods imitate, and explain why.

A pure library (no web framework, no database): it takes plain values and returns plain
values. ``Engine(references).screen(query)`` is the entry point; see ``docs/matchers.md``.
"""

from __future__ import annotations

from .engine import ENGINE_VERSION, Engine
from .errors import ScreeningError
from .types import (
    ImageEvidence,
    Match,
    PriceRange,
    Query,
    Reference,
    Screening,
    Signal,
    Supplier,
    Thresholds,
)

__all__ = [
    "ENGINE_VERSION",
    "Engine",
    "ImageEvidence",
    "Match",
    "PriceRange",
    "Query",
    "Reference",
    "Screening",
    "ScreeningError",
    "Signal",
    "Supplier",
    "Thresholds",
]
