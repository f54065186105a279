"""Reminders for customs protection about to end, so the holder renews it in time."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from registry.models import Organisation, Right, User
from registry.services.calendar import local_today, working_days_between
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
