"""Reminders for customs protection about to end, so the holder renews it in time."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from registry.models import Organisation, Right, User
from registry.services.calendar import add_working_days, local_today, working_days_between
from registry.services.tenancy import scoped


@dataclass(frozen=True)
class ProtectionReminder:
    right: Right
    ends_on: date
    working_days_left: int
    expired: bool

    @property
    def message(self) -> str:
        if self.expired:
            return (f"Customs protection for {self.right.mark_text} ended on "
                    f"{self.ends_on:%d %B %Y}: goods under this mark are no longer detained.")
        return (f"Customs protection for {self.right.mark_text} ends on {self.ends_on:%d %B %Y}, "
                f"in {self.working_days_left} working days: ask for an extension now.")


def protection_reminders(session: Session, actor: User, *, today: date | None = None,
                         within_working_days: int = 30) -> list[ProtectionReminder]:
    """Rights visible to the actor whose protection ends within the window or has ended."""
    today = today or local_today()
    rights = session.scalars(
        scoped(select(Right), actor, Right)
        .where(Right.protection_valid_until.is_not(None))
        .order_by(Right.protection_valid_until)
    )
    reminders = []
    for right in rights:
        ends_on = right.protection_valid_until
        country = _calendar_country(right)
        if ends_on < today:
            reminders.append(ProtectionReminder(right, ends_on, 0, True))
            continue
        left = working_days_between(today, ends_on, country)
        if left <= within_working_days:
            reminders.append(ProtectionReminder(right, ends_on, left, False))
    return reminders


def _calendar_country(right: Right) -> str | None:
    # The holder's own country calendar when protection is regional (EU) or multi-country.
    jurisdictions = right.protection_jurisdictions or []
    if len(jurisdictions) == 1 and len(jurisdictions[0]) == 2 and jurisdictions[0] != "EU":
        return jurisdictions[0]
    organisation: Organisation = right.organisation
    return organisation.country if organisation else None


# -- where a right stands (its product pages) -----------------------------------------------

@dataclass(frozen=True)
class Standing:
    """Where a dated part of a right stands today: its customs protection, or its registration.

    ``state`` is ``in_force``, ``ending`` (within the holder's reminder window, counted in
    working days as the reminders count them), ``ended``, ``not_yet`` or ``not_recorded``;
    ``working_days_left`` is counted for ``ending`` only."""

    state: str
    ends_on: date | None = None
    working_days_left: int | None = None


@dataclass(frozen=True)
class RightStanding:
    """A right as a product's pages show it: until when customs protect it, and its registration."""

    right: Right
    protection: Standing
    registration: Standing


@functools.lru_cache(maxsize=256)
def _window_edge(today: date, window_working_days: int, country: str | None) -> date:
    """The first day past the window: a right ending on it or later is in force, not ending."""
    return add_working_days(today, window_working_days + 1, country)


def right_standing(right: Right, *, window_working_days: int = 30, today: date | None = None) -> RightStanding:
    """Where ``right`` stands today; "ending" is within ``window_working_days``, counted on the
    calendar the reminders count on, so that a page and a reminder say the same."""
    today = today or local_today()
    country = _calendar_country(right)

    def ending(last_day: date) -> Standing:
        if last_day < today:
            return Standing("ended", last_day)
        # Counting working days up to a last day years away walks every day between: tables
        # of products ask this per row, so only days inside the window are counted.
        if last_day >= _window_edge(today, window_working_days, country):
            return Standing("in_force", last_day)
        return Standing("ending", last_day, working_days_between(today, last_day, country))

    until = right.protection_valid_until
    if not (right.protection_number and right.protection_valid_from and until):
        protection = Standing("not_recorded", until)
    elif until >= today and right.protection_valid_from > today:
        protection = Standing("not_yet", until)
    else:
        protection = ending(until)
    expiry = right.registration_expiry
    registration = ending(expiry) if expiry else Standing("not_recorded")
    return RightStanding(right, protection, registration)
