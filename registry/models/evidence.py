"""Evidence packages exported from detention cases, kept so they can be downloaded again."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from registry.models.base import Base
from registry.models.users import User


class EvidenceExport(Base):
    __tablename__ = "evidence_exports"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: Printed in the package and its report; names the package in the audit log.
    package_id: Mapped[str] = mapped_column(String(36), unique=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("detention_cases.id"), index=True)
    exported_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    exported_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    #: Exported while the case was still open: the report says "interim".
    interim: Mapped[bool] = mapped_column(default=False)
    #: The ZIP in the blob store, and the SHA-256 of its signed manifest.
    package_sha256: Mapped[str] = mapped_column(String(64))
    manifest_sha256: Mapped[str] = mapped_column(String(64))
    byte_size: Mapped[int] = mapped_column(Integer)
    file_count: Mapped[int] = mapped_column(Integer)
    #: The audit event that records the export, covered by the checkpoint in the package.
    audit_seq: Mapped[int] = mapped_column(Integer)

    exported_by: Mapped[User] = relationship()
