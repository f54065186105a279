"""Reading the registry: a holder's own dossier, or the whole registry for customs.

Customs staff search the whole registry by any part of a product's name, model or category, its
mark, its holder or a GTIN. A ``LIKE '%word%'`` over those columns of five joined tables reads
every row on every search (tens of milliseconds at 10,000 products, on SQLite and PostgreSQL
alike), so searches over the whole registry go through a ``RegistryIndex``: one lower-cased line
of text per product, kept in memory by each app process and rebuilt when the registry
generation moves (every write to products, rights, holders, images or suppliers moves it, in
its own transaction; see ``models.dossier.RegistryGeneration``), so a change shows in the next
search in every process. The SQL search stays as the plain path: holders' searches (their own
dossier only) use it, and the tests compare the two.
"""

from __future__ import annotations

import threading
from bisect import bisect_right
from dataclasses import dataclass
from datetime import date

from sqlalchemy import Select, String, bindparam, cast, func, or_, select
from sqlalchemy.orm import Session, selectinload

from registry.models import Organisation, OrganisationStatus, Product, ReferenceImage, Right, Supplier, User
from registry.models.dossier import current_generation
from registry.services import tenancy
from registry.services.tenancy import scoped

#: Between the searchable fields of a product, so that a search never matches across two.
_SEPARATOR = "\x1f"


def _terms(query: str) -> tuple[str, str]:
    """The lower-cased text searched for, and its digits when it may be (part of) a GTIN."""
    text = query.strip()
    digits = "".join(ch for ch in text if ch.isdigit())
    return text.lower(), digits if len(digits) >= 8 else ""


def search_products(session: Session, actor: User, query: str = "", *, limit: int = 200,
                    index: RegistryIndex | None = None) -> list[Product]:
    """Products visible to the actor whose name, model, category, mark, holder or GTIN match,
    ordered by holder, name and model. With an ``index`` (the app's), searches over the whole
    registry are answered from it."""
    if index is not None and actor.sees_whole_registry:
        ids = index.matching_ids(session, query, limit=limit)
        if not ids:
            return []
        found = {p.id: p for p in session.scalars(
            select(Product).where(Product.id.in_(ids))
            .options(selectinload(Product.images), selectinload(Product.right), selectinload(Product.organisation)))}
        return [found[i] for i in ids if i in found]
    return _search_in_database(session, actor, query, limit=limit)


def search_listed(session: Session, actor: User, query: str = "", *, limit: int = 200,
                  index: RegistryIndex | None = None) -> list[ListedProduct] | list[Product]:
    """``search_products`` for a page's product table: the same products in the same order, but
    searches over the whole registry read only what the table shows, in one Core query instead
    of the products and three relationships as ORM objects (a third of the search page's time)."""
    if index is not None and actor.sees_whole_registry:
        return listed_products(session, index.matching_ids(session, query, limit=limit))
    return _search_in_database(session, actor, query, limit=limit)


@dataclass(frozen=True)
class _Holder:
    name: str
    country: str


@dataclass(frozen=True)
class _Mark:
    """What the table shows of a right: its mark, and what ``reminders.right_standing`` reads."""
    id: int
    mark_text: str
    protection_number: str
    protection_valid_from: date | None
    protection_valid_until: date | None
    registration_expiry: date | None
    protection_jurisdictions: list[str]
    organisation: _Holder


@dataclass(frozen=True)
class _Image:
    id: int


@dataclass(frozen=True)
class ListedProduct:
    """A row of a product table (``templates/_product_table.html``): what the table reads of a
    ``Product``, under the same names, so that the table takes either."""

    id: int
    name: str
    model: str
    category: str
    gtins: list[str]
    organisation: _Holder
    right: _Mark | None
    #: The product's first image (by id, as ``Product.images`` is ordered), or none: the table
    #: shows no other.
    images: tuple[_Image, ...]

    @property
    def label(self) -> str:
        return f"{self.name} {self.model}".strip()


_products, _images = Product.__table__, ReferenceImage.__table__
_rights = Right.__table__
_LISTED = (
    select(_products.c.id, _products.c.name, _products.c.model, _products.c.category, _products.c.gtins,
           Organisation.__table__.c.name, Organisation.__table__.c.country,
           select(func.min(_images.c.id)).where(_images.c.product_id == _products.c.id).scalar_subquery(),
           _rights.c.id, _rights.c.mark_text, _rights.c.protection_number, _rights.c.protection_valid_from,
           _rights.c.protection_valid_until, _rights.c.registration_expiry, _rights.c.protection_jurisdictions)
    .join(Organisation.__table__, Organisation.__table__.c.id == _products.c.organisation_id)
    .outerjoin(Right.__table__, Right.__table__.c.id == _products.c.right_id)
    .where(_products.c.id.in_(bindparam("ids", expanding=True)))
)


