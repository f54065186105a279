"""Working days: weekdays that are not public holidays in a country (``holidays`` package);
and the day it is where the customs offices work.

Legal clocks count in the offices' days: a detention at 23:30 in Newark is on that day there,
though it is the next day in UTC, the server's clock. ``TIMEZONE`` (an IANA name, set once at
start-up from the configuration) is that local time; every "today" of the services and every
timestamp turned into a date goes through ``local_today`` and ``local_date``.
"""

from __future__ import annotations

import logging
from datetime import date, datetime, timedelta, timezone, tzinfo
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays

log = logging.getLogger(__name__)

_local_zone: tzinfo = timezone.utc


def set_local_zone(name: str) -> None:
    """The offices' time zone, by its IANA name (Europe/Berlin, America/New_York, UTC)."""
    global _local_zone
    try:
        _local_zone = ZoneInfo(str(name or "UTC"))
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"TIMEZONE {name!r} is not a time zone name such as Europe/Berlin or "
                         "America/New_York") from None


def local_zone() -> tzinfo:
    return _local_zone


def local_today() -> date:
    return datetime.now(_local_zone).date()


def local_date(moment: datetime) -> date:
    """The offices' date of a stored moment (naive ones are UTC, as they are stored)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(_local_zone).date()

#: Regional jurisdictions counted on the calendar of the seat of their customs authority
#: unless a country is given; the EU has no common public-holiday calendar.
_REGION_FALLBACK = {"EU": None}


@lru_cache(maxsize=64)
def _calendar(country: str | None, year: int, region: str = "") -> frozenset[date]:
    if not country or country in _REGION_FALLBACK:
        return frozenset()
    try:
        return frozenset(holidays.country_holidays(country, subdiv=region or None, years=year).keys())
    except (NotImplementedError, KeyError):
        if region:
            # A region checked when its case was opened, no longer known (a later holidays
            # release renamed it): the country's own holidays still count, not none at all.
            log.warning("no public holidays known for region %s of %s; counting %s's national ones",
                        region, country, country)
            return _calendar(country, year)
        return frozenset()


def regions_of(country: str) -> tuple[str, ...]:
    """The regions of ``country`` with public holidays of their own (ISO 3166-2 subdivision
    codes without the country: HH, BY, ...), as the ``holidays`` package knows them."""
    return tuple(code for code in holidays.list_supported_countries().get(country, ())
                 if code.isascii() and code.isalnum() and len(code) <= 10 and code.upper() == code)


def is_working_day(day: date, country: str | None, region: str = "") -> bool:
    return day.weekday() < 5 and day not in _calendar(country, day.year, region)


def working_days_between(start: date, end: date, country: str | None, region: str = "") -> int:
    """Working days after ``start`` up to and including ``end`` (0 when end <= start)."""
    count, day = 0, start
    while day < end:
        day += timedelta(days=1)
        if is_working_day(day, country, region):
            count += 1
    return count


def add_working_days(start: date, days: int, country: str | None, region: str = "") -> date:
    """The day ``days`` working days after ``start``, skipping weekends and the public holidays
    of ``country`` (and of its ``region``, where given)."""
    day, remaining = start, days
    while remaining > 0:
        day += timedelta(days=1)
        if is_working_day(day, country, region):
            remaining -= 1
    return day
