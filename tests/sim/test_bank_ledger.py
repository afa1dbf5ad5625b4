"""The simulated banks' books: holds make money unavailable, the rules bound them, money is conserved."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sim.banks.ledger import Channel, HoldKind, HoldState, Ledger, LedgerError

T0 = datetime(2026, 11, 25, 1, 30, tzinfo=UTC)
D = Decimal


class FakeClock:
    def __init__(self, now: datetime = T0) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


def books(balance: str = "10000") -> tuple[Ledger, FakeClock]:
    clock = FakeClock()
    ledger = Ledger(clock)
    ledger.open_account("ABC", "6228480402564890018", "李某某", "310***********123X", {"CNY": D(balance)})
    ledger.open_account("ICBC", "6222021001116245702", "钱某", "310***********0012", {"CNY": D("500")})
    return ledger, clock


MULE = ("ABC", "6228480402564890018")
OTHER = ("ICBC", "6222021001116245702")


def test_opening_balance_is_a_deposit_with_a_transaction() -> None:
    ledger, _ = books()
    [txn] = ledger.transactions(*MULE)
    assert (txn.direction, txn.amount, txn.balance_after, txn.at) == ("in", D("10000"), D("10000"), T0)
    assert ledger.external_in["CNY"] == D("10500")


def test_transfer_moves_money_and_records_both_legs() -> None:
    ledger, clock = books()
    clock.advance(minutes=5)
    out, into = ledger.transfer(*MULE, *OTHER, D("2500.50"))
    assert (out.direction, out.balance_after, out.counterparty_account) == ("out", D("7499.50"), OTHER[1])
    assert (into.direction, into.balance_after, into.counterparty_name) == ("in", D("3000.50"), "李某某")
    assert ledger.transactions(*MULE, since=T0 + timedelta(minutes=1)) == [out]


def test_limited_stop_payment_blocks_only_its_amount() -> None:
    ledger, _ = books()
    outcome = ledger.place_hold(HoldKind.STOP_PAYMENT, *MULE, D("7000"))
    assert outcome.status == "held" and outcome.hold.amount == D("7000")
    assert outcome.hold.expires_at == T0 + timedelta(hours=48)
    assert ledger.available(*MULE, "CNY") == D("3000")
    with pytest.raises(LedgerError) as err:
        ledger.withdraw(*MULE, D("3000.01"), channel=Channel.ATM)
    assert err.value.code == "insufficient_funds" and "7000 CNY held" in err.value.message
    ledger.withdraw(*MULE, D("3000"))
    assert ledger.account(*MULE).balance("CNY") == D("7000") and ledger.available(*MULE, "CNY") == 0


def test_stop_payment_beyond_the_balance_is_partial_and_nothing_left_is_refused() -> None:
    ledger, _ = books("4000")
    outcome = ledger.place_hold(HoldKind.STOP_PAYMENT, *MULE, D("7000"))
    assert (outcome.status, outcome.hold.amount) == ("partial", D("4000"))
    with pytest.raises(LedgerError) as err:
        ledger.place_hold(HoldKind.STOP_PAYMENT, *MULE, D("1"))
    assert err.value.code == "no_funds"


def test_whole_account_hold_also_blocks_money_that_arrives_later() -> None:
    ledger, _ = books()
    outcome = ledger.place_hold(HoldKind.STOP_PAYMENT, *MULE, None)
    assert (outcome.status, outcome.hold.amount, outcome.hold.whole) == ("held", D("10000"), True)
    ledger.transfer(*OTHER, *MULE, D("500"))
    assert ledger.available(*MULE, "CNY") == 0 and ledger.held(*MULE, "CNY") == D("10500")
    with pytest.raises(LedgerError):
        ledger.transfer(*MULE, *OTHER, D("1"))


def test_stop_payment_expires_after_48_hours_and_money_is_free_again() -> None:
    ledger, clock = books()
    hold = ledger.place_hold(HoldKind.STOP_PAYMENT, *MULE, D("10000")).hold
    clock.advance(hours=47, minutes=59)
    assert ledger.available(*MULE, "CNY") == 0
    clock.advance(minutes=1)
    assert ledger.available(*MULE, "CNY") == D("10000")
    assert hold.state is HoldState.EXPIRED and hold.ended_at == T0 + timedelta(hours=48)


def test_stop_payment_renews_twice_then_refuses() -> None:
    ledger, clock = books()
    hold = ledger.place_hold(HoldKind.STOP_PAYMENT, *MULE, D("100")).hold
    for n in (1, 2):
        clock.advance(hours=40)
        ledger.renew(hold.id)
        assert hold.renewals == n and hold.expires_at == T0 + timedelta(hours=48 * (n + 1))
    with pytest.raises(LedgerError) as err:
        ledger.renew(hold.id)
    assert err.value.code == "renewals_exhausted" and "at most 2" in err.value.message


def test_a_term_asked_for_is_kept_but_never_beyond_the_rule() -> None:
    ledger, _ = books()
    short = ledger.place_hold(HoldKind.STOP_PAYMENT, *MULE, D("10"), term=timedelta(hours=24)).hold
    long = ledger.place_hold(HoldKind.STOP_PAYMENT, *MULE, D("10"), term=timedelta(hours=96)).hold
    assert short.expires_at == T0 + timedelta(hours=24) and long.expires_at == T0 + timedelta(hours=48)
    major = ledger.place_hold(HoldKind.FREEZE, *MULE, D("10"), major_case=True, term=timedelta(days=999)).hold
    assert major.expires_at == T0 + timedelta(days=365)


def test_freeze_lapses_unless_renewed_before_it_ends() -> None:
    ledger, clock = books()
    kept = ledger.place_hold(HoldKind.FREEZE, *MULE, D("1000")).hold
    dropped = ledger.place_hold(HoldKind.FREEZE, *MULE, D("1000")).hold
    assert kept.expires_at == T0 + timedelta(days=180)
    clock.advance(days=179)
    ledger.renew(kept.id)
    clock.advance(days=1)
    assert ledger.hold(dropped.id).state is HoldState.LAPSED
    with pytest.raises(LedgerError) as err:
        ledger.renew(dropped.id)
    assert err.value.code == "hold_lapsed"
    for _ in range(5):  # a freeze may be renewed as often as needed, each before it ends
        ledger.renew(kept.id)
    assert kept.state is HoldState.ACTIVE and ledger.held(*MULE, "CNY") == D("1000")


def test_major_case_freeze_runs_a_year_and_stop_payments_have_no_major_term() -> None:
    ledger, _ = books()
    hold = ledger.place_hold(HoldKind.FREEZE, *MULE, D("10"), major_case=True).hold
    assert hold.expires_at == T0 + timedelta(days=365)
    with pytest.raises(LedgerError):
        ledger.place_hold(HoldKind.STOP_PAYMENT, *MULE, D("10"), major_case=True)


def test_freeze_is_limited_to_the_amount_and_takes_over_a_stop_payment() -> None:
    ledger, _ = books()
    sp = ledger.place_hold(HoldKind.STOP_PAYMENT, *MULE, D("7000")).hold
    freeze = ledger.place_hold(HoldKind.FREEZE, *MULE, D("8000"))
    # 3,000 available plus the 7,000 under the stop-payment: the limited freeze takes 8,000, never more.
    assert (freeze.status, freeze.hold.amount) == ("held", D("8000"))
    assert sp.amount == D("2000") and ledger.held(*MULE, "CNY") == D("10000")
    bigger = ledger.place_hold(HoldKind.FREEZE, *MULE, D("5000"))
    assert (bigger.status, bigger.hold.amount) == ("partial", D("2000"))
    assert sp.state is HoldState.CONVERTED and ledger.held(*MULE, "CNY") == D("10000")


def test_release_whole_and_part() -> None:
    ledger, _ = books()
    hold = ledger.place_hold(HoldKind.FREEZE, *MULE, D("6000")).hold
    ledger.release(hold.id, D("1000"))
    assert hold.amount == D("5000") and ledger.available(*MULE, "CNY") == D("5000")
    ledger.release(hold.id)
    assert hold.state is HoldState.RELEASED and ledger.available(*MULE, "CNY") == D("10000")
    with pytest.raises(LedgerError) as err:
        ledger.release(hold.id)
    assert err.value.code == "hold_released"


def test_refusals_name_their_reason() -> None:
    ledger, _ = books()
    cases = [
        (lambda: ledger.account("ABC", "6228480402564890099"), "no_such_account"),
        (lambda: ledger.transfer(*MULE, *MULE, D("1")), "same_account"),
        (lambda: ledger.withdraw(*MULE, D("0")), "bad_amount"),
        (lambda: ledger.withdraw(*MULE, D("1.001")), "bad_amount"),
        (lambda: ledger.deposit(*MULE, D("1"), "XXX"), "bad_currency"),
        (lambda: ledger.open_account(*MULE, "x"), "account_exists"),
        (lambda: ledger.open_account("ABC", "12-34", "x"), "bad_account"),
        (lambda: ledger.deposit(*MULE, D("1"), at=datetime(2026, 1, 1)), "naive_time"),
    ]
    for action, code in cases:
        with pytest.raises(LedgerError) as err:
            action()
        assert err.value.code == code


# -- conservation ------------------------------------------------------------------------------------------

ACCOUNTS = [("ABC", "6228480402564890018"), ("ABC", "6228480402564890019"), ("ICBC", "6222021001116245702")]
cents = st.integers(min_value=1, max_value=2_000_000).map(lambda c: Decimal(c) / 100)
who = st.integers(min_value=0, max_value=len(ACCOUNTS) - 1)
operation = st.one_of(
    st.tuples(st.just("deposit"), who, cents),
    st.tuples(st.just("withdraw"), who, cents),
    st.tuples(st.just("transfer"), who, who, cents),
    st.tuples(st.just("hold"), who, st.sampled_from(list(HoldKind)), st.none() | cents),
    st.tuples(st.just("release"), st.integers(min_value=0, max_value=50), st.none() | cents),
    st.tuples(st.just("renew"), st.integers(min_value=0, max_value=50)),
    st.tuples(st.just("wait"), st.integers(min_value=1, max_value=72)),
)


@given(st.lists(operation, max_size=60))
def test_money_is_conserved_and_available_never_negative(ops: list[tuple[object, ...]]) -> None:
    clock = FakeClock()
    ledger = Ledger(clock)
    for bank, number in ACCOUNTS:
        ledger.open_account(bank, number, "某", "***", {"CNY": D("1000")})
    holds: list[str] = []
    for op in ops:
        available_before = {acc: ledger.available(*acc, "CNY") for acc in ACCOUNTS}
        try:
            match op:
                case ("deposit", int(i), Decimal() as amount):
                    ledger.deposit(*ACCOUNTS[i], amount)
                case ("withdraw", int(i), Decimal() as amount):
                    ledger.withdraw(*ACCOUNTS[i], amount)
                    assert amount <= available_before[ACCOUNTS[i]]
                case ("transfer", int(i), int(j), Decimal() as amount):
                    ledger.transfer(*ACCOUNTS[i], *ACCOUNTS[j], amount)
                    assert amount <= available_before[ACCOUNTS[i]]
                case ("hold", int(i), HoldKind() as kind, amount):
                    assert amount is None or isinstance(amount, Decimal)
                    holds.append(ledger.place_hold(kind, *ACCOUNTS[i], amount).hold.id)
                case ("release", int(n), amount) if holds:
                    assert amount is None or isinstance(amount, Decimal)
                    ledger.release(holds[n % len(holds)], amount)
                case ("renew", int(n)) if holds:
                    ledger.renew(holds[n % len(holds)])
                case ("wait", int(hours)):
                    clock.advance(hours=hours)
        except LedgerError:
            pass
        assert ledger.total("CNY") == ledger.external_in["CNY"] - ledger.external_out["CNY"]
        for acc in ACCOUNTS:
            account = ledger.account(*acc)
            available = ledger.available(*acc, "CNY")
            assert 0 <= available <= account.balance("CNY")
            limited = sum((h.amount for h in account.active_holds() if not h.whole), D(0))
            assert limited <= account.balance("CNY")
            assert account.transactions[-1].balance_after == account.balance("CNY")
