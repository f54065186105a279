"""Officers' checks of suspect goods: the declaration, the photos, and what the engine said."""

from __future__ import annotations

import enum
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, DateTime, Enum, Float, ForeignKey, Integer, Numeric, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from registry.models.base import Base, StoredImage, Timestamped
from registry.models.dossier import Right
from registry.models.users import User


def _enum(cls: type[enum.Enum]) -> Enum:
    return Enum(cls, native_enum=False, length=20, values_callable=lambda e: [m.value for m in e])


class CheckDecision(enum.StrEnum):
    RELEASE = "release"
    INSPECT = "inspect"
    DETAIN = "detain"


class Verdict(enum.StrEnum):
    COUNTERFEIT = "counterfeit"
    NOT_COUNTERFEIT = "not_counterfeit"
    UNSURE = "unsure"

    @property
    def label(self) -> str:
        return {"counterfeit": "Confirmed counterfeit", "not_counterfeit": "Not counterfeit",
                "unsure": "Unsure"}[self.value]


class Check(Timestamped, Base):
    __tablename__ = "checks"

    id: Mapped[int] = mapped_column(primary_key=True)
    officer_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    # The declaration as the officer entered it.
    declarant: Mapped[str] = mapped_column(String(300), default="")
    consignor: Mapped[str] = mapped_column(String(300), default="")
    consignee: Mapped[str] = mapped_column(String(300), default="")
    manufacturer: Mapped[str] = mapped_column(String(300), default="")
    origin_country: Mapped[str] = mapped_column(String(2), default="")
    transit_countries: Mapped[list[str]] = mapped_column(JSON, default=list)
    destination_country: Mapped[str] = mapped_column(String(2), default="")
    transport_mode: Mapped[str] = mapped_column(String(20), default="")
    document_number: Mapped[str] = mapped_column(String(100), default="")
    hs_code: Mapped[str] = mapped_column(String(10), default="")
    description: Mapped[str] = mapped_column(Text, default="")
    declared_brand: Mapped[str] = mapped_column(String(200), default="")
    quantity: Mapped[Decimal | None] = mapped_column(Numeric(14, 3))
    quantity_unit: Mapped[str] = mapped_column(String(20), default="")
    gross_weight_kg: Mapped[Decimal | None] = mapped_column(Numeric(14, 3))
    declared_value: Mapped[Decimal | None] = mapped_column(Numeric(14, 2))
    currency: Mapped[str] = mapped_column(String(3), default="")
    gtins: Mapped[list[str]] = mapped_column(JSON, default=list)
    # What the engine used and said.
    snapshot_id: Mapped[str] = mapped_column(String(100), default="")
    thresholds_version: Mapped[str] = mapped_column(String(50), default="")
    notes: Mapped[list[str]] = mapped_column(JSON, default=list)
    # The officer's decision for the whole check.
    decision: Mapped[CheckDecision | None] = mapped_column(_enum(CheckDecision))
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    decision_reason: Mapped[str] = mapped_column(Text, default="")

    officer: Mapped[User] = relationship()
    photos: Mapped[list[CheckPhoto]] = relationship(back_populates="check", order_by="CheckPhoto.position",
                                                    cascade="all, delete-orphan")
    suggestions: Mapped[list[Suggestion]] = relationship(back_populates="check", order_by="Suggestion.rank",
                                                         cascade="all, delete-orphan")

    @property
    def unit_price(self) -> float | None:
        if self.declared_value is None or not self.quantity:
            return None
        return float(self.declared_value / self.quantity)


class CheckPhoto(StoredImage, Base):
    """A photo of the goods, kept byte-exact (it is evidence) with a thumbnail for display."""

    __tablename__ = "check_photos"

    id: Mapped[int] = mapped_column(primary_key=True)
    check_id: Mapped[int] = mapped_column(ForeignKey("checks.id"), index=True)
    position: Mapped[int] = mapped_column(Integer)

    check: Mapped[Check] = relationship(back_populates="photos")


class Suggestion(Base):
    """One ranked brand the engine suggested, with its reasons and the officer's verdict."""

    __tablename__ = "suggestions"

    id: Mapped[int] = mapped_column(primary_key=True)
    check_id: Mapped[int] = mapped_column(ForeignKey("checks.id"), index=True)
    rank: Mapped[int] = mapped_column(Integer)
    right_id: Mapped[int | None] = mapped_column(ForeignKey("rights.id"), index=True)
    brand_name: Mapped[str] = mapped_column(String(200))
    score: Mapped[float] = mapped_column(Float)
    recommendation: Mapped[str] = mapped_column(String(10))
    #: Every signal: name, score, reason, available.
    signals: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    #: Image evidence: photo position, reference image id, polygon in photo pixels, method.
    evidence: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    verdict: Mapped[Verdict | None] = mapped_column(_enum(Verdict))
    verdict_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    verdict_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    check: Mapped[Check] = relationship(back_populates="suggestions")
    right: Mapped[Right | None] = relationship()
