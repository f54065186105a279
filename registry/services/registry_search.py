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
from dataclasses import dataclass

from sqlalchemy import Select, String, cast, func, or_, select
from sqlalchemy.orm import Session, selectinload

from registry.models import Organisation, OrganisationStatus, Product, Right, Supplier, User
from registry.models.dossier import current_generation
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
        self.builds = 0

    def matching_ids(self, session: Session, query: str, *, limit: int) -> list[int]:
        entries = self._current(session)
        text, digits = _terms(query)
        if not text:
            return [e.product_id for e in entries[:limit]]
        found: list[int] = []
        for entry in entries:
            if text in entry.text or (digits and digits in entry.gtins):
                found.append(entry.product_id)
                if len(found) == limit:
                    break
        return found

    def _current(self, session: Session) -> list[_Entry]:
        generation = current_generation(session)
        if generation == self._generation:
            return self._entries
        with self._lock:  # one build at a time; the others wait and reuse it
            if generation != self._generation:
                self._entries = _build_entries(session)
                self._generation = generation
                self.builds += 1
            return self._entries


def _build_entries(session: Session) -> list[_Entry]:
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
