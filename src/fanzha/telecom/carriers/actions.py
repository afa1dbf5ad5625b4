"""Shut down (停机), intercept (拦截) and block (封堵) numbers through their carriers, and apply the answers.

A decision and its message commit together: ``request_actions`` and ``approve_batch`` write each instruction
row and its signed envelope into the carrier outbox in the caller's transaction; the dispatcher delivers it.
``apply_answer`` runs in the dispatcher's transaction when the carrier answers; an answer "not ours, it is
CUCC's" corrects the routing (``routing.learn``) and, in that same transaction, sends the instruction again
to the carrier named - so a crash can neither lose the re-routed instruction nor send it twice.

Which action: a number a carrier holds is shut down by that carrier; a virtual operator's number is blocked
on its host network; a number no domestic carrier holds (a foreign number) is intercepted at the carriers
with staff in the room. An officer may also ask for intercepts at chosen carriers. A duty officer's request
for more numbers than the configured batch size waits for a supervisor's approval.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from fanzha.audit import service as audit
from fanzha.auth.actor import Actor
from fanzha.auth.models import Role
from fanzha.banking.keys import SigningKey
from fanzha.cases.models import Case
from fanzha.config import Settings
from fanzha.errors import Conflict, Forbidden, InvalidInput, NotFound
from fanzha.telecom.carriers import messages as m
from fanzha.telecom.carriers import outbox, routing
from fanzha.telecom.carriers.models import (
    AWAITING,
    STANDING,
    ActionStatus,
    CarrierActionKind,
    CarrierInstruction,
    CarrierOutboxMessage,
)

Requested = Literal["auto", "shutdown", "intercept", "block"]
AnswerStatus = Literal["done", "refused", "not_ours"]
S = ActionStatus
K = CarrierActionKind


@dataclass(frozen=True, slots=True)
class CarrierPolicy:
    """Who approves, which carriers answer by hand, how far an instruction may be re-routed."""

    supervisor_batch: int = 20  # a duty officer's request for more numbers than this waits for a supervisor
    hand_answered: frozenset[str] = frozenset()  # carriers without a system link: their liaison answers
    max_hops: int = 3  # carriers pointing at each other: stop and leave it to a person
    intercept_at: tuple[str, ...] = routing.INTERCEPT_CARRIERS

    def needs_supervisor(self, actor: Actor, numbers: int) -> bool:
        return actor.role is not Role.SUPERVISOR and numbers > self.supervisor_batch


def policy_for(settings: Settings) -> CarrierPolicy:
    return CarrierPolicy(supervisor_batch=settings.carrier_supervisor_batch,
                         hand_answered=frozenset(settings.hand_answered_carriers))


@dataclass(frozen=True, slots=True)
class Planned:
    number: str
    action: CarrierActionKind
    carrier: str
    route_source: str
    virtual_operator: str | None = None


@dataclass
class RequestResult:
    batch: str
    needs_supervisor: bool
    created: list[CarrierInstruction] = field(default_factory=list)
    existing: list[CarrierInstruction] = field(default_factory=list)  # already standing: not asked twice


def _require_officer(actor: Actor) -> None:
    if actor.role not in (Role.DUTY_OFFICER, Role.SUPERVISOR):
        raise Forbidden("only duty officers and supervisors instruct carriers")


def plan(session: Session, numbers: list[str], action: Requested, intercept_at: list[str] | None,
         policy: CarrierPolicy = CarrierPolicy()) -> list[Planned]:
    """Each number's instruction(s): which carrier and which action, from the routing."""
    out: list[Planned] = []
    for number in numbers:
        r = routing.route(session, number)
        if action == "intercept" or (action == "auto" and r.carrier is None):
            at = list(intercept_at or [c for c in policy.intercept_at if c != r.carrier])
            for carrier in at:
                if carrier == r.carrier:
                    raise InvalidInput(f"{number} is {carrier}'s own number ({r.source} routing): ask {carrier} to "
                                       "shut it down (action shutdown) rather than intercept it", field="intercept_at")
                out.append(Planned(number, K.INTERCEPT, carrier, "officer" if intercept_at else "default"))
            continue
        if r.carrier is None:
            raise InvalidInput(f"no domestic carrier is known for {number}: only an intercept can stop it "
                               "(action intercept)", field="numbers")
        kind = (K.BLOCK if r.virtual else K.SHUTDOWN) if action == "auto" else K(action)
        out.append(Planned(number, kind, r.carrier, r.source, r.virtual_operator))
    return out