def listed_products(session: Session, ids: list[int]) -> list[ListedProduct]:
    """The products ``ids`` as a product table shows them, in the order of ``ids``."""
    if not ids:
        return []
    found = {}
    for row in session.execute(_LISTED, {"ids": ids}):
        holder = _Holder(row[5], row[6])
        mark = _Mark(row[8], *row[9:14], row[14] or [], holder) if row[8] is not None else None
        found[row[0]] = ListedProduct(row[0], row[1], row[2], row[3], row[4], holder, mark,
                                      (_Image(row[7]),) if row[7] is not None else ())
    return [found[i] for i in ids if i in found]


def _with_holder_and_mark(statement: Select) -> Select:
    """Products joined to their holder and mark, in result order (by holder, name, model): the
    SQL search and the index's build share it, so that both give the same order."""
    return (statement.join(Organisation, Organisation.id == Product.organisation_id)
            .outerjoin(Right, Right.id == Product.right_id)
            .order_by(Organisation.name, Product.name, Product.model, Product.id))


def _search_in_database(session: Session, actor: User, query: str, *, limit: int) -> list[Product]:
    statement = (
        _with_holder_and_mark(scoped(select(Product), actor, Product))
        .options(selectinload(Product.images), selectinload(Product.right),
                 selectinload(Product.organisation))
        .limit(limit)
    )
    if actor.sees_whole_registry:
        statement = statement.where(Organisation.status == OrganisationStatus.APPROVED)
    text, digits = _terms(query)
    if text:
        conditions = [func.lower(column).like(f"%{text}%") for column in (
            Product.name, Product.model, Product.category, Right.mark_text, Organisation.name)]
        if digits:
            conditions.append(cast(Product.gtins, String).like(f"%{digits}%"))
        statement = statement.where(or_(*conditions))
    return list(session.scalars(statement).unique())


@dataclass(frozen=True)
class _Entry:
    product_id: int
    #: Name, model, category, mark and holder, lower-cased, separated by ``_SEPARATOR``.
    text: str
    gtins: str


class RegistryIndex:
    """The searchable text of every product of an approved holder, in result order; one per
    app process, rebuilt when the registry generation moves."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._generation: int | None = None
        self._entries: list[_Entry] = []
        self._texts = self._gtins = _Joined([])
        self.builds = 0

    def matching_ids(self, session: Session, query: str, *, limit: int) -> list[int]:
        entries, texts, gtins = self._current(session)
        text, digits = _terms(query)
        if not text:
            return [e.product_id for e in entries[:limit]]
        if _BOUNDARY in text:  # would match across two products in the joined text
            return [e.product_id for e in entries if text in e.text or (digits and digits in e.gtins)][:limit]
        found = texts.containing(text, limit)
        if digits:
            found = sorted(set(found) | set(gtins.containing(digits, limit)))[:limit]
        return [entries[i].product_id for i in found]

    def _current(self, session: Session) -> tuple[list[_Entry], _Joined, _Joined]:
        generation = current_generation(session)
        with self._lock:  # one build at a time; the others wait and reuse it
            if generation != self._generation:
                self._entries = _build_entries(session)
                self._texts = _Joined([e.text for e in self._entries])
                self._gtins = _Joined([e.gtins for e in self._entries])
                self._generation = generation
                self.builds += 1
            return self._entries, self._texts, self._gtins


#: Between two products in a ``_Joined`` text: a match of anything without it lies within one
#: product's text.
_BOUNDARY = "\x1e"


class _Joined:
    """The texts of every product, in result order, as one string: one ``str.find`` per match
    instead of a test per product (10,000 of them in Python were a tenth of a search page)."""

    def __init__(self, texts: list[str]) -> None:
        self.starts: list[int] = []
        offset = 0
        for text in texts:
            self.starts.append(offset)
            offset += len(text) + 1
        self.text = "".join(text + _BOUNDARY for text in texts)

    def containing(self, part: str, limit: int) -> list[int]:
        """The positions (in result order) of the first ``limit`` texts that contain ``part``,
        which must not contain ``_BOUNDARY``."""
        found: list[int] = []
        at = self.text.find(part)
        while at != -1 and len(found) < limit:
            index = bisect_right(self.starts, at) - 1
            found.append(index)
            following = index + 1
            if following == len(self.starts):
                break
            at = self.text.find(part, self.starts[following])
        return found


def _build_entries(session: Session) -> list[_Entry]:
    if not tenancy.sees_every_tenant(session):  # shared by every officer once built
        raise PermissionError("the search index is built from every tenant's registry, not from one tenant's view")
    rows = session.execute(_with_holder_and_mark(
        select(Product.id, Product.name, Product.model, Product.category, Product.gtins, Right.mark_text,
               Organisation.name))
        .where(Organisation.status == OrganisationStatus.APPROVED))
    return [_Entry(product_id, _SEPARATOR.join((name or "", model or "", category or "", mark or "", holder or "")).lower(),
                   " ".join(gtins or ()))
            for product_id, name, model, category, gtins, mark, holder in rows]


def supplier_count(session: Session, organisation_id: int) -> int:
    return session.scalar(select(func.count(Supplier.id))
                          .where(Supplier.organisation_id == organisation_id)) or 0
