"""Typed SQLAlchemy 2.0 models. Import from here: ``from registry.models import Product``."""

from registry.models.api import ApiToken, IdempotentReply
from registry.models.audit import AuditCheckpoint, AuditEvent, AuditHead
from registry.models.base import Base
from registry.models.bulk import BulkChunk, BulkHit, BulkJob
from registry.models.cases import CaseEvent, DetentionCase, HolderResponse, Notice, Sample
from registry.models.checks import Check, CheckDecision, CheckPhoto, Suggestion, Verdict
from registry.models.evidence import EvidenceExport
from registry.models.dossier import (ImageKind, MarkKind, Office, Product, ProductFeature,
                                     ReferenceImage, RegistryGeneration, Right, Supplier, SupplierRole)
from registry.models.organisations import ContactPerson, Organisation, OrganisationStatus
from registry.models.users import Role, User, UserSession

__all__ = [
    "ApiToken", "IdempotentReply", "AuditCheckpoint", "BulkChunk", "BulkHit", "BulkJob", "AuditEvent", "AuditHead", "EvidenceExport", "Base", "CaseEvent", "DetentionCase", "HolderResponse", "Notice", "Sample", "Check", "CheckDecision", "CheckPhoto", "Suggestion", "Verdict", "ContactPerson", "ImageKind", "MarkKind", "Office",
    "Organisation", "OrganisationStatus", "Product", "ProductFeature", "ReferenceImage", "RegistryGeneration",
    "Right", "Role", "Supplier", "SupplierRole", "User", "UserSession",
]
