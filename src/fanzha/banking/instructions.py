"""Issuing holds (stop-payment, freeze) to banks and applying the banks' signed answers.

A decision and its message commit together: `issue_hold` and `approve` write the instruction row and its
signed envelope into the outbox in the caller's transaction. `apply_answer` runs in the dispatcher's
transaction when the bank answers, and moves the instruction through banking/lifecycle.py.
"""

from __future__ import annotations

import json
import uuid
from contextlib import suppress
from dataclasses import dataclass, field, replace
from datetime import datetime
from decimal import Decimal

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from fanzha.audit import service as audit
from fanzha.auth.actor import Actor
from fanzha.auth.models import Role
from fanzha.banking import lifecycle, outbox
from fanzha.banking import messages as m
from fanzha.banking.keys import SigningKey
from fanzha.banking.lifecycle import Hold, HoldEvent, HoldKind, HoldRules, HoldStatus, RuleViolation
from fanzha.banking.models import HOLD_KINDS, QUERY_KINDS, RETURN_KIND, BankInstruction, OutboxMessage
from fanzha.banking.signing import sign_envelope
from fanzha.cases.models import Case
from fanzha.errors import Conflict, Forbidden

CENTER = m.CENTER


@dataclass(frozen=True, slots=True)
class ApprovalPolicy:
    """Who must approve a hold before it is sent.

    `automatic`: holds up to the threshold go out at once (the first move without a click); larger ones
    wait for a supervisor. Otherwise every hold waits for one click by a duty officer, and larger ones for
    a supervisor. Thresholds are per currency; a currency without one always needs a supervisor.
    """

    automatic: bool = True
    # Banks with staff in the room but no system link: their liaison answers in the console inbox.
    hand_answered_banks: frozenset[str] = frozenset()
    supervisor_threshold: dict[str, Decimal] = field(
        default_factory=lambda: {"CNY": Decimal("1000000"), "EUR": Decimal("130000"), "USD": Decimal("140000")})
    rules: HoldRules = field(default_factory=HoldRules)  # the terms asked of the bank

    def needs_supervisor(self, kind: HoldKind, amount: Decimal | None, currency: str) -> bool:
        if amount is None:
            # Stopping a whole mule account is the routine first move; freezing one whole is not.
            return kind is HoldKind.FREEZE
        limit = self.supervisor_threshold.get(currency)
        return limit is None or amount > limit

    def needs_approval(self, kind: HoldKind, amount: Decimal | None, currency: str) -> bool:
        return not self.automatic or self.needs_supervisor(kind, amount, currency)


def hold_of(instruction: BankInstruction) -> Hold:
    return Hold(kind=HoldKind(instruction.kind), status=HoldStatus(instruction.status),
                major_case=instruction.major_case, requested_amount=instruction.requested_amount,
                held_amount=instruction.held_amount, expires_at=instruction.expires_at,
                renewals=instruction.renewals)


def _store(instruction: BankInstruction, hold: Hold, now: datetime | None = None) -> None:
    if hold.status is HoldStatus.ACTIVE and instruction.held_at is None and now is not None:
        instruction.held_at = now  # first held; a renewal's later answer does not move it
    instruction.status = hold.status.value
    instruction.held_amount = hold.held_amount
    instruction.expires_at = hold.expires_at
    instruction.renewals = hold.renewals


