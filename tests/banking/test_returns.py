"""Returning frozen money to victims (资金返还, DOMAIN.md §3): the rule that applies, each victim's share to the
cent, and the life of a return — notice, objection, a supervisor's approval, the bank's answer, planning again.

The money is the worked example of DOMAIN.md §4: the mule holds 1,000 of its own; victim A sends 5,000, victim B
3,000; the mule sends 4,000 on, withdraws 2,000 cash and is frozen with 3,000. Pro rata by loss (5:3) that is
A 1,875 + B 1,125.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select
from tests.conftest import MakePrincipal, Principal
from tests.helpers import VALID_ID, report

from fanzha.audit.models import AuditEntry
from fanzha.auth.actor import Actor
from fanzha.auth.models import Role
from fanzha.banking import instructions, returns
from fanzha.banking import messages as m
from fanzha.banking.keys import SigningKey, kid_for
from fanzha.banking.models import BankInstruction, OutboxMessage
from fanzha.banking.returns import Basis, Claim, ReturnRules, add_working_days, plan_returns
from fanzha.banking.signing import sign_envelope
from fanzha.cases.models import Case
from fanzha.config import SHANGHAI
from fanzha.errors import Conflict, Forbidden, InvalidInput
from fanzha.storage.db import Database
from fanzha.tracing import store
from fanzha.tracing.engine import Policy, Victim, trace
from fanzha.tracing.ledger import Ledger, LedgerRow
from fanzha.tracing.loop import TraceConfig

D = Decimal
LIBR, FIFO, LIFO, PROP = Policy.LIBR, Policy.FIFO, Policy.LIFO, Policy.PROPORTIONAL

# ---- the planner ---------------------------------------------------------------------------------------------


def claim(victim: str, loss: str, libr: str, fifo: str | None = None, lifo: str | None = None,
          prop: str | None = None, reached: bool = True) -> Claim:
    held = {LIBR: D(libr), FIFO: D(fifo or libr), LIFO: D(lifo or libr), PROP: D(prop or libr)}
    return Claim(victim=victim, loss=D(loss), held=held, reached=reached)


def shares(plan: returns.Plan) -> dict[str, Decimal]:
    return {s.victim: s.amount for s in plan.shares}


def test_worked_example_is_pro_rata_by_loss_a_1875_b_1125() -> None:
    # What the four policies leave of each victim in the frozen 3,000 (see tests/tracing/test_engine.py).
    plan = plan_returns(D("3000"), "CNY", [claim("A", "5000", "1875", fifo="0", lifo="2000", prop="1666.67"),
                                           claim("B", "3000", "1125", fifo="3000", lifo="0", prop="1000")])
    assert plan.basis is Basis.PRO_RATA
    assert shares(plan) == {"A": D("1875.00"), "B": D("1125.00")}
    assert plan.kept == 0


def test_pro_rata_divides_by_loss_not_by_what_the_trace_attributes() -> None:
    # The trace puts 2,900 of the 3,000 with B, but the rule divides by loss: A lost three times as much.
    plan = plan_returns(D("3000"), "CNY", [claim("A", "9000", "100", fifo="0"), claim("B", "3000", "2900")])
    assert plan.basis is Basis.PRO_RATA
    assert shares(plan) == {"A": D("2250.00"), "B": D("750.00")}


def test_pro_rata_returns_only_victim_money_and_never_more_than_a_loss() -> None:
    # A whole-account freeze of 10,000 of which the trace says 4,000 is victims' money: the holder's own stays.
    plan = plan_returns(D("10000"), "CNY", [claim("A", "1000", "3000", fifo="2000"), claim("B", "2000", "1000")])
    assert shares(plan) == {"A": D("1000.00"), "B": D("2000.00")}  # both made whole
    assert plan.kept == D("7000")


def test_pro_rata_split_is_exact_to_the_cent_largest_remainder() -> None:
    plan = plan_returns(D("100"), "CNY", [claim(v, "1000", "0", fifo="50") for v in ("A", "B")]
                        + [claim("C", "1000", "100", fifo="0")])
    assert shares(plan) == {"A": D("33.34"), "B": D("33.33"), "C": D("33.33")}
    assert plan.returned == D("100")


def test_one_victim_is_returned_directly_capped_by_the_loss_and_the_hold() -> None:
    plan = plan_returns(D("6000"), "CNY", [claim("A", "5000", "5000", fifo="4000")])
    assert plan.basis is Basis.SINGLE_VICTIM and shares(plan) == {"A": D("5000.00")}
    assert plan.kept == D("1000")  # the holder's own money stays frozen
    assert shares(plan_returns(D("3000"), "CNY", [claim("A", "5000", "5000")])) == {"A": D("3000.00")}
    assert shares(plan_returns(D("9000"), "CNY", [claim("A", "2000", "5000")])) == {"A": D("2000.00")}


def test_victims_whose_money_never_reached_the_account_do_not_count() -> None:
    plan = plan_returns(D("3000"), "CNY", [claim("A", "5000", "3000"), claim("B", "3000", "0", reached=False)])
    assert plan.basis is Basis.SINGLE_VICTIM and shares(plan) == {"A": D("3000.00")}


def test_several_victims_whose_shares_no_policy_changes_are_returned_directly_by_time_order() -> None:
    plan = plan_returns(D("3000"), "CNY", [claim("A", "5000", "0"), claim("B", "3000", "3000")])
    assert plan.basis is Basis.TIME_ORDER
    assert shares(plan) == {"A": D("0.00"), "B": D("3000.00")}


def test_direct_return_of_more_than_the_bank_holds_is_split_in_proportion() -> None:
    plan = plan_returns(D("1000"), "CNY", [claim("A", "5000", "3000"), claim("B", "5000", "1000")])
    assert plan.basis is Basis.TIME_ORDER and shares(plan) == {"A": D("750.00"), "B": D("250.00")}


def test_the_planner_refuses_what_it_cannot_split() -> None:
    with pytest.raises(ValueError, match="no victim"):
        plan_returns(D("1000"), "CNY", [claim("A", "5000", "0", reached=False)])
    with pytest.raises(ValueError, match="negative"):
        plan_returns(D("1000"), "CNY", [claim("A", "-1", "0")])
    with pytest.raises(ValueError, match="decimal places"):
        plan_returns(D("1000.001"), "CNY", [claim("A", "5000", "1000")])


def test_no_currency_is_mixed_and_minor_units_follow_the_currency() -> None:
    plan = plan_returns(D("1000"), "JPY", [claim("A", "1", "0", fifo="1000"), claim("B", "2", "1000", fifo="0")])
    assert shares(plan) == {"A": D("1"), "B": D("2")}
    plan = plan_returns(D("10"), "JPY", [claim(v, "9", "10", fifo="0") for v in "ABC"])
    assert shares(plan) == {"A": D("4"), "B": D("3"), "C": D("3")}


def test_rule_2_reading_follows_the_engine_time_ordered_money_is_time_order_mixed_money_pro_rata() -> None:
    """The basis from real traces: A's money has left before B's arrives (time order settles it); in the worked
    example the mule mixed both victims' money with its own (it does not)."""
    t0 = datetime(2026, 3, 2, 9, tzinfo=UTC)
    mule, payer_a, payer_b, onward = ("ABC", "M1"), ("CMB", "PA"), ("BOC", "PB"), ("ICBC", "M2")

    def rows(spec: list[tuple[str, float, tuple[str, str] | None, tuple[str, str] | None, str, str]]) -> Ledger:
        return Ledger.from_rows([LedgerRow(txn_id=t, at=t0 + timedelta(hours=h), from_account=src, to_account=dst,
                                           amount=D(a), currency="CNY", channel=c) for t, h, src, dst, a, c in spec])

    def basis(ledger: Ledger, losses: dict[str, str]) -> Basis:
        victims = [Victim("A", "a"), Victim("B", "b")]
        traces = {p: trace(ledger, victims, policy=p) for p in Policy}
        claims = [Claim(v, D(losses[v]), {p: tr.accounts[mule].held.get(v, D(0)) for p, tr in traces.items()})
                  for v in ("A", "B")]
        return plan_returns(traces[LIBR].held_total(mule), "CNY", claims).basis

    ordered = rows([("a", 1, payer_a, mule, "5000", "transfer"), ("on", 2, mule, onward, "5000", "transfer"),
                    ("b", 3, payer_b, mule, "3000", "transfer")])
    mixed = rows([("own", 0, None, mule, "1000", "counter"), ("a", 1, payer_a, mule, "5000", "transfer"),
                  ("b", 2, payer_b, mule, "3000", "transfer"), ("on", 3, mule, onward, "4000", "transfer"),
                  ("cash", 4, mule, None, "2000", "atm")])
    assert basis(ordered, {"A": "5000", "B": "3000"}) is Basis.TIME_ORDER
    assert basis(mixed, {"A": "5000", "B": "3000"}) is Basis.PRO_RATA