def _standing(session: Session, number: str, carrier: str, action: str) -> CarrierInstruction | None:
    return session.execute(
        select(CarrierInstruction).where(CarrierInstruction.number == number, CarrierInstruction.carrier == carrier,
                                         CarrierInstruction.action == action,
                                         CarrierInstruction.status.in_(STANDING))
        .order_by(CarrierInstruction.id).limit(1)
    ).scalar_one_or_none()


def request_actions(session: Session, actor: Actor, *, case_id: int, case_number: str, numbers: list[str],
                    action: Requested, intercept_at: list[str] | None, reason: str, now: datetime,
                    signer: SigningKey, policy: CarrierPolicy) -> RequestResult:
    """Plan and record one request's instructions; sent at once unless the batch needs a supervisor."""
    _require_officer(actor)
    if intercept_at and action != "intercept":
        raise InvalidInput("intercept_at is only for action intercept", field="intercept_at")
    unknown = sorted(set(intercept_at or ()) - set(routing.BASE_CARRIERS))
    if unknown:
        raise InvalidInput(f"unknown carrier(s) {', '.join(unknown)} (known: {', '.join(routing.BASE_CARRIERS)})",
                           field="intercept_at")
    wanted = list(dict.fromkeys(numbers))
    planned = plan(session, wanted, action, intercept_at, policy)
    result = RequestResult(batch=str(uuid.uuid4()), needs_supervisor=False)
    fresh: list[Planned] = []
    for p in planned:
        standing = _standing(session, p.number, p.carrier, p.action.value)
        if standing is not None:
            result.existing.append(standing)
        else:
            fresh.append(p)
    result.needs_supervisor = policy.needs_supervisor(actor, len({p.number for p in fresh}))
    status = S.PENDING_APPROVAL if result.needs_supervisor else S.QUEUED
    for p in fresh:
        instruction = CarrierInstruction(
            case_id=case_id, batch=result.batch, action=p.action.value, number=p.number, carrier=p.carrier,
            status=status.value, reason=reason, officer=actor.username, route_source=p.route_source,
            virtual_operator=p.virtual_operator, hops=0, message_id=str(uuid.uuid4()),
            requested_by_id=actor.user_id, approved_by_id=None if result.needs_supervisor else actor.user_id,
            created_at=now, answer="{}", last_error="",
        )
        session.add(instruction)
        session.flush()
        audit.append(session, actor, f"carrier.{p.action.value}_requested", "case", case_number, {
            "instruction": instruction.id, "batch": result.batch, "number": p.number, "carrier": p.carrier,
            "route": p.route_source, "status": status.value,
        }, at=now)
        result.created.append(instruction)
        if status is S.QUEUED:
            _send(session, instruction, case_number, now, signer, policy)
    return result


def _send(session: Session, instruction: CarrierInstruction, case_number: str, now: datetime,
          signer: SigningKey, policy: CarrierPolicy) -> None:
    """Sign the instruction and put it in the outbox (or the liaison's inbox for a carrier without a link)."""
    body = m.CarrierAction(case_number=case_number, officer=instruction.officer, number=instruction.number,
                           carrier=instruction.carrier, action=instruction.action,
                           reason=instruction.reason)
    key = instruction.message_id
    envelope = m.sign_envelope(body, signer, recipient=m.carrier_org(instruction.carrier), idempotency_key=key,
                               message_id=key, sent_at=now)
    by_hand = instruction.carrier in policy.hand_answered
    outbox.enqueue(session, instruction_id=instruction.id, message_type=envelope.type.value,
                   recipient=envelope.recipient, idempotency_key=key,
                   envelope=json.dumps(envelope.to_wire(), ensure_ascii=False), now=now,
                   status="inbox" if by_hand else "pending")
    if by_hand:
        instruction.status = S.SENT.value
        instruction.sent_at = now


def _batch(session: Session, batch: str) -> list[CarrierInstruction]:
    rows = list(session.execute(
        select(CarrierInstruction).where(CarrierInstruction.batch == batch).order_by(CarrierInstruction.id)
        .with_for_update()
    ).scalars())
    if not rows:
        raise NotFound(f"no batch {batch}")
    return rows


def _case_number(session: Session, instruction: CarrierInstruction) -> str:
    number = session.execute(select(Case.number).where(Case.id == instruction.case_id)).scalar_one()
    return str(number)


