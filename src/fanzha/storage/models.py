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
from fanzha.outreach.callback_models import CallbackAttempt, CallbackKey, CallbackTask
from fanzha.outreach.models import FlaggedNumber, FlashWarning, WatchedCall
from fanzha.reports.indexes import FIGURE_INDEXES
from fanzha.storage.base import Base
from fanzha.telecom.carriers.models import CarrierInstruction, CarrierOutboxMessage, CarrierRoute
from fanzha.telecom.official import OfficialNumber
from fanzha.tracing.models import LedgerEntry

__all__ = [
    "FIGURE_INDEXES",
    "ApiToken",
    "AuditEntry",
    "AuditHead",
    "BankInstruction",
    "Base",
    "CallbackAttempt",
    "CallbackKey",
    "CallbackTask",
    "CarrierInstruction",
    "CarrierOutboxMessage",
    "CarrierRoute",
    "Case",
    "CaseCounter",
    "CaseEntity",
    "CaseLink",
    "CaseParty",
    "CaseStatusEvent",
    "FlaggedNumber",
    "FlashWarning",
    "LedgerEntry",
    "OfficialNumber",
    "Organisation",
    "OutboxMessage",
    "Transfer",
    "User",
    "WatchedCall",
    "WebSession",
]