CENTS = st.integers(min_value=0, max_value=10_000_000)


@st.composite
def claims_and_hold(draw: st.DrawFn) -> tuple[Decimal, list[Claim]]:
    n = draw(st.integers(min_value=1, max_value=6))
    out = []
    for i in range(n):
        held = {p: D(draw(CENTS)).scaleb(-2) for p in Policy}
        if draw(st.booleans()):
            held = dict.fromkeys(Policy, held[LIBR])  # policy-independent
        out.append(Claim(victim=f"V{i}", loss=D(draw(CENTS)).scaleb(-2), held=held, reached=draw(st.booleans())))
    if not any(c.reached for c in out):
        out[0] = Claim(out[0].victim, out[0].loss, out[0].held, reached=True)
    return D(draw(CENTS)).scaleb(-2), out


@given(claims_and_hold())
def test_shares_never_exceed_the_hold_or_a_loss_and_add_up_to_the_cent(case: tuple[Decimal, list[Claim]]) -> None:
    held, claims = case
    plan = plan_returns(held, "CNY", claims)
    reached = {c.victim: c for c in claims if c.reached}
    assert [s.victim for s in plan.shares] == list(reached)
    for s in plan.shares:
        assert D(0) <= s.amount <= reached[s.victim].loss
        assert s.amount == s.amount.quantize(D("0.01"))
    assert plan.returned <= held and plan.kept >= 0
    assert plan.returned + plan.kept == held
    attributed = sum((c.held[LIBR] for c in reached.values()), D(0))
    if plan.basis is Basis.PRO_RATA:
        # Everything the victims' money in the account allows, up to making every victim whole.
        assert plan.returned == min(held, attributed, sum((c.loss for c in reached.values()), D(0)))
    else:
        assert all(s.amount <= reached[s.victim].held[LIBR] for s in plan.shares)
        wanted = sum((min(c.held[LIBR], c.loss) for c in reached.values()), D(0))
        assert plan.returned == min(held, wanted)


