"""The life of a bank hold (stop-payment 紧急止付 or freeze 冻结) and the legal rules that bound it.

Pure logic, no I/O: every state change of an instruction goes through `apply`, which either returns the
next state or raises `RuleViolation` saying which rule forbids it. The durations and limits are the
defaults of DOMAIN.md §3 (rule) and live in `HoldRules` so a center can configure them.

    pending_approval -approve-> queued -sent-> sent -held-> active -release-> releasing -released-> released
    releasing -release_refused-> active (the bank keeps holding)
    queued | sent -rejected-> rejected;  queued | sent -failed-> failed
    active -renew-> active (one more term);  active -expire-> expired (stop-payment) | lapsed (freeze)
"""

from __future__ import annotations

from collections.abc import Set
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Final


class HoldKind(StrEnum):
    STOP_PAYMENT = "stop_payment"
    FREEZE = "freeze"


class HoldStatus(StrEnum):
    PENDING_APPROVAL = "pending_approval"  # above the amount a duty officer may send alone
    QUEUED = "queued"  # approved; in the outbox
    SENT = "sent"  # the bank acknowledged receipt; no answer yet
    ACTIVE = "active"  # money held (whole or partly)
    REJECTED = "rejected"  # the bank refused (wrong name, closed account...)
    FAILED = "failed"  # could not be delivered (permanent error)
    RELEASING = "releasing"  # release sent, not yet confirmed
    RELEASED = "released"
    EXPIRED = "expired"  # a stop-payment ran out
    LAPSED = "lapsed"  # a freeze was not renewed in time


class HoldEvent(StrEnum):
    APPROVE = "approve"
    SENT = "sent"
    HELD = "held"
    REJECTED = "rejected"
    FAILED = "failed"
    RENEW = "renew"
    RELEASE = "release"
    RELEASED = "released"
    RELEASE_REFUSED = "release_refused"
    EXPIRE = "expire"


FINAL = frozenset({HoldStatus.REJECTED, HoldStatus.FAILED, HoldStatus.RELEASED, HoldStatus.EXPIRED,
                   HoldStatus.LAPSED})


@dataclass(frozen=True, slots=True)
class HoldRules:
    stop_payment_hours: int = 48  # rule
    max_stop_payment_renewals: int = 2  # rule
    freeze_days: int = 180  # rule: 6 months
    major_freeze_days: int = 365  # rule: 1 year for major cases
    stop_payment_alarm_before: timedelta = timedelta(hours=6)
    freeze_alarm_before: timedelta = timedelta(days=15)

    def term(self, kind: HoldKind, major_case: bool) -> timedelta:
        if kind is HoldKind.STOP_PAYMENT:
            return timedelta(hours=self.stop_payment_hours)
        return timedelta(days=self.major_freeze_days if major_case else self.freeze_days)

    def alarm_before(self, kind: HoldKind) -> timedelta:
        return self.stop_payment_alarm_before if kind is HoldKind.STOP_PAYMENT else self.freeze_alarm_before


@dataclass(frozen=True, slots=True)
class Hold:
    kind: HoldKind
    status: HoldStatus
    major_case: bool = False
    requested_amount: Decimal | None = None  # None: the whole account
    held_amount: Decimal | None = None
    expires_at: datetime | None = None
    renewals: int = 0


class RuleViolation(ValueError):
    """A transition the rules forbid; the message names the rule."""


def new_hold(kind: HoldKind, *, requested_amount: Decimal | None, needs_approval: bool,
             major_case: bool = False) -> Hold:
    if requested_amount is not None and requested_amount <= 0:
        raise RuleViolation("a hold amount must be greater than zero (or omitted for the whole account)")
    if major_case and kind is HoldKind.STOP_PAYMENT:
        raise RuleViolation("only freezes have a major-case term")
    status = HoldStatus.PENDING_APPROVAL if needs_approval else HoldStatus.QUEUED
    return Hold(kind=kind, status=status, major_case=major_case, requested_amount=requested_amount)


# Events that only move the status: event -> (statuses it may happen in, the status after it).
_MOVES: Final[dict[HoldEvent, tuple[frozenset[HoldStatus], HoldStatus]]] = {
    HoldEvent.APPROVE: (frozenset({HoldStatus.PENDING_APPROVAL}), HoldStatus.QUEUED),
    HoldEvent.SENT: (frozenset({HoldStatus.QUEUED}), HoldStatus.SENT),
    HoldEvent.FAILED: (frozenset({HoldStatus.QUEUED, HoldStatus.SENT}), HoldStatus.FAILED),
    HoldEvent.REJECTED: (frozenset({HoldStatus.QUEUED, HoldStatus.SENT}), HoldStatus.REJECTED),
    HoldEvent.RELEASE: (frozenset({HoldStatus.ACTIVE}), HoldStatus.RELEASING),
    HoldEvent.RELEASED: (frozenset({HoldStatus.RELEASING}), HoldStatus.RELEASED),
    # The bank keeps holding (e.g. another authority's order covers the money): the hold runs on.
    HoldEvent.RELEASE_REFUSED: (frozenset({HoldStatus.RELEASING}), HoldStatus.ACTIVE),
}


