"""Settings from the environment (prefix ``FANZHA_``); every legal or operational limit lives here."""

from __future__ import annotations

from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from fanzha.banking.bins import DEFAULT_STATIONED_BANKS

SHANGHAI = ZoneInfo("Asia/Shanghai")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="FANZHA_", extra="ignore")

    # SQLite under var/ by default; PostgreSQL in production, e.g. postgresql+psycopg://user@127.0.0.1/fanzha
    database_url: str = "sqlite:///var/fanzha.db"
    # Case numbers look like SH20261125-000123: prefix, local date, per-day sequence.
    case_prefix: str = Field(default="SH", pattern=r"^[A-Z]{1,6}$")
    # Minutes from receipt to first action before a case counts as overdue on the console.
    sla_first_action_minutes: int = Field(default=5, ge=1)
    stationed_banks: tuple[str, ...] = DEFAULT_STATIONED_BANKS
    # Requests larger than this are refused before parsing (a 10 MB narrative is a mistake or an attack).
    max_request_bytes: int = Field(default=1_000_000, ge=10_000)
    max_narrative_chars: int = Field(default=20_000, ge=1_000)
    # Amounts above this in one transfer are refused as absurd (in the transfer's own currency units).
    max_transfer_amount: int = Field(default=10_000_000_000, ge=1)
    # Threads per server process for blocking work; more only adds GIL contention on a small machine.
    worker_threads: int = Field(default=4, ge=1, le=200)
    # How long a process remembers who a token or session belongs to (0 disables); see auth/cache.py.
    auth_cache_seconds: float = Field(default=5.0, ge=0, le=60)
    # How often a PostgreSQL server seals new audit entries into the hash chain.
    audit_seal_interval_s: float = Field(default=0.05, gt=0, le=10)
    gil_switch_interval_s: float = Field(default=0.0005, gt=0, le=0.1)
    session_hours: int = Field(default=12, ge=1)
    # Cookies are only marked Secure behind TLS; loopback development runs plain HTTP.
    secure_cookies: bool = False
    display_timezone: str = "Asia/Shanghai"
    default_language: str = Field(default="zh", pattern=r"^(zh|en)$")

    # Bank channel (DOMAIN.md §3): where the bank gateway (or `fanzha sim banks`) listens; empty = messages
    # wait in the outbox. Keys: the center's Ed25519 private key and the published keyrings.
    bank_gateway_url: str = ""
    bank_timeout_s: float = Field(default=5.0, gt=0, le=120)
    keys_dir: Path = Path("var/keys")
    # The first move on a report naming a payee account at a known bank: "automatic" sends the
    # stop-payment at once (supervisor above the threshold), "approval" waits for one click, "off" neither.
    first_move: Literal["automatic", "approval", "off"] = "automatic"
    # Bank codes whose liaison answers instructions by hand in the console (no system link).
    hand_answered_banks: tuple[str, ...] = ()

    # Carrier channel (DOMAIN.md §5): where the carrier gateway (or `fanzha sim carriers`) listens; empty =
    # instructions wait in the carrier outbox. A duty officer's request for more numbers than
    # carrier_supervisor_batch waits for a supervisor; hand_answered_carriers answer in the console inbox.
    carrier_gateway_url: str = ""
    carrier_timeout_s: float = Field(default=5.0, gt=0, le=120)
    carrier_supervisor_batch: int = Field(default=20, ge=1, le=10_000)
    hand_answered_carriers: tuple[str, ...] = ()

    # Following the money (DOMAIN.md §4): after the first stop, ask each bank for the account's transactions,
    # trace the victims' money onward and stop every downstream account that still holds it (amount-limited).
    trace_loop: bool = True
    trace_policy: Literal["libr", "fifo", "lifo", "proportional"] = "libr"
    trace_max_depth: int = Field(default=6, ge=1, le=20)
    # Amounts below this (in the case's currency) are not chased: the cost of an instruction exceeds them.
    trace_floor: Decimal = Field(default=Decimal("100"), ge=0)
    trace_window_hours: int = Field(default=72, ge=1, le=24 * 90)

    @property
    def var_dir(self) -> Path:
        return Path("var")


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