@given(claims_and_hold())
def test_basis_follows_the_three_rules(case: tuple[Decimal, list[Claim]]) -> None:
    held, claims = case
    plan = plan_returns(held, "CNY", claims)
    reached = [c for c in claims if c.reached]
    same = all(len(set(c.held.values())) == 1 for c in reached)
    expected = Basis.SINGLE_VICTIM if len(reached) == 1 else Basis.TIME_ORDER if same else Basis.PRO_RATA
    assert plan.basis is expected


def test_three_working_days_skip_the_shanghai_weekend() -> None:
    friday = datetime(2026, 11, 27, 10, 0, tzinfo=SHANGHAI)
    assert add_working_days(friday, 3) == datetime(2026, 12, 2, 10, 0, tzinfo=SHANGHAI)  # Wednesday
    saturday = datetime(2026, 11, 28, 23, 30, tzinfo=SHANGHAI)
    assert add_working_days(saturday, 3) == datetime(2026, 12, 2, 23, 30, tzinfo=SHANGHAI)
    monday = datetime(2026, 11, 30, 1, 0, tzinfo=UTC)  # 09:00 Monday in Shanghai
    assert add_working_days(monday, 3) == datetime(2026, 12, 3, 1, 0, tzinfo=UTC)
    # Friday 20:00 UTC is Saturday 04:00 in Shanghai: the days count on the bank's calendar, so one working day
    # later is Monday 04:00 there (Sunday 20:00 UTC), not Monday 20:00 UTC.
    assert add_working_days(datetime(2026, 11, 27, 20, 0, tzinfo=UTC), 1) == datetime(2026, 11, 29, 20, 0, tzinfo=UTC)
    with pytest.raises(ValueError, match="aware"):
        add_working_days(datetime(2026, 11, 27, 10, 0), 3)


# ---- the service, on a real database ---------------------------------------------------------------------------

NOW = datetime.now(UTC).replace(microsecond=0)
T0 = NOW - timedelta(days=1)
MULE = ("ABC", "6228480402564890018")
ONWARD = ("ICBC", "6222020200112233445")
PAYER_A = ("CMB", "6214830000000001")
PAYER_B = ("BOC", "6216610100001234567")


def at(hours: float) -> datetime:
    return T0 + timedelta(hours=hours)


def leg(account: tuple[str, str], txn: str, hours: float, direction: str, amount: str,
        other: tuple[str, str] | None, balance: str, channel: str = "transfer") -> store.Leg:
    return store.Leg(bank_code=account[0], account=account[1], txn_id=txn, at=at(hours), direction=direction,
                     amount=D(amount), currency="CNY", counterparty_bank=other[0] if other else None,
                     counterparty_account=other[1] if other else None, channel=channel, balance_after=D(balance))


