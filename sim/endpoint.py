"""What every simulated partner's app (``sim.banks``, ``sim.carriers``) serves alike.

``POST /{partner}s/{code}/messages`` works the same for a bank and a carrier: count it, verify the signature,
refuse what is malformed or misrouted with a signed Error, fire an armed fault, then answer - the stored answer
to a repeated idempotency key, or a new one acted on once. A simulator plugs in through ``Desk``; a bank that
answers ``Ack`` first (HTTP 202) also passes ``acks``. The admin endpoints for faults, latency and counters
answer loopback clients only.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections import Counter
from collections.abc import Callable
from typing import Annotated, Any, Final, Protocol, TypeVar

from fastapi import FastAPI, HTTPException, Request, Response
from fastapi.params import Depends
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from fanzha.channel.signing import BadSignature
from fanzha.channel.wire import MessageError
from sim.banks.faults import ANY_BANK, FaultBook, FaultMode

JSON: Final = "application/json"
LOOPBACK: Final = frozenset({"127.0.0.1", "::1", "localhost"})

E = TypeVar("E", contravariant=True)  # the channel's envelope type


class Reply(Protocol):
    @property
    def status(self) -> int: ...

    @property
    def payload(self) -> bytes: ...


class Counters(Protocol):
    """One partner's counters, as ``/admin/stats`` reports them."""

    received: int
    bad_signature: int
    malformed: int
    faults: Counter[str]


class Tunable(Protocol):
    """A simulator whose faults and answer latency the admin endpoints set."""

    faults: FaultBook
    latency_s: float


class Desk(Tunable, Protocol[E]):
    """What the message endpoint needs from a simulator."""

    def error(self, code: str, status: int, error_code: str, message: str, request_id: str | None = None, /
              ) -> Reply: ...

    def check_route(self, code: str, envelope: E, /) -> Reply | None:
        """A signed refusal if the message is not an instruction for partner ``code``."""

    def process(self, code: str, envelope: E, /) -> Reply:
        """The stored answer to a repeated key, or act once and store the answer."""


class Acks(Protocol[E]):
    """A partner that may answer "received, result to follow" (``Ack``, 202) and the result on a resend."""

    def withheld(self, code: str, envelope: E, /) -> Reply | None: ...

    def defer(self, code: str, envelope: E, seconds: float, /) -> None: ...


def new_app(title: str, service: object) -> FastAPI:
    """A simulator's app: no API docs (it plays a partner's gateway, not a product), ``service`` on its state."""
    app = FastAPI(title=title, docs_url=None, redoc_url=None, openapi_url=None)
    app.state.service = service
    return app


class StrictModel(BaseModel):
    """An admin request body: unknown fields are a mistake in the test, not something to ignore."""

    model_config = ConfigDict(extra="forbid")


class LatencyRequest(StrictModel):
    latency_ms: Annotated[int, Field(ge=0, le=600_000)]


class FaultSpec(Protocol):
    """An admin request to arm a fault (each app names its partner field: ``bank``, ``carrier``)."""

    @property
    def mode(self) -> FaultMode: ...

    @property
    def count(self) -> int: ...

    @property
    def delay_ms(self) -> int | None: ...


def arm_fault(sim: Tunable, partner: str, spec: FaultSpec, known: Callable[[str], object]) -> dict[str, Any]:
    """``POST /admin/faults``: ``known`` refuses a partner the simulator does not play (``*`` is any)."""
    if partner != ANY_BANK:
        known(partner)
    sim.faults.arm(partner, spec.mode, spec.count, spec.delay_ms)
    return {"armed": sim.faults.snapshot()}


def add_admin_routes(app: FastAPI, sim: Tunable, admin: list[Depends], stats: Callable[[], dict[str, Any]]) -> None:
    """The admin endpoints every simulator has, but ``POST /admin/faults`` (its body names the partner)."""

    @app.get("/admin/faults", dependencies=admin)
    async def faults() -> dict[str, Any]:
        return {"armed": sim.faults.snapshot()}

    @app.delete("/admin/faults", dependencies=admin)
    async def disarm() -> dict[str, Any]:
        sim.faults.clear()
        return {"armed": {}}

    @app.get("/admin/stats", dependencies=admin)
    async def stats_() -> dict[str, Any]:
        return stats()

    @app.post("/admin/latency", dependencies=admin)
    async def latency(spec: LatencyRequest) -> dict[str, Any]:
        sim.latency_s = spec.latency_ms / 1000
        return {"latency_ms": spec.latency_ms}


def reply(r: Reply) -> Response:
    return Response(r.payload, status_code=r.status, media_type=JSON)


def loopback_only(request: Request) -> None:
    """Dependency of the admin endpoints."""
    if request.client is None or request.client.host not in LOOPBACK:
        raise HTTPException(403, "admin endpoints answer loopback clients only")


def readable_id(raw: bytes) -> str | None:
    """The refused message's id, if it has a well-formed one (so the center can match the refusal)."""
    try:
        data = json.loads(raw)
        value = data.get("id") if isinstance(data, dict) else None
        if isinstance(value, str) and uuid.UUID(value).version == 4 and str(uuid.UUID(value)) == value:
            return value
    except (ValueError, UnicodeDecodeError):
        pass
    return None


async def serve_message(desk: Desk[E], code: str, request: Request, *, counters: Counters,
                        verify: Callable[[bytes], E], acks: Acks[E] | None = None) -> Response:
    """Answer one POSTed message to partner ``code`` (known to the simulator) as a real gateway would."""
    counters.received += 1
    raw = await request.body()
    try:
        envelope = verify(raw)
    except BadSignature as exc:
        counters.bad_signature += 1
        return reply(desk.error(code, 401, "bad_signature", str(exc), readable_id(raw)))
    except MessageError as exc:
        counters.malformed += 1
        return reply(desk.error(code, 422, "invalid_message", str(exc), readable_id(raw)))
    refused = desk.check_route(code, envelope)
    if refused is not None:
        counters.malformed += 1
        return reply(refused)
    withheld = acks.withheld(code, envelope) if acks is not None else None
    if withheld is not None:  # a poll for an answer the partner has not given yet
        return reply(withheld)
    shot = desk.faults.take(code)
    if shot is not None:
        counters.faults[shot.mode.value] += 1
        if shot.mode is FaultMode.TIMEOUT:
            await asyncio.sleep(shot.delay_s)  # the client gave up long ago; nothing was applied
            return JSONResponse({"error": "timeout", "message": "simulated timeout"}, 504)
        if shot.mode is FaultMode.ERROR_500:
            return JSONResponse({"error": "internal", "message": "simulated internal error"}, 500)
    answer = desk.process(code, envelope)
    if shot is not None and shot.mode is FaultMode.DEFERRED and acks is not None:
        acks.defer(code, envelope, shot.delay_s)
        answer = acks.withheld(code, envelope) or answer
    delay = desk.latency_s
    if shot is not None and shot.mode is FaultMode.DUPLICATE:
        # The network delivers the instruction a second time: acted on once, answered identically.
        desk.process(code, envelope)
    if shot is not None and shot.mode is FaultMode.LATE:
        delay += shot.delay_s
    if delay:
        await asyncio.sleep(delay)
    return reply(answer)
