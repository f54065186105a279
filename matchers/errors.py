"""The one error type the engine raises for input it cannot use at all."""

from __future__ import annotations

__all__ = ["ScreeningError"]


class ScreeningError(ValueError):
    """Raised for input the engine cannot use at all, with a message an officer can read.

    Input that is only partly unusable (one bad photo among several, an unknown country)
    does not raise: the engine skips it and says so in the result's notes.
    """