# The mule's statement in the worked example: own 1,000, A 5,000, B 3,000, 4,000 on, 2,000 cash, 3,000 left.
WORKED_LEGS = [
    leg(MULE, "m0", 0, "in", "1000", None, "1000", "counter"),
    leg(MULE, "m1", 1, "in", "5000", PAYER_A, "6000"),
    leg(MULE, "m2", 2, "in", "3000", PAYER_B, "9000"),
    leg(MULE, "m3", 3, "out", "4000", ONWARD, "5000"),
    leg(MULE, "m4", 4, "out", "2000", None, "3000", "atm"),
]


def center_signer() -> SigningKey:
    key = Ed25519PrivateKey.generate()
    return SigningKey(org="center", kid=kid_for(key.public_key()), private_key=key)


def bank_signer(bank: str = "ABC") -> SigningKey:
    key = Ed25519PrivateKey.generate()
    return SigningKey(org=f"bank:{bank}", kid=kid_for(key.public_key()), private_key=key)


@dataclass
class World:
    """Cases filed through the API, statements stored as the loop stores them, freezes as the bank answered."""

    db: Database
    principal: MakePrincipal
    officer: Principal

    def file(self, victim: str, payer: tuple[str, str] | None, amount: str, hours: float,
             to: tuple[str, str] = MULE) -> tuple[str, int]:
        transfer: dict[str, Any] = {"to_account": to[1], "to_bank": to[0], "amount": amount, "currency": "CNY",
                                    "occurred_at": at(hours).isoformat()}
        if payer is not None:
            transfer.update(from_account=payer[1], from_bank=payer[0])
        body = report(victim={"name": victim, "phone": "13812345678", "id_number": VALID_ID},
                      transfers=[transfer], suspect_phones=[])
        res = self.officer.client.post("/api/v1/reports", json=body)
        assert res.status_code == 201, res.text
        number = res.json()["number"]
        with self.db.read() as session:
            case_id = session.execute(select(Case.id).where(Case.number == number)).scalar_one()
        return number, int(case_id)

    def statements(self, case_id: int, legs: list[store.Leg] = WORKED_LEGS) -> None:
        with self.db.transaction() as session:
            store.save_legs(session, case_id=case_id, instruction_id=None, source="bank", legs=legs)

    def freeze(self, case_id: int, held: str, account: tuple[str, str] = MULE, kind: str = "freeze",
               status: str = "active") -> int:
        with self.db.transaction() as session:
            row = BankInstruction(case_id=case_id, kind=kind, bank_code=account[0], account=account[1],
                                  currency="CNY", requested_amount=D(held), held_amount=D(held), major_case=False,
                                  status=status, renewals=0, expires_at=NOW + timedelta(days=180),
                                  message_id=str(uuid.uuid4()), requested_by_id=self.officer.actor.user_id,
                                  created_at=NOW, answer="{}", last_error="")
            session.add(row)
            session.flush()
            return int(row.id)

    def worked(self) -> tuple[str, str, int]:
        """Victims A and B reported, the mule's statement in both cases, the mule frozen with 3,000 (case A)."""
        number_a, case_a = self.file("甲某", PAYER_A, "5000", 1)
        number_b, case_b = self.file("乙某", PAYER_B, "3000", 2)
        self.statements(case_a)
        self.statements(case_b)
        return number_a, number_b, self.freeze(case_a, "3000")


@pytest.fixture
def world(db: Database, principal: MakePrincipal) -> World:
    return World(db, principal, principal(Role.DUTY_OFFICER))


def propose(db: Database, actor: Actor, hold_id: int, now: datetime = NOW,
            rules: ReturnRules = ReturnRules()) -> returns.Proposal:
    with db.transaction() as session:
        hold = session.get(BankInstruction, hold_id, with_for_update=True)
        assert hold is not None
        number = session.execute(select(Case.number).where(Case.id == hold.case_id)).scalar_one()
        return returns.propose_returns(session, actor, hold, case_number=number, now=now, config=TraceConfig(),
                                       rules=rules)


def act(db: Database, return_id: int, what: str, actor: Actor, now: datetime = NOW, text: str = "",
        signer: SigningKey | None = None) -> BankInstruction:
    with db.transaction() as session:
        row = session.get(BankInstruction, return_id, with_for_update=True)
        assert row is not None
        number = session.execute(select(Case.number).where(Case.id == row.case_id)).scalar_one()
        if what == "approve":
            returns.approve_return(session, actor, row, case_number=number, now=now, signer=signer or center_signer())
        elif what == "object":
            returns.object_to_return(session, actor, row, case_number=number, text=text, now=now)
        else:
            returns.cancel_return(session, actor, row, case_number=number, reason=text, now=now)
        return row


