"""A rights holder's dossier: rights, products, reference images, authorised suppliers."""

from __future__ import annotations

import enum
from datetime import date
from decimal import Decimal

from sqlalchemy import (JSON, BigInteger, Boolean, CheckConstraint, Date, Enum, ForeignKey, Numeric, String, Text, UniqueConstraint)
from sqlalchemy import event, insert, select, update
from sqlalchemy.orm import Mapped, ORMExecuteState, Session, mapped_column, relationship, scoped_session

from registry.models.base import Base, StoredImage, Timestamped
from registry.models.organisations import Organisation


def _enum(cls: type[enum.Enum]) -> Enum:
    return Enum(cls, native_enum=False, length=20, values_callable=lambda e: [m.value for m in e])


class MarkKind(enum.StrEnum):
    WORD = "word"
    FIGURATIVE = "figurative"


class Office(enum.StrEnum):
    EUIPO = "EUIPO"
    USPTO = "USPTO"
    WIPO = "WIPO"
    NATIONAL = "national"


class ImageKind(enum.StrEnum):
    LOGO = "logo"
    PACKAGING = "packaging"
    LABEL = "label"
    PRODUCT = "product"
    DOCUMENT = "document"


class SupplierRole(enum.StrEnum):
    MANUFACTURER = "manufacturer"
    LICENSEE = "licensee"
    DISTRIBUTOR = "distributor"
    EXPORTER = "exporter"


