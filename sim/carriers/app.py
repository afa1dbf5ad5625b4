"""HTTP face of the simulated carriers: the message endpoint the center talks to, and admin endpoints for tests.

    POST /carriers/{code}/messages     signed CarrierAction in, signed CarrierActionResult out
    GET  /healthz
    POST /admin/numbers                put a number on a carrier (moves it if it was elsewhere)
    GET  /admin/numbers/{number}       who holds it, its state, who intercepts it, its history
    POST /admin/faults                 arm a fault (timeout, error_500, duplicate, late)   GET, DELETE /admin/faults
    GET  /admin/stats                  received / applied / duplicates suppressed per carrier
    POST /admin/latency                change the answer latency

Admin endpoints answer loopback clients only. Every handler is ``async def``, so all run on the event
loop's one thread and never interleave inside the register.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Annotated, Any

from fastapi import Depends, FastAPI, HTTPException, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from fanzha.telecom.carriers import messages as m
from fanzha.telecom.carriers.routing import VIRTUAL_OPERATOR_CODES
from sim.banks.faults import ANY_BANK, FaultMode
from sim.carriers.service import CARRIER_CODES, CarrierService, Reply

JSON = "application/json"
LOOPBACK = frozenset({"127.0.0.1", "::1", "localhost"})


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class NumberSpec(_Model):
    number: m.Number
    carrier: Annotated[str, Field(pattern=r"^[A-Z]{2,12}$")] | None = Field(
        description="the network that holds it now; null for a number no domestic network holds")
    virtual_operator: Annotated[str, Field(pattern=r"^[A-Z]{2,12}$")] | None = None
    protected: bool = False


class FaultRequest(_Model):
    carrier: str = ANY_BANK
    mode: FaultMode
    count: Annotated[int, Field(ge=1, le=1_000_000)] = 1
    delay_ms: Annotated[int, Field(ge=0, le=600_000)] | None = None


class LatencyRequest(_Model):
    latency_ms: Annotated[int, Field(ge=0, le=600_000)]


def create_app(service: CarrierService) -> FastAPI:
    app = FastAPI(title="Simulated carriers", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.service = service

    def loopback_only(request: Request) -> None:
        if request.client is None or request.client.host not in LOOPBACK:
            raise HTTPException(403, "admin endpoints answer loopback clients only")

    def known_carrier(code: str) -> str:
        if code not in service.signers:
            raise HTTPException(422, f"no simulated carrier {code} (known: {', '.join(CARRIER_CODES)})")
        return code

    def reply(r: Reply) -> Response:
        return Response(r.payload, status_code=r.status, media_type=JSON)

    @app.get("/healthz")
    async def healthz() -> dict[str, Any]:
        service.center_keys.ring()
        return {"ok": True, "carriers": sorted(service.signers), "numbers": len(service.registry.numbers),
                "center_keyring": service.center_keys.problem or "loaded"}

    @app.post("/carriers/{code}/messages")
    async def message(code: str, request: Request) -> Response:
        if code not in service.signers:
            return JSONResponse({"error": "unknown_carrier", "message": f"no simulated carrier {code}"}, 404)
        stats = service.carrier_stats(code)
        stats.received += 1
        raw = await request.body()
        try:
            envelope = m.verify_and_parse(raw, service.center_keys.ring())
        except m.BadSignature as exc:
            stats.bad_signature += 1
            return reply(service.error(code, 401, "bad_signature", str(exc), _readable_id(raw)))
        except m.MessageError as exc:
            stats.malformed += 1
            return reply(service.error(code, 422, "invalid_message", str(exc), _readable_id(raw)))
        refused = service.check_route(code, envelope)
        if refused is not None:
            stats.malformed += 1
            return reply(refused)
        shot = service.faults.take(code)
        if shot is not None:
            stats.faults[shot.mode.value] += 1
            if shot.mode is FaultMode.TIMEOUT:
                await asyncio.sleep(shot.delay_s)  # the client gave up long ago; nothing was done
                return JSONResponse({"error": "timeout", "message": "simulated timeout"}, 504)
            if shot.mode is FaultMode.ERROR_500:
                return JSONResponse({"error": "internal", "message": "simulated internal error"}, 500)
        answer = service.process(code, envelope)
        delay = service.latency_s
        if shot is not None and shot.mode is FaultMode.DUPLICATE:
            service.process(code, envelope)  # the network delivers it twice: acted on once, answered alike
        if shot is not None and shot.mode is FaultMode.LATE:
            delay += shot.delay_s
        if delay:
            await asyncio.sleep(delay)
        return reply(answer)

    admin = [Depends(loopback_only)]

    @app.post("/admin/numbers", dependencies=admin, status_code=201)
    async def register(spec: NumberSpec) -> dict[str, Any]:
        if spec.carrier is not None:
            known_carrier(spec.carrier)
        if spec.virtual_operator is not None and spec.virtual_operator not in VIRTUAL_OPERATOR_CODES:
            raise HTTPException(422, f"no virtual operator {spec.virtual_operator} "
                                     f"(known: {', '.join(VIRTUAL_OPERATOR_CODES)})")
        if spec.virtual_operator is not None and spec.carrier is None:
            raise HTTPException(422, "a virtual operator's number rides on a host carrier: give carrier too")
        subscriber = service.registry.register(spec.number, spec.carrier, spec.virtual_operator, spec.protected,
                                               service.clock())
        service.persist()
        return subscriber.to_json()

    @app.get("/admin/numbers/{number}", dependencies=admin)
    async def show(number: str) -> dict[str, Any]:
        return service.registry.peek(number).to_json()

    @app.get("/admin/faults", dependencies=admin)
    async def faults() -> dict[str, Any]:
        return {"armed": service.faults.snapshot()}

    @app.post("/admin/faults", dependencies=admin, status_code=201)
    async def arm(spec: FaultRequest) -> dict[str, Any]:
        if spec.carrier != ANY_BANK:
            known_carrier(spec.carrier)
        service.faults.arm(spec.carrier, spec.mode, spec.count, spec.delay_ms)
        return {"armed": service.faults.snapshot()}

    @app.delete("/admin/faults", dependencies=admin)
    async def disarm() -> dict[str, Any]:
        service.faults.clear()
        return {"armed": {}}

    @app.get("/admin/stats", dependencies=admin)
    async def stats() -> dict[str, Any]:
        return service.stats_json()

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
