"""Returning frozen money to victims (资金返还, 原路返还), by the 2016 regulation (DOMAIN.md §3).

A return is a ``BankInstruction`` of kind ``return``: its ``account``/``bank_code``/``currency`` are the frozen
account's, ``requested_amount`` is one victim's share, ``target_instruction_id`` the freeze holding the money,
``payee_*`` the account the victim paid from (the money goes back the way it came).

    plan:  one victim's money reached the account           -> single_victim: return directly
           several, and every attribution policy agrees       -> time_order:    return directly
           otherwise                                         -> pro_rata by loss, after a 30-day public notice
    life:  pending_approval | notice -(objection)-> disputed -(cancel)-> cancelled
           pending_approval | notice(ended) -approve (a supervisor)-> queued -> sent -> returned | rejected | failed
           any open one -(a newly found victim: plan again)-> cancelled, and new ones proposed

The planner (`plan_returns`) is pure; the service functions run in the caller's transaction and audit every
step. Money is Decimal at the edges and integer minor units inside the split, so shares add up to the cent.
"""

from __future__ import annotations

import json
import uuid
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from fanzha.audit import service as audit
from fanzha.audit.models import AuditEntry
from fanzha.auth.actor import Actor
from fanzha.auth.models import Role
from fanzha.banking import instructions
from fanzha.banking import messages as m
from fanzha.banking.bins import bank_names, lookup_card, resolve_bank
from fanzha.banking.keys import SigningKey
from fanzha.banking.lifecycle import HoldKind, HoldStatus
from fanzha.banking.models import HOLD_KINDS, RETURN_KIND, BankInstruction
from fanzha.cases.models import Case, CaseParty, Transfer
from fanzha.config import SHANGHAI
from fanzha.errors import Conflict, Forbidden, InvalidInput
from fanzha.money import amount_str
from fanzha.tracing import store
from fanzha.tracing.allocation import largest_remainder
from fanzha.tracing.engine import Policy, Trace, trace
from fanzha.tracing.ledger import MINOR_DIGITS, Ledger, from_minor, to_minor
from fanzha.tracing.loop import TraceConfig

# Statuses of a return instruction.
PENDING_APPROVAL = HoldStatus.PENDING_APPROVAL.value  # a direct return, waiting for a supervisor
NOTICE = "notice"  # pro rata: the 30-day public notice runs
DISPUTED = "disputed"  # someone objected during the notice
QUEUED = HoldStatus.QUEUED.value  # approved: the signed Return is in the outbox
SENT = HoldStatus.SENT.value  # the bank acknowledged it; the result follows
RETURNED = "returned"
REJECTED = HoldStatus.REJECTED.value
FAILED = HoldStatus.FAILED.value
CANCELLED = "cancelled"
OPEN = frozenset({PENDING_APPROVAL, NOTICE, DISPUTED})  # proposed, nothing sent: re-planning may cancel them
IN_FLIGHT = frozenset({QUEUED, SENT})  # with the bank: the money may be moving
SETTLED = frozenset({RETURNED, REJECTED, FAILED, CANCELLED})

OFFICERS = frozenset({Role.DUTY_OFFICER, Role.SUPERVISOR})
PAYEE_ACCOUNT_CHARS = frozenset("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ")


@dataclass(frozen=True, slots=True)
class ReturnRules:
    """The regulation's clocks (DOMAIN.md §3), configurable like `HoldRules`."""

    notice_days: int = 30  # rule: pro rata returns wait for a 30-day public notice
    working_days: int = 3  # rule: the bank executes within 3 working days
    timezone: ZoneInfo = SHANGHAI  # working days are counted on the bank's calendar

    @property
    def notice(self) -> timedelta:
        return timedelta(days=self.notice_days)


def add_working_days(start: datetime, days: int, tz: ZoneInfo = SHANGHAI) -> datetime:
    """``start`` moved forward by ``days`` working days at the same local time (UTC out).

    Saturdays and Sundays in ``tz`` are skipped. Public holidays (春节, 国庆...) and the weekends the State
    Council swaps into working days are not modelled, so a due date next to a holiday comes out early.
    """
    if start.tzinfo is None or start.utcoffset() is None:
        raise ValueError("start must be timezone-aware")
    if days < 0:
        raise ValueError("days must be zero or more")
    local = start.astimezone(tz)
    counted = 0
    while counted < days:
        local += timedelta(days=1)
        if local.weekday() < 5:
            counted += 1
    return local.astimezone(UTC)


# ---- the planner (pure) --------------------------------------------------------------------------------------

