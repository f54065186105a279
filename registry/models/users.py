"""Users, their roles, and their server-side sessions (so a copied cookie can be revoked)."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import Boolean, DateTime, Enum, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from registry.models.base import Base, Timestamped, utcnow
from registry.models.organisations import Organisation


class Role(enum.StrEnum):
    HOLDER = "holder"  # a rights holder's staff or counsel: its own organisation only
    OFFICER = "officer"  # customs: reads the whole registry, covert features included
    LEGAL = "legal"  # legal staff: what officers see, read-only
    ADMIN = "admin"  # approves organisations, manages users

    @property
    def label(self) -> str:
        return {"holder": "Rights holder", "officer": "Customs officer",
                "legal": "Legal staff", "admin": "Administrator"}[self.value]


#: Customs staff and administrators: they read every organisation's part of the registry.
WHOLE_REGISTRY_ROLES = frozenset({Role.OFFICER, Role.LEGAL, Role.ADMIN})


class User(Timestamped, Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    password_hash: Mapped[str] = mapped_column(String(200))
    role: Mapped[Role] = mapped_column(
        Enum(Role, native_enum=False, length=20, values_callable=lambda e: [m.value for m in e])
    )
    organisation_id: Mapped[int | None] = mapped_column(ForeignKey("organisations.id"), index=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    #: A customs officer's office: cases of other offices are theirs to read, not to change.
    office: Mapped[str] = mapped_column(String(200), default="", server_default="")
    last_login_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    organisation: Mapped[Organisation | None] = relationship()

    # Flask-Login protocol. The id Flask-Login keeps in the cookie is the session token,
    # set on the instance by the user loader; see registry.services.auth.
    session_token = None  # type: str | None  (per instance, not a column)

    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def is_active(self) -> bool:
        return self.active

    @property
    def is_anonymous(self) -> bool:
        return False

    def get_id(self) -> str | None:
        return self.session_token

    @property
    def sees_whole_registry(self) -> bool:
        return self.role in WHOLE_REGISTRY_ROLES

    @property
    def sees_covert_features(self) -> bool:
        # Covert features are for customs eyes (and the holder that registered them).
        return self.role in (Role.OFFICER, Role.LEGAL, Role.ADMIN)


class UserSession(Base):
    """One log-in. The cookie carries only a random token; its hash is stored here."""

    __tablename__ = "user_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    user: Mapped[User] = relationship()