def answer(db: Database, return_id: int, body: m.MessageBody, now: datetime = NOW) -> None:
    """The bank's signed answer applied the way the dispatcher applies it."""
    envelope = sign_envelope(body, bank_signer(), recipient="center", idempotency_key=f"a-{uuid.uuid4()}")
    with db.transaction() as session:
        row = session.get(BankInstruction, return_id, with_for_update=True)
        assert row is not None
        number = session.execute(select(Case.number).where(Case.id == row.case_id)).scalar_one()
        instructions.apply_answer(session, row, envelope, now, number)


def row_of(db: Database, instruction_id: int) -> BankInstruction:
    with db.read() as session:
        row = session.get(BankInstruction, instruction_id)
        assert row is not None
        return row


def audit_of(db: Database, number: str, prefix: str = "bank.return") -> list[tuple[str, dict[str, Any]]]:
    with db.read() as session:
        rows = session.execute(select(AuditEntry).where(AuditEntry.object_id == number,
                                                        AuditEntry.action.startswith(prefix))
                               .order_by(AuditEntry.id)).scalars()
        return [(e.action, json.loads(e.details)) for e in rows]


def by_victim(proposal: returns.Proposal) -> dict[str, returns.ProposedShare]:
    return {s.victim: s for s in proposal.shares}


def test_worked_example_proposes_pro_rata_returns_to_the_accounts_the_victims_paid_from(world: World) -> None:
    number_a, number_b, hold = world.worked()
    proposal = propose(world.db, world.officer.actor, hold)
    assert proposal.plan.basis is Basis.PRO_RATA and proposal.plan.kept == 0
    got = by_victim(proposal)
    assert (got[number_a].amount, got[number_b].amount) == (D("1875.00"), D("1125.00"))
    assert got[number_a].payee == returns.Payee(account=PAYER_A[1], bank="CMB", name="甲某")
    assert got[number_b].payee == returns.Payee(account=PAYER_B[1], bank="BOC", name="乙某")
    assert got[number_a].attributed == {"libr": D("1875"), "fifo": D("0"), "lifo": D("2000"),
                                        "proportional": D("1666.67")}
    rows = [row_of(world.db, s.instruction_id or 0) for s in proposal.shares]
    assert [(r.kind, r.status, r.basis, r.requested_amount, r.target_instruction_id, r.bank_code, r.account)
            for r in rows] == [("return", "notice", "pro_rata", D("1875"), hold, *MULE),
                               ("return", "notice", "pro_rata", D("1125"), hold, *MULE)]
    assert all(r.notice_until == NOW + timedelta(days=30) for r in rows)
    ((action, details),) = audit_of(world.db, number_a)
    assert action == "bank.return_proposed" and details["basis"] == "pro_rata" and details["kept"] == "0.00"
    assert [s["amount"] for s in details["shares"]] == ["1875.00", "1125.00"]
    with world.db.read() as session:
        assert session.execute(select(OutboxMessage).where(OutboxMessage.message_type == "Return")).first() is None


def test_a_pro_rata_return_waits_for_the_notice_and_a_supervisor(world: World) -> None:
    number_a, _, hold = world.worked()
    first = propose(world.db, world.officer.actor, hold).shares[0].instruction_id or 0
    supervisor = world.principal(Role.SUPERVISOR).actor
    with pytest.raises(Forbidden, match="supervisor"):
        act(world.db, first, "approve", world.officer.actor, NOW + timedelta(days=31))
    with pytest.raises(Conflict, match=r"notice .* runs until .*Beijing time"):
        act(world.db, first, "approve", supervisor, NOW + timedelta(days=29, hours=23))
    assert row_of(world.db, first).status == "notice"
    after = NOW + timedelta(days=31)
    approved = act(world.db, first, "approve", supervisor, after)
    assert approved.status == "queued" and approved.approved_by_id == supervisor.user_id
    assert approved.due_at == add_working_days(after, 3)
    with world.db.read() as session:
        message = session.execute(select(OutboxMessage).where(OutboxMessage.instruction_id == first)).scalar_one()
    envelope = m.parse_envelope(message.envelope)
    body = envelope.typed_body()
    assert isinstance(body, m.Return)
    assert (envelope.id, envelope.recipient, message.idempotency_key) == (approved.message_id, "bank:ABC",
                                                                          approved.message_id)
    assert (body.target_id, body.amount, body.payee_account, body.payee_bank, body.payee_name, body.basis,
            body.case_number, body.officer) == (row_of(world.db, hold).message_id, D("1875"), PAYER_A[1], "CMB",
                                                "甲某", "pro_rata", number_a, supervisor.username)
    assert [a for a, _ in audit_of(world.db, number_a)][-1] == "bank.return_approved"
    with pytest.raises(Conflict, match="queued"):
        act(world.db, first, "approve", supervisor, NOW + timedelta(days=32))