class Basis(StrEnum):
    SINGLE_VICTIM = "single_victim"  # rule 1: only one victim's money reached the account
    TIME_ORDER = "time_order"  # rule 2: several, but the timestamps settle whose money is whose
    PRO_RATA = "pro_rata"  # rule 3: pro rata by loss, after the public notice

    @property
    def direct(self) -> bool:
        return self is not Basis.PRO_RATA


@dataclass(frozen=True, slots=True)
class Claim:
    """One victim's claim on the money in a frozen account."""

    victim: str  # e.g. the victim's case number
    loss: Decimal  # what the victim lost and has not had back (or has on its way back) from elsewhere
    held: Mapping[Policy, Decimal]  # the victim's money in the account now, as each attribution policy sees it
    reached: bool = True  # the victim's money reached the account (under any policy)


@dataclass(frozen=True, slots=True)
class Share:
    victim: str
    amount: Decimal  # to return to this victim
    loss: Decimal
    attributed: Decimal  # the victim's money in the account under the default policy


@dataclass(frozen=True, slots=True)
class Plan:
    basis: Basis
    currency: str
    held: Decimal  # what the hold holds now
    shares: tuple[Share, ...]

    @property
    def returned(self) -> Decimal:
        return sum((s.amount for s in self.shares), Decimal(0))

    @property
    def kept(self) -> Decimal:
        """What stays frozen (the holder's own money, money nobody can claim, rounding never)."""
        return self.held - self.returned


def plan_returns(held: Decimal, currency: str, claims: Sequence[Claim], default: Policy = Policy.LIBR) -> Plan:
    """Which rule applies to the money ``held`` in one account, and each victim's share of it.

    ValueError when no victim's money reached the account, or for negative or sub-minor-unit amounts.
    """
    if held < 0:
        raise ValueError("a hold cannot hold a negative amount")
    units = to_minor(held, currency)
    digits = MINOR_DIGITS.get(currency, 2)
    reached = [c for c in claims if c.reached]
    if not reached:
        raise ValueError("no victim's money reached this account")
    for c in reached:
        if c.loss < 0 or any(v < 0 for v in c.held.values()):
            raise ValueError(f"victim {c.victim}: losses and attributed amounts cannot be negative")
        if default not in c.held:
            raise ValueError(f"victim {c.victim}: no attribution under the default policy {default.value}")
    loss = [to_minor(c.loss, currency) for c in reached]
    attributed = [to_minor(c.held[default], currency) for c in reached]
    if len(reached) == 1:
        basis = Basis.SINGLE_VICTIM
    elif _policy_independent(reached):
        basis = Basis.TIME_ORDER
    else:
        basis = Basis.PRO_RATA
    if basis.direct:
        # Each victim gets the money the trace attributes to them, never more than they lost; if the bank
        # holds less than that (money moved before the freeze), what it holds is split in the same proportion.
        wanted = [min(a, x) for a, x in zip(attributed, loss, strict=True)]
        amounts = largest_remainder(min(units, sum(wanted)), wanted)
    else:
        # Rule 3 divides by loss, not by the trace: the victims' money that is there (never the holder's own),
        # split in proportion to what each lost. largest_remainder never gives a weight more than itself, so
        # no victim gets more than their loss; if the money exceeds all losses, the rest stays frozen.
        pot = min(units, sum(attributed))
        amounts = largest_remainder(min(pot, sum(loss)), loss)
    shares = tuple(Share(victim=c.victim, amount=from_minor(a, digits), loss=c.loss, attributed=c.held[default])
                   for c, a in zip(reached, amounts, strict=True))
    return Plan(basis=basis, currency=currency, held=held, shares=shares)


def _policy_independent(claims: Sequence[Claim]) -> bool:
    """Rule 2 ("timestamps settle whose money is whose"), read so it can be tested: every attribution policy
    (LIBR, FIFO, LIFO, proportional) gives each victim the same amount in the account. Time order alone then
    decides: no convention about which money leaves first changes anyone's share."""
    policies = {p for c in claims for p in c.held}
    return all(len({c.held.get(p, Decimal(0)) for p in policies}) == 1 for c in claims)


# ---- reading the case: victims, their losses, where their money came from ------------------------------------

@dataclass(frozen=True, slots=True)
class Payee:
    account: str
    bank: str
    name: str