class Right(Timestamped, Base):
    """A registered trade mark and the customs protection recorded for it."""

    __tablename__ = "rights"
    __table_args__ = (
        CheckConstraint("protection_valid_until IS NULL OR protection_valid_from IS NULL "
                        "OR protection_valid_until >= protection_valid_from",
                        name="protection_dates_ordered"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    kind: Mapped[MarkKind] = mapped_column(_enum(MarkKind))
    #: The word mark, or the verbal element of a figurative mark.
    mark_text: Mapped[str] = mapped_column(String(200))
    registration_number: Mapped[str] = mapped_column(String(100))
    office: Mapped[Office] = mapped_column(_enum(Office))
    #: ISO country of a national office; empty for EUIPO, USPTO and WIPO.
    office_country: Mapped[str] = mapped_column(String(2), default="")
    nice_classes: Mapped[list[int]] = mapped_column(JSON, default=list)
    registration_expiry: Mapped[date | None] = mapped_column(Date)
    protection_number: Mapped[str] = mapped_column(String(100), default="")
    #: Where customs protection applies: "EU" or ISO country codes.
    protection_jurisdictions: Mapped[list[str]] = mapped_column(JSON, default=list)
    protection_valid_from: Mapped[date | None] = mapped_column(Date)
    protection_valid_until: Mapped[date | None] = mapped_column(Date)
    small_consignments: Mapped[bool] = mapped_column(Boolean, default=False)

    organisation: Mapped[Organisation] = relationship()
    logos: Mapped[list[ReferenceImage]] = relationship(
        back_populates="right", order_by="ReferenceImage.id"
    )

    def protection_in_force(self, on: date) -> bool:
        return (
            bool(self.protection_number)
            and self.protection_valid_from is not None
            and self.protection_valid_until is not None
            and self.protection_valid_from <= on <= self.protection_valid_until
        )

    @property
    def label(self) -> str:
        return f"{self.mark_text} ({self.office.value} {self.registration_number})"


class Product(Timestamped, Base):
    __tablename__ = "products"
    __table_args__ = (
        UniqueConstraint("organisation_id", "name", "model", name="product_key"),
        CheckConstraint("price_min IS NULL OR price_max IS NULL OR price_min <= price_max",
                        name="price_range_ordered"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    right_id: Mapped[int | None] = mapped_column(ForeignKey("rights.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    model: Mapped[str] = mapped_column(String(100), default="")
    category: Mapped[str] = mapped_column(String(200), default="")
    #: GTIN-8/12/13/14 as registered, digits only, check digit verified.
    gtins: Mapped[list[str]] = mapped_column(JSON, default=list)
    #: HS codes as digits (4, 6, 8 or 10 of them).
    hs_codes: Mapped[list[str]] = mapped_column(JSON, default=list)
    price_min: Mapped[Decimal | None] = mapped_column(Numeric(12, 2))
    price_max: Mapped[Decimal | None] = mapped_column(Numeric(12, 2))
    currency: Mapped[str] = mapped_column(String(3), default="")
    production_countries: Mapped[list[str]] = mapped_column(JSON, default=list)
    intended_markets: Mapped[list[str]] = mapped_column(JSON, default=list)
    #: Known signs of counterfeits, one per entry ("stitching on the tongue is single").
    counterfeit_clues: Mapped[list[str]] = mapped_column(JSON, default=list)

    organisation: Mapped[Organisation] = relationship()
    right: Mapped[Right | None] = relationship()
    features: Mapped[list[ProductFeature]] = relationship(
        back_populates="product", cascade="all, delete-orphan", order_by="ProductFeature.id"
    )
    images: Mapped[list[ReferenceImage]] = relationship(
        back_populates="product", order_by="ReferenceImage.id"
    )

    @property
    def label(self) -> str:
        return f"{self.name} {self.model}".strip()


class ProductFeature(Base):
    """A distinguishing feature of the genuine product; covert ones are for customs only."""

    __tablename__ = "product_features"

    id: Mapped[int] = mapped_column(primary_key=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"), index=True)
    description: Mapped[str] = mapped_column(Text)
    covert: Mapped[bool] = mapped_column(Boolean, default=False)

    product: Mapped[Product] = relationship(back_populates="features")


class ReferenceImage(StoredImage, Timestamped, Base):
    """A reference image of a product, or the logo of a figurative mark.

    The original bytes live in the blob store under ``sha256``; ``thumbnail_sha256`` is a
    re-encoded copy without metadata, the only form the browser is sent.
    """

    __tablename__ = "reference_images"
    __table_args__ = (
        UniqueConstraint("product_id", "sha256", name="product_image"),
        UniqueConstraint("right_id", "sha256", name="right_image"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    product_id: Mapped[int | None] = mapped_column(ForeignKey("products.id"), index=True)
    right_id: Mapped[int | None] = mapped_column(ForeignKey("rights.id"), index=True)
    kind: Mapped[ImageKind] = mapped_column(_enum(ImageKind))

    product: Mapped[Product | None] = relationship(back_populates="images")
    right: Mapped[Right | None] = relationship(back_populates="logos")


class Supplier(Timestamped, Base):
    """A company in the authorised supply chain."""

    __tablename__ = "suppliers"
    __table_args__ = (
        UniqueConstraint("organisation_id", "name", "country", "role", name="supplier_key"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    role: Mapped[SupplierRole] = mapped_column(_enum(SupplierRole))
    name: Mapped[str] = mapped_column(String(300))
    country: Mapped[str] = mapped_column(String(2))
    address: Mapped[str] = mapped_column(Text, default="")
    #: Registry identifiers such as VAT, EORI, DUNS, as "scheme: value" lines.
    identifiers: Mapped[str] = mapped_column(Text, default="")

    organisation: Mapped[Organisation] = relationship()


class RegistryGeneration(Base):
    """A single row counting the changes to what the matching engine is built from.

    Every flush or statement that writes rights, products, reference images, suppliers or
    organisations adds one, in the same transaction (``services.engine_cache``), so an app
    process learns whether its in-memory engine is stale with one primary-key read instead of
    scanning the registry's tables on every screening.
    """

    __tablename__ = "registry_generation"

    id: Mapped[int] = mapped_column(primary_key=True)
    value: Mapped[int] = mapped_column(BigInteger, default=0)


#: What the matching engine is built from (``services.snapshot``): writing any of these moves
#: the registry generation.
ENGINE_INPUTS = (Organisation, Right, Product, ReferenceImage, Supplier)
_ENGINE_INPUT_TABLES = frozenset(model.__tablename__ for model in ENGINE_INPUTS)


#: Read before every screening and search, so built once (building it cost as much as running it).
_GENERATION = select(RegistryGeneration.value).where(RegistryGeneration.id == 1)
#: The same read as a column of another statement (see ``note_generation``).
GENERATION_COLUMN = (select(RegistryGeneration.__table__.c.value)
                     .where(RegistryGeneration.__table__.c.id == 1).scalar_subquery())
_NOTED = "registry_generation"


def current_generation(session: Session) -> int:
    """The registry generation as of this transaction (0 before the first write)."""
    session = _own(session)
    transaction = session.get_transaction()
    if transaction is not None and session.info.get(_NOTED, (None,))[0] is transaction:
        if session.autoflush:
            session.flush()  # as the query would: a pending registry write moves the generation
        noted = session.info.get(_NOTED)
        if noted is not None and noted[0] is transaction:
            return noted[1]
    return session.scalar(_GENERATION) or 0


def note_generation(session: Session, value: int | None) -> None:
    """Keep the generation that a statement of this transaction read along with what it was for
    (``GENERATION_COLUMN``), so that ``current_generation`` needs no query of its own in this
    transaction: an API request's token lookup reads it, and the screening that follows knows
    whether its engine is current without another round trip. A write that moves the
    generation forgets it; another transaction does not see it."""
    session = _own(session)
    session.info[_NOTED] = (session.get_transaction(), value or 0)


def _own(session: Session) -> Session:
    return session() if isinstance(session, scoped_session) else session  # behind Flask-SQLAlchemy's proxy


def _bump(session: Session) -> None:
    session.info.pop(_NOTED, None)
    moved = session.execute(update(RegistryGeneration).where(RegistryGeneration.id == 1)
                            .values(value=RegistryGeneration.value + 1)
                            .execution_options(synchronize_session=False))
    if moved.rowcount == 0:  # a database made without the migration's first row
        session.execute(insert(RegistryGeneration).values(id=1, value=1))


@event.listens_for(Session, "before_flush")
def _count_registry_writes(session: Session, flush_context, instances) -> None:
    """A flush that adds, changes or deletes a row the engine reads moves the generation."""
    for obj in (*session.new, *session.deleted, *session.dirty):
        if isinstance(obj, ENGINE_INPUTS) and (obj not in session.dirty or session.is_modified(obj)):
            _bump(session)
            return


@event.listens_for(Session, "do_orm_execute")
def _count_registry_statements(state: ORMExecuteState) -> None:
    """INSERT, UPDATE or DELETE statements on those tables (bulk writes, imports) move it too."""
    if state.is_insert or state.is_update or state.is_delete:
        table = getattr(state.statement, "table", None)
        if getattr(table, "name", None) in _ENGINE_INPUT_TABLES:
            _bump(state.session)