def test_an_objection_during_the_notice_disputes_the_return_until_a_supervisor_cancels_it(world: World) -> None:
    number_a, _, hold = world.worked()
    first, second = (s.instruction_id or 0 for s in propose(world.db, world.officer.actor, hold).shares)
    supervisor = world.principal(Role.SUPERVISOR).actor
    with pytest.raises(InvalidInput):
        act(world.db, first, "object", world.officer.actor, NOW + timedelta(days=3), text=" ")
    act(world.db, first, "object", world.officer.actor, NOW + timedelta(days=3), text="丙某称其亦向该账户转账2万元")
    assert row_of(world.db, first).status == "disputed"
    assert ("bank.return_objected", {"instruction": first, "text": "丙某称其亦向该账户转账2万元"}) \
        in audit_of(world.db, number_a)
    with pytest.raises(Conflict, match="disputed"):
        act(world.db, first, "approve", supervisor, NOW + timedelta(days=31))
    with pytest.raises(Conflict, match="ended"):
        act(world.db, second, "object", world.officer.actor, NOW + timedelta(days=30), text="逾期异议")
    with pytest.raises(Forbidden):
        act(world.db, first, "cancel", world.officer.actor, text="不予返还")
    act(world.db, first, "cancel", supervisor, text="另案受害人待核实")
    assert row_of(world.db, first).status == "cancelled"
    assert audit_of(world.db, number_a)[-1] == ("bank.return_cancelled",
                                                {"instruction": first, "reason": "另案受害人待核实"})
    with pytest.raises(Conflict, match="cancelled"):
        act(world.db, first, "cancel", supervisor, text="again")


def test_the_banks_answer_settles_the_return_and_the_freeze_keeps_the_rest(world: World) -> None:
    number_a, _, hold = world.worked()
    first, second = (s.instruction_id or 0 for s in propose(world.db, world.officer.actor, hold).shares)
    supervisor = world.principal(Role.SUPERVISOR).actor
    for rid in (first, second):
        act(world.db, rid, "approve", supervisor, NOW + timedelta(days=31))
    done = row_of(world.db, first)
    answer(world.db, first, m.ReturnResult(request_id=done.message_id, status="returned",
                                           returned_amount=D("1875"), currency="CNY", executed_at=NOW))
    assert (row_of(world.db, first).status, row_of(world.db, first).returned_amount) == ("returned", D("1875"))
    assert row_of(world.db, hold).held_amount == D("1125")
    assert row_of(world.db, hold).status == "active"
    # The same answer again (a resend answered from the bank's store) moves nothing twice.
    answer(world.db, first, m.ReturnResult(request_id=done.message_id, status="returned",
                                           returned_amount=D("1875"), currency="CNY", executed_at=NOW))
    assert row_of(world.db, hold).held_amount == D("1125")
    answer(world.db, second, m.ReturnResult(request_id=row_of(world.db, second).message_id, status="rejected",
                                            returned_amount=D(0), currency="CNY",
                                            reason="account_closed: the payee account is closed"))
    refused = row_of(world.db, second)
    assert (refused.status, refused.last_error) == ("rejected", "account_closed: the payee account is closed")
    assert row_of(world.db, hold).held_amount == D("1125")
    answered = [d for a, d in audit_of(world.db, number_a) if a == "bank.return_answered"]
    assert [(d.get("status"), d.get("hold_left"), d.get("repeat")) for d in answered] == [
        ("returned", "1125.00", None), (None, None, True), ("rejected", None, None)]