@dataclass
class VictimFacts:
    """One victim (one reported case) as the plan needs them."""

    case: str
    loss: Decimal = Decimal(0)  # the reported transfers in the hold's currency
    already: Decimal = Decimal(0)  # returned, on its way, or proposed from other holds
    held: dict[Policy, Decimal] = field(default_factory=dict)
    reached: bool = False
    sources: set[tuple[str, str]] = field(default_factory=set)  # (bank, account) the victim paid from
    payee: Payee | None = None
    why_unsent: str | None = None


@dataclass(frozen=True)
class ProposedShare:
    victim: str
    name: str | None
    loss: Decimal
    attributed: dict[str, Decimal]  # policy -> the victim's money in the account
    amount: Decimal
    payee: Payee | None
    instruction_id: int | None
    status: str | None
    unsent: str | None  # why a share is not sent (it stays frozen)


@dataclass(frozen=True)
class Proposal:
    hold_id: int
    plan: Plan
    shares: list[ProposedShare]
    cancelled: list[int]
    notice_until: datetime | None


def _traces(session: Session, hold: BankInstruction, config: TraceConfig) -> tuple[dict[Policy, Trace], list[int]]:
    """The trace of the hold's case scope in the hold's currency under every attribution policy, and the scope."""
    scope = store.case_scope(session, hold.case_id)
    inputs = store.build_inputs(session, scope)
    currency_of = {r.txn_id: r.currency for r in inputs.rows}
    victims = [v for v in inputs.victims if currency_of[v.txn_id] == hold.currency]
    if not victims:
        raise Conflict(f"no victim of this case (or of cases traced with it) paid in {hold.currency}; "
                       "nothing can be returned from this hold")
    ledger = Ledger.from_rows(inputs.rows)
    traces = {p: trace(ledger, victims, policy=p, window=config.window, max_depth=config.loop.max_depth,
                       opening_balances=inputs.opening_balances) for p in Policy}
    return traces, scope


def _transfers(session: Session, scope: Sequence[int]) -> dict[str, tuple[Transfer, str]]:
    """Trace victim id -> (reported transfer, case number), named exactly as tracing/store.build_inputs names
    them: the case number for a case's first transfer, ``number#k`` for its k-th (in id order)."""
    rows = session.execute(
        select(Transfer, Case.number).join(Case, Case.id == Transfer.case_id)
        .where(Transfer.case_id.in_(scope)).order_by(Transfer.case_id, Transfer.id)
    ).all()
    out: dict[str, tuple[Transfer, str]] = {}
    count: dict[str, int] = defaultdict(int)
    for transfer, number in rows:
        count[number] += 1
        out[number if count[number] == 1 else f"{number}#{count[number]}"] = (transfer, str(number))
    return out


def _payee_bank(transfer: Transfer) -> str | None:
    """The bank code of the account the victim paid from: as reported, else by the card's BIN."""
    if transfer.from_bank:
        if transfer.from_bank in bank_names():
            return transfer.from_bank
        code = resolve_bank(transfer.from_bank)
        if code is not None:
            return code
    issuer = lookup_card(transfer.from_account or "")
    return issuer.bank_code if issuer is not None else None


def _victim_names(session: Session, numbers: set[str]) -> dict[str, str]:
    """Case number -> the victim's name (the reporter's when no victim is named)."""
    rows = session.execute(
        select(Case.number, CaseParty.role, CaseParty.name).join(CaseParty, CaseParty.case_id == Case.id)
        .where(Case.number.in_(numbers)).order_by(CaseParty.id)
    ).all()
    names: dict[str, str] = {}
    for number, role, name in rows:
        if role == "victim" or number not in names:
            names[number] = name
    return names


