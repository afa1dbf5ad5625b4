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

import asyncio
import json
import uuid
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any

from fastapi import Depends, FastAPI, HTTPException, Request, Response
from fastapi.responses import JSONResponse
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from fanzha.banking import messages as m
from fanzha.banking.signing import BadSignature, verify_and_parse
from sim.banks.faults import ANY_BANK, FaultMode
from sim.banks.ledger import Account, AccountStatus, Channel, Hold, LedgerError, Transaction
from sim.banks.service import BankService, Reply

JSON = "application/json"
LOOPBACK = frozenset({"127.0.0.1", "::1", "localhost"})


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class NewAccount(_Model):
    bank: str
    account: m.Account
    holder_name: Annotated[str, Field(min_length=1, max_length=64)]
    id_masked: Annotated[str, Field(max_length=32)] = "***"
    balances: dict[m.Currency, m.NonNegativeAmount] = Field(default_factory=dict)
    status: AccountStatus = AccountStatus.ACTIVE


class Party(_Model):
    bank: str
    account: m.Account


class Movement(_Model):
    """``from`` null: money from outside (a deposit); ``to`` null: money leaving (cash, abroad...)."""

    from_: Party | None = Field(default=None, alias="from")
    to: Party | None = None
    amount: m.Amount
    currency: m.Currency = "CNY"
    channel: Channel = Channel.TRANSFER
    at: AwareDatetime | None = None
    counterparty_name: Annotated[str, Field(max_length=64)] = ""
    memo: Annotated[str, Field(max_length=200)] = ""


class FaultRequest(_Model):
    bank: str = ANY_BANK
    mode: FaultMode
    count: Annotated[int, Field(ge=1, le=1_000_000)] = 1
    delay_ms: Annotated[int, Field(ge=0, le=600_000)] | None = None


class ClockRequest(_Model):
    advance_seconds: Annotated[float, Field(ge=0)]


class LatencyRequest(_Model):
    latency_ms: Annotated[int, Field(ge=0, le=600_000)]


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
    app = FastAPI(title="Simulated banks", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.service = service

    def loopback_only(request: Request) -> None:
        if request.client is None or request.client.host not in LOOPBACK:
            raise HTTPException(403, "admin endpoints answer loopback clients only")

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

    def reply(r: Reply) -> Response:
        return Response(r.payload, status_code=r.status, media_type=JSON)

    @app.get("/healthz")
    async def healthz() -> dict[str, Any]:
        service.center_keys.ring()
        return {"ok": True, "banks": len(service.signers), "accounts": len(service.ledger.accounts),
                "now": service.clock().isoformat(), "center_keyring": service.center_keys.problem or "loaded"}

    @app.post("/banks/{bank_code}/messages")
    async def message(bank_code: str, request: Request) -> Response:
        if bank_code not in service.signers:
            return JSONResponse({"error": "unknown_bank", "message": f"no simulated bank {bank_code}"}, 404)
        stats = service.stats.bank(bank_code)
        stats.received += 1
        raw = await request.body()
        try:
            envelope = verify_and_parse(raw, service.center_keys.ring())
        except BadSignature as exc:
            stats.bad_signature += 1
            return reply(service.error(bank_code, 401, "bad_signature", str(exc), _readable_id(raw)))
        except m.MessageError as exc:
            stats.malformed += 1
            return reply(service.error(bank_code, 422, "invalid_message", str(exc), _readable_id(raw)))
        refused = service.check_route(bank_code, envelope)
        if refused is not None:
            stats.malformed += 1
            return reply(refused)
        withheld = service.withheld(bank_code, envelope)
        if withheld is not None:  # a poll for an answer the bank has not given yet
            return reply(withheld)
        shot = service.faults.take(bank_code)
        if shot is not None:
            stats.faults[shot.mode.value] += 1
            if shot.mode is FaultMode.TIMEOUT:
                await asyncio.sleep(shot.delay_s)  # the client gave up long ago; nothing was applied
                return JSONResponse({"error": "timeout", "message": "simulated timeout"}, 504)
            if shot.mode is FaultMode.ERROR_500:
                return JSONResponse({"error": "internal", "message": "simulated internal error"}, 500)
        answer = service.process(bank_code, envelope)
        if shot is not None and shot.mode is FaultMode.DEFERRED:
            service.defer(bank_code, envelope, shot.delay_s)
            answer = service.withheld(bank_code, envelope) or answer
        delay = service.latency_s
        if shot is not None and shot.mode is FaultMode.DUPLICATE:
            # The network delivers the instruction a second time: acted on once, answered identically.
            service.process(bank_code, envelope)
        if shot is not None and shot.mode is FaultMode.LATE:
            delay += shot.delay_s
        if delay:
            await asyncio.sleep(delay)
        return reply(answer)

    admin = [Depends(loopback_only)]

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

    @app.get("/admin/faults", dependencies=admin)
    async def faults() -> dict[str, Any]:
        return {"armed": service.faults.snapshot()}

    @app.post("/admin/faults", dependencies=admin, status_code=201)
    async def arm(spec: FaultRequest) -> dict[str, Any]:
        if spec.bank != ANY_BANK:
            known_bank(spec.bank)
        service.faults.arm(spec.bank, spec.mode, spec.count, spec.delay_ms)
        return {"armed": service.faults.snapshot()}

    @app.delete("/admin/faults", dependencies=admin)
    async def disarm() -> dict[str, Any]:
        service.faults.clear()
        return {"armed": {}}

    @app.get("/admin/stats", dependencies=admin)
    async def stats() -> dict[str, Any]:
        return service.stats.to_dict()

    @app.post("/admin/clock", dependencies=admin)
    async def clock(spec: ClockRequest) -> dict[str, Any]:
        service.advance_clock(spec.advance_seconds)
        return {"now": service.clock().isoformat(), "offset_seconds": service.clock.offset.total_seconds()}

    @app.post("/admin/latency", dependencies=admin)
    async def latency(spec: LatencyRequest) -> dict[str, Any]:
        service.latency_s = spec.latency_ms / 1000
        return {"latency_ms": spec.latency_ms}

    return app


def _readable_id(raw: bytes) -> str | None:
    """The refused message's id, if it has a well-formed one (so the center can match the refusal)."""
    try:
        data = json.loads(raw)
        value = data.get("id") if isinstance(data, dict) else None
        if isinstance(value, str) and uuid.UUID(value).version == 4 and str(uuid.UUID(value)) == value:
            return value
    except (ValueError, UnicodeDecodeError):
        pass
    return None
