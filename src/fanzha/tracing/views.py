"""A case's money flow as plain data: for the API (JSON) and the console's graph.

Node status, from what the banks answered and what the trace says:
``frozen`` / ``stopped`` (an active hold), ``pending`` (a stop asked, no answer yet), ``holding`` (victim money
is there and nothing holds it: act now), ``cashed_out`` (victim money left here as cash), ``clean`` (it passed
through and none is left). Cash-out points are sink nodes of their own, so a loss is visible as an edge.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from fanzha.banking.lifecycle import HoldStatus
from fanzha.banking.models import BankInstruction
from fanzha.money import amount_str
from fanzha.tracing.engine import Trace
from fanzha.tracing.ledger import AccountKey
from fanzha.tracing.loop import CaseTrace

STATUS_ORDER = ("holding", "pending", "stopped", "frozen", "cashed_out", "clean")


def account_id(key: AccountKey) -> str:
    return f"{key[0]}/{key[1]}"


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


@dataclass(frozen=True, slots=True)
class AccountHolds:
    active_stop: Decimal = Decimal(0)
    active_freeze: Decimal = Decimal(0)
    pending: bool = False
    instruction_ids: tuple[int, ...] = ()


def holds_by_account(session: Session, case_ids: list[int]) -> dict[AccountKey, AccountHolds]:
    rows = session.execute(select(BankInstruction).where(BankInstruction.case_id.in_(case_ids))
                           .order_by(BankInstruction.id)).scalars()
    acc: dict[AccountKey, dict[str, Any]] = defaultdict(lambda: {"stop": Decimal(0), "freeze": Decimal(0),
                                                                   "pending": False, "ids": []})
    for row in rows:
        a = acc[(row.bank_code, row.account)]
        a["ids"].append(row.id)
        if row.status == HoldStatus.ACTIVE.value:
            a["stop" if row.kind == "stop_payment" else "freeze"] += row.held_amount or Decimal(0)
        elif row.kind in ("stop_payment", "freeze") and row.status in ("queued", "sent", "pending_approval"):
            a["pending"] = True
    return {k: AccountHolds(v["stop"], v["freeze"], v["pending"], tuple(v["ids"])) for k, v in acc.items()}


def node_status(held: Decimal, holds: AccountHolds | None, cashed: bool) -> str:
    if holds is not None and holds.active_freeze > 0:
        return "frozen"
    if holds is not None and holds.active_stop > 0:
        return "stopped"
    if holds is not None and holds.pending:
        return "pending"
    if held > 0:
        return "holding"
    return "cashed_out" if cashed else "clean"


def trace_view(tr: Trace, result: CaseTrace, holds: dict[AccountKey, AccountHolds]) -> dict[str, Any]:
    """One currency's trace: accounts (nodes), flows (edges), losses and per-victim sums."""
    cur = tr.currency
    cashed = {loss.account for loss in tr.losses}
    nodes = []
    for key, acct in sorted(tr.accounts.items(), key=lambda kv: (kv[1].depth, kv[0])):
        held_total = tr.held_total(key)
        nodes.append({
            "id": account_id(key), "bank": key[0], "account": key[1], "depth": acct.depth,
            "first_tainted_at": _iso(acct.first_tainted_at), "last_tainted_at": _iso(acct.last_tainted_at),
            "received": {v: amount_str(a, cur) for v, a in acct.received.items()},
            "held": {v: amount_str(a, cur) for v, a in acct.held.items()},
            "held_total": amount_str(held_total, cur),
            "statement": key in result.inputs.covered,
            "status": node_status(held_total, holds.get(key), key in cashed),
            "instructions": list(holds[key].instruction_ids) if key in holds else [],
        })
    flows = [{
        "txn_id": f.txn_id, "at": _iso(f.at), "from": account_id(f.from_account) if f.from_account else None,
        "to": account_id(f.to_account) if f.to_account else None, "amount": amount_str(f.amount, cur),
        "channel": f.channel, "attributed": {v: amount_str(a, cur) for v, a in f.attributed.items()},
        "attributed_total": amount_str(sum(f.attributed.values(), Decimal(0)), cur),
    } for f in tr.flows]
    return {
        "currency": cur, "policy": tr.policy.value,
        "victims": [{
            "victim": v.victim_id, "case": result.inputs.victim_case.get(v.victim_id),
            "credit_source": result.inputs.credit_source.get(v.victim_id),
            **{k: amount_str(a, cur) for k, a in tr.summary(v.victim_id).items()},
        } for v in tr.victims],
        "accounts": nodes, "flows": flows,
        "losses": [{"victim": x.victim_id, "account": account_id(x.account), "amount": amount_str(x.amount, cur),
                    "channel": x.channel, "txn_id": x.txn_id, "at": _iso(x.at)} for x in tr.losses],
        "unfollowed": [{"victim": x.victim_id, "from": account_id(x.from_account),
                        "to": account_id(x.to_account) if x.to_account else None,
                        "amount": amount_str(x.amount, cur), "reason": x.reason, "txn_id": x.txn_id,
                        "at": _iso(x.at)} for x in tr.unfollowed],
    }


def evidence_view(tr: Trace, key: AccountKey) -> dict[str, list[list[dict[str, Any]]]]:
    """For each victim with money in the account: the paths of transactions that brought it there."""
    acct = tr.accounts.get(key)
    if acct is None:
        return {}
    cur = tr.currency
    return {victim: [[{"txn_id": f.txn_id, "at": _iso(f.at),
                       "from": account_id(f.from_account) if f.from_account else None,
                       "to": account_id(f.to_account) if f.to_account else None,
                       "amount": amount_str(f.attributed.get(victim, Decimal(0)), cur)} for f in path]
                     for path in tr.evidence(key, victim)]
            for victim in acct.received}
