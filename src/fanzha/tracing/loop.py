"""The loop that follows the money: every bank answer can become the next layer's instructions.

It runs inside the dispatcher's transaction for the answer, so "the bank told us the money moved on" and
"we asked the next banks to stop it" commit together or not at all (a crash re-delivers the answer and the
loop runs again; queries and stops already asked are known and not asked twice).

    TransactionQueryResult -> store the legs -> trace the case's victims -> plan -> Stop / Query per account
    StopPaymentResult short of what was asked -> the account is stale -> plan asks its bank again
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from fanzha.audit import service as audit
from fanzha.auth.actor import Actor
from fanzha.banking import instructions
from fanzha.banking import messages as m
from fanzha.banking.instructions import ApprovalPolicy
from fanzha.banking.keys import SigningKey
from fanzha.banking.lifecycle import FINAL, HoldKind, HoldStatus
from fanzha.banking.models import BankInstruction
from fanzha.cases.models import Case
from fanzha.config import Settings
from fanzha.orgs.models import Organisation
from fanzha.tracing import store
from fanzha.tracing.engine import Policy, Trace, trace
from fanzha.tracing.ledger import AccountKey, Ledger
from fanzha.tracing.planner import Asked, Known, LoopSettings, Query, Stop, known_of, plan

log = logging.getLogger(__name__)

LIVE_STOP = frozenset(s.value for s in HoldStatus if s not in FINAL and s is not HoldStatus.RELEASING)
PENDING_STOP = frozenset({HoldStatus.PENDING_APPROVAL.value, HoldStatus.QUEUED.value, HoldStatus.SENT.value})


@dataclass(frozen=True, slots=True)
class TraceConfig:
    policy: Policy = Policy.LIBR
    window: timedelta = timedelta(hours=72)
    loop: LoopSettings = field(default_factory=LoopSettings)

    @classmethod
    def from_settings(cls, settings: Settings) -> TraceConfig:
        return cls(policy=Policy(settings.trace_policy), window=timedelta(hours=settings.trace_window_hours),
                   loop=LoopSettings(max_depth=settings.trace_max_depth, floor=settings.trace_floor))


@dataclass(frozen=True)
class CaseTrace:
    """The traces of one case's scope (one per currency) and what the assembly found."""

    traces: list[Trace]
    inputs: store.TraceInputs
    scope: list[int]


def case_trace(session: Session, case_id: int, config: TraceConfig) -> CaseTrace:
    scope = store.case_scope(session, case_id)
    inputs = store.build_inputs(session, scope)
    currencies = {r.txn_id: r.currency for r in inputs.rows}
    traces = []
    ledger = Ledger.from_rows(inputs.rows)
    for currency in sorted({currencies[v.txn_id] for v in inputs.victims}):
        victims = [v for v in inputs.victims if currencies[v.txn_id] == currency]
        traces.append(trace(ledger, victims, policy=config.policy, window=config.window,
                            max_depth=config.loop.max_depth, opening_balances=inputs.opening_balances))
    return CaseTrace(traces=traces, inputs=inputs, scope=scope)


def known_accounts(session: Session, case_ids: list[int]) -> dict[AccountKey, Known]:
    """What the center has already asked of each account, over every case traced together."""
    rows = session.execute(
        select(BankInstruction).where(BankInstruction.case_id.in_(case_ids),
                                      BankInstruction.kind.in_(("transaction_query", "stop_payment")))
        .order_by(BankInstruction.id)
    ).scalars()
    asked: dict[AccountKey, list[Asked]] = defaultdict(list)
    for row in rows:
        asked[(row.bank_code, row.account)].append(_asked(row))
    return {key: known_of(items) for key, items in asked.items()}


def _asked(row: BankInstruction) -> Asked:
    if row.kind == "transaction_query":
        failed = row.status == "failed"
        # A failed query counts as asked (the bank cannot tell more), or every answer would ask it again.
        return Asked(kind="query", pending=row.status in ("queued", "sent"),
                     answered_at=row.answered_at or (row.created_at if failed else None))
    return Asked(kind="stop", answered_at=row.answered_at, pending=row.status in PENDING_STOP,
                 live=row.status in LIVE_STOP, asked=row.requested_amount, held=row.held_amount,
                 rejected=row.status == HoldStatus.REJECTED.value)


