"""The callback queue (劝阻) service on SQLite and PostgreSQL: order, claims as leases, each outcome, the retry
schedule, dedupe, already-paid opening a case, the dissuaded count, and an audit entry for every change."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from fanzha.audit.models import AuditEntry
from fanzha.auth import service as auth_service
from fanzha.auth.actor import Actor
from fanzha.auth.models import Role
from fanzha.cases import queries as case_queries
from fanzha.cases.models import Case, CaseParty
from fanzha.config import Settings
from fanzha.errors import Conflict, Forbidden, InvalidInput, NotFound
from fanzha.outreach import callbacks as cb
from fanzha.outreach.callback_models import CallbackAttempt, CallbackTask
from fanzha.storage.db import Database
from fanzha.telecom.victims import FlaggedNumber, Grade, PotentialVictim

T0 = datetime(2026, 11, 25, 1, 0, tzinfo=UTC)


def person(db: Database, role: Role, name: str, org: str = "center") -> Actor:
    with db.transaction() as session:
        user = auth_service.create_user(session, None, username=name, display_name=name, role=role, org_code=org,
                                        password=None)
        return auth_service.actor_for(user)


@pytest.fixture
def agents(db: Database) -> tuple[Actor, Actor]:
    return person(db, Role.CALLBACK_AGENT, "agent-a"), person(db, Role.CALLBACK_AGENT, "agent-b")


def phone(n: int) -> str:
    return f"+86138{n:08d}"


def open_one(db: Database, n: int, *, grade: str = "medium", at: datetime = T0, on_call: bool = False,
             key: str | None = None, fraud_type: str | None = "impersonate_authority",
             source: str = "watcher") -> int:
    with db.transaction() as session:
        task = cb.open_task(session, phone=phone(n), grade=grade, source=source,  # type: ignore[arg-type]
                            reason=f"test {n}", now=at, on_call_now=on_call, dedupe_key=key, fraud_type=fraud_type)
        return task.id


def task_of(db: Database, task_id: int) -> CallbackTask:
    with db.read() as session:
        task = session.get(CallbackTask, task_id)
        assert task is not None
        return task


def actions(db: Database, task_id: int | None = None) -> list[str]:
    with db.read() as session:
        query = select(AuditEntry.action).where(AuditEntry.action.like("callback.%")).order_by(AuditEntry.id)
        if task_id is not None:
            query = query.where(AuditEntry.object_id == str(task_id))
        return list(session.execute(query).scalars())


def claim(db: Database, actor: Actor, task_id: int, at: datetime = T0) -> CallbackTask:
    with db.transaction() as session:
        return cb.claim(session, actor, task_id, at)


def outcome(db: Database, actor: Actor, task_id: int, what: str, at: datetime = T0, **kw: str) -> CallbackTask:
    with db.transaction() as session:
        return cb.record_outcome(session, actor, task_id, what, at, **kw)


def ready_ids(db: Database, actor: Actor, at: datetime = T0) -> list[int]:
    with db.read() as session:
        return [row["id"] for row in cb.queue(session, actor, at).ready]


# ---- order ------------------------------------------------------------------------------------------------------

def test_on_a_call_now_first_then_grade_then_age(db: Database, agents: tuple[Actor, Actor]) -> None:
    low_old = open_one(db, 1, grade="low", at=T0)
    high_new = open_one(db, 2, grade="high", at=T0 + timedelta(minutes=5))
    medium = open_one(db, 3, grade="medium", at=T0 + timedelta(minutes=1))
    high_old = open_one(db, 4, grade="high", at=T0 + timedelta(minutes=2))
    on_call_low = open_one(db, 5, grade="low", at=T0 + timedelta(minutes=9), on_call=True)
    on_call_high = open_one(db, 6, grade="high", at=T0 + timedelta(minutes=8), on_call=True)
    now = T0 + timedelta(minutes=10)
    assert ready_ids(db, agents[0], now) == [on_call_high, on_call_low, high_old, high_new, medium, low_old]
    # claim-next takes them in that order, one per agent
    with db.transaction() as session:
        first = cb.claim_next(session, agents[0], now)
    with db.transaction() as session:
        second = cb.claim_next(session, agents[1], now)
    assert first is not None and second is not None
    assert (first.id, second.id) == (on_call_high, on_call_low)
    # an agent asking again gets the task they already hold
    with db.transaction() as session:
        again = cb.claim_next(session, agents[0], now)
    assert again is not None and again.id == on_call_high


def test_a_task_not_yet_due_waits_outside_the_ready_list(db: Database, agents: tuple[Actor, Actor]) -> None:
    task = open_one(db, 1)
    claim(db, agents[0], task)
    outcome(db, agents[0], task, "not_reached")
    with db.read() as session:
        q = cb.queue(session, agents[1], T0 + timedelta(minutes=5))
    assert [r["id"] for r in q.waiting] == [task] and q.ready == []
    with db.transaction() as session:
        assert cb.claim_next(session, agents[1], T0 + timedelta(minutes=5)) is None


# ---- dedupe -------------------------------------------------------------------------------------------------------

def test_the_same_dedupe_key_returns_the_same_task(db: Database) -> None:
    first = open_one(db, 1, key="call:abc", on_call=True)
    again = open_one(db, 1, key="call:abc", on_call=True)
    assert first == again
    with db.read() as session:
        assert session.execute(select(func.count()).select_from(CallbackTask)).scalar_one() == 1
    assert actions(db) == ["callback.opened"]


def test_a_second_source_for_the_same_person_raises_the_open_task(db: Database) -> None:
    with db.transaction() as session:
        first = cb.open_or_merge(session, None, phone="13800000001", grade="low", source="potential_victim",
                                 reason="2 calls, unanswered", now=T0, dedupe_key="pv:1")
    with db.transaction() as session:
        second = cb.open_or_merge(session, None, phone="+86 138 0000 0001", grade="high", source="watcher",
                                  reason="on a call with +85261234567", now=T0 + timedelta(minutes=1),
                                  on_call_now=True, dedupe_key="watch:1", fraud_type="冒充公检法及政府机关")
    assert (first.how, second.how) == ("opened", "merged")
    task = task_of(db, first.task.id)
    assert second.task.id == task.id and task.phone == "+8613800000001"
    assert (task.grade, task.on_call, task.fraud_type) == ("high", True, "impersonate_authority")
    assert "unanswered" in task.reason and "+85261234567" in task.reason
    # the second key now also names this task; a lower grade later changes nothing
    with db.transaction() as session:
        third = cb.open_or_merge(session, None, phone="13800000001", grade="low", source="watcher",
                                 reason="on a call with +85261234567", now=T0, dedupe_key="watch:1")
    assert third.how == "existing" and third.task.id == task.id
    assert actions(db) == ["callback.opened", "callback.merged"]


def test_a_closed_task_does_not_block_a_new_one(db: Database, agents: tuple[Actor, Actor]) -> None:
    first = open_one(db, 1, key="k1")
    claim(db, agents[0], first)
    outcome(db, agents[0], first, "dissuaded")
    second = open_one(db, 1, key="k2")
    assert second != first and task_of(db, second).status == "open"
    assert open_one(db, 1, key="k1") == first  # the old key still answers with the old task


def test_open_task_checks_its_input(db: Database) -> None:
    with db.transaction() as session, pytest.raises(InvalidInput) as bad_phone:
        cb.open_task(session, phone="not a phone", grade="high", source="watcher", reason="x", now=T0)
    assert bad_phone.value.field == "phone"
    with db.transaction() as session, pytest.raises(InvalidInput) as bad_grade:
        cb.open_task(session, phone=phone(1), grade="urgent", source="watcher", reason="x", now=T0)  # type: ignore[arg-type]
    assert bad_grade.value.field == "grade"
    with db.transaction() as session, pytest.raises(InvalidInput) as bad_type:
        cb.open_task(session, phone=phone(1), grade="high", source="watcher", reason="x", now=T0, fraud_type="nope")
    assert bad_type.value.field == "fraud_type"


# ---- claims -------------------------------------------------------------------------------------------------------

def test_a_claim_is_a_lease(db: Database, agents: tuple[Actor, Actor]) -> None:
    a, b = agents
    task = open_one(db, 1)
    claimed = claim(db, a, task)
    assert claimed.claimed_by_id == a.user_id and claimed.lease_until == T0 + cb.LEASE
    with pytest.raises(Conflict):
        claim(db, b, task, T0 + timedelta(seconds=30))
    with db.transaction() as session:  # the page renews it
        cb.renew(session, a, task, T0 + timedelta(seconds=60))
    with pytest.raises(Conflict):
        claim(db, b, task, T0 + timedelta(seconds=120))
    # the agent went away: once the lease lapses the task is in the ready list again and b may take it
    later = T0 + timedelta(seconds=60) + cb.LEASE + timedelta(seconds=1)
    assert ready_ids(db, b, later) == [task]
    taken = claim(db, b, task, later)
    assert taken.claimed_by_id == b.user_id
    with db.transaction() as session, pytest.raises(Conflict):
        cb.renew(session, a, task, later)
    with pytest.raises(Conflict):
        outcome(db, a, task, "dissuaded", later)
    with db.read() as session:
        details = session.execute(select(AuditEntry.details).where(AuditEntry.action == "callback.claimed")
                                  .order_by(AuditEntry.id)).scalars().all()
    assert len(details) == 2 and '"lease_lapsed_for":"agent-a"' in details[1]


def test_an_agent_holds_one_task_at_a_time_and_can_give_it_back(db: Database, agents: tuple[Actor, Actor]) -> None:
    a, b = agents
    first, second = open_one(db, 1), open_one(db, 2)
    claim(db, a, first)
    with pytest.raises(Conflict, match=f"task {first}"):
        claim(db, a, second)
    with db.transaction() as session:
        cb.release(session, a, first, T0)
    assert task_of(db, first).claimed_by_id is None
    claim(db, b, first)
    assert actions(db, first)[-2:] == ["callback.released", "callback.claimed"]


def test_lapsed_leases_are_swept_back_into_the_queue(db: Database, agents: tuple[Actor, Actor]) -> None:
    task = open_one(db, 1)
    claim(db, agents[0], task)
    with db.transaction() as session:
        assert cb.release_lapsed(session, T0 + timedelta(seconds=30)) == 0
        assert cb.release_lapsed(session, T0 + cb.LEASE + timedelta(seconds=1)) == 1
    assert task_of(db, task).claimed_by_id is None
    assert actions(db, task)[-1] == "callback.lease_lapsed"


# ---- outcomes -----------------------------------------------------------------------------------------------------

def test_dissuaded_closes_the_task_and_counts_distinct_people(db: Database, agents: tuple[Actor, Actor]) -> None:
    a, _ = agents
    first = open_one(db, 1)
    claim(db, a, first)
    closed = outcome(db, a, first, "dissuaded", T0 + timedelta(minutes=3), note="答应不再转账")
    assert (closed.status, closed.closed_by_id, closed.claimed_by_id) == ("dissuaded", a.user_id, None)
    assert ready_ids(db, a, T0 + timedelta(hours=1)) == []
    # the same person again later, and another person: two people
    again = open_one(db, 1, key="again", at=T0 + timedelta(hours=1))
    claim(db, a, again, T0 + timedelta(hours=1))
    outcome(db, a, again, "dissuaded", T0 + timedelta(hours=1, minutes=2))
    other = open_one(db, 2, at=T0 + timedelta(hours=1))
    claim(db, a, other, T0 + timedelta(hours=2))
    outcome(db, a, other, "dissuaded", T0 + timedelta(hours=2))
    not_reached = open_one(db, 3)
    claim(db, a, not_reached, T0 + timedelta(hours=2))
    outcome(db, a, not_reached, "not_reached", T0 + timedelta(hours=2))
    with db.read() as session:
        assert cb.dissuaded_count(session, T0, T0 + timedelta(days=1)) == 2
        assert cb.dissuaded_count(session, T0, T0 + timedelta(hours=2)) == 1  # until is exclusive
        assert cb.dissuaded_count(session, T0 + timedelta(hours=3), T0 + timedelta(days=1)) == 0
        notes = session.execute(select(CallbackAttempt.note).where(CallbackAttempt.task_id == first)).scalars()
        assert list(notes) == ["答应不再转账"]


def test_not_reached_is_retried_on_the_schedule_then_given_up(db: Database, agents: tuple[Actor, Actor]) -> None:
    a, _ = agents
    task = open_one(db, 1, on_call=True)
    now = T0
    due: list[datetime] = []
    for step in cb.RETRY_SCHEDULE:
        claim(db, a, task, now)
        after = outcome(db, a, task, "not_reached", now)
        assert after.status == "open" and after.claimed_by_id is None
        assert after.next_attempt_at == now + step
        due.append(after.next_attempt_at)
        assert ready_ids(db, a, now + step - timedelta(seconds=1)) == []
        assert ready_ids(db, a, now + step) == [task]
        now = now + step
    assert [b - a for a, b in zip([T0, *due], due, strict=False)] == [
        timedelta(minutes=10), timedelta(minutes=30), timedelta(hours=2)]
    claim(db, a, task, now)
    final = outcome(db, a, task, "not_reached", now)
    assert (final.status, final.attempts, final.closed_at) == ("gave_up", 4, now)
    assert ready_ids(db, a, now + timedelta(days=1)) == []
    with db.read() as session:
        retries = session.execute(select(CallbackAttempt.retry_at).where(CallbackAttempt.task_id == task)
                                  .order_by(CallbackAttempt.id)).scalars().all()
    assert retries == [*due, None]


def test_refused_escalates_to_a_visit_by_the_station(db: Database, agents: tuple[Actor, Actor]) -> None:
    a, _ = agents
    task = open_one(db, 1)
    claim(db, a, task)
    with pytest.raises(InvalidInput) as missing:
        outcome(db, a, task, "refused")
    assert missing.value.field == "station"
    with pytest.raises(InvalidInput):
        outcome(db, a, task, "refused", station="bank:ABC")
    visit = outcome(db, a, task, "refused", station="BAOSHAN")
    assert visit.status == "visit"
    with db.read() as session:
        row = cb.views(session, [visit], T0)[0]
    assert row["station"] == {"code": "station:BAOSHAN", "name_zh": "宝山公安分局", "name_en": "Baoshan police branch"}


def test_outcomes_need_the_claim(db: Database, agents: tuple[Actor, Actor]) -> None:
    a, b = agents
    task = open_one(db, 1)
    with pytest.raises(Conflict, match="claim the task"):
        outcome(db, a, task, "dissuaded")
    claim(db, a, task)
    with pytest.raises(Conflict, match="another agent"):
        outcome(db, b, task, "dissuaded")
    with pytest.raises(InvalidInput):
        outcome(db, a, task, "maybe")
    outcome(db, a, task, "dissuaded")
    with pytest.raises(Conflict, match="closed"):
        outcome(db, a, task, "dissuaded")


def test_already_paid_opens_a_report_prefilled_and_it_appears_as_a_case(db: Database, settings: Settings,
                                                                     agents: tuple[Actor, Actor]) -> None:
    a, _ = agents
    with db.transaction() as session:
        opened = cb.open_or_merge(session, None, phone="13800000077", grade="high", source="watcher",
                                  reason="on a call", now=T0, fraud_type="fake_investment",
                                  flagged_number="+85261234567")
    task = opened.task.id
    claim(db, a, task, datetime.now(UTC))
    paid = cb.record(db, settings, a, task, "paid", datetime.now(UTC))
    assert paid.status == "paid" and paid.report_case_number
    officer = person(db, Role.DUTY_OFFICER, "duty-1")
    with db.read() as session:
        case = case_queries.get_case(session, officer, paid.report_case_number, audit_read=False)
        assert case.fraud_type == "fake_investment" and case.channel == "station"
        assert f"#{task}" in case.narrative and "agent-a" in case.narrative
        victim = session.execute(select(CaseParty).where(CaseParty.case_id == case.id,
                                                         CaseParty.role == "victim")).scalar_one()
        assert victim.phone == "+8613800000077"
        phones = {e.value for e in case.entities if e.kind == "phone"}
        assert "+85261234567" in phones
        assert session.execute(select(func.count()).select_from(Case)).scalar_one() == 1
    # the report is filed once per task, even if asked again
    with db.read() as session:
        again = session.get(CallbackTask, task)
        assert again is not None
    assert cb.open_report(db, settings, a, again) == paid.report_case_number
    assert actions(db, task)[-1] == "callback.outcome"


# ---- sources --------------------------------------------------------------------------------------------------

def victim(number: str, grade: Grade, *, still: bool = False, last: datetime = T0) -> PotentialVictim:
    return PotentialVictim(number=number, grade=grade, action="call", reasons=[f"{grade.value} reason"], calls=2,
                           calls_from_flagged=2, calls_to_flagged=0, answered=1, talk_s=300, longest_s=300,
                           first_call=last - timedelta(hours=1), last_call=last, still_connected=still)


def test_potential_victims_become_graded_tasks_once(db: Database, agents: tuple[Actor, Actor]) -> None:
    officer = person(db, Role.DUTY_OFFICER, "duty-2")
    flagged = [FlaggedNumber(number="+85261234567", calls_out=6, grades={}, victims=[
        victim("+8613900000001", Grade.HIGH), victim("+8613900000002", Grade.LOW),
        victim("+8613900000003", Grade.MEDIUM, still=True)])]
    with db.transaction() as session:
        result = cb.open_from_victims(session, officer, flagged, now=T0, fraud_type="fake_investment",
                                      min_grade="medium")
    assert len(result.opened) == 2 and result.skipped == 1
    assert ready_ids(db, agents[0]) == [result.opened[1].id, result.opened[0].id]  # the one still on a call first
    task = task_of(db, result.opened[0].id)
    assert (task.source, task.flagged_number, task.fraud_type) == ("potential_victim", "+85261234567",
                                                                  "fake_investment")
    assert task.reason.startswith("called by +85261234567: high reason")
    with db.transaction() as session:
        again = cb.open_from_victims(session, officer, flagged, now=T0 + timedelta(hours=1), min_grade="medium")
    assert again.opened == [] and len(again.existing) == 2
    with db.transaction() as session, pytest.raises(Forbidden):
        cb.open_from_victims(session, agents[0], flagged, now=T0)


def test_a_call_that_ends_leaves_the_top_of_the_queue(db: Database, agents: tuple[Actor, Actor]) -> None:
    high = open_one(db, 1, grade="high")
    on_call = open_one(db, 2, grade="low", on_call=True)
    assert ready_ids(db, agents[0]) == [on_call, high]
    with db.transaction() as session:
        cb.call_ended(session, phone=phone(2), now=T0)
    assert ready_ids(db, agents[0]) == [high, on_call]
    assert actions(db, on_call)[-1] == "callback.call_ended"


# ---- access and audit ---------------------------------------------------------------------------------------------

def test_who_may_touch_the_queue(db: Database) -> None:
    task = open_one(db, 1)
    for role, org, expected in (
            (Role.BANK_LIAISON, "bank:ABC", NotFound), (Role.CARRIER_LIAISON, "carrier:CMCC", NotFound),
            (Role.HOTLINE_OPERATOR, "hotline:12345", Forbidden), (Role.AUDITOR, "center", Forbidden),
            (Role.DUTY_OFFICER, "center", Forbidden)):
        actor = person(db, role, f"who-{role.value}", org)
        with pytest.raises(expected):
            claim(db, actor, task)
        if role is not Role.DUTY_OFFICER:
            with db.read() as session, pytest.raises(expected):
                cb.queue(session, actor, T0)
    supervisor = person(db, Role.SUPERVISOR, "sup-1")
    claim(db, supervisor, task)
    outcome(db, supervisor, task, "dissuaded")


def test_every_state_change_is_audited(db: Database, agents: tuple[Actor, Actor]) -> None:
    a, b = agents
    task = open_one(db, 1, grade="low")
    open_one(db, 1, grade="high", key="w")  # merged
    claim(db, a, task)
    with db.transaction() as session:
        cb.renew(session, a, task, T0 + timedelta(seconds=10))  # a renewal changes no hands: not audited
        cb.release(session, a, task, T0 + timedelta(seconds=20))
    claim(db, b, task, T0 + timedelta(seconds=30))
    outcome(db, b, task, "not_reached", T0 + timedelta(seconds=40))
    claim(db, b, task, T0 + timedelta(minutes=11))
    outcome(db, b, task, "refused", T0 + timedelta(minutes=12), station="station:PUDONG")
    assert actions(db, task) == ["callback.opened", "callback.merged", "callback.claimed", "callback.released",
                                 "callback.claimed", "callback.outcome", "callback.claimed", "callback.outcome"]
    with db.read() as session:
        last = session.execute(select(AuditEntry).where(AuditEntry.action == "callback.outcome")
                               .order_by(AuditEntry.id.desc()).limit(1)).scalar_one()
    assert last.actor == "agent-b" and '"station":"station:PUDONG"' in last.details
