"""HTTP face of the simulated banks: the message endpoint the center talks to, and admin endpoints for tests.

    POST /banks/{bank_code}/messages   signed instruction in, signed answer out
    GET  /healthz
    POST /admin/accounts               open an account        GET /admin/accounts/{bank}/{account}
    POST /admin/transactions           move money (a hold blocks what it holds)
    POST /admin/faults                 arm a fault            GET, DELETE /admin/faults
    GET  /admin/stats                  received / applied / duplicates suppressed per bank
    POST /admin/clock                  push the simulated time forward
    POST /admin/latency                change the answer latency

Admin endpoints answer loopback clients only. Every handler is ``async def`` so they all run on the event
loop's one thread and never interleave inside the books.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any

from fastapi import Depends, FastAPI, HTTPException, Request, Response
from fastapi.responses import JSONResponse
from pydantic import AwareDatetime, Field

from fanzha.banking import messages as m
from fanzha.banking.signing import verify_and_parse
from sim.banks.faults import ANY_BANK, FaultMode
from sim.banks.ledger import Account, AccountStatus, Channel, Hold, LedgerError, Transaction
from sim.banks.service import BankService
from sim.endpoint import StrictModel, add_admin_routes, arm_fault, loopback_only, new_app, serve_message


class NewAccount(StrictModel):
    bank: str
    account: m.Account
    holder_name: Annotated[str, Field(min_length=1, max_length=64)]
    id_masked: Annotated[str, Field(max_length=32)] = "***"
    balances: dict[m.Currency, m.NonNegativeAmount] = Field(default_factory=dict)
    status: AccountStatus = AccountStatus.ACTIVE


class Party(StrictModel):
    bank: str
    account: m.Account


class Movement(StrictModel):
    """``from`` null: money from outside (a deposit); ``to`` null: money leaving (cash, abroad...)."""

    from_: Party | None = Field(default=None, alias="from")
    to: Party | None = None
    amount: m.Amount
    currency: m.Currency = "CNY"
    channel: Channel = Channel.TRANSFER
    at: AwareDatetime | None = None
    counterparty_name: Annotated[str, Field(max_length=64)] = ""
    memo: Annotated[str, Field(max_length=200)] = ""


class FaultRequest(StrictModel):
    bank: str = ANY_BANK
    mode: FaultMode
    count: Annotated[int, Field(ge=1, le=1_000_000)] = 1
    delay_ms: Annotated[int, Field(ge=0, le=600_000)] | None = None


class ClockRequest(StrictModel):
    advance_seconds: Annotated[float, Field(ge=0)]


def _money(value: Decimal) -> str:
    return format(value, "f")


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def transaction_view(t: Transaction) -> dict[str, Any]:
    return {"txn_id": t.id, "bank": t.bank_code, "account": t.account, "direction": t.direction.value,
            "amount": _money(t.amount), "currency": t.currency, "at": _iso(t.at), "channel": t.channel.value,
            "counterparty_bank": t.counterparty_bank, "counterparty_account": t.counterparty_account,
            "counterparty_name": t.counterparty_name, "balance_after": _money(t.balance_after), "memo": t.memo}


def hold_view(h: Hold) -> dict[str, Any]:
    return {"hold_id": h.id, "kind": h.kind.value, "state": h.state.value, "whole_account": h.whole,
            "currency": h.currency, "requested": None if h.requested is None else _money(h.requested),
            "amount": _money(h.amount), "placed_at": _iso(h.placed_at), "expires_at": _iso(h.expires_at),
            "ended_at": _iso(h.ended_at), "renewals": h.renewals, "major_case": h.major_case,
            "case_number": h.case_number, "instruction_id": h.reference}


def create_app(service: BankService) -> FastAPI:
    app = new_app("Simulated banks", service)

    def known_bank(code: str) -> str:
        if code not in service.signers:
            raise HTTPException(404, f"no simulated bank {code}")
        return code

    def refusal(exc: LedgerError) -> JSONResponse:
        status = 404 if exc.code in ("no_such_account", "no_such_hold") else 409
        return JSONResponse({"error": exc.code, "message": exc.message}, status_code=status)

    def account_view(a: Account) -> dict[str, Any]:
        ledger = service.ledger
        currencies = sorted(a.balances)
        return {
            "bank": a.bank_code, "account": a.number, "holder_name": a.holder_name, "id_masked": a.id_masked,
            "status": a.status.value, "opened_at": _iso(a.opened_at),
            "balances": {c: _money(a.balance(c)) for c in currencies},
            "available": {c: _money(ledger.available(a.bank_code, a.number, c)) for c in currencies},
            "held": {c: _money(ledger.held(a.bank_code, a.number, c)) for c in currencies},
            "holds": [hold_view(h) for h in a.holds],
            "transactions": [transaction_view(t) for t in a.transactions],
        }

    @app.get("/healthz")
    async def healthz() -> dict[str, Any]:
        service.center_keys.ring()
        return {"ok": True, "banks": len(service.signers), "accounts": len(service.ledger.accounts),
                "now": service.clock().isoformat(), "center_keyring": service.center_keys.problem or "loaded"}

    @app.post("/banks/{bank_code}/messages")
    async def message(bank_code: str, request: Request) -> Response:
        if bank_code not in service.signers:
            return JSONResponse({"error": "unknown_bank", "message": f"no simulated bank {bank_code}"}, 404)
        return await serve_message(service, bank_code, request, counters=service.stats.of(bank_code),
                                   verify=lambda raw: verify_and_parse(raw, service.center_keys.ring()),
                                   acks=service)

    admin = [Depends(loopback_only)]
    add_admin_routes(app, service, admin, stats=service.stats.to_dict)

    @app.post("/admin/accounts", dependencies=admin, status_code=201, response_model=None)
    async def open_account(spec: NewAccount) -> dict[str, Any] | JSONResponse:
        known_bank(spec.bank)
        try:
            account = service.ledger.open_account(spec.bank, spec.account, spec.holder_name, spec.id_masked,
                                                  dict(spec.balances), spec.status)
        except LedgerError as exc:
            return refusal(exc)
        service.persist()
        return account_view(account)

    @app.get("/admin/accounts/{bank}/{number}", dependencies=admin, response_model=None)
    async def show_account(bank: str, number: str) -> dict[str, Any] | JSONResponse:
        try:
            return account_view(service.ledger.account(known_bank(bank), number))
        except LedgerError as exc:
            return refusal(exc)

    @app.post("/admin/transactions", dependencies=admin, status_code=201, response_model=None)
    async def move(spec: Movement) -> dict[str, Any] | JSONResponse:
        ledger, src, dst = service.ledger, spec.from_, spec.to
        kwargs: dict[str, Any] = {"channel": spec.channel, "at": spec.at, "memo": spec.memo}
        try:
            if src is not None and dst is not None:
                legs = list(ledger.transfer(known_bank(src.bank), src.account, known_bank(dst.bank), dst.account,
                                            spec.amount, spec.currency, **kwargs))
            elif dst is not None:
                legs = [ledger.deposit(known_bank(dst.bank), dst.account, spec.amount, spec.currency,
                                       counterparty_name=spec.counterparty_name, **kwargs)]
            elif src is not None:
                legs = [ledger.withdraw(known_bank(src.bank), src.account, spec.amount, spec.currency,
                                        counterparty_name=spec.counterparty_name, **kwargs)]
            else:
                raise HTTPException(422, "give from, to, or both")
        except LedgerError as exc:
            return refusal(exc)
        service.persist()
        return {"transactions": [transaction_view(t) for t in legs]}

    @app.post("/admin/faults", dependencies=admin, status_code=201)
    async def arm(spec: FaultRequest) -> dict[str, Any]:
        return arm_fault(service, spec.bank, spec, known_bank)

    @app.post("/admin/clock", dependencies=admin)
    async def clock(spec: ClockRequest) -> dict[str, Any]:
        service.advance_clock(spec.advance_seconds)
        return {"now": service.clock().isoformat(), "offset_seconds": service.clock.offset.total_seconds()}

    return app