def approve_batch(session: Session, actor: Actor, batch: str, *, now: datetime, signer: SigningKey,
                  policy: CarrierPolicy) -> list[CarrierInstruction]:
    """A supervisor sends every instruction of a batch still waiting for approval."""
    if actor.role is not Role.SUPERVISOR:
        raise Forbidden("only a supervisor approves a batch of carrier instructions")
    pending = [i for i in _batch(session, batch) if i.status == S.PENDING_APPROVAL.value]
    if not pending:
        raise Conflict(f"nothing in batch {batch} awaits approval")
    for instruction in pending:
        instruction.status, instruction.approved_by_id = S.QUEUED.value, actor.user_id
        case_number = _case_number(session, instruction)
        _send(session, instruction, case_number, now, signer, policy)
        audit.append(session, actor, "carrier.instruction_approved", "case", case_number,
                     {"instruction": instruction.id, "batch": batch}, at=now)
    return pending


def decline_batch(session: Session, actor: Actor, batch: str, *, reason: str,
                  now: datetime) -> list[CarrierInstruction]:
    if actor.role is not Role.SUPERVISOR:
        raise Forbidden("only a supervisor declines a batch of carrier instructions")
    pending = [i for i in _batch(session, batch) if i.status == S.PENDING_APPROVAL.value]
    if not pending:
        raise Conflict(f"nothing in batch {batch} awaits approval")
    for instruction in pending:
        instruction.status, instruction.last_error = S.DECLINED.value, reason
        audit.append(session, actor, "carrier.instruction_declined", "case", _case_number(session, instruction),
                     {"instruction": instruction.id, "batch": batch, "reason": reason}, at=now)
    return pending


# ---- answers ------------------------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Answer:
    status: AnswerStatus
    true_carrier: str | None = None
    virtual_operator: str | None = None
    effective_at: datetime | None = None
    reason: str | None = None


def apply_answer(session: Session, instruction: CarrierInstruction, answer: m.Envelope, now: datetime,
                 case_number: str, *, signer: SigningKey, policy: CarrierPolicy) -> CarrierInstruction | None:
    """Record the carrier's verified answer; returns the re-routed instruction if one was sent."""
    body = answer.typed_body()
    if not isinstance(body, m.CarrierActionResult):  # pragma: no cover - the adapter lets only these through
        raise ValueError(f"{answer.type} is not an answer to a carrier action")
    return _settle(session, None, instruction, Answer(body.status, body.true_carrier, body.virtual_operator,
                                                      body.effective_at, body.reason),
                   json.dumps(answer.to_wire(), ensure_ascii=False), now, case_number, signer, policy, "answer")


def answer_by_hand(session: Session, actor: Actor, instruction: CarrierInstruction, *, status: str,
                   true_carrier: str | None, reason: str, now: datetime, case_number: str, signer: SigningKey,
                   policy: CarrierPolicy) -> CarrierInstruction | None:
    """A carrier liaison records their carrier's answer in the console (carriers without a system link)."""
    if actor.role is not Role.CARRIER_LIAISON or actor.org_short_code != instruction.carrier:
        raise Forbidden("only a liaison of the instructed carrier may answer for it")
    if instruction.status != S.SENT.value:
        raise Conflict(f"instruction {instruction.id} is {instruction.status}: only an instruction waiting in "
                       "the inbox is answered by hand")
    if status not in ("done", "refused", "not_ours"):
        raise InvalidInput(f"status {status!r} is not done, refused or not_ours", field="status")
    reason = reason.strip()
    if status == "refused" and not reason:
        raise InvalidInput("a refusal needs the carrier's reason", field="reason")
    true = (true_carrier or "").strip().upper() or None
    if true is not None and true not in routing.BASE_CARRIERS:
        raise InvalidInput(f"unknown carrier {true} (known: {', '.join(routing.BASE_CARRIERS)})", field="true_carrier")
    if status == "not_ours" and true == instruction.carrier:
        raise InvalidInput("a number that is not yours cannot be yours: name the carrier that holds it, or none",
                           field="true_carrier")
    answer = Answer(status, true if status == "not_ours" else None, None, now if status == "done" else None,  # type: ignore[arg-type]
                    reason or None)
    record = json.dumps({"by_hand": actor.username, "org": actor.org_code, "status": status,
                         "true_carrier": answer.true_carrier, "reason": reason}, ensure_ascii=False)
    session.execute(update(CarrierOutboxMessage).where(CarrierOutboxMessage.instruction_id == instruction.id,
                                                       CarrierOutboxMessage.status == "inbox")
                    .values(status="delivered", delivered_at=now))
    return _settle(session, actor, instruction, answer, record, now, case_number, signer, policy, "hand")


