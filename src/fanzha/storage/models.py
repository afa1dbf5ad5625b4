"""Imports every domain's models so metadata (and Alembic) sees all tables."""

from fanzha.audit.models import AuditEntry, AuditHead
from fanzha.auth.models import ApiToken, User, WebSession
from fanzha.banking.models import BankInstruction, OutboxMessage
from fanzha.cases.models import (
    Case,
    CaseCounter,
    CaseEntity,
    CaseLink,
    CaseParty,
    CaseStatusEvent,
    Transfer,
)
from fanzha.orgs.models import Organisation
from fanzha.storage.base import Base

__all__ = [
    "ApiToken",
    "AuditEntry",
    "AuditHead",
    "BankInstruction",
    "Base",
    "Case",
    "CaseCounter",
    "CaseEntity",
    "CaseLink",
    "CaseParty",
    "CaseStatusEvent",
    "Organisation",
    "OutboxMessage",
    "Transfer",
    "User",
    "WebSession",
]
