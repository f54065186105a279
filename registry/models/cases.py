"""Detention cases: goods held under a right, running on a jurisdiction's legal clock."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Date, DateTime, ForeignKey, Integer, Numeric, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from registry.models.base import Base, Timestamped, utcnow
from registry.models.checks import Check
from registry.models.dossier import Right
from registry.models.organisations import Organisation
from registry.models.users import User


class DetentionCase(Timestamped, Base):
    __tablename__ = "detention_cases"

    id: Mapped[int] = mapped_column(primary_key=True)
    check_id: Mapped[int] = mapped_column(ForeignKey("checks.id"), index=True, unique=True)
    officer_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    #: The rights holder whose right the goods infringe: the only holder who sees the case.
    organisation_id: Mapped[int | None] = mapped_column(ForeignKey("organisations.id"), index=True)
    right_id: Mapped[int | None] = mapped_column(ForeignKey("rights.id"), index=True)
    jurisdiction: Mapped[str] = mapped_column(String(10))
    procedure: Mapped[str] = mapped_column(String(30))
    legal_basis: Mapped[str] = mapped_column(String(30))
    office: Mapped[str] = mapped_column(String(200))
    #: Whose public holidays the working-day deadlines skip.
    office_country: Mapped[str] = mapped_column(String(2))
    #: The office's region within its country (ISO 3166-2 subdivision without the country, such
    #: as HH for Hamburg) where regional public holidays apply; empty for the national calendar.
    office_region: Mapped[str] = mapped_column(String(10), default="", server_default="")
    #: The office's IANA time zone, in which the case's days are counted (which day goods were
    #: presented, when a period ends); empty for cases opened before offices had zones of their
    #: own, whose days are the service's (``TIMEZONE``).
    office_zone: Mapped[str] = mapped_column(String(64), default="", server_default="")
    goods_description: Mapped[str] = mapped_column(Text)
    goods_quantity: Mapped[float | None] = mapped_column(Numeric(14, 3))
    goods_unit: Mapped[str] = mapped_column(String(20), default="")
    state: Mapped[str] = mapped_column(String(40), index=True)
    presented_on: Mapped[date] = mapped_column(Date)
    detained_on: Mapped[date] = mapped_column(Date)
    notified_on: Mapped[date | None] = mapped_column(Date)
    extension_granted_on: Mapped[date | None] = mapped_column(Date)
    #: "", "given", "deemed" (silence past its deadline) or "objected".
    declarant_consent: Mapped[str] = mapped_column(String(20), default="")
    #: Optimistic lock: two officers advancing the same case cannot both win.
    version: Mapped[int] = mapped_column(Integer, default=1)

    __mapper_args__ = {"version_id_col": version}

    check: Mapped[Check] = relationship()
    officer: Mapped[User] = relationship()
    organisation: Mapped[Organisation | None] = relationship()
    right: Mapped[Right | None] = relationship()
    events: Mapped[list[CaseEvent]] = relationship(back_populates="case", order_by="CaseEvent.id",
                                                   cascade="all, delete-orphan")
    responses: Mapped[list[HolderResponse]] = relationship(order_by="HolderResponse.id")
    samples: Mapped[list[Sample]] = relationship(order_by="Sample.id")


class CaseEvent(Base):
    """One entry of a case's timeline: a transition, a note, an applied rule."""

    __tablename__ = "case_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("detention_cases.id"), index=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    action: Mapped[str] = mapped_column(String(50))
    from_state: Mapped[str] = mapped_column(String(40), default="")
    to_state: Mapped[str] = mapped_column(String(40), default="")
    note: Mapped[str] = mapped_column(Text, default="")
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    case: Mapped[DetentionCase] = relationship(back_populates="events")
    actor: Mapped[User | None] = relationship()


class Notice(Base):
    """A detention notice to a rights holder: shown in the app and sent by e-mail.

    ``disclosed`` records what the notice told the holder about the declaration, and on
    which legal basis: a disclosure is itself evidence.
    """

    __tablename__ = "notices"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("detention_cases.id"), index=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    recipient: Mapped[str] = mapped_column(String(320), default="")
    subject: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    disclosed: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    #: "pending", "sent" (through SMTP or into the outbox), "in-app" (no e-mail address) or "failed".
    delivery: Mapped[str] = mapped_column(String(20), default="pending")
    delivery_ref: Mapped[str] = mapped_column(String(300), default="")
    read_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    case: Mapped[DetentionCase] = relationship()


class HolderResponse(Base):
    """The rights holder's answer to a detention notice, kept as evidence."""

    __tablename__ = "holder_responses"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("detention_cases.id"), index=True)
    actor_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    #: "infringement", "genuine" or "extension" (more time asked, no answer yet).
    answer: Mapped[str] = mapped_column(String(20))
    #: Registered distinguishing features the goods get wrong, as (id, text) at answer time.
    wrong_features: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    cited_image_ids: Mapped[list[int]] = mapped_column(JSON, default=list)
    consent_to_destruction: Mapped[bool] = mapped_column(default=False)
    reasons: Mapped[str] = mapped_column(Text, default="")

    actor: Mapped[User] = relationship()


class Sample(Base):
    """A sample taken from detained goods: who has it, since when, and when it came back."""

    __tablename__ = "samples"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("detention_cases.id"), index=True)
    reference: Mapped[str] = mapped_column(String(100))
    quantity: Mapped[str] = mapped_column(String(50))
    handed_to: Mapped[str] = mapped_column(String(300))
    handed_on: Mapped[date] = mapped_column(Date)
    returned_on: Mapped[date | None] = mapped_column(Date)