def _victims(session: Session, hold: BankInstruction, config: TraceConfig) -> dict[str, VictimFacts]:
    """Every victim in the hold's case scope who paid in its currency: loss, money in the account, payee."""
    traces, scope = _traces(session, hold, config)
    key = (hold.bank_code, hold.account)
    transfers = _transfers(session, scope)
    facts: dict[str, VictimFacts] = {}
    for transfer, number in transfers.values():  # the loss and the accounts each victim paid from
        if transfer.currency != hold.currency:
            continue
        f = facts.setdefault(number, VictimFacts(case=number))
        f.loss += transfer.amount
        bank = _payee_bank(transfer) if transfer.from_account else None
        if transfer.from_account and bank:
            f.sources.add((bank, transfer.from_account))
    # Each transfer's money in the account per policy, summed per victim (a victim may have paid twice).
    received: dict[str, dict[Policy, Decimal]] = defaultdict(dict)
    for policy, tr in traces.items():
        acct = tr.accounts.get(key)
        if acct is None:
            continue
        for victim_id, amount in acct.received.items():
            received[victim_id][policy] = amount
            f = facts[transfers[victim_id][1]]
            f.reached = f.reached or amount > 0
            f.held[policy] = f.held.get(policy, Decimal(0)) + acct.held.get(victim_id, Decimal(0))
    for f in facts.values():
        for policy in Policy:
            f.held.setdefault(policy, Decimal(0))
    names = _victim_names(session, set(facts))
    for number, f in facts.items():
        # 原路返还: back to the account of the transfer that brought most of the victim's money here.
        candidates = [(amounts.get(config.policy, Decimal(0)), max(amounts.values()), -transfers[v][0].id, v)
                      for v, amounts in received.items()
                      if transfers[v][1] == number and transfers[v][0].from_account]
        if not candidates:
            f.why_unsent = "the victim's own account (where the money came from) is not known"
            continue
        transfer = transfers[max(candidates)[3]][0]
        bank = _payee_bank(transfer)
        account = transfer.from_account or ""
        if bank is None:
            f.why_unsent = f"the bank of the victim's account {account} is not known"
        elif not (6 <= len(account) <= 40 and set(account) <= PAYEE_ACCOUNT_CHARS):
            f.why_unsent = f"the victim's account {account!r} is not an account number a bank can pay"
        elif number not in names:
            f.why_unsent = "the case names no victim to pay"
        else:
            f.payee = Payee(account=account, bank=bank, name=names[number][:64])
    _already_returned(session, hold, scope, facts)
    return facts


def _already_returned(session: Session, hold: BankInstruction, scope: Sequence[int],
                      facts: Mapping[str, VictimFacts]) -> None:
    """Take off each victim's loss what other returns give back to the same accounts, so no victim is paid
    more than they lost across several frozen accounts. Open proposals on *this* hold are about to be replaced
    and do not count; open ones on other holds do (they reserve the victim's loss until decided)."""
    rows = session.execute(
        select(BankInstruction).where(BankInstruction.kind == RETURN_KIND, BankInstruction.case_id.in_(scope),
                                      BankInstruction.currency == hold.currency,
                                      BankInstruction.status.not_in([REJECTED, FAILED, CANCELLED]))
    ).scalars()
    owner = {src: f for f in facts.values() for src in f.sources}
    for row in rows:
        if row.target_instruction_id == hold.id and row.status in OPEN:
            continue
        f = owner.get((row.payee_bank or "", row.payee_account or ""))
        if f is None:
            continue
        moved = row.returned_amount if row.status == RETURNED else row.requested_amount
        f.already += moved or Decimal(0)


# ---- the service ---------------------------------------------------------------------------------------------

def _require_officer(actor: Actor) -> None:
    if actor.role not in OFFICERS:
        raise Forbidden("only duty officers and supervisors propose or contest returns")


def _require_supervisor(actor: Actor, what: str) -> None:
    if actor.role is not Role.SUPERVISOR:
        raise Forbidden(f"only a supervisor may {what} a return: money leaves a frozen account")


def _require_return(instruction: BankInstruction) -> None:
    if instruction.kind != RETURN_KIND:
        raise Conflict(f"instruction {instruction.id} is a {instruction.kind}, not a return")


def _check_hold(hold: BankInstruction) -> None:
    """Returns come out of an active freeze, and only of money it still holds."""
    if hold.kind not in HOLD_KINDS:
        raise Conflict(f"instruction {hold.id} is a {hold.kind}, not a freeze")
    if hold.kind == HoldKind.STOP_PAYMENT.value:
        # The regulation returns frozen funds; a 48-hour stop-payment is an emergency measure only.
        raise Conflict(f"instruction {hold.id} is a stop-payment: money is returned only from a freeze; "
                       "freeze it first")
    if hold.status != HoldStatus.ACTIVE.value:
        raise Conflict(f"the freeze {hold.id} is {hold.status}; only an active freeze's money can be returned")
    if not hold.held_amount or hold.held_amount <= 0:
        raise Conflict(f"the freeze {hold.id} holds nothing; there is nothing to return")


def _local(value: datetime | None) -> str:
    return value.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M (Beijing time)") if value else "unknown"


def returns_of_hold(session: Session, hold_id: int, *, lock: bool = False) -> list[BankInstruction]:
    query = (select(BankInstruction).where(BankInstruction.kind == RETURN_KIND,
                                           BankInstruction.target_instruction_id == hold_id)
             .order_by(BankInstruction.id))
    if lock:
        query = query.with_for_update()
    return list(session.execute(query).scalars())