def _settle(session: Session, actor: Actor | None, instruction: CarrierInstruction, answer: Answer, record: str,
            now: datetime, case_number: str, signer: SigningKey, policy: CarrierPolicy,
            source: Literal["answer", "hand"]) -> CarrierInstruction | None:
    if instruction.status not in AWAITING:
        # A late copy of an answer already applied (or a hand answer that got there first): keep the first.
        audit.append(session, actor, "carrier.answer_ignored", "case", case_number, {
            "instruction": instruction.id, "status": instruction.status, "answer": answer.status}, at=now)
        return None
    instruction.status = answer.status
    instruction.answered_at = now
    instruction.answer = record
    instruction.effective_at = answer.effective_at
    instruction.true_carrier = answer.true_carrier
    if answer.virtual_operator is not None:
        instruction.virtual_operator = answer.virtual_operator
    if answer.status != "done":
        instruction.last_error = (answer.reason or answer.status)[:2000]
    audit.append(session, actor, "carrier.answer", "case", case_number, {
        "instruction": instruction.id, "carrier": instruction.carrier, "number": instruction.number,
        "action": instruction.action, "status": answer.status, "true_carrier": answer.true_carrier,
        "virtual_operator": answer.virtual_operator, "by": source,
    }, at=now)
    # Learn only what the answer says: who holds the number (or that it acted on its own number and named
    # the virtual operator reselling it). A bare "done" confirms the routing and changes nothing.
    owns = answer.status != "not_ours" and instruction.action != K.INTERCEPT.value
    holder = answer.true_carrier or (instruction.carrier if owns else None)
    says = answer.true_carrier is not None or answer.virtual_operator is not None
    if holder is not None and says and not (answer.status == "not_ours" and holder == instruction.carrier):
        routing.learn(session, actor, number=instruction.number, carrier=holder,
                      virtual_operator=answer.virtual_operator, source=source, instruction_id=instruction.id,
                      case_number=case_number, now=now)
    if answer.status == "not_ours" and instruction.action != K.INTERCEPT.value:
        return _reroute(session, actor, instruction, answer, now, case_number, signer, policy)
    return None


def _reroute(session: Session, actor: Actor | None, instruction: CarrierInstruction, answer: Answer, now: datetime,
             case_number: str, signer: SigningKey, policy: CarrierPolicy) -> CarrierInstruction | None:
    target = answer.true_carrier
    details: dict[str, Any] = {"instruction": instruction.id, "number": instruction.number, "to": target}
    if target is None or target == instruction.carrier:
        audit.append(session, actor, "carrier.reroute_impossible", "case", case_number,
                     {**details, "why": "the carrier did not say who holds the number"}, at=now)
        return None
    if instruction.hops + 1 > policy.max_hops:
        instruction.last_error = f"re-routed {instruction.hops} times; carriers disagree: decide by hand"
        audit.append(session, actor, "carrier.reroute_stopped", "case", case_number,
                     {**details, "hops": instruction.hops}, at=now)
        return None
    action = K.BLOCK if answer.virtual_operator else K.SHUTDOWN
    standing = _standing(session, instruction.number, target, action.value)
    if standing is not None:
        audit.append(session, actor, "carrier.reroute_already_standing", "case", case_number,
                     {**details, "standing": standing.id}, at=now)
        return None
    again = CarrierInstruction(
        case_id=instruction.case_id, batch=instruction.batch, action=action.value, number=instruction.number,
        carrier=target, status=S.QUEUED.value, reason=instruction.reason, officer=instruction.officer,
        route_source="answer", virtual_operator=answer.virtual_operator, rerouted_from_id=instruction.id,
        hops=instruction.hops + 1, message_id=str(uuid.uuid4()), requested_by_id=instruction.requested_by_id,
        approved_by_id=instruction.approved_by_id, created_at=now, answer="{}", last_error="",
    )
    session.add(again)
    session.flush()
    audit.append(session, actor, "carrier.rerouted", "case", case_number,
                 {**details, "new_instruction": again.id, "action": action.value, "hops": again.hops}, at=now)
    _send(session, again, case_number, now, signer, policy)
    return again


def record_failure(session: Session, instruction: CarrierInstruction, error: str, now: datetime, case_number: str,
                   *, rejected: bool) -> None:
    """A permanent delivery failure (or a signed refusal of the message) ends the instruction; audited."""
    if instruction.status in AWAITING:
        instruction.status = S.FAILED.value
    instruction.last_error = error[:2000]
    audit.append(session, None, "carrier.delivery_failed", "case", case_number, {
        "instruction": instruction.id, "carrier": instruction.carrier, "error": error[:500], "rejected": rejected,
    }, at=now)
