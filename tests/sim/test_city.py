"""The simulated city: seeded scenarios of the specified shapes, a ground truth that conserves every victim's
money, and holds that really block the criminals' moves (the simulated banks' own ledger rules)."""

from __future__ import annotations

import random
import statistics
from collections import Counter, defaultdict
from datetime import timedelta
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sim.city.narrative import narrative, report
from sim.city.scenario import CASH_OUT, SHAPES, CityParams, Scenario, generate, split
from sim.city.truth import OWN, Truth, TruthError, pro_rata
from sim.city.world import World

from fanzha.banking.bins import DEFAULT_STATIONED_BANKS, bank_names, lookup_card
from fanzha.cases.extract import extract

D = Decimal


@pytest.fixture(scope="module")
def city() -> Scenario:
    return generate(7, 120)


def played(scenario: Scenario) -> World:
    world = World(scenario)
    for move in scenario.moves:
        world.play(move)
    return world


# ---- the scenario ------------------------------------------------------------------------------------------

def test_same_seed_same_city_other_seed_other_city() -> None:
    a, b, c = generate(3, 30), generate(3, 30), generate(4, 30)
    assert a.accounts == b.accounts and a.moves == b.moves and a.cases == b.cases
    assert a.moves != c.moves
    assert len(a.cases) == 30 and a.stolen() == b.stolen()


def test_every_shape_of_network_is_built_as_specified(city: Scenario) -> None:
    shapes = Counter(g.shape for g in city.gangs)
    assert set(shapes) == set(SHAPES)
    for gang in city.gangs:
        successors: dict[tuple[str, str], list[tuple[str, str]]] = defaultdict(list)
        predecessors: dict[tuple[str, str], list[tuple[str, str]]] = defaultdict(list)
        for a, b in gang.edges:
            successors[a].append(b)
            predecessors[b].append(a)
        fan = max((len(v) for v in successors.values()), default=0)
        gather = max((len(v) for v in predecessors.values()), default=0)
        if gang.shape == "chain":
            assert len(gang.entries) == 1 and fan == 1 and gather == 1 and 3 <= len(gang.edges) + 1 <= 5
            assert len(gang.terminals) == 1
        elif gang.shape == "fan_out":
            assert len(gang.entries) == 1 and len(successors[gang.entries[0]]) >= 3 and gather == 1
        elif gang.shape == "fan_in":
            assert len(gang.entries) >= 2 and gather == len(gang.entries) and fan == 1
        else:
            assert len(gang.entries) >= 2 and gather == len(gang.entries) and fan >= 3
        # A network ends in the accounts that cash out, and nothing else.
        assert set(gang.terminals) == ({*successors, *predecessors, *gang.entries} - set(successors))


def test_accounts_are_real_cards_of_realistic_banks(city: Scenario) -> None:
    for account in city.accounts:
        issuer = lookup_card(account.number)
        assert issuer is not None and issuer.bank_code == account.bank, account
    banks = Counter(a.bank for a in city.accounts)
    stationed = sum(n for bank, n in banks.items() if bank in DEFAULT_STATIONED_BANKS)
    assert 0.7 < stationed / len(city.accounts) < 0.95
    assert len({a.number for a in city.accounts}) == len(city.accounts)


def test_mules_are_shared_by_victims_and_some_hold_their_own_money(city: Scenario) -> None:
    payers: dict[tuple[str, str], set[str]] = defaultdict(set)
    for case in city.cases:
        for payment in case.payments:
            assert payment.target is not None
            payers[payment.target].add(case.case_id)
    assert sum(1 for cases in payers.values() if len(cases) >= 2) >= 5
    mules = [a for a in city.accounts if a.role == "mule"]
    rich = [a for a in mules if a.own >= 500]
    assert 0.2 < len(rich) / len(mules) < 0.5
    kinds = Counter(m.kind for m in city.moves)
    assert kinds["income"] > 0 and kinds["spend"] > 0 and kinds["forward"] > 0


