"""HTTP API for following a case's money: the trace, the statements behind it, queries and the loop by hand.

The trace names accounts at every bank the money reached, so it is for the center's officers only; a bank
or carrier liaison gets the same 404 as for a case they cannot see.
"""

from __future__ import annotations

import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlalchemy.orm import Session

from fanzha.audit import service as audit
from fanzha.auth.actor import Actor
from fanzha.auth.dependencies import ActorDep, DbDep, SettingsDep
from fanzha.auth.models import Role
from fanzha.banking import instructions
from fanzha.banking.first_move import policy_for
from fanzha.banking.runtime import signer_for
from fanzha.cases import queries
from fanzha.cases.models import Case
from fanzha.cases.normalize import account_number
from fanzha.errors import InvalidInput, NotFound
from fanzha.http import Moment, refuse_nul
from fanzha.money import check_currency
from fanzha.tracing import store
from fanzha.tracing.csv_ledger import load_csv
from fanzha.tracing.loop import TraceConfig, TraceLoop, case_trace, known_banks
from fanzha.tracing.views import evidence_view, holds_by_account, trace_view

router = APIRouter(prefix="/api/v1", tags=["tracing"], dependencies=[Depends(refuse_nul)])

TRACERS = frozenset({Role.DUTY_OFFICER, Role.SUPERVISOR})
MAX_CSV_BYTES = 50_000_000


def _case(session: Session, actor: Actor, number: str) -> Case:
    case = queries.get_case(session, actor, number, audit_read=False)
    if actor.role not in TRACERS:
        raise NotFound(f"no case {number}")  # same answer as a case they cannot see
    return case


def _account_key(value: str) -> tuple[str, str]:
    bank, sep, account = value.partition("/")
    if not sep or not bank or not account:
        raise InvalidInput("give the account as BANK/ACCOUNT, e.g. ICBC/6222020200112233445", field="account")
    return bank.upper(), account


@router.get("/cases/{number}/trace")
def get_trace(number: str, actor: ActorDep, db: DbDep, settings: SettingsDep,
              account: str | None = None) -> dict[str, Any]:
    """Where each victim's money is now: accounts with the amount attributable per victim, flows, losses.

    With ``account=BANK/ACCOUNT`` the answer adds, per victim, the evidence paths into that account.
    """
    with db.read() as session:
        case = _case(session, actor, number)
        result = case_trace(session, case.id, TraceConfig.from_settings(settings))
        holds = holds_by_account(session, result.scope)
        body: dict[str, Any] = {"case": case.number, "traces": [trace_view(t, result, holds) for t in result.traces]}
        if account is not None:
            key = _account_key(account)
            body["evidence"] = {t.currency: evidence_view(t, key) for t in result.traces}
        return body


@router.get("/cases/{number}/ledger")
def get_ledger(number: str, actor: ActorDep, db: DbDep, account: str | None = None) -> dict[str, Any]:
    """The statement legs behind the case's trace (optionally one account's), oldest first."""
    with db.read() as session:
        case = _case(session, actor, number)
        entries = store.entries_of(session, [case.id])
        if account is not None:
            key = _account_key(account)
            entries = [e for e in entries if (e.bank_code, e.account) == key]
        return {"items": [{
            "bank": e.bank_code, "account": e.account, "txn_id": e.txn_id, "at": e.at.isoformat(),
            "direction": e.direction, "amount": str(e.amount), "currency": e.currency,
            "counterparty_bank": e.counterparty_bank, "counterparty_account": e.counterparty_account,
            "channel": e.channel, "balance_after": str(e.balance_after) if e.balance_after is not None else None,
            "source": e.source,
        } for e in entries]}


@router.post("/cases/{number}/ledger")
async def load_ledger(number: str, request: Request, actor: ActorDep, db: DbDep) -> dict[str, Any]:
    """An analyst's CSV of transactions (AML-style columns) added to the case; bad rows come back by line."""
    raw = await request.body()
    if not raw.strip():
        raise InvalidInput("send the CSV file as the request body", field="body")
    if len(raw) > MAX_CSV_BYTES:
        raise InvalidInput(f"at most {MAX_CSV_BYTES} bytes per upload; split the file", field="body")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "ledger.csv"
        path.write_bytes(raw)
        try:
            loaded = load_csv(path)
        except ValueError as exc:
            raise InvalidInput(str(exc), field="body") from exc
    with db.transaction() as session:
        case = _case(session, actor, number)
        legs = [leg for row in loaded.ledger.rows() for leg in store.legs_of_row(row)]
        added = store.save_legs(session, case_id=case.id, instruction_id=None, source="csv", legs=legs)
        audit.append(session, actor, "trace.ledger_loaded", "case", case.number, {
            "rows": loaded.rows_read, "legs_added": added, "bad_rows": len(loaded.errors),
        })
    return {"rows_read": loaded.rows_read, "legs_added": added,
            "errors": [{"line": e.line, "reason": e.reason} for e in loaded.errors]}


class QueryIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: Literal["transaction_query", "account_query"]
    bank_code: str = Field(min_length=2, max_length=32)
    account: str = Field(min_length=6, max_length=40, pattern=r"^[0-9A-Za-z-]+$")
    currency: str = Field(default="CNY", min_length=3, max_length=3)
    since: Moment | None = Field(default=None, description="transaction_query: details from this time")

    @field_validator("account")
    @classmethod
    def _account(cls, value: str) -> str:
        return account_number(value)  # the bank's form: upper case, no separators

    @field_validator("currency")
    @classmethod
    def _currency(cls, value: str) -> str:
        return check_currency(value)


@router.post("/cases/{number}/queries", status_code=201)
def ask_bank(number: str, body: QueryIn, actor: ActorDep, db: DbDep, request: Request) -> dict[str, Any]:
    """Ask a bank for an account's transactions (TransactionQuery) or its holder and balances (AccountQuery)."""
    if body.kind == "transaction_query" and body.since is None:
        raise InvalidInput("a transaction query needs since (the time from which to list)", field="since")
    with db.transaction() as session:
        case = _case(session, actor, number)
        bank = body.bank_code.upper()
        if bank not in known_banks(session):
            raise InvalidInput(f"unknown bank code {bank}", field="bank_code")
        ins = instructions.issue_query(session, actor, case_id=case.id, case_number=case.number, kind=body.kind,
                                       bank_code=bank, account=body.account, currency=body.currency,
                                       now=datetime.now(UTC), signer=signer_for(request.app), since=body.since)
        return {"id": ins.id, "status": ins.status}


@router.post("/cases/{number}/trace/advance")
def advance(number: str, actor: ActorDep, db: DbDep, settings: SettingsDep, request: Request) -> dict[str, Any]:
    """Run the loop now, as this officer: stop what the trace attributes and query what it has not seen."""
    with db.transaction() as session:
        case = _case(session, actor, number)
        loop = TraceLoop(actor=actor, signer=signer_for(request.app), policy=policy_for(settings),
                         config=TraceConfig.from_settings(settings))
        issued = loop.advance(session, case.id, case.number, datetime.now(UTC))
        return {"issued": issued}