def test_one_victims_money_is_returned_directly_after_a_supervisor_approves(world: World) -> None:
    _, case_a = world.file("甲某", PAYER_A, "5000", 1)
    # The mule held 1,000 of its own, got A's 5,000, and nobody else's: frozen with all 6,000.
    world.statements(case_a, [leg(MULE, "m0", 0, "in", "1000", None, "1000", "counter"),
                              leg(MULE, "m1", 1, "in", "5000", PAYER_A, "6000")])
    hold = world.freeze(case_a, "6000")
    proposal = propose(world.db, world.officer.actor, hold)
    assert proposal.plan.basis is Basis.SINGLE_VICTIM and proposal.notice_until is None
    (share,) = proposal.shares
    assert (share.amount, share.status, proposal.plan.kept) == (D("5000.00"), "pending_approval", D("1000"))
    approved = act(world.db, share.instruction_id or 0, "approve", world.principal(Role.SUPERVISOR).actor)
    assert approved.status == "queued" and approved.notice_until is None


def test_money_whose_owner_the_timestamps_settle_is_returned_directly(world: World) -> None:
    number_a, case_a = world.file("甲某", PAYER_A, "5000", 1)
    number_b, case_b = world.file("乙某", PAYER_B, "3000", 3)
    legs = [leg(MULE, "m1", 1, "in", "5000", PAYER_A, "5000"), leg(MULE, "m2", 2, "out", "5000", ONWARD, "0"),
            leg(MULE, "m3", 3, "in", "3000", PAYER_B, "3000")]
    world.statements(case_a, legs)
    world.statements(case_b, legs)
    proposal = propose(world.db, world.officer.actor, world.freeze(case_b, "3000"))
    assert proposal.plan.basis is Basis.TIME_ORDER
    got = by_victim(proposal)
    assert (got[number_a].amount, got[number_a].instruction_id) == (D("0.00"), None)  # A's money had left
    assert (got[number_b].amount, got[number_b].status) == (D("3000.00"), "pending_approval")


def test_a_stop_payment_is_not_returned_from_freeze_it_first(world: World) -> None:
    _, case_a = world.file("甲某", PAYER_A, "5000", 1)
    world.statements(case_a, WORKED_LEGS[:2])
    stopped = world.freeze(case_a, "5000", kind="stop_payment")
    with pytest.raises(Conflict, match="freeze it first"):
        propose(world.db, world.officer.actor, stopped)
    released = world.freeze(case_a, "5000", status="released")
    with pytest.raises(Conflict, match="released"):
        propose(world.db, world.officer.actor, released)
    with pytest.raises(Forbidden):
        propose(world.db, world.principal(Role.BANK_LIAISON).actor, world.freeze(case_a, "5000"))


def test_a_victim_without_a_known_source_account_gets_no_return_sent_their_share_stays_frozen(world: World) -> None:
    number_a, case_a = world.file("甲某", PAYER_A, "5000", 1)
    number_b, case_b = world.file("乙某", None, "3000", 2)  # paid in cash at a counter, no account known
    world.statements(case_a)
    world.statements(case_b)
    proposal = propose(world.db, world.officer.actor, world.freeze(case_a, "3000"))
    got = by_victim(proposal)
    assert got[number_a].instruction_id is not None and got[number_a].amount == D("1875.00")
    assert (got[number_b].instruction_id, got[number_b].amount) == (None, D("1125.00"))
    assert "not known" in (got[number_b].unsent or "")


def test_a_newly_found_victim_reopens_the_plan_the_open_proposals_are_cancelled(world: World) -> None:
    number_a, case_a = world.file("甲某", PAYER_A, "5000", 1)
    world.statements(case_a)
    hold = world.freeze(case_a, "3000")
    (only,) = propose(world.db, world.officer.actor, hold).shares  # B not reported yet: B's credit looks own money
    assert only.status == "pending_approval"
    number_b, case_b = world.file("乙某", PAYER_B, "3000", 2)
    world.statements(case_b)
    again = propose(world.db, world.officer.actor, hold, NOW + timedelta(hours=1))
    assert again.cancelled == [only.instruction_id] and row_of(world.db, only.instruction_id or 0).status == "cancelled"
    assert again.plan.basis is Basis.PRO_RATA
    assert {s.victim: s.amount for s in again.shares} == {number_a: D("1875.00"), number_b: D("1125.00")}
    actions = [a for a, _ in audit_of(world.db, number_a)]
    assert actions == ["bank.return_proposed", "bank.return_replanned", "bank.return_proposed"]


def test_a_return_with_the_bank_blocks_planning_again_and_approval_beyond_what_is_held(world: World) -> None:
    _, _, hold = world.worked()
    first, second = (s.instruction_id or 0 for s in propose(world.db, world.officer.actor, hold).shares)
    supervisor = world.principal(Role.SUPERVISOR).actor
    act(world.db, first, "approve", supervisor, NOW + timedelta(days=31))
    with pytest.raises(Conflict, match="with the bank"):
        propose(world.db, world.officer.actor, hold, NOW + timedelta(days=31))
    with world.db.transaction() as session:  # the bank reported it holds less now (money moved before the freeze)
        row = session.get(BankInstruction, hold)
        assert row is not None
        row.held_amount = D("2000")
    with pytest.raises(Conflict, match=r"holds 2000\.00 CNY and returns already sent take 1875\.00"):
        act(world.db, second, "approve", supervisor, NOW + timedelta(days=31))


