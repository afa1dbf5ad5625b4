"""A case's money flow for the duty officer: the graph per currency, the accounts to stop, one account's details.

The trace names accounts at every bank the money reached, so these pages are for the center's duty officers
and supervisors only; anyone else gets the same 404 as for a case they cannot see (as the trace API does).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from fanzha.auth.actor import Actor
from fanzha.auth.dependencies import DbDep, SettingsDep
from fanzha.auth.models import Role
from fanzha.banking.queries import instructions_of
from fanzha.cases import queries
from fanzha.cases.models import Case
from fanzha.config import Settings
from fanzha.errors import NotFound
from fanzha.money import amount_str
from fanzha.storage.db import Database
from fanzha.tracing import store
from fanzha.tracing.engine import Trace
from fanzha.tracing.ledger import AccountKey
from fanzha.tracing.loop import CaseTrace, TraceConfig, case_trace
from fanzha.tracing.views import STATUS_ORDER, account_id, evidence_view, holds_by_account, trace_view
from fanzha.web.console import ConsoleRoute, PageActor
from fanzha.web.flow_svg import Credit, Layout, display_account, layout, plain_amount, split_account_id
from fanzha.web.templating import render

router = APIRouter(route_class=ConsoleRoute, include_in_schema=False)

TRACERS = frozenset({Role.DUTY_OFFICER, Role.SUPERVISOR})
UNKNOWN_BANK = "-"  # an account whose bank is not known yet ("" bank code) in URLs
# The officer's to-do: victim money is there and no hold is in force yet.
TODO_STATUSES = ("holding", "pending")


def _case(session: Session, actor: Actor, number: str) -> Case:
    if actor.role not in TRACERS:
        raise NotFound(f"no case {number}")  # the very answer a case outside one's view gets
    return queries.get_case(session, actor, number, audit_read=False)


def panel_url(case_number: str, account: str) -> str:
    """Where one account's side panel is: ``/cases/SH…/flow/accounts/ABC/6228…``."""
    bank, number = split_account_id(account)
    segments = [quote(part, safe="") for part in (case_number, bank or UNKNOWN_BANK, number)]
    return "/cases/{}/flow/accounts/{}/{}".format(*segments)


@dataclass
class CurrencyFlow:
    """One currency's trace as the page shows it."""

    view: dict[str, Any]
    graph: Layout
    todo: list[dict[str, Any]]
    totals: dict[str, Decimal] = field(default_factory=dict)

    @property
    def currency(self) -> str:
        return str(self.view["currency"])


def _credits(tr: Trace, result: CaseTrace) -> list[Credit]:
    rows = {r.txn_id: r for r in result.inputs.rows}
    credits = []
    for victim in tr.victims:
        row = rows.get(victim.txn_id)
        if row is not None and row.to_account is not None:
            credits.append(Credit(victim=victim.victim_id, to=account_id(row.to_account),
                                  amount=amount_str(row.amount, tr.currency), at=row.at.isoformat(),
                                  txn_id=victim.txn_id))
    return credits


def _todo(view: dict[str, Any]) -> list[dict[str, Any]]:
    """Accounts still holding victim money that nothing holds yet: not stopped first, biggest first."""
    items = [a for a in view["accounts"] if a["status"] in TODO_STATUSES and Decimal(a["held_total"]) > 0]
    return sorted(items, key=lambda a: (TODO_STATUSES.index(a["status"]), -Decimal(a["held_total"]), a["depth"],
                                        a["id"]))


def _totals(view: dict[str, Any]) -> dict[str, Decimal]:
    return {k: sum((Decimal(v[k]) for v in view["victims"]), Decimal(0))
            for k in ("credit", "held", "lost", "unfollowed")}


def _trace(session: Session, case: Case, settings: Settings) -> tuple[CaseTrace, list[dict[str, Any]]]:
    """The case's trace (its scope, one per currency) and each currency's plain view of it."""
    result = case_trace(session, case.id, TraceConfig.from_settings(settings))
    holds = holds_by_account(session, result.scope)
    return result, [trace_view(tr, result, holds) for tr in result.traces]


def _drawn(result: CaseTrace, views: list[dict[str, Any]]) -> list[CurrencyFlow]:
    return [CurrencyFlow(view=view, graph=layout(view, _credits(tr, result)), todo=_todo(view), totals=_totals(view))
            for tr, view in zip(result.traces, views, strict=True)]


def _case_numbers(session: Session, case_ids: list[int]) -> dict[int, str]:
    rows = session.execute(select(Case.id, Case.number).where(Case.id.in_(case_ids))).all()
    return {case_id: str(number) for case_id, number in rows}


