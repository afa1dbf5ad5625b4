"""Every transition of a bank hold, and every refusal, under the legal rules of DOMAIN.md §3."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fanzha.banking.lifecycle import (
    Hold,
    HoldEvent,
    HoldKind,
    HoldRules,
    HoldStatus,
    RuleViolation,
    alarm_due,
    apply,
    new_hold,
)

S, E = HoldStatus, HoldEvent
NOW = datetime(2026, 11, 25, 1, 0, tzinfo=UTC)
RULES = HoldRules()

# (status, event) -> status after; every other pair must be refused.
ALLOWED: dict[tuple[HoldStatus, HoldEvent], HoldStatus] = {
    (S.PENDING_APPROVAL, E.APPROVE): S.QUEUED,
    (S.QUEUED, E.SENT): S.SENT,
    (S.QUEUED, E.FAILED): S.FAILED,
    (S.SENT, E.FAILED): S.FAILED,
    (S.QUEUED, E.REJECTED): S.REJECTED,
    (S.SENT, E.REJECTED): S.REJECTED,
    (S.QUEUED, E.HELD): S.ACTIVE,
    (S.SENT, E.HELD): S.ACTIVE,
    (S.ACTIVE, E.RENEW): S.ACTIVE,
    (S.ACTIVE, E.RELEASE): S.RELEASING,
    (S.RELEASING, E.RELEASED): S.RELEASED,
    (S.RELEASING, E.RELEASE_REFUSED): S.ACTIVE,
    (S.ACTIVE, E.EXPIRE): S.EXPIRED,  # a stop-payment; a freeze lapses (tested below)
}


def _in(status: HoldStatus, kind: HoldKind = HoldKind.STOP_PAYMENT) -> Hold:
    active = status in (S.ACTIVE, S.RELEASING)
    return Hold(kind=kind, status=status, requested_amount=Decimal("70000"),
                held_amount=Decimal("70000") if active else None,
                expires_at=NOW + timedelta(hours=48) if active else None)


def _fire(hold: Hold, event: HoldEvent) -> Hold:
    when = NOW + timedelta(hours=49) if event is E.EXPIRE else NOW + timedelta(hours=1)
    return apply(hold, event, when, RULES, held_amount=Decimal("70000"))


@pytest.mark.parametrize("status", list(HoldStatus), ids=lambda s: s.value)
@pytest.mark.parametrize("event", list(HoldEvent), ids=lambda e: e.value)
def test_every_pair_is_allowed_or_refused_with_a_reason(status: HoldStatus, event: HoldEvent) -> None:
    hold = _in(status)
    expected = ALLOWED.get((status, event))
    if expected is None:
        with pytest.raises(RuleViolation) as refusal:
            _fire(hold, event)
        assert hold.kind.value in str(refusal.value)
    else:
        assert _fire(hold, event).status is expected


def test_new_hold_needs_approval_above_the_threshold() -> None:
    assert new_hold(HoldKind.STOP_PAYMENT, requested_amount=None, needs_approval=True).status is S.PENDING_APPROVAL
    assert new_hold(HoldKind.FREEZE, requested_amount=Decimal(1), needs_approval=False).status is S.QUEUED
    with pytest.raises(RuleViolation):
        new_hold(HoldKind.FREEZE, requested_amount=Decimal(0), needs_approval=False)
    with pytest.raises(RuleViolation, match="major"):
        new_hold(HoldKind.STOP_PAYMENT, requested_amount=None, needs_approval=False, major_case=True)


def test_stop_payment_holds_48_hours_and_renews_at_most_twice() -> None:
    hold = apply(_in(S.SENT), E.HELD, NOW, held_amount=Decimal("70000"))
    assert hold.expires_at == NOW + timedelta(hours=48)
    hold = apply(hold, E.RENEW, NOW + timedelta(hours=40))
    hold = apply(hold, E.RENEW, NOW + timedelta(hours=80))
    assert hold.renewals == 2 and hold.expires_at == NOW + timedelta(hours=144)
    with pytest.raises(RuleViolation, match="at most 2 times"):
        apply(hold, E.RENEW, NOW + timedelta(hours=100))


def test_freeze_terms_and_lapse() -> None:
    ordinary = apply(_in(S.SENT, HoldKind.FREEZE), E.HELD, NOW, held_amount=Decimal("3000"))
    assert ordinary.expires_at == NOW + timedelta(days=180)
    major = apply(replace(_in(S.SENT, HoldKind.FREEZE), major_case=True), E.HELD, NOW, held_amount=Decimal("3000"))
    assert major.expires_at == NOW + timedelta(days=365)
    renewed = ordinary
    for i in range(5):  # freezes have no renewal limit, only the duty to renew in time
        renewed = apply(renewed, E.RENEW, NOW + timedelta(days=170 + 180 * i))
    assert renewed.renewals == 5
    late = NOW + timedelta(days=181)
    with pytest.raises(RuleViolation, match="before it expires"):
        apply(ordinary, E.RENEW, late)
    assert apply(ordinary, E.EXPIRE, late).status is S.LAPSED


def test_nothing_expires_early() -> None:
    hold = apply(_in(S.SENT), E.HELD, NOW, held_amount=Decimal("1"))
    with pytest.raises(RuleViolation, match="not expired"):
        apply(hold, E.EXPIRE, NOW + timedelta(hours=47))


def test_limited_hold_never_beyond_the_amount_asked() -> None:
    with pytest.raises(RuleViolation, match="more than"):
        apply(_in(S.SENT, HoldKind.FREEZE), E.HELD, NOW, held_amount=Decimal("70000.01"))
    partial = apply(_in(S.SENT, HoldKind.FREEZE), E.HELD, NOW, held_amount=Decimal("3000"))
    assert partial.status is S.ACTIVE and partial.held_amount == Decimal("3000")
    with pytest.raises(RuleViolation, match="how much"):
        apply(_in(S.SENT), E.HELD, NOW, held_amount=None)
    empty = apply(replace(_in(S.SENT), requested_amount=None), E.HELD, NOW, held_amount=Decimal(0))
    assert empty.status is S.ACTIVE and empty.held_amount == 0  # an empty account stays stopped


def test_bank_may_shorten_never_lengthen_the_term() -> None:
    shorter = apply(_in(S.SENT), E.HELD, NOW, held_amount=Decimal(1), bank_expires_at=NOW + timedelta(hours=24))
    assert shorter.expires_at == NOW + timedelta(hours=24)
    longer = apply(_in(S.SENT), E.HELD, NOW, held_amount=Decimal(1), bank_expires_at=NOW + timedelta(days=9))
    assert longer.expires_at == NOW + timedelta(hours=48)


def test_alarm_window_before_expiry() -> None:
    hold = apply(_in(S.SENT), E.HELD, NOW, held_amount=Decimal(1))
    assert not alarm_due(hold, NOW + timedelta(hours=41))
    assert alarm_due(hold, NOW + timedelta(hours=42))
    assert not alarm_due(hold, NOW + timedelta(hours=48))  # expired: no longer an alarm but an expiry
    freeze = apply(_in(S.SENT, HoldKind.FREEZE), E.HELD, NOW, held_amount=Decimal(1))
    assert alarm_due(freeze, NOW + timedelta(days=166)) and not alarm_due(freeze, NOW + timedelta(days=164))


def test_naive_time_refused() -> None:
    with pytest.raises(ValueError, match="aware"):
        apply(_in(S.QUEUED), E.SENT, datetime(2026, 11, 25, 9, 0))


@given(gaps=st.lists(st.integers(min_value=1, max_value=47), min_size=1, max_size=6))
def test_renewals_never_shorten_a_hold_and_respect_the_limit(gaps: list[int]) -> None:
    hold = apply(_in(S.SENT), E.HELD, NOW, held_amount=Decimal(1))
    now = NOW
    for gap in gaps:
        now += timedelta(hours=gap)
        before = hold.expires_at
        assert before is not None
        try:
            hold = apply(hold, E.RENEW, now)
        except RuleViolation:
            assert hold.renewals == RULES.max_stop_payment_renewals or now >= before
            break
        assert hold.expires_at is not None and hold.expires_at > before
    assert hold.renewals <= RULES.max_stop_payment_renewals