def test_cash_out_starts_minutes_to_hours_after_the_money_arrives_through_every_channel(city: Scenario) -> None:
    world = played(city)
    assert {m.channel for m in city.moves if m.kind == "cashout"} == set(CASH_OUT)
    paid = {c.case_id: city.at(c.paid_at) for c in city.cases}
    first: dict[str, float] = {}
    out: dict[str, int] = defaultdict(int)
    ninety: dict[str, float] = {}
    for p in world.played:
        if p.move.kind != "cashout":
            continue
        for victim, cents in p.carried.items():
            if victim == OWN:
                continue
            first.setdefault(victim, (p.at - paid[victim]).total_seconds() / 60)
            out[victim] += cents
            if victim not in ninety and out[victim] >= 0.9 * world.truth.stolen[victim]:
                ninety[victim] = (p.at - paid[victim]).total_seconds() / 60
    firsts = sorted(first.values())
    assert firsts[0] < 15 and firsts[-1] > 120  # minutes to hours
    assert 10 < statistics.median(firsts) < 90
    # Left alone, the criminals get everything out, large sums within a few hours and no faster than ~1 h.
    assert all(world.truth.in_accounts(c.case_id) == 0 for c in city.cases)
    big = [ninety[c.case_id] for c in city.cases if c.stolen >= 100000]
    assert big and min(big) > 45 and statistics.median(big) < 300


def test_reports_come_minutes_after_the_last_payment_and_name_payee_bank_and_amount(city: Scenario) -> None:
    names = bank_names()
    for case in city.cases:
        delay = case.report_at - case.payments[-1].at
        assert timedelta(minutes=5) <= delay <= timedelta(minutes=30)
    for case in city.cases[:25]:
        text = narrative(case, city)
        found = extract(text, city.at(case.report_at)).to_dict()
        accounts = {(a["number"], a["bank_code"]) for a in found["accounts"]}
        amounts = {D(a["value"]) for a in found["amounts"]}
        for payment in case.payments:
            assert payment.target is not None
            assert (payment.target[1], payment.target[0]) in accounts
            assert names[payment.target[0]] in text
            assert payment.amount in amounts
        body = report(case, city, city.at(case.report_at))
        assert sum(D(t["amount"]) for t in body["transfers"]) == case.stolen


def test_split_is_exact() -> None:
    parts = split(D("1000.05"), [1, 1, 1], D(1))
    assert sum(parts) == D("1000.05") and all(p > 0 for p in parts)
    assert pro_rata(10, {"b": 10, "a": 10, "c": 10}) == {"a": 4, "b": 3, "c": 3}  # ties to the earlier label
    with pytest.raises(ValueError):
        pro_rata(31, {"a": 10, "b": 20})  # never more than there is


# ---- the ground truth --------------------------------------------------------------------------------------

def test_truth_follows_the_domain_worked_example() -> None:
    """DOMAIN.md §4: own 1,000; A 5,000; B 3,000; 4,000 sent on, 2,000 cashed, 3,000 left = A 1,875 + B 1,125."""
    t = Truth()
    mule, onward, victim = ("ABC", "M"), ("ICBC", "N"), ("CCB", "V")
    t.deposit(victim, D(10000))
    t.deposit(mule, D(1000))
    t.payment("A", victim, mule, D(5000))
    t.payment("B", victim, mule, D(3000))
    sent = t.transfer(mule, onward, D(4000), held=D(0))
    assert sent == {OWN: 100000, "A": 187500, "B": 112500}
    t.withdraw(mule, D(2000), held=D(0), channel="atm")
    assert t.where("A") == {mule: D(1875), onward: D(1875)} and t.cashed_out("A") == D(1250)
    assert t.frozen(lambda key: D(3000) if key == mule else D(0)) == {"A": D(1875), "B": D(1125)}
    t.check()