def issue_hold(session: Session, actor: Actor, *, case_id: int, case_number: str, kind: HoldKind,
               bank_code: str, account: str, amount: Decimal | None, currency: str, reason: str, now: datetime,
               signer: SigningKey, policy: ApprovalPolicy, major_case: bool = False,
               victim_transfer_at: datetime | None = None) -> BankInstruction:
    """Create a hold instruction; if no approval is needed its signed message enters the outbox now."""
    if actor.role not in (Role.DUTY_OFFICER, Role.SUPERVISOR):
        raise Forbidden("only duty officers and supervisors instruct banks")
    hold = lifecycle.new_hold(kind, requested_amount=amount, major_case=major_case,
                              needs_approval=policy.needs_approval(kind, amount, currency))
    instruction = BankInstruction(
        case_id=case_id, kind=kind.value, bank_code=bank_code, account=account, currency=currency,
        requested_amount=amount, major_case=major_case, status=hold.status.value, renewals=0,
        message_id=str(uuid.uuid4()), requested_by_id=actor.user_id,
        created_at=now, answer="{}", last_error="",
    )
    session.add(instruction)
    session.flush()
    audit.append(session, actor, f"bank.{kind.value}_requested", "case", case_number, {
        "instruction": instruction.id, "bank": bank_code, "account": account,
        "amount": str(amount) if amount is not None else "whole account", "currency": currency,
        "status": hold.status.value,
    })
    if hold.status is HoldStatus.QUEUED:
        _enqueue_hold(session, instruction, case_number, reason, actor, signer, now, victim_transfer_at,
                      by_hand=bank_code in policy.hand_answered_banks, rules=policy.rules)
    return instruction


def approve(session: Session, actor: Actor, instruction: BankInstruction, *, case_number: str, reason: str,
            now: datetime, signer: SigningKey, policy: ApprovalPolicy) -> BankInstruction:
    """One click: a pending hold is approved and its signed message enters the outbox."""
    if actor.role not in (Role.DUTY_OFFICER, Role.SUPERVISOR):
        raise Forbidden("only duty officers and supervisors approve instructions to banks")
    _require_hold(instruction)
    big = policy.needs_supervisor(HoldKind(instruction.kind), instruction.requested_amount, instruction.currency)
    if big and actor.role is not Role.SUPERVISOR:
        raise Forbidden("a hold of this size (or of a whole account) needs a supervisor's approval")
    try:
        hold = lifecycle.apply(hold_of(instruction), HoldEvent.APPROVE, now)
    except RuleViolation as exc:
        raise Conflict(str(exc)) from exc
    _store(instruction, hold)
    instruction.approved_by_id = actor.user_id
    audit.append(session, actor, "bank.instruction_approved", "case", case_number, {"instruction": instruction.id})
    _enqueue_hold(session, instruction, case_number, reason, actor, signer, now, None,
                  by_hand=instruction.bank_code in policy.hand_answered_banks, rules=policy.rules)
    return instruction


def _enqueue_hold(session: Session, instruction: BankInstruction, case_number: str, reason: str,
                  actor: Actor, signer: SigningKey, now: datetime, victim_transfer_at: datetime | None,
                  *, by_hand: bool = False, rules: HoldRules = HoldRules()) -> None:
    officer = actor.username
    body: m.StopPayment | m.Freeze
    if instruction.kind == HoldKind.STOP_PAYMENT.value:
        body = m.StopPayment(case_number=case_number, officer=officer, account=instruction.account,
                             bank_code=instruction.bank_code, amount=instruction.requested_amount,
                             currency=instruction.currency, reason=reason, victim_transfer_at=victim_transfer_at,
                             hold_hours=rules.stop_payment_hours)
    else:
        body = m.Freeze(case_number=case_number, officer=officer, account=instruction.account,
                        bank_code=instruction.bank_code, amount=instruction.requested_amount,
                        currency=instruction.currency, major_case=instruction.major_case,
                        days=rules.term(HoldKind.FREEZE, instruction.major_case).days)
    # The hold's own message id is the instruction's: the bank's answers and later renewals name it.
    message = _enqueue(session, instruction, body, now, signer, key=instruction.message_id)
    if by_hand:
        # Delivered to the bank liaison's inbox at once; the signed message stays on record.
        message.status = "inbox"
        _store(instruction, lifecycle.apply(hold_of(instruction), HoldEvent.SENT, now))
        instruction.sent_at = now
        mark_first_action(session, instruction.case_id, now)


def received(session: Session, instruction: BankInstruction, envelope: m.Envelope, now: datetime) -> None:
    """The bank has the instruction (its Ack, or an answer, which implies receipt): the sent and
    acknowledged times are set once, and a hold reaching a bank stops the case's SLA clock."""
    if instruction.sent_at is None:
        instruction.sent_at = envelope.sent_time
    if instruction.acknowledged_at is None:
        instruction.acknowledged_at = now
    if instruction.kind in HOLD_KINDS:
        mark_first_action(session, instruction.case_id, instruction.sent_at)


