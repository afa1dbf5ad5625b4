"""The trace engine: where each victim's money went and where it is now, to the cent (DOMAIN.md §4)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import polars as pl
import pytest

from fanzha.tracing import ledger as ledger_module
from fanzha.tracing.engine import Policy, Trace, Victim, trace
from fanzha.tracing.ledger import AccountKey, Ledger, LedgerRow

D = Decimal
T0 = datetime(2024, 3, 1, 9, 0, tzinfo=UTC)
PAYER_A: AccountKey = ("CMB", "6214830000000001")  # victims' own accounts
PAYER_B: AccountKey = ("BOC", "6216610000000002")
MULE: AccountKey = ("ABC", "6228480402564890018")
M2: AccountKey = ("ICBC", "6222020200112233445")
M3: AccountKey = ("CCB", "6217004709328137373")
M4: AccountKey = ("PSBC", "6221881234567890123")
SHOP: AccountKey = ("SPDB", "6225880000000009")


def at(hours: float) -> datetime:
    return T0 + timedelta(hours=hours)


def row(txn_id: str, hours: float, src: AccountKey | None, dst: AccountKey | None, amount: str,
        channel: str = "transfer", currency: str = "CNY") -> LedgerRow:
    return LedgerRow(txn_id=txn_id, at=at(hours), from_account=src, to_account=dst, amount=D(amount),
                     currency=currency, channel=channel)


# -- the worked example of DOMAIN.md §4 -----------------------------------------------------------------------
# The mule holds 1,000 of its own; victim A sends 5,000, victim B 3,000; the mule sends 4,000 on, withdraws 2,000
# cash and is frozen with 3,000.
WORKED = [
    row("own", 0, None, MULE, "1000", "counter"),
    row("credit-a", 1, PAYER_A, MULE, "5000"),
    row("credit-b", 2, PAYER_B, MULE, "3000"),
    row("onward", 3, MULE, M2, "4000"),
    row("cash", 4, MULE, None, "2000", "atm"),
]
VICTIMS = [Victim("A", "credit-a"), Victim("B", "credit-b")]


def worked(policy: Policy) -> Trace:
    return trace(Ledger.from_rows(WORKED), VICTIMS, policy=policy)


def flow(tr: Trace, txn_id: str) -> dict[str, Decimal]:
    return dict(next(f for f in tr.flows if f.txn_id == txn_id).attributed)


def test_worked_example_lowest_balance_pro_rata() -> None:
    tr = worked(Policy.LIBR)
    # Own 1,000 leaves first; the other 3,000 is A and B pro rata 5:3.
    assert flow(tr, "onward") == {"A": D("1875"), "B": D("1125")}
    assert flow(tr, "cash") == {"A": D("1250"), "B": D("750")}
    assert tr.held()[MULE] == {"A": D("1875"), "B": D("1125")}
    assert tr.held_total(MULE) == D("3000")
    # What was sent on is still held at the next account (it sent nothing), and the cash is a loss.
    assert tr.held()[M2] == {"A": D("1875"), "B": D("1125")}
    assert [(x.victim_id, x.amount, x.channel, x.account) for x in tr.losses] == [
        ("A", D("1250"), "atm", MULE), ("B", D("750"), "atm", MULE)]
    assert tr.summary("A") == {"credit": D("5000"), "held": D("3750"), "lost": D("1250"), "unfollowed": D("0")}
    assert tr.summary("B") == {"credit": D("3000"), "held": D("2250"), "lost": D("750"), "unfollowed": D("0")}


def test_worked_example_fifo_leaves_the_frozen_money_all_to_b() -> None:
    tr = worked(Policy.FIFO)
    # Oldest first: own 1,000 and A 3,000 go on; the cash is A's last 2,000; B's 3,000 is untouched.
    assert flow(tr, "onward") == {"A": D("3000")}
    assert flow(tr, "cash") == {"A": D("2000")}
    assert tr.held()[MULE] == {"B": D("3000")}


def test_worked_example_lifo() -> None:
    tr = worked(Policy.LIFO)
    # Newest first: B 3,000 then A 1,000 go on; the cash is A's next 2,000; frozen 3,000 = A 2,000 + own 1,000.
    assert flow(tr, "onward") == {"A": D("1000"), "B": D("3000")}
    assert flow(tr, "cash") == {"A": D("2000")}
    assert tr.held()[MULE] == {"A": D("2000")}
    assert tr.held_total(MULE) == D("2000")


def test_worked_example_proportional_haircut() -> None:
    tr = worked(Policy.PROPORTIONAL)
    # 4,000 over own 1,000 : A 5,000 : B 3,000 = 444.444.. : 2222.222.. : 1333.333..; in cents the one cent
    # left goes to the largest remainder (own .44): own 444.45, A 2222.22, B 1333.33.
    assert flow(tr, "onward") == {"A": D("2222.22"), "B": D("1333.33")}
    # Left: own 555.55, A 2777.78, B 1666.67 (5,000). Cash 2,000 = 40%: own 222.22, A 1111.112, B 666.668;
    # the leftover cent goes to B (.8 > .2): A 1111.11, B 666.67.
    assert flow(tr, "cash") == {"A": D("1111.11"), "B": D("666.67")}
    # Frozen 3,000 = own 333.33 + A 1666.67 + B 1000.00.
    assert tr.held()[MULE] == {"A": D("1666.67"), "B": D("1000.00")}
    for victim in ("A", "B"):
        s = tr.summary(victim)
        assert s["credit"] == s["held"] + s["lost"] + s["unfollowed"]


def test_opening_balance_is_own_money_spent_first() -> None:
    rows = [row("credit", 1, PAYER_A, MULE, "5000"), row("onward", 2, MULE, M2, "1500")]
    tr = trace(Ledger.from_rows(rows), [Victim("A", "credit")], opening_balances={MULE: D("1000")})
    assert flow(tr, "onward") == {"A": D("500")}
    assert tr.held()[MULE] == {"A": D("4500")}


# -- time ------------------------------------------------------------------------------------------------------

def test_money_that_left_before_the_credit_is_never_the_victims() -> None:
    rows = [
        row("salary", 0, SHOP, MULE, "3000"),
        row("rent", 1, MULE, M3, "2000"),  # before the victim's money arrived: not the victim's
        row("credit", 2, PAYER_A, MULE, "5000"),
        row("onward", 3, MULE, M2, "4000"),
    ]
    tr = trace(Ledger.from_rows(rows), [Victim("A", "credit")])
    assert [f.txn_id for f in tr.flows] == ["credit", "onward"]
    assert M3 not in tr.accounts
    # Own money when the victim's arrived: 3,000 - 2,000 = 1,000, spent first.
    assert flow(tr, "onward") == {"A": D("3000")}


def test_same_timestamp_keeps_ledger_order() -> None:
    # The outflow is listed before the credit at the same minute: it cannot carry the credit's money.
    rows = [row("out", 1, MULE, M2, "100"), row("credit", 1, PAYER_A, MULE, "5000"), row("out2", 1, MULE, M3, "100")]
    tr = trace(Ledger.from_rows(rows), [Victim("A", "credit")])
    assert [f.txn_id for f in tr.flows] == ["credit", "out2"]


def test_window_leaves_late_transfers_unfollowed() -> None:
    rows = [
        row("credit", 0, PAYER_A, MULE, "5000"),
        row("soon", 71, MULE, M2, "1000"),
        row("late", 73, MULE, M3, "1000"),  # 73 h after the victim's money arrived
        row("late-cash", 80, MULE, None, "500", "atm"),
    ]
    tr = trace(Ledger.from_rows(rows), [Victim("A", "credit")], window=timedelta(hours=72))
    assert M2 in tr.accounts and M3 not in tr.accounts
    assert [(u.txn_id, u.amount, u.reason, u.to_account) for u in tr.unfollowed] == [
        ("late", D("1000"), "window", M3)]
    assert [(x.txn_id, x.amount) for x in tr.losses] == [("late-cash", D("500"))]  # a cash-out is a loss anyway
    assert tr.summary("A") == {"credit": D("5000"), "held": D("3500"), "lost": D("500"),
                               "unfollowed": D("1000")}


def test_window_boundary_is_inclusive() -> None:
    rows = [row("credit", 0, PAYER_A, MULE, "5000"), row("edge", 72, MULE, M2, "1000"),
            row("past", 72.001, MULE, M3, "1000")]
    tr = trace(Ledger.from_rows(rows), [Victim("A", "credit")], window=timedelta(hours=72))
    assert M2 in tr.accounts  # exactly 72 h later is still within the window
    assert [u.txn_id for u in tr.unfollowed] == ["past"]


def test_window_counts_from_the_latest_victim_money() -> None:
    rows = [
        row("credit-a", 0, PAYER_A, MULE, "5000"),
        row("credit-b", 60, PAYER_B, MULE, "1000"),
        row("out", 100, MULE, M2, "600"),  # 100 h after A's, 40 h after B's: followed
    ]
    tr = trace(Ledger.from_rows(rows), [Victim("A", "credit-a"), Victim("B", "credit-b")])
    assert M2 in tr.accounts and not tr.unfollowed


# -- depth -----------------------------------------------------------------------------------------------------

def test_depth_limit_leaves_the_next_hop_unfollowed() -> None:
    rows = [
        row("credit", 0, PAYER_A, MULE, "5000"),
        row("h1", 1, MULE, M2, "5000"),
        row("h2", 2, M2, M3, "3000"),
        row("cash", 3, M2, None, "1000", "counter"),
    ]
    tr = trace(Ledger.from_rows(rows), [Victim("A", "credit")], max_depth=2)
    assert {k: a.depth for k, a in tr.accounts.items()} == {MULE: 1, M2: 2}
    assert [(u.txn_id, u.reason, u.amount) for u in tr.unfollowed] == [("h2", "depth", D("3000"))]
    assert [(x.txn_id, x.channel) for x in tr.losses] == [("cash", "counter")]  # cash at the last depth: a loss
    assert tr.held() == {M2: {"A": D("1000")}}


def test_depth_is_set_by_the_first_reach() -> None:
    rows = [
        row("credit", 0, PAYER_A, MULE, "5000"),
        row("a", 1, MULE, M2, "1000"),
        row("b", 2, M2, M3, "1000"),
        row("c", 3, MULE, M3, "1000"),  # reaches M3 again, from depth 1, after it was reached at depth 3
    ]
    tr = trace(Ledger.from_rows(rows), [Victim("A", "credit")])
    assert tr.accounts[M3].depth == 3
    assert tr.accounts[M3].first_tainted_at == at(2) and tr.accounts[M3].last_tainted_at == at(3)


# -- cash-outs -------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("channel", ["atm", "counter", "pos", "abroad", "platform", "transfer"])
def test_money_leaving_the_ledger_is_a_loss(channel: str) -> None:
    rows = [row("credit", 0, PAYER_A, MULE, "5000"), row("out", 1, MULE, None, "1200", channel)]
    tr = trace(Ledger.from_rows(rows), [Victim("A", "credit")])
    assert [(x.victim_id, x.account, x.amount, x.channel, x.txn_id, x.at) for x in tr.losses] == [
        ("A", MULE, D("1200"), channel, "out", at(1))]
    assert tr.summary("A")["lost"] == D("1200")


def test_a_transfer_to_an_account_outside_the_ledger_is_followed() -> None:
    unknown: AccountKey = ("", "6299999999999999")  # its bank is unknown, but it is an account
    rows = [row("credit", 0, PAYER_A, MULE, "5000"), row("out", 1, MULE, unknown, "1200", "abroad")]
    tr = trace(Ledger.from_rows(rows), [Victim("A", "credit")])
    assert not tr.losses and tr.held()[unknown] == {"A": D("1200")}


# -- shapes ----------------------------------------------------------------------------------------------------

def test_chain() -> None:
    rows = [
        row("credit", 0, PAYER_A, MULE, "10000"),
        row("h1", 1, MULE, M2, "9000"),
        row("h2", 2, M2, M3, "8000"),
        row("h3", 3, M3, M4, "7000"),
        row("cash", 4, M4, None, "5000", "atm"),
    ]
    tr = trace(Ledger.from_rows(rows), [Victim("A", "credit")])
    assert {k: a.depth for k, a in tr.accounts.items()} == {MULE: 1, M2: 2, M3: 3, M4: 4}
    assert {k: v["A"] for k, v in tr.held().items()} == {MULE: D("1000"), M2: D("1000"), M3: D("1000"),
                                                         M4: D("2000")}
    assert [[f.txn_id for f in path] for path in tr.evidence(M4, "A")] == [["credit", "h1", "h2", "h3"]]
    assert tr.accounts[M4].received == {"A": D("7000")}


def test_fan_out() -> None:
    rows = [
        row("credit", 0, PAYER_A, MULE, "9000"),
        row("s2", 1, MULE, M2, "3000"),
        row("s3", 1.5, MULE, M3, "3000"),
        row("s4", 2, MULE, M4, "2000"),
    ]
    tr = trace(Ledger.from_rows(rows), [Victim("A", "credit")])
    assert tr.held() == {MULE: {"A": D("1000")}, M2: {"A": D("3000")}, M3: {"A": D("3000")},
                         M4: {"A": D("2000")}}
    assert [[f.txn_id for f in p] for p in tr.evidence(M3, "A")] == [["credit", "s3"]]


def test_fan_in_keeps_each_victims_path() -> None:
    rows = [
        row("credit-a", 0, PAYER_A, MULE, "4000"),
        row("credit-b", 0.5, PAYER_B, M2, "6000"),
        row("a-in", 1, MULE, M3, "4000"),
        row("b-in", 2, M2, M3, "6000"),
    ]
    tr = trace(Ledger.from_rows(rows), [Victim("A", "credit-a"), Victim("B", "credit-b")])
    assert tr.held() == {M3: {"A": D("4000"), "B": D("6000")}}
    assert [[f.txn_id for f in p] for p in tr.evidence(M3, "A")] == [["credit-a", "a-in"]]
    assert [[f.txn_id for f in p] for p in tr.evidence(M3, "B")] == [["credit-b", "b-in"]]
    assert tr.accounts[M3].depth == 2


def test_gather_then_scatter_splits_pro_rata() -> None:
    rows = [
        row("credit-a", 0, PAYER_A, MULE, "3000"),
        row("credit-b", 0, PAYER_B, M2, "1000"),
        row("ga", 1, MULE, M3, "3000"),
        row("gb", 1, M2, M3, "1000"),
        row("x", 2, M3, M4, "2000"),  # half of what M3 holds: A 1,500, B 500
        row("y", 3, M3, None, "1000", "pos"),  # half of the rest: A 750, B 250
    ]
    tr = trace(Ledger.from_rows(rows), [Victim("A", "credit-a"), Victim("B", "credit-b")])
    assert flow(tr, "x") == {"A": D("1500"), "B": D("500")}
    assert flow(tr, "y") == {"A": D("750"), "B": D("250")}
    assert tr.held() == {M3: {"A": D("750"), "B": D("250")}, M4: {"A": D("1500"), "B": D("500")}}
    assert [[f.txn_id for f in p] for p in tr.evidence(M4, "B")] == [["credit-b", "gb", "x"]]


def test_evidence_lists_every_time_respecting_path() -> None:
    rows = [
        row("credit", 0, PAYER_A, MULE, "5000"),
        row("direct", 1, MULE, M3, "1000"),
        row("via", 2, MULE, M2, "2000"),
        row("relay", 3, M2, M3, "2000"),
        row("early", 0.5, M2, M3, "50"),  # M2's own money, before any victim money reached it
    ]
    tr = trace(Ledger.from_rows(rows), [Victim("A", "credit")], opening_balances={M2: D("50")})
    paths = [[f.txn_id for f in p] for p in tr.evidence(M3, "A")]
    assert paths == [["credit", "direct"], ["credit", "via", "relay"]]
    assert all(f.attributed["A"] > 0 for p in tr.evidence(M3, "A") for f in p)
    assert tr.evidence(SHOP, "A") == []


def test_busy_account_comes_back_with_its_clean_traffic_counted() -> None:
    rows = [
        row("credit-a", 0, PAYER_A, MULE, "5000"),
        row("drain", 1, MULE, M2, "5000"),  # nothing of A's is left in MULE
        row("wage", 2, SHOP, MULE, "700"),
        row("coffee", 3, MULE, SHOP, "200"),
        row("credit-b", 4, PAYER_B, MULE, "1000"),
        row("onward", 5, MULE, M3, "1300"),  # own 500 first, then 800 of B's
    ]
    tr = trace(Ledger.from_rows(rows), [Victim("A", "credit-a"), Victim("B", "credit-b")])
    assert flow(tr, "onward") == {"B": D("800")}
    assert SHOP not in tr.accounts  # the coffee was own money
    assert tr.held()[MULE] == {"B": D("200")}


def test_outflow_beyond_the_known_balance_takes_only_what_is_there() -> None:
    rows = [
        row("credit", 0, PAYER_A, MULE, "5000"),
        row("big", 1, MULE, M2, "8000"),  # 3,000 the ledger cannot explain: nobody's
        row("cash", 2, M2, None, "8000", "atm"),
    ]
    tr = trace(Ledger.from_rows(rows), [Victim("A", "credit")])
    assert flow(tr, "big") == {"A": D("5000")}
    assert flow(tr, "cash") == {"A": D("5000")}
    assert tr.summary("A") == {"credit": D("5000"), "held": D("0"), "lost": D("5000"), "unfollowed": D("0")}


def test_lowest_balance_caps_victim_money_and_later_deposits_do_not_restore_it() -> None:
    rows = [
        row("credit", 0, PAYER_A, MULE, "5000"),
        row("out", 1, MULE, M2, "4000"),
        row("refill", 2, SHOP, MULE, "9000"),  # clean money: A still has only 1,000 here
        row("out2", 3, MULE, M3, "9000"),
    ]
    tr = trace(Ledger.from_rows(rows), [Victim("A", "credit")])
    assert "out2" not in {f.txn_id for f in tr.flows}
    assert tr.held()[MULE] == {"A": D("1000")}


def test_ties_in_rounding_go_to_the_earlier_victim() -> None:
    rows = [
        row("credit-a", 0, PAYER_A, MULE, "0.01"),
        row("credit-b", 0, PAYER_B, MULE, "0.01"),
        row("out", 1, MULE, M2, "0.01"),
    ]
    tr = trace(Ledger.from_rows(rows), [Victim("A", "credit-a"), Victim("B", "credit-b")])
    assert flow(tr, "out") == {"A": D("0.01")}
    tr = trace(Ledger.from_rows(rows), [Victim("B", "credit-b"), Victim("A", "credit-a")])
    assert flow(tr, "out") == {"B": D("0.01")}


def test_a_victim_paying_from_an_account_other_victims_money_reached() -> None:
    # A's money reaches B's account (a "commission" in a task scam); B then pays the mule. B's credit is all
    # B's money: it spends B's own money, and A's 100 stays attributed in B's account.
    rows = [
        row("credit-a", 0, PAYER_A, MULE, "1000"),
        row("commission", 1, MULE, PAYER_B, "100"),
        row("credit-b", 2, PAYER_B, M2, "3000"),
    ]
    tr = trace(Ledger.from_rows(rows), [Victim("A", "credit-a"), Victim("B", "credit-b")],
               opening_balances={PAYER_B: D("5000")})
    assert tr.held()[PAYER_B] == {"A": D("100")}
    assert tr.held()[M2] == {"B": D("3000")}
    assert flow(tr, "credit-b") == {"B": D("3000")}


# -- currencies and errors ---------------------------------------------------------------------------------------

def test_other_currencies_are_ignored() -> None:
    rows = [
        row("usd-in", 0, SHOP, MULE, "900", currency="USD"),  # not own money in CNY
        row("credit", 1, PAYER_A, MULE, "5000"),
        row("usd-out", 2, MULE, M3, "900", currency="USD"),
        row("out", 3, MULE, M2, "1000"),
    ]
    tr = trace(Ledger.from_rows(rows), [Victim("A", "credit")])
    assert tr.currency == "CNY"
    assert [f.txn_id for f in tr.flows] == ["credit", "out"]
    assert flow(tr, "out") == {"A": D("1000")}


def test_amounts_use_the_currencys_minor_unit() -> None:
    rows = [row("credit", 0, PAYER_A, MULE, "1000", currency="JPY"), row("out", 1, MULE, M2, "1", currency="JPY"),
            row("credit-b", 0.5, PAYER_B, MULE, "500", currency="JPY")]
    tr = trace(Ledger.from_rows(rows), [Victim("A", "credit"), Victim("B", "credit-b")])
    assert flow(tr, "out") == {"A": D("1")}  # whole yen: the one yen goes to the larger remainder
    assert str(tr.held()[MULE]["A"]) == "999"


def test_victims_in_several_currencies_are_refused() -> None:
    rows = [row("cny", 0, PAYER_A, MULE, "10"), row("usd", 0, PAYER_B, MULE, "10", currency="USD")]
    with pytest.raises(ValueError, match="several currencies"):
        trace(Ledger.from_rows(rows), [Victim("A", "cny"), Victim("B", "usd")])


@pytest.mark.parametrize(("victims", "message"), [
    ([Victim("A", "nope")], "no transaction 'nope'"),
    ([], "at least one victim"),
    ([Victim("A", "credit"), Victim("A", "credit2")], "distinct"),
    ([Victim("A", "credit"), Victim("B", "credit")], "same credit"),
    ([Victim("A", "cash")], "no receiving account"),
])
def test_bad_victims_are_refused(victims: list[Victim], message: str) -> None:
    rows = [row("credit", 0, PAYER_A, MULE, "10"), row("credit2", 0, PAYER_B, MULE, "10"),
            row("cash", 1, MULE, None, "5", "atm")]
    with pytest.raises(ValueError, match=message):
        trace(Ledger.from_rows(rows), victims)


def test_summary_of_an_unknown_victim() -> None:
    with pytest.raises(KeyError):
        worked(Policy.LIBR).summary("C")


# -- the ledger --------------------------------------------------------------------------------------------------

def test_ledger_rows_of_an_account_oldest_first_across_currencies() -> None:
    rows = [row("b", 2, MULE, M2, "1"), row("a", 1, SHOP, MULE, "2", currency="USD"), row("c", 3, M2, M3, "1"),
            row("self", 4, MULE, MULE, "3")]
    ledger = Ledger.from_rows(rows)
    assert len(ledger) == 4
    assert [r.txn_id for r in ledger.rows_of(MULE)] == ["a", "b", "self"]
    assert ledger.rows_of(("X", "1")) == []
    assert ledger.row("a") == rows[1]
    assert [r.txn_id for r in ledger.rows()] == ["a", "b", "c", "self"]
    with pytest.raises(ValueError, match="no transaction"):
        ledger.row("zzz")


@pytest.mark.parametrize(("bad", "message"), [
    (LedgerRow("x", datetime(2024, 1, 1), MULE, M2, D("1"), "CNY"), "no timezone"),
    (LedgerRow("x", T0, MULE, M2, D("0"), "CNY"), "not greater than zero"),
    (LedgerRow("x", T0, MULE, M2, D("-5"), "CNY"), "not greater than zero"),
    (LedgerRow("x", T0, MULE, M2, D("1.001"), "CNY"), "at most 2 decimal places"),
    (LedgerRow("x", T0, MULE, M2, D("1.5"), "JPY"), "at most 0 decimal places"),
    (LedgerRow("x", T0, MULE, M2, D("1"), "XBT"), "unknown currency"),
    (LedgerRow("x", T0, MULE, M2, D("1"), "CNY", "wire"), "unknown channel"),
    (LedgerRow("x", T0, None, None, D("1"), "CNY"), "no account"),
    (LedgerRow("x", T0, ("ICBC", ""), M2, D("1"), "CNY"), "empty account number"),
])
def test_ledger_refuses_bad_rows(bad: LedgerRow, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Ledger.from_rows([bad])


def test_ledger_refuses_a_duplicate_txn_id() -> None:
    with pytest.raises(ValueError, match="'x' occurs more than once"):
        Ledger.from_rows([row("x", 0, MULE, M2, "1"), row("y", 0, MULE, M2, "1"), row("x", 1, M2, M3, "1")])


def test_hash_collisions_do_not_confuse_accounts_or_transactions(monkeypatch: pytest.MonkeyPatch) -> None:
    # Every string hashes alike: the indexes must fall back to comparing the strings themselves.
    monkeypatch.setattr(ledger_module, "_hash", lambda values: pl.Series([7] * len(values), dtype=pl.UInt64))
    ledger = Ledger.from_rows(WORKED)
    assert ledger.row("cash") == WORKED[-1]
    assert [r.txn_id for r in ledger.rows_of(M2)] == ["onward"]
    assert trace(ledger, VICTIMS).held()[MULE] == {"A": D("1875"), "B": D("1125")}
    with pytest.raises(ValueError, match="'own' occurs more than once"):
        Ledger.from_rows([*WORKED, row("own", 9, MULE, M2, "1")])


def _frame(rows: list[LedgerRow]) -> pl.DataFrame:
    return pl.DataFrame({
        "txn_id": [r.txn_id for r in rows],
        "at": pl.Series([r.at for r in rows], dtype=pl.Datetime("us", "Asia/Shanghai")),
        "from_bank": [r.from_account[0] if r.from_account else None for r in rows],
        "from_account": [r.from_account[1] if r.from_account else None for r in rows],
        "to_bank": [r.to_account[0] if r.to_account else None for r in rows],
        "to_account": [r.to_account[1] if r.to_account else None for r in rows],
        "amount": [str(r.amount) for r in rows],
        "currency": [r.currency for r in rows],
        "channel": [r.channel for r in rows],
    })


def test_ledger_from_frame_traces_like_from_rows() -> None:
    from_frame = trace(Ledger.from_frame(_frame(WORKED)), VICTIMS)
    assert from_frame == trace(Ledger.from_rows(WORKED), VICTIMS)
    assert Ledger.from_frame(_frame(WORKED)).row("cash") == WORKED[-1]


def test_ledger_from_frame_refuses_floats_naive_times_and_bad_rows() -> None:
    frame = _frame(WORKED)
    with pytest.raises(ValueError, match="never float"):
        Ledger.from_frame(frame.with_columns(pl.col("amount").cast(pl.Float64)))
    with pytest.raises(ValueError, match="timezone-aware"):
        Ledger.from_frame(frame.with_columns(pl.col("at").dt.replace_time_zone(None)))
    with pytest.raises(ValueError, match=r"row 3 \(onward\): amount 'four' is not a number"):
        Ledger.from_frame(frame.with_columns(amount=pl.when(pl.col("txn_id") == "onward").then(pl.lit("four"))
                                             .otherwise(pl.col("amount"))))