def propose_returns(session: Session, actor: Actor, hold: BankInstruction, *, case_number: str, now: datetime,
                    config: TraceConfig = TraceConfig(), rules: ReturnRules = ReturnRules()) -> Proposal:
    """Plan the return of one active freeze's money to the victims and write one return per victim share.

    Direct bases wait for a supervisor (``pending_approval``); pro rata ones first for the public notice
    (``notice``). Planning again (a newly found victim) cancels the proposals not yet sent. The caller holds
    the hold row locked.
    """
    _require_officer(actor)
    _check_hold(hold)
    assert hold.held_amount is not None
    existing = returns_of_hold(session, hold.id, lock=True)
    busy = [r.id for r in existing if r.status in IN_FLIGHT]
    if busy:
        raise Conflict(f"return {busy[0]} of this freeze is with the bank; plan again after its answer")
    facts = _victims(session, hold, config)
    claims = [Claim(victim=f.case, loss=max(Decimal(0), f.loss - f.already), held=f.held, reached=f.reached)
              for f in sorted(facts.values(), key=lambda f: f.case)]
    if not any(c.reached for c in claims):
        raise Conflict(f"the trace shows no victim's money reaching {hold.bank_code}/{hold.account}; "
                       "load its statement before planning a return")
    try:
        plan = plan_returns(hold.held_amount, hold.currency, claims, config.policy)
    except ValueError as exc:
        raise Conflict(f"cannot plan returns from freeze {hold.id}: {exc}") from exc
    if plan.returned <= 0:
        raise Conflict(f"the trace attributes no victim money to {hold.bank_code}/{hold.account} now "
                       "(or the victims have had their losses back); nothing to return")
    cancelled = []
    for row in existing:
        if row.status in OPEN:
            row.status = CANCELLED
            cancelled.append(row.id)
    if cancelled:
        audit.append(session, actor, "bank.return_replanned", "case", case_number,
                     {"hold": hold.id, "cancelled": cancelled}, at=now)
    direct = plan.basis.direct
    notice_until = None if direct else now + rules.notice
    written: list[tuple[Share, VictimFacts, BankInstruction | None]] = []
    for share in plan.shares:
        f = facts[share.victim]
        new: BankInstruction | None = None
        if share.amount > 0 and f.payee is not None:
            new = BankInstruction(
                case_id=hold.case_id, kind=RETURN_KIND, bank_code=hold.bank_code, account=hold.account,
                currency=hold.currency, requested_amount=share.amount, major_case=False,
                status=PENDING_APPROVAL if direct else NOTICE, renewals=0, message_id=str(uuid.uuid4()),
                requested_by_id=actor.user_id, created_at=now, target_instruction_id=hold.id,
                payee_account=f.payee.account, payee_bank=f.payee.bank, payee_name=f.payee.name,
                basis=plan.basis.value, notice_until=notice_until, answer="{}", last_error="")
            session.add(new)
        written.append((share, f, new))
    session.flush()
    shares = [ProposedShare(
        victim=share.victim, name=f.payee.name if f.payee else None, loss=share.loss,
        attributed={p.value: a for p, a in f.held.items()}, amount=share.amount, payee=f.payee,
        instruction_id=row.id if row else None, status=row.status if row else None,
        unsent=f.why_unsent if share.amount > 0 and row is None else None) for share, f, row in written]
    audit.append(session, actor, "bank.return_proposed", "case", case_number, {
        "hold": hold.id, "bank": hold.bank_code, "account": hold.account, "currency": hold.currency,
        "held": amount_str(plan.held, plan.currency), "basis": plan.basis.value,
        "returned": amount_str(plan.returned, plan.currency), "kept": amount_str(plan.kept, plan.currency),
        "notice_until": notice_until.isoformat() if notice_until else None,
        "shares": [{"victim": s.victim, "amount": amount_str(s.amount, plan.currency),
                    "loss": amount_str(s.loss, plan.currency), "return": s.instruction_id, "unsent": s.unsent}
                   for s in shares],
    }, at=now)
    return Proposal(hold_id=hold.id, plan=plan, shares=shares, cancelled=cancelled, notice_until=notice_until)


