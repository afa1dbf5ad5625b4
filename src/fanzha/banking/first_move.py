"""The first move without a click: a report that names a payee account at a known bank gets a
stop-payment for the reported amount, written in the same transaction as the case.

It acts as the center's automatic-rules account (`center-auto`), so every automatic instruction is
attributable in the audit log to the rule, not to whoever typed the report.
"""

from __future__ import annotations

import fcntl
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy.orm import Session

from fanzha.auth.actor import Actor
from fanzha.auth.models import Role
from fanzha.banking.instructions import ApprovalPolicy, issue_hold, issue_query
from fanzha.banking.keys import KeyRing, SigningKey, ensure_key
from fanzha.banking.lifecycle import HoldKind, HoldRules
from fanzha.config import Settings

AUTO_USERNAME = "center-auto"
QUERY_LEAD = timedelta(hours=6)
CENTER_KEYRING = "center.keyring.json"  # published for the banks (sim/banks reads the same file name)
BANKS_KEYRING = "banks.keyring.json"


@dataclass(frozen=True, slots=True)
class FirstMove:
    actor: Actor
    signer: SigningKey
    policy: ApprovalPolicy
    # Also ask each payee's bank for the account's transactions, so the trace can follow the money onward.
    query_payees: bool = False

    def on_new_case(self, session: Session, *, case_id: int, case_number: str, transfers: list[dict[str, Any]],
                    now: datetime) -> list[int]:
        """One stop-payment per payee account (several transfers to one account add up); returns their ids."""
        totals: dict[tuple[str, str, str], Decimal] = defaultdict(Decimal)
        first_at: dict[tuple[str, str, str], datetime | None] = {}
        for t in transfers:
            if not t.get("to_bank"):
                continue  # unknown bank: the officer picks it; nothing can be sent automatically
            key = (t["to_bank"], t["to_account"], t["currency"])
            totals[key] += t["amount"]
            first_at.setdefault(key, t.get("occurred_at"))
        ids = [
            issue_hold(session, self.actor, case_id=case_id, case_number=case_number, kind=HoldKind.STOP_PAYMENT,
                       bank_code=bank, account=account, amount=amount, currency=currency,
                       reason=f"电信网络诈骗报案 {case_number}，涉案资金紧急止付", now=now, signer=self.signer,
                       policy=self.policy, victim_transfer_at=first_at[(bank, account, currency)]).id
            for (bank, account, currency), amount in totals.items()
        ]
        if self.query_payees:
            for bank, account, currency in totals:
                # From a little before the reported time: the victim's clock and the bank's differ.
                since = (first_at[(bank, account, currency)] or now) - QUERY_LEAD
                ids.append(issue_query(session, self.actor, case_id=case_id, case_number=case_number,
                                       kind="transaction_query", bank_code=bank, account=account, currency=currency,
                                       now=now, signer=self.signer, since=since).id)
        return ids


def center_signer(settings: Settings) -> SigningKey:
    """The center's signing key; created and published in the keys directory on first use.

    Several server processes may start at once: an exclusive file lock makes exactly one of them create
    and publish the key, and the others load that same key, so no process signs with a key the banks
    were never told about.
    """
    settings.keys_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    with (settings.keys_dir / ".center.lock").open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            path = settings.keys_dir / CENTER_KEYRING
            ring = KeyRing.load(path) if path.exists() else KeyRing()
            signer = ensure_key("center", settings.keys_dir, ring)
            ring.save(path)
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    return signer


def banks_keyring(settings: Settings) -> KeyRing:
    path = settings.keys_dir / BANKS_KEYRING
    return KeyRing.load(path) if path.exists() else KeyRing()


def build_first_move(settings: Settings, auto_actor: Actor) -> FirstMove | None:
    if settings.first_move == "off":
        return None
    if auto_actor.role is not Role.DUTY_OFFICER:
        raise ValueError(f"{AUTO_USERNAME} must be a duty officer account")
    return FirstMove(actor=auto_actor, signer=center_signer(settings), policy=policy_for(settings),
                     query_payees=settings.trace_loop)


def policy_for(settings: Settings) -> ApprovalPolicy:
    return ApprovalPolicy(automatic=settings.first_move == "automatic",
                          hand_answered_banks=frozenset(settings.hand_answered_banks), rules=rules_for(settings))


def rules_for(settings: Settings) -> HoldRules:
    """The configured hold terms, renewal limit and alarm windows."""
    return HoldRules(stop_payment_hours=settings.stop_payment_hours,
                     max_stop_payment_renewals=settings.stop_payment_max_renewals,
                     freeze_days=settings.freeze_days, major_freeze_days=settings.major_freeze_days,
                     stop_payment_alarm_before=timedelta(hours=settings.stop_payment_alarm_hours),
                     freeze_alarm_before=timedelta(days=settings.freeze_alarm_days))