def acknowledge(session: Session, instruction: BankInstruction, envelope: m.Envelope, ack: m.Envelope,
                now: datetime, case_number: str) -> None:
    """The bank's Ack: received, result to follow. The instruction waits as ``sent`` until the result comes."""
    received(session, instruction, envelope, now)
    if instruction.status == HoldStatus.QUEUED.value:
        if instruction.kind in HOLD_KINDS:
            _store(instruction, lifecycle.apply(hold_of(instruction), HoldEvent.SENT, now))
        else:
            instruction.status = HoldStatus.SENT.value
    body = ack.typed_body()
    expected = body.expected_by if isinstance(body, m.Ack) else None
    audit.append(session, None, "bank.acknowledged", "case", case_number, {
        "instruction": instruction.id, "bank": instruction.bank_code, "message": envelope.type.value,
        "expected_by": _iso(expected),
    })


def mark_first_action(session: Session, case_id: int, at: datetime) -> None:
    """A hold reaching a bank is the center's first action on the money: the case's SLA clock stops."""
    session.execute(update(Case).where(Case.id == case_id, Case.first_action_at.is_(None))
                    .values(first_action_at=at))


def awaiting_by_hand(session: Session, instruction: BankInstruction) -> OutboxMessage | None:
    """The message of this instruction waiting in its bank liaison's inbox (hold, renewal or release), if any."""
    return session.execute(
        select(OutboxMessage).where(OutboxMessage.instruction_id == instruction.id, OutboxMessage.status == "inbox")
        .order_by(OutboxMessage.id.desc()).limit(1)
    ).scalar_one_or_none()


def acknowledge_by_hand(session: Session, actor: Actor, instruction: BankInstruction, *, case_number: str,
                        now: datetime) -> None:
    """A bank liaison confirms the bank has the instruction (收到) before the answer is ready."""
    if actor.role is not Role.BANK_LIAISON or actor.org_short_code != instruction.bank_code:
        raise Forbidden("only a liaison of the instructed bank may acknowledge for it")
    pending = awaiting_by_hand(session, instruction)
    if pending is None:
        raise Conflict("nothing of this instruction is waiting for the bank")
    if pending.acknowledged_at is not None:
        return  # a second click changes nothing
    pending.acknowledged_at = now
    if instruction.acknowledged_at is None:
        instruction.acknowledged_at = now
    audit.append(session, actor, "bank.acknowledged", "case", case_number, {
        "instruction": instruction.id, "bank": instruction.bank_code, "message": pending.message_type,
        "by_hand": actor.username,
    })