def approve_return(session: Session, actor: Actor, instruction: BankInstruction, *, case_number: str,
                   now: datetime, signer: SigningKey, rules: ReturnRules = ReturnRules(),
                   by_hand: bool = False) -> BankInstruction:
    """A supervisor sends a proposed return: the signed Return enters the outbox; the bank has 3 working days."""
    _require_supervisor(actor, "approve")
    _require_return(instruction)
    if instruction.status == DISPUTED:
        raise Conflict(f"return {instruction.id} is disputed: an objection was raised during the public notice; "
                       "cancel it, or plan the freeze's returns again")
    if instruction.status == NOTICE and instruction.notice_until is not None and now < instruction.notice_until:
        raise Conflict(f"the public notice of return {instruction.id} runs until {_local(instruction.notice_until)}; "
                       "a pro rata return is approved only after it ends")
    if instruction.status not in (PENDING_APPROVAL, NOTICE):
        raise Conflict(f"return {instruction.id} is {instruction.status}; only a proposed return can be approved")
    assert instruction.target_instruction_id is not None and instruction.requested_amount is not None
    hold = session.get(BankInstruction, instruction.target_instruction_id, with_for_update=True)
    assert hold is not None  # the foreign key keeps it
    _check_hold(hold)
    assert hold.held_amount is not None
    sending = sum((r.requested_amount or Decimal(0) for r in returns_of_hold(session, hold.id)
                   if r.status in IN_FLIGHT and r.id != instruction.id), Decimal(0))
    if sending + instruction.requested_amount > hold.held_amount:
        cur = hold.currency
        need = amount_str(instruction.requested_amount, cur)
        raise Conflict(f"the freeze holds {amount_str(hold.held_amount, cur)} {cur} and returns already sent take "
                       f"{amount_str(sending, cur)}; this return needs {need}: plan the returns again")
    assert instruction.payee_account and instruction.payee_bank and instruction.payee_name and instruction.basis
    body = m.Return(case_number=case_number, officer=actor.username, target_id=hold.message_id,
                    account=instruction.account, bank_code=instruction.bank_code,
                    amount=instruction.requested_amount, currency=instruction.currency,
                    payee_account=instruction.payee_account, payee_bank=instruction.payee_bank,
                    payee_name=instruction.payee_name, basis=Basis(instruction.basis).value)
    # The return's own id is its message id: the bank's ReturnResult names it.
    message = instructions._enqueue(session, instruction, body, now, signer, key=instruction.message_id)
    instruction.status = QUEUED
    if by_hand:  # a bank without a system link: its liaison executes it from the inbox
        message.status = "inbox"
        instruction.status, instruction.sent_at = SENT, now
    instruction.approved_by_id = actor.user_id
    # Sent as soon as the dispatcher runs, so the bank's 3 working days count from now.
    instruction.due_at = add_working_days(now, rules.working_days, rules.timezone)
    audit.append(session, actor, "bank.return_approved", "case", case_number, {
        "instruction": instruction.id, "hold": hold.id, "amount": amount_str(instruction.requested_amount,
                                                                          instruction.currency),
        "currency": instruction.currency, "payee_bank": instruction.payee_bank,
        "payee_account": instruction.payee_account, "basis": instruction.basis,
        "due_at": instruction.due_at.isoformat(),
    }, at=now)
    return instruction


def object_to_return(session: Session, actor: Actor, instruction: BankInstruction, *, case_number: str, text: str,
                     now: datetime) -> BankInstruction:
    """Record an objection heard during the public notice: the return is disputed until a supervisor decides."""
    _require_officer(actor)
    _require_return(instruction)
    text = text.strip()
    if not 2 <= len(text) <= 500:
        raise InvalidInput("say what the objection is (2 to 500 characters)", field="text")
    if instruction.status not in (NOTICE, DISPUTED):
        raise Conflict(f"return {instruction.id} is {instruction.status}; objections are heard only during the "
                       "public notice of a pro rata return")
    if instruction.notice_until is not None and now >= instruction.notice_until:
        raise Conflict(f"the public notice of return {instruction.id} ended at {_local(instruction.notice_until)}")
    instruction.status = DISPUTED
    audit.append(session, actor, "bank.return_objected", "case", case_number,
                 {"instruction": instruction.id, "text": text}, at=now)
    return instruction


def cancel_return(session: Session, actor: Actor, instruction: BankInstruction, *, case_number: str, reason: str,
                  now: datetime) -> BankInstruction:
    """A supervisor drops a proposed (or disputed) return; the money stays frozen."""
    _require_supervisor(actor, "cancel")
    _require_return(instruction)
    reason = reason.strip()
    if not 2 <= len(reason) <= 500:
        raise InvalidInput("say why the return is cancelled (2 to 500 characters)", field="reason")
    if instruction.status not in OPEN:
        raise Conflict(f"return {instruction.id} is {instruction.status}; only a return not yet sent can be cancelled")
    instruction.status = CANCELLED
    audit.append(session, actor, "bank.return_cancelled", "case", case_number,
                 {"instruction": instruction.id, "reason": reason}, at=now)
    return instruction


