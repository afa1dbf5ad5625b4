"""Settings from the environment (prefix ``FANZHA_``); every legal or operational limit lives here."""

from __future__ import annotations

from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo

from pydantic import Field, SecretStr
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
    # Hold terms and alarms (DOMAIN.md §3 defaults): a stop-payment holds 48 h and may be renewed twice; a
    # freeze holds 6 months (1 year for major cases); the console alarms this long before each expiry.
    stop_payment_hours: int = Field(default=48, ge=1, le=24 * 31)
    stop_payment_max_renewals: int = Field(default=2, ge=0, le=10)
    freeze_days: int = Field(default=180, ge=1, le=3 * 366)
    major_freeze_days: int = Field(default=365, ge=1, le=3 * 366)
    stop_payment_alarm_hours: float = Field(default=6, gt=0, le=24 * 31)
    freeze_alarm_days: float = Field(default=15, gt=0, le=366)

    # Carrier channel (DOMAIN.md §5): where the carrier gateway (or `fanzha sim carriers`) listens; empty =
    # instructions wait in the carrier outbox. A duty officer's request for more numbers than
    # carrier_supervisor_batch waits for a supervisor; hand_answered_carriers answer in the console inbox.
    carrier_gateway_url: str = ""
    carrier_timeout_s: float = Field(default=5.0, gt=0, le=120)
    carrier_supervisor_batch: int = Field(default=20, ge=1, le=10_000)
    hand_answered_carriers: tuple[str, ...] = ()
    # The center's CDR store: the dataset `fanzha telecom ingest --out` writes (Parquet partitioned by number),
    # read by the potential-victims API. victims_window_days: how far back it looks when no window is given.
    cdr_dir: Path = Path("var/cdr")
    victims_window_days: int = Field(default=7, ge=1, le=366)

    # Following the money (DOMAIN.md §4): after the first stop, ask each bank for the account's transactions,
    # trace the victims' money onward and stop every downstream account that still holds it (amount-limited).
    trace_loop: bool = True
    trace_policy: Literal["libr", "fifo", "lifo", "proportional"] = "libr"
    trace_max_depth: int = Field(default=6, ge=1, le=20)
    # Amounts below this (in the case's currency) are not chased: the cost of an instruction exceeds them.
    trace_floor: Decimal = Field(default=Decimal("100"), ge=0)
    trace_window_hours: int = Field(default=72, ge=1, le=24 * 90)

    # Live call watch (DOMAIN.md §5, outreach/): a subscriber connected to a flagged number for watch_minutes
    # (0 = at ring) gets one flash SMS and a high-priority callback task. Call events come over HTTP, and from the
    # Redis stream when redis_url is set (watchers share it as one consumer group).
    live_watch: bool = True
    watch_minutes: float = Field(default=3.0, ge=0, le=600)
    watch_sweep_s: float = Field(default=0.5, gt=0, le=60)
    flagged_reload_s: float = Field(default=1.0, gt=0, le=300)
    redis_url: str = ""
    call_events_stream: str = Field(default="fanzha:call-events", min_length=1, max_length=200)
    call_events_group: str = Field(default="watchers", min_length=1, max_length=200)
    # The SMSC for flash SMS over SMPP 3.4; empty host = warnings wait in flash_warnings (status queued).
    # The password (at most 8 characters in SMPP 3.4) comes from FANZHA_SMSC_PASSWORD and is never logged or shown.
    smsc_host: str = ""
    smsc_port: int = Field(default=2775, ge=1, le=65535)
    smsc_system_id: str = Field(default="", max_length=15)
    smsc_password: SecretStr = Field(default=SecretStr(""), repr=False)
    smsc_system_type: str = Field(default="", max_length=12)
    smsc_bind: Literal["transceiver", "transmitter"] = "transceiver"
    smsc_source_addr: str = Field(default="96110", pattern=r"^[0-9]{3,20}$")
    smsc_dest_addr_subunit: bool = False  # add dest_addr_subunit = 1 (display) for SMSCs that want it
    smsc_window: int = Field(default=10, ge=1, le=1000)  # submit_sm awaiting an answer at once
    smsc_max_per_second: float = Field(default=200.0, gt=0, le=100_000)
    smsc_enquire_link_s: float = Field(default=30.0, gt=0, le=3600)
    smsc_response_timeout_s: float = Field(default=10.0, gt=0, le=300)
    smsc_validity_minutes: int = Field(default=10, ge=0, le=1440)  # 0: the SMSC's default validity

    @property
    def var_dir(self) -> Path:
        return Path("var")


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
