"""Reading the registry: a holder's own dossier, or the whole registry for customs."""

from __future__ import annotations

from sqlalchemy import String, cast, func, or_, select
from sqlalchemy.orm import Session, selectinload

from registry.models import Organisation, OrganisationStatus, Product, Right, Supplier, User
from registry.services.tenancy import scoped


def search_products(session: Session, actor: User, query: str = "", *, limit: int = 200
                    ) -> list[Product]:
    """Products visible to the actor whose name, model, category, mark, holder or GTIN match."""
    statement = (
        scoped(select(Product), actor, Product)
        .join(Organisation, Organisation.id == Product.organisation_id)
        .outerjoin(Right, Right.id == Product.right_id)
        .options(selectinload(Product.images), selectinload(Product.right),
                 selectinload(Product.organisation))
        .order_by(Organisation.name, Product.name, Product.model)
        .limit(limit)
    )
    if actor.sees_whole_registry:
        statement = statement.where(Organisation.status == OrganisationStatus.APPROVED)
    text = query.strip()
    if text:
        pattern = f"%{text.lower()}%"
        digits = "".join(ch for ch in text if ch.isdigit())
        conditions = [func.lower(column).like(pattern) for column in (
            Product.name, Product.model, Product.category, Right.mark_text, Organisation.name)]
        if len(digits) >= 8:
            conditions.append(cast(Product.gtins, String).like(f"%{digits}%"))
        statement = statement.where(or_(*conditions))
    return list(session.scalars(statement).unique())


def supplier_count(session: Session, organisation_id: int) -> int:
    return session.scalar(select(func.count(Supplier.id))
                          .where(Supplier.organisation_id == organisation_id)) or 0