def apply_answer(session: Session, instruction: BankInstruction, answer: m.Envelope, now: datetime,
                 case_number: str) -> BankInstruction:
    """The bank's ReturnResult: the money went back (the freeze holds that much less) or it was refused."""
    body = answer.typed_body()
    wire = json.dumps(answer.to_wire(), ensure_ascii=False)
    if isinstance(body, m.ReturnResult) and body.status == "returned":
        if body.currency != instruction.currency:
            return _settle(session, instruction, now, case_number, wire, answer.type, None, failed=(
                f"the bank answered in {body.currency}, the return was in {instruction.currency}"))
        return _settle(session, instruction, now, case_number, wire, answer.type, body.returned_amount,
                       executed_at=body.executed_at)
    reason = getattr(body, "reason", None) or getattr(body, "message", None) or "refused without a reason"
    return _settle(session, instruction, now, case_number, wire, answer.type, None, refused=str(reason))


def answer_by_hand(session: Session, actor: Actor, instruction: BankInstruction, *, case_number: str,
                   returned: bool, amount: Decimal | None, reason: str, now: datetime) -> BankInstruction:
    """A bank liaison records that the bank executed a return (and how much) or refused it, in the console."""
    _require_return(instruction)
    if instruction.status in SETTLED:
        raise Conflict(f"return {instruction.id} is already {instruction.status}")
    if returned:
        if amount is None or amount <= 0:
            raise Conflict("say how much the bank returned")
        if instruction.requested_amount is not None and amount > instruction.requested_amount:
            cur = instruction.currency
            raise Conflict(f"the bank returned {amount_str(amount, cur)} {cur}, more than the "
                           f"{amount_str(instruction.requested_amount, cur)} {cur} instructed")
    elif not reason.strip():
        raise Conflict("a refusal needs the bank's reason")
    wire = json.dumps({"by_hand": actor.username, "org": actor.org_code, "returned": returned,
                       "amount": str(amount) if amount is not None else None, "reason": reason.strip()},
                      ensure_ascii=False)
    if returned:
        return _settle(session, instruction, now, case_number, wire, "by_hand", amount, executed_at=now)
    return _settle(session, instruction, now, case_number, wire, "by_hand", None, refused=reason.strip())


def _settle(session: Session, instruction: BankInstruction, now: datetime, case_number: str, answer: str,
            answer_type: str, returned: Decimal | None, *, executed_at: datetime | None = None,
            refused: str | None = None, failed: str | None = None) -> BankInstruction:
    """Record a return's outcome once: the money moved (the freeze holds that much less), or it did not."""
    details: dict[str, Any] = {"instruction": instruction.id, "bank": instruction.bank_code, "answer": answer_type}
    if instruction.status in SETTLED:
        # A repeated answer (the bank answers a resend with its first answer): the money moved once.
        audit.append(session, None, "bank.return_answered", "case", case_number, {**details, "repeat": True})
        return instruction
    instruction.answered_at = now
    instruction.answer = answer
    if returned is not None:
        instruction.status = RETURNED
        instruction.returned_amount = returned
        hold = session.get(BankInstruction, instruction.target_instruction_id, with_for_update=True) \
            if instruction.target_instruction_id is not None else None
        if hold is not None and hold.held_amount is not None:
            # What is left stays frozen; the bank's own books are the truth, this keeps the figure in step.
            hold.held_amount = max(Decimal(0), hold.held_amount - returned)
        details.update(status=RETURNED, returned=amount_str(returned, instruction.currency),
                       currency=instruction.currency, executed_at=executed_at.isoformat() if executed_at else None,
                       hold=instruction.target_instruction_id,
                       hold_left=amount_str(hold.held_amount, hold.currency) if hold and hold.held_amount is not None
                       else None)
    elif failed is not None:
        instruction.status = FAILED
        instruction.last_error = failed
        details.update(status=FAILED, error=failed)
    else:
        instruction.status = REJECTED
        instruction.last_error = (refused or "refused without a reason")[:2000]
        details.update(status=REJECTED, reason=instruction.last_error)
    audit.append(session, None, "bank.return_answered", "case", case_number, details)
    return instruction


# ---- reading -------------------------------------------------------------------------------------------------

