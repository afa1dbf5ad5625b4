"""The case state machine: which status may follow which, and who may move it."""

from __future__ import annotations

from datetime import UTC, datetime

from fanzha.audit import service as audit
from fanzha.auth.actor import Actor
from fanzha.auth.permissions import Permission, allowed
from fanzha.cases.models import Case, CaseStatus, CaseStatusEvent
from fanzha.errors import Conflict, Forbidden, InvalidInput, NotFound
from fanzha.storage.db import Database

S = CaseStatus
TRANSITIONS: dict[CaseStatus, frozenset[CaseStatus]] = {
    S.RECEIVED: frozenset({S.ACCEPTED, S.CLOSED}),
    S.ACCEPTED: frozenset({S.IN_PROGRESS, S.REFERRED, S.CLOSED}),
    S.IN_PROGRESS: frozenset({S.REFERRED, S.CLOSED}),
    S.REFERRED: frozenset({S.IN_PROGRESS, S.CLOSED}),
    S.CLOSED: frozenset({S.IN_PROGRESS}),  # reopened when a new victim or new money turns up
}


def transition(db: Database, actor: Actor, case_id: int, to: str, note: str = "") -> Case:
    if not allowed(actor.role, Permission.CASE_TRANSITION):
        raise Forbidden("your role may not change a case's status")
    try:
        target = CaseStatus(to)
    except ValueError as exc:
        raise InvalidInput(f"unknown status {to!r}; expected one of "
                           + ", ".join(s.value for s in CaseStatus), field="to") from exc
    if target is CaseStatus.CLOSED and not note.strip():
        raise InvalidInput("closing a case needs a note saying why", field="note")
    with db.transaction() as session:
        case = session.get(Case, case_id, with_for_update=True)
        if case is None:
            raise NotFound("case not found")
        current = CaseStatus(case.status)
        if target not in TRANSITIONS[current]:
            allowed_next = ", ".join(sorted(s.value for s in TRANSITIONS[current]))
            raise Conflict(f"a {current.value} case cannot become {target.value}; it may become: {allowed_next}",
                           field="to")
        now = datetime.now(UTC)
        case.status = target.value
        if case.first_action_at is None:
            case.first_action_at = now
        session.add(CaseStatusEvent(case_id=case.id, from_status=current.value, to_status=target.value, at=now,
                                    by_user_id=actor.user_id, by_username=actor.username, note=note.strip()))
        audit.append(session, actor, "case.transitioned", "case", case.number,
                     {"from": current.value, "to": target.value, "note": note.strip()})
    return case