def _account_key(bank: str, account: str) -> AccountKey:
    return ("" if bank == UNKNOWN_BANK else bank, account)


def _panel(session: Session, actor: Actor, case: Case, result: CaseTrace, views: list[dict[str, Any]],
           key: AccountKey) -> dict[str, Any]:
    """One account: where it stands per currency, its statement legs, its instructions, the evidence paths."""
    wanted = account_id(key)
    standing = [{"currency": v["currency"], **a} for v in views for a in v["accounts"] if a["id"] == wanted]
    legs: list[dict[str, Any]] = []
    seen: set[str] = set()
    numbers = _case_numbers(session, result.scope)
    for entry in store.entries_of(session, result.scope):
        if (entry.bank_code, entry.account) != key or entry.txn_id in seen:
            continue
        seen.add(entry.txn_id)
        counterparty = f"{entry.counterparty_bank or ''}/{entry.counterparty_account}" \
            if entry.counterparty_account else None
        legs.append({
            "txn_id": entry.txn_id, "at": entry.at.isoformat(), "direction": entry.direction,
            "amount": amount_str(entry.amount, entry.currency), "currency": entry.currency,
            "amount_text": plain_amount(entry.amount, entry.currency),
            "balance_text": plain_amount(entry.balance_after, entry.currency) if entry.balance_after is not None
            else None,
            "counterparty_bank": entry.counterparty_bank or "", "counterparty_account": entry.counterparty_account,
            "counterparty": counterparty, "channel": entry.channel,
            "balance_after": amount_str(entry.balance_after, entry.currency) if entry.balance_after is not None
            else None, "source": entry.source, "case": numbers.get(entry.case_id, ""),
        })
    instructions = []
    cases = session.execute(select(Case).where(Case.id.in_(result.scope)).order_by(Case.id)).scalars()
    for other in cases:
        for ins in instructions_of(session, actor, other):
            if (ins["bank"], ins["account"]) == key:
                instructions.append({**ins, "case": other.number})
    evidence = []
    for tr in result.traces:
        for victim, paths in evidence_view(tr, key).items():
            if paths:
                evidence.append({"currency": tr.currency, "victim": victim,
                                 "case": result.inputs.victim_case.get(victim, victim), "paths": paths})
    if not standing and not legs and not instructions:
        raise NotFound(f"no account {wanted} in the money flow of case {case.number}")
    currencies = [s["currency"] for s in standing] or [leg["currency"] for leg in legs] or [""]
    return {"id": wanted, "bank": key[0], "account": key[1], "account_text": display_account(key[1]),
            "currency": currencies[0],
            "standing": standing, "legs": legs, "instructions": instructions, "evidence": evidence}


def _page(request: Request, actor: Actor, db: Database, settings: Settings, number: str,
          selected: AccountKey | None = None) -> Response:
    with db.read() as session:
        case = _case(session, actor, number)
        result, views = _trace(session, case, settings)
        panel = _panel(session, actor, case, result, views, selected) if selected is not None else None
    flows = _drawn(result, views)
    return render(request, "case_flow.html", actor, case_number=case.number, case_status=case.status,
                  flows=flows, statements=bool(result.inputs.covered), scope_cases=len(result.scope),
                  panel=panel, panel_url=panel_url, status_order=STATUS_ORDER)


@router.get("/cases/{number}/flow")
def case_flow(request: Request, number: str, actor: PageActor, db: DbDep, settings: SettingsDep) -> Response:
    return _page(request, actor, db, settings, number)


@router.get("/cases/{number}/flow/accounts/{bank}/{account}")
def flow_account(request: Request, number: str, bank: str, account: str, actor: PageActor, db: DbDep,
                 settings: SettingsDep) -> Response:
    """The side panel (htmx); opened as a page of its own (no script, a new tab) it is the whole flow page."""
    key = _account_key(bank, account)
    if request.headers.get("hx-request") != "true":
        return _page(request, actor, db, settings, number, selected=key)
    try:
        with db.read() as session:
            case = _case(session, actor, number)
            result, views = _trace(session, case, settings)
            panel = _panel(session, actor, case, result, views, key)
    except NotFound:
        # htmx swaps only 2xx answers: say it in the panel (the same words for a case one may not see).
        return render(request, "partials/flow_panel_missing.html", actor)
    return render(request, "partials/flow_panel.html", actor, case_number=case.number, panel=panel,
                  panel_url=panel_url)
