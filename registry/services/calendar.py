"""Working days: weekdays that are not public holidays in a country (``holidays`` package);
and the day it is where the customs offices work.

Legal clocks count in the offices' days: a detention at 23:30 in Newark is on that day there,
though it is the next day in UTC, the server's clock. ``TIMEZONE`` (an IANA name, set once at
start-up from the configuration) is the service's local time; every "today" of the services and
every timestamp turned into a date goes through ``local_today`` and ``local_date``. A detention
case carries its office's own zone (Los Angeles on a service run from New York, the Azores on
one run from Lisbon), which those two are given for that case's clock.
"""

from __future__ import annotations

import logging
from datetime import date, datetime, timedelta, timezone, tzinfo
from functools import lru_cache
from importlib import resources
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays

log = logging.getLogger(__name__)

_local_zone = ZoneInfo("UTC")


def set_local_zone(name: str) -> None:
    """The offices' time zone, by its IANA name (Europe/Berlin, America/New_York, UTC)."""
    global _local_zone
    try:
        _local_zone = ZoneInfo(str(name or "UTC"))
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"TIMEZONE {name!r} is not a time zone name such as Europe/Berlin or "
                         "America/New_York") from None


def local_zone(name: str = "") -> tzinfo:
    """The zone called ``name``; with none, the service's (``TIMEZONE``)."""
    return _zone(name) if name else _local_zone


@lru_cache(maxsize=64)
def _zone(name: str) -> tzinfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        # A stored zone that a later tz database no longer has: the service's zone, as before
        # offices had zones of their own, rather than a case that cannot be opened.
        log.warning("time zone %r is unknown; the service's zone %s is used", name, _local_zone.key)
        return _local_zone


def zone_name(zone: str = "") -> str:
    """The name of the zone a case's days are counted in: its office's, or the service's."""
    return zone or _local_zone.key


def local_today(zone: str = "") -> date:
    """Today in the zone ``zone`` (an office's); with none, in the service's zone."""
    return datetime.now(local_zone(zone)).date()


def local_date(moment: datetime, zone: str = "") -> date:
    """The date of a stored moment (naive ones are UTC, as they are stored) in ``zone``."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(local_zone(zone)).date()


@lru_cache(maxsize=1)
def _zones_by_country() -> dict[str, tuple[str, ...]]:
    """The tz database's zones of each country (its ``zone.tab``: country code, coordinates,
    zone, comment), the country's principal zone first, as the file lists them."""
    table: dict[str, list[str]] = {}
    text = resources.files("tzdata").joinpath("zoneinfo", "zone.tab").read_text(encoding="utf-8")
    for line in text.splitlines():
        if line.startswith("#") or not line.strip():
            continue
        country, _, name = line.split("\t")[:3]
        table.setdefault(country, []).append(name)
    return {country: tuple(names) for country, names in table.items()}


def zones_of(country: str) -> tuple[str, ...]:
    """The IANA time zones of an ISO 3166 country (DE: Europe/Berlin, Europe/Busingen)."""
    return _zones_by_country().get(country.upper(), ())


def default_zone(country: str) -> str:
    """An office's zone when none is named: the service's own when the country has it, else the
    country's principal zone (Europe/Helsinki for an office in Finland on a service run in
    Brussels), else the service's."""
    zones = zones_of(country)
    return _local_zone.key if _local_zone.key in zones or not zones else zones[0]

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
