"""HTTP API of the carrier channel, the spoofed-caller-ID check and the official-numbers list (/api/v1/telecom).

    POST   /telecom/actions                      shut down / intercept / block numbers for a case (officers)
    GET    /telecom/actions?case_number=&batch=&number=     officers' view
    GET    /telecom/actions/{id}                 one instruction (a carrier liaison: its own carrier's only)
    POST   /telecom/actions/{id}/answer          a carrier liaison answers by hand
    POST   /telecom/batches/{batch}/approve      a supervisor sends a large batch   (…/decline: does not)
    GET    /telecom/carrier/inbox                a carrier liaison's inbox
    GET    /telecom/routes/{number}              which carrier would be instructed, and why
    POST   /telecom/spoofing/check               flag spoofed caller IDs in a batch of call records
    GET    /telecom/official-numbers             the official-numbers list (anyone signed in)
    GET    /telecom/official-numbers/check?number=   is this number an official one?
    POST   /telecom/official-numbers             add (supervisor)   PATCH/DELETE …/{id}: edit / deactivate
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request, Response, status
from pydantic import BaseModel, ConfigDict, Field

from fanzha.audit import service as audit
from fanzha.auth.dependencies import ActorDep, DbDep, SettingsDep
from fanzha.auth.models import Role
from fanzha.banking.runtime import signer_for
from fanzha.cases import queries as case_queries
from fanzha.cases.normalize import phone_e164
from fanzha.errors import Forbidden, InvalidInput
from fanzha.http import RowId, refuse_nul
from fanzha.telecom import official, spoofing
from fanzha.telecom.carriers import actions, queries, routing
from fanzha.telecom.carriers.messages import E164_RE

router = APIRouter(prefix="/api/v1/telecom", tags=["telecom"], dependencies=[Depends(refuse_nul)])

CASE_NUMBER_RE = r"^[A-Z]{1,6}\d{8}-\d{6}$"
TEXT_RE = r"^[^\x00-\x08\x0b-\x1f\x7f]*$"  # what a signed message's text may hold (no control characters)
CHECKERS = (Role.DUTY_OFFICER, Role.SUPERVISOR, Role.CARRIER_LIAISON)


def normalise_number(raw: str, where: str) -> str:
    """An E.164 number to act on, or a 422 naming the entry and what is wrong with it."""
    try:
        value = phone_e164(raw)
    except ValueError as exc:
        raise InvalidInput(f"{exc}", field=where) from None
    if not value.startswith("+"):
        raise InvalidInput(f"{raw!r} is a service number: a carrier acts on subscriber numbers", field=where)
    if not re.fullmatch(E164_RE, value):  # pragma: no cover - phone_e164 only returns valid E.164
        raise InvalidInput(f"{raw!r} is not an E.164 number", field=where)
    return value


class ActionsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    case_number: Annotated[str, Field(pattern=CASE_NUMBER_RE, description="e.g. SH20261125-000123")]
    numbers: Annotated[list[Annotated[str, Field(min_length=3, max_length=32)]], Field(min_length=1, max_length=500)]
    action: Literal["auto", "shutdown", "intercept", "block"] = Field(
        default="auto", description="auto: shut down at the carrier holding it, block a virtual operator's number, "
                                    "intercept a number no domestic carrier holds")
    intercept_at: list[Annotated[str, Field(pattern=r"^[A-Z]{2,12}$")]] | None = Field(
        default=None, max_length=4, description="carriers to intercept at (action intercept); default: the "
                                                "stationed carriers except the number's own")
    reason: Annotated[str, Field(min_length=2, max_length=500, pattern=TEXT_RE)]


@router.post("/actions", status_code=status.HTTP_201_CREATED)
def request_actions(body: ActionsIn, actor: ActorDep, db: DbDep, settings: SettingsDep, request: Request,
                    response: Response) -> dict[str, Any]:
    """Shut down, intercept or block numbers for a case; above the batch size a supervisor approves first."""
    if actor.role not in queries.OFFICERS:
        raise Forbidden("only duty officers and supervisors instruct carriers")
    numbers = [normalise_number(raw, f"numbers.{i}") for i, raw in enumerate(body.numbers)]
    now = datetime.now(UTC)
    with db.transaction() as session:
        case = case_queries.get_case(session, actor, body.case_number, audit_read=False)
        result = actions.request_actions(
            session, actor, case_id=case.id, case_number=case.number, numbers=numbers, action=body.action,
            intercept_at=body.intercept_at, reason=body.reason.strip(), now=now, signer=signer_for(request.app),
            policy=actions.policy_for(settings))
        if not result.created:
            response.status_code = status.HTTP_200_OK
        return {"batch": result.batch, "needs_supervisor": result.needs_supervisor,
                "items": [queries.view(i, case.number, now=now) for i in result.created],
                "existing": [queries.view(*queries.load(session, actor, i.id), now=now) for i in result.existing]}


@router.get("/actions")
def list_actions(actor: ActorDep, db: DbDep, case_number: str | None = Query(default=None, max_length=32),
                 batch: str | None = Query(default=None, max_length=36),
                 number: str | None = Query(default=None, max_length=32),
                 limit: int = Query(default=200, ge=1, le=1000)) -> dict[str, Any]:
    if actor.role not in queries.OFFICERS:
        raise Forbidden("only duty officers and supervisors list carrier instructions; liaisons use their inbox")
    with db.read() as session:
        case_id = case_queries.get_case(session, actor, case_number, audit_read=False).id if case_number else None
        wanted = normalise_number(number, "number") if number else None
        return {"items": queries.list_actions(session, actor, case_id=case_id, batch=batch, number=wanted,
                                              limit=limit)}


@router.get("/actions/{instruction_id}")
def get_action(instruction_id: RowId, actor: ActorDep, db: DbDep) -> dict[str, Any]:
    with (db.transaction() if actor.is_external else db.read()) as session:
        instruction, number = queries.load(session, actor, instruction_id)
        if actor.is_external:
            audit.append(session, actor, "carrier.instruction_read", "case", number, {"instruction": instruction.id})
        return queries.view(instruction, number)


class HandAnswerIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    status: Literal["done", "refused", "not_ours"]
    true_carrier: Annotated[str, Field(pattern=r"^[A-Z]{2,12}$")] | None = Field(
        default=None, description="for not_ours: the carrier that holds the number now, if known")
    reason: Annotated[str, Field(max_length=500, pattern=TEXT_RE)] = ""


@router.post("/actions/{instruction_id}/answer")
def answer_action(instruction_id: RowId, body: HandAnswerIn, actor: ActorDep, db: DbDep, settings: SettingsDep,
                  request: Request) -> dict[str, Any]:
    """A carrier liaison records the carrier's answer by hand (carriers without a system link)."""
    if actor.role is not Role.CARRIER_LIAISON:
        raise Forbidden("only a carrier's liaison answers for the carrier")
    now = datetime.now(UTC)
    with db.transaction() as session:
        instruction, number = queries.load(session, actor, instruction_id, for_update=True)
        again = actions.answer_by_hand(session, actor, instruction, status=body.status,
                                       true_carrier=body.true_carrier, reason=body.reason, now=now,
                                       case_number=number, signer=signer_for(request.app),
                                       policy=actions.policy_for(settings))
        return {"status": instruction.status, "rerouted_to": again.carrier if again is not None else None}


class DeclineIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: Annotated[str, Field(min_length=2, max_length=500, pattern=TEXT_RE)]


@router.post("/batches/{batch}/approve")
def approve_batch(batch: str, actor: ActorDep, db: DbDep, settings: SettingsDep, request: Request) -> dict[str, Any]:
    with db.transaction() as session:
        approved = actions.approve_batch(session, actor, batch, now=datetime.now(UTC), signer=signer_for(request.app),
                                         policy=actions.policy_for(settings))
        return {"batch": batch, "approved": [i.id for i in approved]}


@router.post("/batches/{batch}/decline")
def decline_batch(batch: str, body: DeclineIn, actor: ActorDep, db: DbDep) -> dict[str, Any]:
    with db.transaction() as session:
        declined = actions.decline_batch(session, actor, batch, reason=body.reason.strip(), now=datetime.now(UTC))
        return {"batch": batch, "declined": [i.id for i in declined]}


@router.get("/carrier/inbox")
def carrier_inbox(actor: ActorDep, db: DbDep) -> dict[str, Any]:
    """A carrier liaison's own carrier's instructions, those awaiting a hand answer first (the read is audited)."""
    with db.transaction() as session:
        items = queries.inbox_of(session, actor)
        audit.append(session, actor, "carrier.inbox_read", "carrier", actor.org_code,
                     {"returned": [i["id"] for i in items]})
        return {"carrier": actor.org_short_code, "items": items}


