"""Who is acting: the authenticated principal every service call carries."""

from __future__ import annotations

from dataclasses import dataclass

from fanzha.auth.models import Role


@dataclass(frozen=True, slots=True)
class Actor:
    user_id: int
    username: str
    role: Role
    org_id: int
    org_code: str
    org_kind: str
    org_short_code: str | None  # bank code for banks, carrier code for carriers
    csrf_token: str | None = None  # set for cookie sessions; None for API tokens

    @property
    def is_external(self) -> bool:
        """Bank and carrier staff: their reads are audited too."""
        return self.role in (Role.BANK_LIAISON, Role.CARRIER_LIAISON)


SYSTEM = "system"