def apply(hold: Hold, event: HoldEvent, now: datetime, rules: HoldRules = HoldRules(), *,
          held_amount: Decimal | None = None, bank_expires_at: datetime | None = None) -> Hold:
    """The hold after `event` at `now`, or RuleViolation."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    s = hold.status
    if s in FINAL:
        raise RuleViolation(f"the {hold.kind.value} is {s.value}; nothing more can happen to it")
    if event in _MOVES:
        allowed, target = _MOVES[event]
        _require(hold, event, allowed)
        return replace(hold, status=target)
    if event is HoldEvent.HELD:
        return _held(hold, now, rules, held_amount, bank_expires_at)
    if event is HoldEvent.RENEW:
        return _renew(hold, now, rules)
    if event is HoldEvent.EXPIRE:
        _require(hold, event, {HoldStatus.ACTIVE})
        if hold.expires_at is None or now < hold.expires_at:
            raise RuleViolation(f"the {hold.kind.value} runs until {_iso(hold.expires_at)}; it has not expired")
        return replace(hold, status=HoldStatus.EXPIRED if hold.kind is HoldKind.STOP_PAYMENT else HoldStatus.LAPSED)
    raise RuleViolation(f"unknown event {event!r}")  # pragma: no cover - the enum is exhaustive


def _held(hold: Hold, now: datetime, rules: HoldRules, held_amount: Decimal | None,
          bank_expires_at: datetime | None) -> Hold:
    _require(hold, HoldEvent.HELD, {HoldStatus.QUEUED, HoldStatus.SENT})
    # Zero is a real answer: an empty account stays stopped, and money arriving later is caught.
    if held_amount is None or held_amount < 0:
        raise RuleViolation("a held answer must say how much was held (zero or more)")
    if hold.requested_amount is not None and held_amount > hold.requested_amount:
        # 限额冻结: a hold never goes beyond the amount asked for (the traced amount).
        raise RuleViolation(f"the bank held {held_amount}, more than the {hold.requested_amount} requested")
    # The legal term runs from the hold; a bank may state a shorter one, never a longer one.
    expires = now + rules.term(hold.kind, hold.major_case)
    if bank_expires_at is not None:
        expires = min(expires, bank_expires_at)
    return replace(hold, status=HoldStatus.ACTIVE, held_amount=held_amount, expires_at=expires)


def _renew(hold: Hold, now: datetime, rules: HoldRules) -> Hold:
    _require(hold, HoldEvent.RENEW, {HoldStatus.ACTIVE})
    assert hold.expires_at is not None
    if now >= hold.expires_at:
        raise RuleViolation(f"the {hold.kind.value} ended at {_iso(hold.expires_at)}; "
                            "a hold must be renewed before it expires")
    if hold.kind is HoldKind.STOP_PAYMENT and hold.renewals >= rules.max_stop_payment_renewals:
        raise RuleViolation(f"a stop-payment may be renewed at most {rules.max_stop_payment_renewals} times; "
                            "freeze the account instead")
    # A renewal adds one full term to the current expiry, so renewing early never shortens the hold.
    return replace(hold, expires_at=hold.expires_at + rules.term(hold.kind, hold.major_case),
                   renewals=hold.renewals + 1)


def alarm_due(hold: Hold, now: datetime, rules: HoldRules = HoldRules()) -> bool:
    """True when an active hold is within its alarm window before expiry (the officer must decide)."""
    if hold.status is not HoldStatus.ACTIVE or hold.expires_at is None:
        return False
    return hold.expires_at - rules.alarm_before(hold.kind) <= now < hold.expires_at


def _require(hold: Hold, event: HoldEvent, allowed: Set[HoldStatus]) -> None:
    if hold.status not in allowed:
        names = ", ".join(sorted(s.value for s in allowed))
        raise RuleViolation(f"cannot {event.value} a {hold.kind.value} that is {hold.status.value} "
                            f"(only when {names})")


def _iso(value: datetime | None) -> str:
    return value.isoformat() if value else "unknown"
