"""Rights-holder organisations and their contact persons."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import JSON, DateTime, Enum, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from registry.models.base import Base, Timestamped


class OrganisationStatus(enum.StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    SUSPENDED = "suspended"


class Organisation(Timestamped, Base):
    __tablename__ = "organisations"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    country: Mapped[str] = mapped_column(String(2))
    address: Mapped[str] = mapped_column(Text, default="")
    website: Mapped[str] = mapped_column(String(300), default="")
    status: Mapped[OrganisationStatus] = mapped_column(
        Enum(OrganisationStatus, native_enum=False, length=20,
             values_callable=lambda e: [m.value for m in e]),
        default=OrganisationStatus.PENDING,
    )
    approved_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    contacts: Mapped[list[ContactPerson]] = relationship(
        back_populates="organisation", cascade="all, delete-orphan", order_by="ContactPerson.name"
    )

    @property
    def is_approved(self) -> bool:
        return self.status == OrganisationStatus.APPROVED


class ContactPerson(Timestamped, Base):
    __tablename__ = "contact_persons"

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(200), default="")
    email: Mapped[str] = mapped_column(String(320))
    phone: Mapped[str] = mapped_column(String(50), default="")
    #: ISO 3166-1 alpha-2 codes of the countries this person covers.
    countries: Mapped[list[str]] = mapped_column(JSON, default=list)

    organisation: Mapped[Organisation] = relationship(back_populates="contacts")