def test_a_victim_is_never_paid_more_than_the_loss_across_two_frozen_accounts(world: World) -> None:
    _, case_a = world.file("甲某", PAYER_A, "5000", 1)
    legs = [leg(MULE, "m1", 1, "in", "5000", PAYER_A, "5000"), leg(MULE, "m2", 2, "out", "2000", ONWARD, "3000"),
            leg(ONWARD, "o1", 2, "in", "2000", MULE, "2000")]
    world.statements(case_a, legs)
    first = propose(world.db, world.officer.actor, world.freeze(case_a, "3000")).shares[0]
    assert first.amount == D("3000.00")
    # 5,000 lost: 3,000 proposed from the first account, so the second may give back at most 2,000 more...
    second = propose(world.db, world.officer.actor, world.freeze(case_a, "2000", account=ONWARD)).shares[0]
    assert second.amount == D("2000.00")
    third = world.freeze(case_a, "2000", account=ONWARD)  # a duplicate freeze of the same money
    with pytest.raises(Conflict, match="losses back"):
        propose(world.db, world.officer.actor, third)


def test_the_notice_and_the_banks_days_are_configurable(world: World) -> None:
    _, _, hold = world.worked()
    rules = ReturnRules(notice_days=45, working_days=5)
    first = propose(world.db, world.officer.actor, hold, rules=rules).shares[0].instruction_id or 0
    assert row_of(world.db, first).notice_until == NOW + timedelta(days=45)
    supervisor = world.principal(Role.SUPERVISOR).actor
    with world.db.transaction() as session:
        row = session.get(BankInstruction, first, with_for_update=True)
        assert row is not None
        number = session.execute(select(Case.number).where(Case.id == row.case_id)).scalar_one()
        with pytest.raises(Conflict, match="runs until"):
            returns.approve_return(session, supervisor, row, case_number=number, now=NOW + timedelta(days=44),
                                   signer=center_signer(), rules=rules)
        returns.approve_return(session, supervisor, row, case_number=number, now=NOW + timedelta(days=46),
                               signer=center_signer(), rules=rules)
        assert row.due_at == add_working_days(NOW + timedelta(days=46), 5)


def test_a_hand_answered_bank_executes_a_return_from_its_liaisons_inbox(world: World) -> None:
    _, case_a = world.file("甲某", PAYER_A, "5000", 1)
    world.statements(case_a, [leg(MULE, "m0", 0, "in", "1000", None, "1000", "counter"),
                              leg(MULE, "m1", 1, "in", "5000", PAYER_A, "6000")])
    hold = world.freeze(case_a, "6000")
    (share,) = propose(world.db, world.officer.actor, hold).shares
    supervisor = world.principal(Role.SUPERVISOR).actor
    with world.db.transaction() as session:
        row = session.get(BankInstruction, share.instruction_id)
        assert row is not None
        number = session.execute(select(Case.number).where(Case.id == row.case_id)).scalar_one()
        returns.approve_return(session, supervisor, row, case_number=number, now=NOW, signer=center_signer(),
                               by_hand=True)
        (message,) = session.execute(select(OutboxMessage).where(OutboxMessage.instruction_id == row.id)).scalars()
        assert (message.status, message.message_type, row.status) == ("inbox", "Return", "sent")
    liaison = world.principal(Role.BANK_LIAISON, org=f"bank:{MULE[0]}").actor
    with world.db.transaction() as session:
        row = session.get(BankInstruction, share.instruction_id)
        assert row is not None
        with pytest.raises(Conflict, match="more than"):
            instructions.answer_by_hand(session, liaison, row, case_number=number, held=True, amount=D("5000.01"),
                                        expires_at=None, reason="", now=NOW)
        instructions.answer_by_hand(session, liaison, row, case_number=number, held=True, amount=D("5000"),
                                    expires_at=None, reason="", now=NOW + timedelta(days=1))
    done = row_of(world.db, share.instruction_id or 0)
    assert (done.status, done.returned_amount) == ("returned", D("5000"))
    assert row_of(world.db, hold).held_amount == D("1000")  # the mule's own money stays frozen