def answer_by_hand(session: Session, actor: Actor, instruction: BankInstruction, *, case_number: str, held: bool,
                   amount: Decimal | None, expires_at: datetime | None, reason: str, now: datetime,
                   rules: HoldRules = HoldRules()) -> None:
    """A bank liaison records their bank's answer in the console (banks without a system link).

    The answer is to whatever waits in the inbox: the hold itself (``held``: held or frozen, ``amount`` says
    how much), a renewal (``held``: renewed, ``expires_at`` the bank's new expiry if shorter) or a release
    (``held``: released). ``held=False`` is a refusal and needs the bank's reason.
    """
    if actor.role is not Role.BANK_LIAISON or actor.org_short_code != instruction.bank_code:
        raise Forbidden("only a liaison of the instructed bank may answer for it")
    pending = awaiting_by_hand(session, instruction)
    if instruction.kind == RETURN_KIND:
        _return_by_hand(session, actor, instruction, pending, case_number=case_number, returned=held, amount=amount,
                        reason=reason, now=now)
        return
    if instruction.kind not in HOLD_KINDS:
        raise Conflict(f"a {instruction.kind} is answered by the bank's system, not by hand")
    # Nothing in the inbox: the liaison answers the hold itself (its bank's link may be down; the rules
    # below still refuse an answer to a hold that is not waiting for one).
    asked = pending.message_type if pending is not None else \
        (m.MessageType.STOP_PAYMENT if instruction.kind == HoldKind.STOP_PAYMENT.value else m.MessageType.FREEZE)
    hold = hold_of(instruction)
    try:
        if not held and not reason.strip():
            raise RuleViolation("a refusal needs the bank's reason")
        if asked in (m.MessageType.STOP_PAYMENT, m.MessageType.FREEZE):
            event = HoldEvent.HELD if held else HoldEvent.REJECTED
            hold = lifecycle.apply(hold, event, now, rules, held_amount=amount, bank_expires_at=expires_at)
        elif asked == m.MessageType.RENEW and held:
            hold = lifecycle.apply(hold, HoldEvent.RENEW, now, rules)
            if expires_at is not None and hold.expires_at is not None:
                hold = replace(hold, expires_at=min(hold.expires_at, expires_at))  # never beyond the bank's word
        elif asked == m.MessageType.RELEASE:
            hold = lifecycle.apply(hold, HoldEvent.RELEASED if held else HoldEvent.RELEASE_REFUSED, now)
        elif asked != m.MessageType.RENEW:  # a refused renewal leaves the hold as it was
            raise RuleViolation(f"a {asked} is not answered by hand")
    except RuleViolation as exc:
        raise Conflict(str(exc)) from exc
    _store(instruction, hold, now)
    instruction.answered_at = now
    if instruction.acknowledged_at is None:
        instruction.acknowledged_at = now
    instruction.answer = json.dumps({"by_hand": actor.username, "org": actor.org_code, "answers": asked,
                                     "held": held, "amount": str(amount) if amount is not None else None,
                                     "reason": reason.strip()}, ensure_ascii=False)
    if pending is not None:
        pending.status, pending.delivered_at = "delivered", now
    audit.append(session, actor, "bank.answered_by_hand", "case", case_number, {
        "instruction": instruction.id, "answers": asked, "held": held,
        "amount": str(amount) if amount is not None else None, "reason": reason.strip(),
    })


def _return_by_hand(session: Session, actor: Actor, instruction: BankInstruction, pending: OutboxMessage | None, *,
                    case_number: str, returned: bool, amount: Decimal | None, reason: str, now: datetime) -> None:
    from fanzha.banking import returns  # returns builds on this module; imported here to avoid a cycle

    if pending is None:
        raise Conflict("this return is not waiting in the bank's inbox")
    returns.answer_by_hand(session, actor, instruction, case_number=case_number, returned=returned, amount=amount,
                           reason=reason, now=now)
    if instruction.acknowledged_at is None:
        instruction.acknowledged_at = now
    pending.status, pending.delivered_at = "delivered", now
    audit.append(session, actor, "bank.answered_by_hand", "case", case_number, {
        "instruction": instruction.id, "answers": pending.message_type, "held": returned,
        "amount": str(amount) if amount is not None else None, "reason": reason.strip(),
    })


