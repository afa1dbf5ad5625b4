"""What each role may do. Organisation scoping (which records) is applied by each domain's queries."""

from __future__ import annotations

from enum import StrEnum

from fanzha.auth.models import Role
from fanzha.orgs.models import OrgKind


class Permission(StrEnum):
    REPORT_CREATE = "report.create"
    EXTRACT_PREVIEW = "extract.preview"
    CASE_READ = "case.read"  # scoped: all, own organisation's, or the bank's / carrier's slice
    CASE_TRANSITION = "case.transition"
    AUDIT_READ = "audit.read"
    USER_MANAGE = "user.manage"


ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.DUTY_OFFICER: frozenset({
        Permission.REPORT_CREATE, Permission.EXTRACT_PREVIEW, Permission.CASE_READ, Permission.CASE_TRANSITION,
    }),
    Role.SUPERVISOR: frozenset({
        Permission.REPORT_CREATE, Permission.EXTRACT_PREVIEW, Permission.CASE_READ, Permission.CASE_TRANSITION,
        Permission.AUDIT_READ,
    }),
    Role.HOTLINE_OPERATOR: frozenset({Permission.REPORT_CREATE, Permission.EXTRACT_PREVIEW, Permission.CASE_READ}),
    Role.BANK_LIAISON: frozenset({Permission.CASE_READ}),
    Role.CARRIER_LIAISON: frozenset({Permission.CASE_READ}),
    Role.CALLBACK_AGENT: frozenset(),
    Role.AUDITOR: frozenset({Permission.AUDIT_READ}),
    Role.ADMIN: frozenset({Permission.USER_MANAGE}),
}

# Which kinds of organisation each role may belong to: a bank liaison works for a bank, and so on.
ROLE_ORG_KINDS: dict[Role, frozenset[OrgKind]] = {
    Role.DUTY_OFFICER: frozenset({OrgKind.CENTER}),
    Role.SUPERVISOR: frozenset({OrgKind.CENTER}),
    Role.AUDITOR: frozenset({OrgKind.CENTER}),
    Role.ADMIN: frozenset({OrgKind.CENTER}),
    Role.CALLBACK_AGENT: frozenset({OrgKind.CENTER}),
    Role.HOTLINE_OPERATOR: frozenset({OrgKind.HOTLINE, OrgKind.POLICE_STATION, OrgKind.CENTER}),
    Role.BANK_LIAISON: frozenset({OrgKind.BANK}),
    Role.CARRIER_LIAISON: frozenset({OrgKind.CARRIER, OrgKind.VIRTUAL_OPERATOR}),
}


def allowed(role: Role, permission: Permission) -> bool:
    return permission in ROLE_PERMISSIONS[role]
