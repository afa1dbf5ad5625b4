"""The planner: from a trace (built by the real engine) and what the center already asked, the next
amount-limited stop-payments and statement queries."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from fanzha.tracing.engine import Trace, Victim, trace
from fanzha.tracing.ledger import AccountKey, Ledger, LedgerRow
from fanzha.tracing.planner import Known, LoopSettings, Query, Stop, plan

D = Decimal
T0 = datetime(2026, 11, 25, 2, 0, tzinfo=UTC)
PAYER: AccountKey = ("CMB", "6214830000000001")  # the victim's own account
MULE: AccountKey = ("ABC", "6228480402564890018")
B: AccountKey = ("ICBC", "6222020200112233445")
C: AccountKey = ("CCB", "6217004709328137373")
E: AccountKey = ("BOC", "6216610000000000003")
DEFAULT = LoopSettings()


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def row(txn: str, minute: float, src: AccountKey | None, dst: AccountKey | None, amount: str,
        channel: str = "transfer") -> LedgerRow:
    return LedgerRow(txn_id=txn, at=at(minute), from_account=src, to_account=dst, amount=D(amount), currency="CNY",
                     channel=channel)


def traced(rows: Sequence[LedgerRow], victims: Sequence[tuple[str, str]] = (("V1", "c1"),),
           opening: Mapping[AccountKey, Decimal] | None = None) -> Trace:
    return trace(Ledger.from_rows(rows), [Victim(v, t) for v, t in victims], opening_balances=opening)


def queried(minute: float, stop_requested: Decimal = D(0)) -> Known:
    """A statement was answered at `minute`; live stops asked for `stop_requested`."""
    return Known(queried_at=at(minute), stop_requested=stop_requested)


def test_a_fresh_report_gets_a_stop_for_the_amount_and_a_statement_query() -> None:
    tr = traced([row("c1", 0, PAYER, MULE, "50000")])
    assert plan(tr, {}, DEFAULT) == [Stop(MULE, D("50000.00"), "CNY"), Query(MULE, since=at(0))]


def test_money_that_moved_on_is_stopped_where_it_is_now() -> None:
    tr = traced([row("c1", 0, PAYER, MULE, "50000"), row("f1", 5, MULE, B, "30000"), row("f2", 6, MULE, C, "20000")])
    actions = plan(tr, {MULE: queried(10, stop_requested=D(50000))}, DEFAULT)
    # The first account is empty: nothing more for it. The next layer: a stop and a statement each, by account.
    assert actions == [Stop(C, D("20000.00"), "CNY"), Query(C, since=at(6)),
                       Stop(B, D("30000.00"), "CNY"), Query(B, since=at(5))]


def test_a_stop_never_asks_for_more_than_the_victims_money_in_the_account() -> None:
    """The holder's own 10,000 is spent first (lowest intermediate balance): the victim's 5,000 is still there."""
    tr = traced([row("c1", 0, PAYER, MULE, "5000"), row("f1", 5, MULE, B, "3000")], opening={MULE: D(10000)})
    assert plan(tr, {MULE: queried(10)}, DEFAULT) == [Stop(MULE, D("5000.00"), "CNY")]


def test_the_domain_worked_example_stops_exactly_the_attributable_amounts() -> None:
    """DOMAIN.md §4: own 1,000; A 5,000; B 3,000; 4,000 sent on, 2,000 withdrawn: 3,000 left, 3,000 sent on."""
    rows = [row("a", 0, PAYER, MULE, "5000"), row("b", 1, PAYER, MULE, "3000"), row("on", 5, MULE, B, "4000"),
            row("cash", 6, MULE, None, "2000", "atm")]
    tr = traced(rows, [("A", "a"), ("B", "b")], opening={MULE: D(1000)})
    assert plan(tr, {MULE: queried(10), B: queried(10)}, DEFAULT) == [
        Stop(MULE, D("3000.00"), "CNY"), Stop(B, D("3000.00"), "CNY")]


def test_only_what_no_live_stop_covers_is_asked_and_never_less_than_the_floor() -> None:
    tr = traced([row("c1", 0, PAYER, MULE, "50000")])
    done = queried(1)
    assert plan(tr, {MULE: Known(queried_at=at(1), stop_requested=D(30000))}, DEFAULT) == [
        Stop(MULE, D("20000.00"), "CNY")]
    assert plan(tr, {MULE: Known(queried_at=at(1), stop_requested=D("49950"))}, DEFAULT) == []
    assert plan(tr, {MULE: Known(queried_at=at(1), stop_requested=D(60000))}, DEFAULT) == []
    assert plan(tr, {MULE: done}, LoopSettings(floor=D(60000))) == []


def test_small_remainders_are_not_chased() -> None:
    tr = traced([row("c1", 0, PAYER, MULE, "5000"), row("cash", 3, MULE, None, "4920", "atm")])
    assert tr.held_total(MULE) == D("80.00")
    assert plan(tr, {}, DEFAULT) == []  # below the floor: neither a stop nor a statement
    assert plan(tr, {}, LoopSettings(floor=D(50))) == [Stop(MULE, D("80.00"), "CNY"), Query(MULE, since=at(0))]


def test_statements_are_asked_once_unless_money_arrived_since_or_a_stop_came_back_short() -> None:
    rows = [row("c1", 0, PAYER, MULE, "50000"), row("c2", 30, PAYER, MULE, "20000")]
    tr = traced(rows, [("V1", "c1"), ("V2", "c2")])
    covered = D(70000)
    assert plan(tr, {MULE: Known(query_pending=True, stop_requested=covered)}, DEFAULT) == []
    assert plan(tr, {MULE: queried(40, stop_requested=covered)}, DEFAULT) == []
    # Victim money arrived (at minute 30) after the last statement (minute 20): ask again from the first arrival.
    assert plan(tr, {MULE: queried(20, stop_requested=covered)}, DEFAULT) == [Query(MULE, since=at(0))]


def test_a_stale_account_is_asked_where_the_money_went_before_any_new_stop() -> None:
    tr = traced([row("c1", 0, PAYER, MULE, "50000")])
    stale = Known(queried_at=at(1), stale=True)  # the stop was refused: the money moved on after minute 1
    assert plan(tr, {MULE: stale}, DEFAULT) == [Query(MULE, since=at(0))]
    assert plan(tr, {MULE: Known(queried_at=at(1), stale=True, query_pending=True)}, DEFAULT) == []


def test_accounts_deeper_than_the_limit_or_at_an_unknown_bank_get_nothing() -> None:
    unknown: AccountKey = ("", "9999000011112222")
    rows = [row("c1", 0, PAYER, MULE, "50000"), row("f1", 5, MULE, B, "40000"), row("f2", 6, B, C, "30000"),
            row("f3", 7, C, E, "20000"), row("f4", 8, MULE, unknown, "10000")]
    tr = traced(rows)
    assert {a.depth for a in tr.accounts.values()} == {1, 2, 3, 4}
    known = {MULE: queried(60, stop_requested=D(10**6)), B: queried(60, stop_requested=D(10**6)), C: queried(60)}
    assert plan(tr, known, LoopSettings(max_depth=3)) == [Stop(C, D("10000.00"), "CNY")]
    assert plan(tr, known, LoopSettings(max_depth=4))[-2:] == [Stop(E, D("20000.00"), "CNY"), Query(E, since=at(7))]
    assert all(action.account != unknown for action in plan(tr, known, DEFAULT))


def test_the_plan_is_pure_and_ordered_by_depth_then_account() -> None:
    rows = [row("c1", 0, PAYER, MULE, "50000"), row("f1", 5, MULE, C, "20000"), row("f2", 6, MULE, B, "20000"),
            row("f3", 7, B, E, "5000")]
    tr = traced(rows)
    known = {MULE: queried(8), B: queried(8)}
    first = plan(tr, known, DEFAULT)
    assert first == plan(tr, dict(known), DEFAULT) and known == {MULE: queried(8), B: queried(8)}
    depths = [tr.accounts[a.account].depth for a in first]
    assert depths == sorted(depths)
    assert first == [Stop(MULE, D("10000.00"), "CNY"), Stop(C, D("20000.00"), "CNY"), Query(C, since=at(5)),
                     Stop(B, D("15000.00"), "CNY"), Stop(E, D("5000.00"), "CNY"), Query(E, since=at(7))]


ACCOUNTS: list[AccountKey] = [MULE, B, C, E, ("CITIC", "6217680000000005"), ("", "5555000000000006")]


@st.composite
def ledgers(draw: st.DrawFn) -> tuple[list[LedgerRow], dict[AccountKey, Decimal], dict[AccountKey, Known]]:
    rows = [row("c1", 0, PAYER, MULE, str(draw(st.integers(1000, 100000))))]
    for i in range(draw(st.integers(0, 12))):
        src = draw(st.sampled_from(ACCOUNTS[:5]))
        dst = draw(st.sampled_from([*ACCOUNTS, None]))
        if dst == src:
            continue
        amount = str(draw(st.integers(1, 60000)))
        rows.append(row(f"r{i}", i + 1, src, dst, amount, "atm" if dst is None else "transfer"))
    opening = {key: D(draw(st.integers(0, 20000))) for key in ACCOUNTS[:5]}
    known = {key: Known(queried_at=at(draw(st.integers(0, 20))) if draw(st.booleans()) else None,
                        query_pending=draw(st.booleans()), stop_requested=D(draw(st.integers(0, 50000))),
                        stale=draw(st.booleans()))
             for key in ACCOUNTS if draw(st.booleans())}
    return rows, opening, known


@settings(max_examples=150, deadline=None)
@given(case=ledgers(), floor=st.integers(0, 500), depth=st.integers(1, 6))
def test_every_plan_keeps_the_rules(case: tuple[list[LedgerRow], dict[AccountKey, Decimal], dict[AccountKey, Known]],
                                    floor: int, depth: int) -> None:
    rows, opening, known = case
    tr = traced(rows, opening=opening)
    rules = LoopSettings(max_depth=depth, floor=D(floor))
    actions = plan(tr, known, rules)
    assert Counter((type(a), a.account) for a in actions).most_common(1)[0][1] <= 1 if actions else True
    for action in actions:
        node = tr.accounts[action.account]
        asked = known.get(action.account, Known())
        assert node.depth <= depth and action.account[0] != ""
        assert tr.held_total(action.account) >= rules.floor
        if isinstance(action, Stop):
            # Never beyond the attributable money no live stop covers, never below the floor, never when stale.
            assert rules.floor <= action.amount == tr.held_total(action.account) - asked.stop_requested
            assert not asked.stale and action.currency == "CNY"
        else:
            assert action.since == node.first_tainted_at and not asked.query_pending
            assert asked.queried_at is None or asked.stale or node.last_tainted_at > asked.queried_at
    assert sum((a.amount for a in actions if isinstance(a, Stop)), D(0)) <= sum(
        (tr.held_total(k) for k in tr.accounts), D(0))