def request_renewal(session: Session, actor: Actor, instruction: BankInstruction, *, case_number: str,
                    now: datetime, signer: SigningKey, rules: HoldRules = HoldRules(), by_hand: bool = False) -> None:
    """Ask the bank to renew an active hold; the rules are checked now, the new expiry comes with the answer."""
    _require_officer(actor)
    _require_hold(instruction)
    try:
        lifecycle.apply(hold_of(instruction), HoldEvent.RENEW, now, rules)  # refuse early what the bank would
    except RuleViolation as exc:
        raise Conflict(str(exc)) from exc
    kind = HoldKind(instruction.kind)
    term = rules.term(kind, instruction.major_case)
    amount = int(term.total_seconds() // 3600) if kind is HoldKind.STOP_PAYMENT else term.days
    body = m.Renew(case_number=case_number, officer=actor.username, target_id=instruction.message_id,
                   kind=kind.value, hours_or_days=amount)
    _to_inbox_if(by_hand, _enqueue(session, instruction, body, now, signer))
    audit.append(session, actor, f"bank.{kind.value}_renewal_requested", "case", case_number,
                 {"instruction": instruction.id, "renewal": instruction.renewals + 1})


def request_release(session: Session, actor: Actor, instruction: BankInstruction, *, case_number: str,
                    reason: str, now: datetime, signer: SigningKey, by_hand: bool = False) -> None:
    """Release an active hold (e.g. the money is proven not to be the victims'); final once the bank confirms."""
    _require_officer(actor)
    _require_hold(instruction)
    try:
        _store(instruction, lifecycle.apply(hold_of(instruction), HoldEvent.RELEASE, now))
    except RuleViolation as exc:
        raise Conflict(str(exc)) from exc
    kind = HoldKind(instruction.kind)
    body = m.Release(case_number=case_number, officer=actor.username, target_id=instruction.message_id,
                     kind=kind.value, reason=reason)
    _to_inbox_if(by_hand, _enqueue(session, instruction, body, now, signer))
    audit.append(session, actor, f"bank.{kind.value}_release_requested", "case", case_number,
                 {"instruction": instruction.id, "reason": reason})


def _to_inbox_if(by_hand: bool, message: OutboxMessage) -> None:
    """A bank without a system link gets the signed message in its liaison's inbox instead of the gateway."""
    if by_hand:
        message.status = "inbox"


def issue_query(session: Session, actor: Actor, *, case_id: int, case_number: str, kind: str, bank_code: str,
                account: str, currency: str, now: datetime, signer: SigningKey,
                since: datetime | None = None) -> BankInstruction:
    """Ask a bank for an account's transactions from ``since`` (TransactionQuery) or its holder (AccountQuery).

    A query moves no money, so it needs no approval; it goes out at once through the outbox. Only the
    center's officers ask: the answer names the holder and the account's movements.
    """
    _require_officer(actor)
    if kind not in QUERY_KINDS:
        raise ValueError(f"not a query: {kind}")
    if kind == "transaction_query" and since is None:
        raise ValueError("a transaction query needs since")
    instruction = BankInstruction(
        case_id=case_id, kind=kind, bank_code=bank_code, account=account, currency=currency,
        requested_amount=None, major_case=False, status="queued", renewals=0, message_id=str(uuid.uuid4()),
        requested_by_id=actor.user_id, created_at=now, query_since=since, answer="{}", last_error="",
    )
    session.add(instruction)
    session.flush()
    body: m.TransactionQuery | m.AccountQuery
    if kind == "transaction_query":
        assert since is not None
        body = m.TransactionQuery(case_number=case_number, officer=actor.username, account=account,
                                  bank_code=bank_code, since=since)
    else:
        body = m.AccountQuery(case_number=case_number, officer=actor.username, account=account, bank_code=bank_code)
    _enqueue(session, instruction, body, now, signer, key=instruction.message_id)
    audit.append(session, actor, f"bank.{kind}_requested", "case", case_number, {
        "instruction": instruction.id, "bank": bank_code, "account": account, "since": _iso(since),
    })
    return instruction


def expire_due(session: Session, now: datetime) -> list[tuple[int, str]]:
    """Mark active holds past their expiry as expired (stop-payment) or lapsed (freeze); returns (id, status)."""
    rows = session.execute(
        select(BankInstruction, Case.number).join(Case, Case.id == BankInstruction.case_id)
        .where(BankInstruction.status == HoldStatus.ACTIVE.value, BankInstruction.expires_at <= now)
        .with_for_update(of=BankInstruction)
    ).all()
    ended = []
    for instruction, number in rows:
        _store(instruction, lifecycle.apply(hold_of(instruction), HoldEvent.EXPIRE, now))
        audit.append(session, None, f"bank.{instruction.kind}_{instruction.status}", "case", number,
                     {"instruction": instruction.id, "expired_at": _iso(instruction.expires_at)})
        ended.append((instruction.id, instruction.status))
    return ended


def _require_hold(instruction: BankInstruction) -> None:
    """Approve, renew and release are for stop-payments and freezes; a return has its own steps."""
    if instruction.kind not in HOLD_KINDS:
        where = f" (see /api/v1/returns/{instruction.id})" if instruction.kind == RETURN_KIND else ""
        raise Conflict(f"instruction {instruction.id} is a {instruction.kind}, not a stop-payment or freeze{where}")


def _require_officer(actor: Actor) -> None:
    if actor.role not in (Role.DUTY_OFFICER, Role.SUPERVISOR):
        raise Forbidden("only duty officers and supervisors instruct banks")


def _enqueue(session: Session, instruction: BankInstruction, body: m.MessageBody, now: datetime,
             signer: SigningKey, *, key: str | None = None) -> OutboxMessage:
    """Sign a message to the instruction's bank and put it in the outbox (message id = idempotency key)."""
    key = key or str(uuid.uuid4())
    envelope = sign_envelope(body, signer, recipient=f"bank:{instruction.bank_code}", idempotency_key=key,
                             message_id=key, sent_at=now)
    return outbox.enqueue(session, instruction_id=instruction.id, message_type=envelope.type,
                          recipient=envelope.recipient, idempotency_key=key,
                          envelope=json.dumps(envelope.to_wire(), ensure_ascii=False), now=now)


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def apply_answer(session: Session, instruction: BankInstruction, answer: m.Envelope, now: datetime,
                 case_number: str, rules: HoldRules = HoldRules()) -> BankInstruction:
    """Move the instruction by the bank's verified answer; the answer is kept, signature and all."""
    if instruction.kind == RETURN_KIND:
        from fanzha.banking import returns  # returns builds on this module; imported here to avoid a cycle

        return returns.apply_answer(session, instruction, answer, now, case_number)
    body = answer.typed_body()
    if instruction.kind in QUERY_KINDS:
        instruction.status = "answered"
        instruction.answered_at = now
        instruction.answer = json.dumps(answer.to_wire(), ensure_ascii=False)
        rows = len(body.transactions) if isinstance(body, m.TransactionQueryResult) else None
        audit.append(session, None, "bank.answer", "case", case_number, {
            "instruction": instruction.id, "bank": instruction.bank_code, "answer": answer.type, "transactions": rows,
        })
        return instruction
    hold = hold_of(instruction)
    if isinstance(body, m.StopPaymentResult | m.FreezeResult):
        amount = body.held_amount if isinstance(body, m.StopPaymentResult) else body.frozen_amount
        if body.status == "rejected":
            hold = lifecycle.apply(hold, HoldEvent.REJECTED, now)
        else:
            hold = lifecycle.apply(hold, HoldEvent.HELD, now, rules, held_amount=amount,
                                   bank_expires_at=body.expires_at)
    elif isinstance(body, m.RenewResult) and body.status == "renewed":
        hold = lifecycle.apply(hold, HoldEvent.RENEW, now, rules)
        if body.expires_at is not None and hold.expires_at is not None:
            hold = replace(hold, expires_at=min(hold.expires_at, body.expires_at))  # never beyond the bank's word
    elif isinstance(body, m.ReleaseResult):
        event = HoldEvent.RELEASED if body.status == "released" else HoldEvent.RELEASE_REFUSED
        hold = lifecycle.apply(hold, event, now)
    _store(instruction, hold, now)
    instruction.answered_at = now
    instruction.answer = json.dumps(answer.to_wire(), ensure_ascii=False)
    audit.append(session, None, "bank.answer", "case", case_number, {
        "instruction": instruction.id, "bank": instruction.bank_code, "answer": answer.type,
        "status": getattr(body, "status", None), "held": str(instruction.held_amount or ""),
    })
    return instruction


def record_failure(session: Session, instruction: BankInstruction, error: str, now: datetime, case_number: str,
                   *, rejected: bool) -> None:
    """A permanent delivery failure (or a signed refusal) ends the instruction; the reason is audited."""
    event = HoldEvent.REJECTED if rejected else HoldEvent.FAILED
    if instruction.kind in QUERY_KINDS:
        if instruction.status != "answered":
            instruction.status = "failed"
    elif instruction.kind == RETURN_KIND:
        if instruction.status not in ("returned", "rejected"):
            instruction.status = "rejected" if rejected else "failed"
    else:  # already settled by an earlier answer: keep that state, but still record what happened
        with suppress(RuleViolation):
            _store(instruction, lifecycle.apply(hold_of(instruction), event, now))
    instruction.last_error = error[:2000]
    audit.append(session, None, "bank.delivery_failed", "case", case_number, {
        "instruction": instruction.id, "bank": instruction.bank_code, "error": error[:500], "rejected": rejected,
    })
