"""Agents racing on the real database (threads, each with its own connection), on SQLite and PostgreSQL:
two agents never hold one task, and a person is never queued twice."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import TypeVar

from sqlalchemy import func, select

from fanzha.audit.models import AuditEntry
from fanzha.auth.actor import Actor
from fanzha.auth.models import Role
from fanzha.errors import Conflict
from fanzha.outreach import callbacks as cb
from fanzha.outreach.callback_models import CallbackAttempt, CallbackKey, CallbackTask
from fanzha.storage.db import Database
from tests.outreach.test_callbacks import T0, open_one, person, phone

R = TypeVar("R")


def race(workers: list[Callable[[], R]]) -> list[R | Exception]:
    """Run the callables at once (released together by a barrier); each one's result or exception."""
    barrier = threading.Barrier(len(workers))
    results: list[R | Exception] = [RuntimeError("did not run")] * len(workers)

    def run(i: int) -> None:
        barrier.wait()
        try:
            results[i] = workers[i]()
        except Exception as exc:  # collected and judged by the test
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(workers))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results


def claimer(db: Database, agent: Actor, task_id: int) -> Callable[[], int]:
    def go() -> int:
        with db.transaction() as session:
            return cb.claim(session, agent, task_id, T0).claimed_by_id or 0
    return go


def test_two_agents_racing_for_one_task_exactly_one_wins(db: Database) -> None:
    agents = [person(db, Role.CALLBACK_AGENT, f"racer-{i}") for i in range(4)]
    for round_ in range(8):
        task = open_one(db, round_)
        pair = agents[(round_ % 2) * 2:(round_ % 2) * 2 + 2]
        results = race([claimer(db, agent, task) for agent in pair])
        winners = [r for r in results if not isinstance(r, Exception)]
        losers = [r for r in results if isinstance(r, Exception)]
        assert len(winners) == 1 and len(losers) == 1, results
        assert isinstance(losers[0], Conflict)
        with db.read() as session:
            row = session.get(CallbackTask, task)
            assert row is not None and row.claimed_by_id == winners[0]
        # each agent now holds one task; free them for the next rounds
        with db.transaction() as session:
            cb.record_outcome(session, next(a for a in pair if a.user_id == winners[0]), task, "dissuaded", T0)
    with db.read() as session:
        claims = session.execute(select(func.count()).select_from(AuditEntry)
                                 .where(AuditEntry.action == "callback.claimed")).scalar_one()
    assert claims == 8


def test_agents_draining_the_queue_at_once_call_each_person_once(db: Database) -> None:
    tasks = [open_one(db, n, grade=("high", "medium", "low")[n % 3], at=T0 + timedelta(seconds=n))
             for n in range(24)]
    agents = [person(db, Role.CALLBACK_AGENT, f"drainer-{i}") for i in range(4)]
    now = T0 + timedelta(minutes=1)

    def drain(agent: Actor) -> Callable[[], list[int]]:
        def go() -> list[int]:
            done: list[int] = []
            while True:
                try:
                    with db.transaction() as session:
                        task = cb.claim_next(session, agent, now)
                        if task is None:
                            return done
                        cb.record_outcome(session, agent, task.id, "dissuaded", now)
                        done.append(task.id)
                except Conflict:
                    continue  # another agent changed the row between our read and write: ask again
        return go

    results = race([drain(agent) for agent in agents])
    done = [task for r in results if not isinstance(r, Exception) for task in r]
    assert not [r for r in results if isinstance(r, Exception)], results
    assert sorted(done) == sorted(tasks)
    with db.read() as session:
        per_task = session.execute(select(CallbackAttempt.task_id, func.count()).group_by(CallbackAttempt.task_id))
        assert {task: count for task, count in per_task.all()} == dict.fromkeys(tasks, 1)
        assert cb.dissuaded_count(session, T0, now + timedelta(seconds=1)) == 24


def test_the_same_person_opened_from_many_sources_at_once_is_queued_once(db: Database) -> None:
    at = datetime.now(UTC)

    def opener(i: int) -> Callable[[], int]:
        def go() -> int:
            with db.transaction() as session:
                return cb.open_task(session, phone=phone(7), grade=("low", "high")[i % 2], source="watcher",
                                    reason=f"source {i}", now=at, on_call_now=i % 3 == 0,
                                    dedupe_key=f"call-{i % 3}").id
        return go

    results = race([opener(i) for i in range(6)])
    assert not [r for r in results if isinstance(r, Exception)], results
    assert len(set(results)) == 1
    with db.read() as session:
        assert session.execute(select(func.count()).select_from(CallbackTask)).scalar_one() == 1
        assert session.execute(select(func.count()).select_from(CallbackKey)).scalar_one() == 3
        task = session.execute(select(CallbackTask)).scalar_one()
    assert (task.grade, task.on_call) == ("high", True)
