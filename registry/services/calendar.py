"""Working days: weekdays that are not public holidays in a country (``holidays`` package)."""

from __future__ import annotations

from datetime import date, timedelta
from functools import lru_cache

import holidays

#: Regional jurisdictions counted on the calendar of the seat of their customs authority
#: unless a country is given; the EU has no common public-holiday calendar.
_REGION_FALLBACK = {"EU": None}


@lru_cache(maxsize=64)
def _calendar(country: str | None, year: int) -> frozenset[date]:
    if not country or country in _REGION_FALLBACK:
        return frozenset()
    try:
        return frozenset(holidays.country_holidays(country, years=year).keys())
    except (NotImplementedError, KeyError):
        return frozenset()


def is_working_day(day: date, country: str | None) -> bool:
    return day.weekday() < 5 and day not in _calendar(country, day.year)


def working_days_between(start: date, end: date, country: str | None) -> int:
    """Working days after ``start`` up to and including ``end`` (0 when end <= start)."""
    count, day = 0, start
    while day < end:
        day += timedelta(days=1)
        if is_working_day(day, country):
            count += 1
    return count


def add_working_days(start: date, days: int, country: str | None) -> date:
    day, remaining = start, days
    while remaining > 0:
        day += timedelta(days=1)
        if is_working_day(day, country):
            remaining -= 1
    return day