def test_held_money_is_the_victims_first_and_moves_take_the_free_part() -> None:
    t = Truth()
    mule, onward, victim = ("ABC", "M"), ("ICBC", "N"), ("CCB", "V")
    t.deposit(victim, D(9000))
    t.deposit(mule, D(2000))
    t.payment("A", victim, mule, D(5000))
    # 5,000 held: all of it A's; the 2,000 that can move is the holder's own.
    assert t.held_split(mule, D(5000)) == {"A": 500000}
    assert t.transfer(mule, onward, D(2000), held=D(5000)) == {OWN: 200000}
    with pytest.raises(TruthError):
        t.transfer(mule, onward, D("0.01"), held=D(5000))  # nothing free is left
    t.check()


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000), holds=st.lists(st.tuples(st.floats(0, 1), st.floats(0.05, 1.5)), max_size=25))
def test_truth_conserves_every_victims_money_at_every_step(seed: int, holds: list[tuple[float, float]]) -> None:
    """Per victim, money in accounts + cashed out == stolen after every move, with stops landing anywhere."""
    scenario = generate(seed, 6)
    world = World(scenario)
    rnd = random.Random(seed)
    mules = [a.key for a in scenario.accounts if a.role == "mule"]
    stops = sorted((int(when * len(scenario.moves)), share) for when, share in holds)
    for i, move in enumerate(scenario.moves):
        while stops and stops[0][0] <= i:
            _, share = stops.pop(0)
            target = rnd.choice(mules)
            balance = world.balance(target)
            if balance > 1:
                world.stop(target, (balance * D(str(share))).quantize(D("0.01")) or D("0.01"))
        p = world.play(move)
        assert p.amount <= world.available(move.source) + p.amount if move.source else True
        world.check()  # truth == the bank's balance on every account, and conservation per victim
        for case in scenario.cases:
            if case.case_id in world.truth.stolen:
                frozen = world.frozen()[case.case_id]
                assert D(0) <= frozen <= world.truth.in_accounts(case.case_id)


# ---- holds really block ------------------------------------------------------------------------------------

def test_a_stop_on_the_first_account_blocks_the_criminals_and_the_truth_counts_it_frozen() -> None:
    scenario = generate(11, 1, CityParams(victims_per_gang=((1, 1.0),), payments_per_victim=((1, 1.0),),
                                          rented_card_chance=0.0))
    [case] = scenario.cases
    [payment] = case.payments
    assert payment.target is not None
    world = World(scenario)
    moves = iter(scenario.moves)
    for move in moves:
        world.play(move)
        if move is payment:
            break
    answer = world.stop(payment.target, payment.amount)
    assert answer.status == "held" and answer.held == payment.amount
    outflows = [world.play(m) for m in moves if m.source == payment.target]
    rest = [world.play(m) for m in scenario.moves if m.at > payment.at and m.source != payment.target
            and m not in [o.move for o in outflows]]
    assert outflows and all(o.amount <= world.scenario.by_key[payment.target].own for o in outflows)
    assert world.held(payment.target) == payment.amount
    assert world.frozen()[case.case_id] == payment.amount
    assert world.truth.cashed_out(case.case_id) == 0
    assert rest  # the criminals kept trying downstream, with nothing of the victim's to move
    world.check()


def test_a_partial_stop_holds_what_is_there_and_the_move_takes_only_the_rest() -> None:
    scenario = generate(12, 1, CityParams(victims_per_gang=((1, 1.0),), payments_per_victim=((1, 1.0),),
                                          rented_card_chance=0.0))
    [case] = scenario.cases
    payee = case.payments[0].target
    assert payee is not None
    world = World(scenario)
    forward = next(m for m in scenario.moves if m.source == payee and m.kind == "forward")
    for move in scenario.moves:
        if move is forward:
            break
        world.play(move)
    balance = world.balance(payee)
    free = (forward.amount / 2).quantize(D("0.01"))
    answer = world.stop(payee, balance - free)
    assert answer.status == "held" and world.available(payee) == free
    done = world.play(forward)
    assert done.amount == free and done.short  # the criminals wanted more; the bank let only the free part go
    assert world.available(payee) == 0 and world.held(payee) == balance - free
    world.check()
