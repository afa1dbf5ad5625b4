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

from typing import Annotated, Any

from fastapi import Depends, FastAPI, HTTPException, Request, Response
from fastapi.responses import JSONResponse
from pydantic import Field

from fanzha.telecom.carriers import messages as m
from fanzha.telecom.carriers.routing import VIRTUAL_OPERATOR_CODES
from sim.banks.faults import ANY_BANK, FaultMode
from sim.carriers.service import CARRIER_CODES, CarrierService
from sim.endpoint import StrictModel, add_admin_routes, arm_fault, loopback_only, new_app, serve_message


class NumberSpec(StrictModel):
    number: m.Number
    carrier: Annotated[str, Field(pattern=r"^[A-Z]{2,12}$")] | None = Field(
        description="the network that holds it now; null for a number no domestic network holds")
    virtual_operator: Annotated[str, Field(pattern=r"^[A-Z]{2,12}$")] | None = None
    protected: bool = False


class FaultRequest(StrictModel):
    carrier: str = ANY_BANK
    mode: FaultMode
    count: Annotated[int, Field(ge=1, le=1_000_000)] = 1
    delay_ms: Annotated[int, Field(ge=0, le=600_000)] | None = None


def create_app(service: CarrierService) -> FastAPI:
    app = new_app("Simulated carriers", service)

    def known_carrier(code: str) -> str:
        if code not in service.signers:
            raise HTTPException(422, f"no simulated carrier {code} (known: {', '.join(CARRIER_CODES)})")
        return code

    @app.get("/healthz")
    async def healthz() -> dict[str, Any]:
        service.center_keys.ring()
        return {"ok": True, "carriers": sorted(service.signers), "numbers": len(service.registry.numbers),
                "center_keyring": service.center_keys.problem or "loaded"}

    @app.post("/carriers/{code}/messages")
    async def message(code: str, request: Request) -> Response:
        if code not in service.signers:
            return JSONResponse({"error": "unknown_carrier", "message": f"no simulated carrier {code}"}, 404)
        return await serve_message(service, code, request, counters=service.stats.of(code),
                                   verify=lambda raw: m.verify_and_parse(raw, service.center_keys.ring()))

    admin = [Depends(loopback_only)]
    add_admin_routes(app, service, admin, stats=service.stats.to_dict)

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

    @app.post("/admin/faults", dependencies=admin, status_code=201)
    async def arm(spec: FaultRequest) -> dict[str, Any]:
        return arm_fault(service, spec.carrier, spec, known_carrier)

    return app