@router.get("/routes/{number}")
def number_route(number: str, actor: ActorDep, db: DbDep) -> dict[str, Any]:
    """Which carrier an instruction about ``number`` goes to now, and what the allocation data alone says."""
    if actor.role not in queries.OFFICERS:
        raise Forbidden("only duty officers and supervisors read the routing")
    value = normalise_number(number, "number")
    with db.read() as session:
        return {"route": routing.route(session, value).to_json(), "library": routing.library_route(value).to_json()}


# ---- spoofed caller IDs --------------------------------------------------------------------------------------

class SpoofCheckIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    calls: Annotated[list[spoofing.CallRecord], Field(min_length=1, max_length=10_000)]


@router.post("/spoofing/check")
def spoofing_check(body: SpoofCheckIn, actor: ActorDep, db: DbDep) -> dict[str, Any]:
    """Flag each call that came through the international gateway showing a domestic or official number."""
    if actor.role not in CHECKERS:
        raise Forbidden("only duty officers, supervisors and carrier liaisons check call records")
    with db.transaction() as session:  # the first read of the list may load its defaults
        listed = official.active_list(session)
    hits = spoofing.check_calls(body.calls, listed)
    items = [{"index": i, "flagged": hit is not None, **(hit.to_json() if hit else {"rule": None})}
             for i, hit in enumerate(hits)]
    return {"checked": len(items), "flagged": sum(1 for h in hits if h is not None), "items": items}


# ---- the official-numbers list -------------------------------------------------------------------------------

class OfficialIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    pattern: Annotated[str, Field(min_length=3, max_length=20, description="digits; x = any digit (95xxx)")]
    kind: official.OfficialKind
    name_zh: Annotated[str, Field(min_length=1, max_length=128)]
    name_en: Annotated[str, Field(min_length=1, max_length=128)]


class OfficialPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: official.OfficialKind | None = None
    name_zh: Annotated[str, Field(min_length=1, max_length=128)] | None = None
    name_en: Annotated[str, Field(min_length=1, max_length=128)] | None = None
    active: bool | None = None


@router.get("/official-numbers")
def official_numbers(actor: ActorDep, db: DbDep, include_inactive: bool = False) -> dict[str, Any]:
    with db.transaction() as session:
        rows = official.all_entries(session)
        return {"items": [official.view(r) for r in rows if include_inactive or r.active]}


@router.get("/official-numbers/check")
def official_check(actor: ActorDep, db: DbDep, number: str = Query(
        min_length=1, max_length=64, description="as shown on the phone")) -> dict[str, Any]:
    with db.transaction() as session:
        entry = official.active_list(session).lookup(number)
    return {"number": number, "official": entry is not None,
            "entry": None if entry is None else {"pattern": entry.pattern, "kind": entry.kind,
                                                 "name_zh": entry.name_zh, "name_en": entry.name_en}}


@router.post("/official-numbers", status_code=status.HTTP_201_CREATED)
def add_official(body: OfficialIn, actor: ActorDep, db: DbDep) -> dict[str, Any]:
    with db.transaction() as session:
        entry = official.add(session, actor, pattern=body.pattern, kind=body.kind.value, name_zh=body.name_zh,
                             name_en=body.name_en)
        return official.view(entry)


@router.patch("/official-numbers/{entry_id}")
def edit_official(entry_id: RowId, body: OfficialPatch, actor: ActorDep, db: DbDep) -> dict[str, Any]:
    with db.transaction() as session:
        entry = official.update(session, actor, entry_id, kind=body.kind.value if body.kind else None,
                                name_zh=body.name_zh, name_en=body.name_en, active=body.active)
        return official.view(entry)


@router.delete("/official-numbers/{entry_id}")
def deactivate_official(entry_id: RowId, actor: ActorDep, db: DbDep) -> dict[str, Any]:
    """Stop matching an entry; the row stays, so the change can be read in the audit log and undone."""
    with db.transaction() as session:
        return official.view(official.update(session, actor, entry_id, active=False))