@dataclass(frozen=True)
class TraceLoop:
    """Acts as the center's automatic-rules account; stops go through the same approval policy as the first."""

    actor: Actor
    signer: SigningKey
    policy: ApprovalPolicy
    config: TraceConfig

    def on_answer(self, session: Session, instruction: BankInstruction, answer: m.Envelope, case_number: str,
                  now: datetime) -> None:
        body = answer.typed_body()
        if isinstance(body, m.TransactionQueryResult):
            added = store.save_legs(session, case_id=instruction.case_id, instruction_id=instruction.id,
                                    source="bank", legs=store.legs_of_answer(instruction.bank_code, body))
            audit.append(session, None, "trace.statement", "case", case_number, {
                "instruction": instruction.id, "bank": instruction.bank_code, "account": instruction.account,
                "legs": len(body.transactions), "new": added,
            })
        elif not isinstance(body, m.StopPaymentResult):
            return
        elif body.status != "rejected" and instruction.requested_amount is not None \
                and body.held_amount >= instruction.requested_amount:
            return  # held in full: nothing moved on that the next layer needs to know
        self.advance(session, instruction.case_id, case_number, now)

    def advance(self, session: Session, case_id: int, case_number: str, now: datetime) -> list[int]:
        """Trace, plan and send the next queries and stops; returns the new instructions' ids."""
        # Answers for one case arrive in parallel: without this lock two loops would each plan from a
        # snapshot without the other's new instructions and stop the same money twice. Cases are locked in
        # id order so two cases traced together cannot deadlock each other; NO KEY UPDATE (not UPDATE) so
        # rows that merely reference the case (new instructions, ledger legs) do not wait on it.
        scope = store.case_scope(session, case_id)
        session.execute(select(Case.id).where(Case.id.in_(scope)).order_by(Case.id)
                        .with_for_update(key_share=True)).all()
        result = case_trace(session, case_id, self.config)
        known = known_accounts(session, result.scope)
        banks = known_banks(session)
        home = store.victims_own_accounts(session, result.scope)
        issued: list[int] = []
        steps: list[dict[str, Any]] = []
        for tr in result.traces:
            for action in plan(tr, known, self.config.loop):
                bank, account = action.account
                if bank not in banks:
                    steps.append({"skipped": f"{bank}/{account}", "why": "unknown bank"})
                    continue
                if account in home:  # returned (or refunded) to the victim: never stop a victim's own account
                    steps.append({"skipped": f"{bank}/{account}", "why": "a victim's own account"})
                    continue
                if isinstance(action, Stop):
                    ins = instructions.issue_hold(
                        session, self.actor, case_id=case_id, case_number=case_number, kind=HoldKind.STOP_PAYMENT,
                        bank_code=bank, account=account, amount=action.amount, currency=action.currency,
                        reason=f"电信网络诈骗案 {case_number} 涉案资金流入，按可追溯金额止付", now=now,
                        signer=self.signer, policy=self.policy)
                    steps.append({"stop": f"{bank}/{account}", "amount": str(action.amount),
                                  "currency": action.currency, "instruction": ins.id})
                else:
                    assert isinstance(action, Query)
                    ins = instructions.issue_query(
                        session, self.actor, case_id=case_id, case_number=case_number, kind="transaction_query",
                        bank_code=bank, account=account, currency=tr.currency, now=now, signer=self.signer,
                        since=action.since)
                    steps.append({"query": f"{bank}/{account}", "since": action.since.isoformat(),
                                  "instruction": ins.id})
                issued.append(ins.id)
        audit.append(session, self.actor, "trace.step", "case", case_number, {
            "scope": result.scope, "accounts": sum(len(t.accounts) for t in result.traces),
            "held": {t.currency: str(sum((t.held_total(a) for a in t.accounts), Decimal(0))) for t in result.traces},
            "actions": steps,
        })
        return issued


def known_banks(session: Session) -> set[str]:
    codes = session.execute(select(Organisation.short_code).where(Organisation.kind == "bank")).scalars()
    return {code for code in codes if code}


def case_number_of(session: Session, case_id: int) -> str:
    number = session.execute(select(Case.number).where(Case.id == case_id)).scalar_one()
    return str(number)