def _amount(value: Decimal | None, currency: str) -> str | None:
    return amount_str(value, currency) if value is not None else None


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def objections_of(session: Session, case_number: str) -> dict[int, list[dict[str, str]]]:
    """Return id -> the objections recorded against it (the audit log is their record)."""
    rows = session.execute(
        select(AuditEntry).where(AuditEntry.object_id == case_number, AuditEntry.action == "bank.return_objected")
        .order_by(AuditEntry.id)
    ).scalars()
    out: dict[int, list[dict[str, str]]] = defaultdict(list)
    for entry in rows:
        details = json.loads(entry.details)
        out[int(details["instruction"])].append({"at": entry.at.isoformat(), "by": entry.actor,
                                                 "text": str(details.get("text", ""))})
    return out


def return_view(row: BankInstruction, now: datetime, objections: Sequence[dict[str, str]] = ()) -> dict[str, Any]:
    cur = row.currency
    overdue = row.status in IN_FLIGHT and row.due_at is not None and now > row.due_at
    return {
        "id": row.id, "hold": row.target_instruction_id, "bank": row.bank_code, "account": row.account,
        "currency": cur, "amount": _amount(row.requested_amount, cur), "basis": row.basis, "status": row.status,
        "payee_account": row.payee_account, "payee_bank": row.payee_bank, "payee_name": row.payee_name,
        "created_at": _iso(row.created_at), "notice_until": _iso(row.notice_until),
        "notice_running": row.status in (NOTICE, DISPUTED) and row.notice_until is not None and now < row.notice_until,
        "due_at": _iso(row.due_at), "overdue": overdue, "sent_at": _iso(row.sent_at),
        "answered_at": _iso(row.answered_at), "returned_amount": _amount(row.returned_amount, cur),
        "last_error": row.last_error or None, "objections": list(objections),
    }


def returns_of(session: Session, actor: Actor, case: Case, now: datetime | None = None) -> list[dict[str, Any]]:
    """The case's freezes and stop-payments with the returns from each; a bank liaison sees its own bank only.

    The caller has already been allowed the case.
    """
    now = now or datetime.now(UTC)
    query = select(BankInstruction).where(BankInstruction.case_id == case.id,
                                          BankInstruction.kind.in_([*HOLD_KINDS, RETURN_KIND]))
    if actor.role is Role.BANK_LIAISON:
        query = query.where(BankInstruction.bank_code == actor.org_short_code)
    rows = list(session.execute(query.order_by(BankInstruction.id)).scalars())
    by_hold: dict[int, list[BankInstruction]] = defaultdict(list)
    for row in rows:
        if row.kind == RETURN_KIND and row.target_instruction_id is not None:
            by_hold[row.target_instruction_id].append(row)
    objections = objections_of(session, case.number) if by_hold else {}
    holds = []
    for hold in rows:
        if hold.kind == RETURN_KIND or (hold.status != HoldStatus.ACTIVE.value and hold.id not in by_hold):
            continue
        cur = hold.currency
        returns = [return_view(r, now, objections.get(r.id, ())) for r in by_hold.get(hold.id, [])]
        returned = sum((r.returned_amount or Decimal(0) for r in by_hold.get(hold.id, []) if r.status == RETURNED),
                       Decimal(0))
        holds.append({
            "id": hold.id, "kind": hold.kind, "bank": hold.bank_code, "account": hold.account, "currency": cur,
            "status": hold.status, "held_amount": _amount(hold.held_amount, cur),
            "requested_amount": _amount(hold.requested_amount, cur), "expires_at": _iso(hold.expires_at),
            "returnable": hold.kind == HoldKind.FREEZE.value and hold.status == HoldStatus.ACTIVE.value
            and bool(hold.held_amount) and not any(r["status"] in IN_FLIGHT for r in returns),
            "returned_amount": amount_str(returned, cur), "returns": returns,
        })
    return holds


def proposal_view(proposal: Proposal) -> dict[str, Any]:
    plan, cur = proposal.plan, proposal.plan.currency
    return {
        "hold": proposal.hold_id, "basis": plan.basis.value, "currency": cur, "held": amount_str(plan.held, cur),
        "returned": amount_str(plan.returned, cur), "kept": amount_str(plan.kept, cur),
        "notice_until": _iso(proposal.notice_until), "cancelled": proposal.cancelled,
        "shares": [{
            "victim": s.victim, "name": s.name, "loss": amount_str(s.loss, cur), "amount": amount_str(s.amount, cur),
            "attributed": {p: amount_str(a, cur) for p, a in sorted(s.attributed.items())},
            "payee_account": s.payee.account if s.payee else None, "payee_bank": s.payee.bank if s.payee else None,
            "return": s.instruction_id, "status": s.status, "unsent": s.unsent,
        } for s in proposal.shares],
    }
