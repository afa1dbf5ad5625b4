"""The watcher on SQLite and PostgreSQL: a subscriber connected to a flagged number for N minutes is warned once
(flash warning + high-priority callback task), 0 minutes means at ring, a call that ends first is recorded without
an SMS, the decision holds across restarts and between watchers, and the flagged set changes without a restart."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from fanzha.outreach import flash
from fanzha.outreach import watcher as watch
from fanzha.outreach.models import CallStatus, FlashWarning, WarningStatus, WatchedCall
from fanzha.storage.db import Database
from tests.outreach.conftest import T0, Clock, Spy, call_events, event, flag, fresh_mobile


def _watcher(db: Database, open_task: Spy, clock: Clock, minutes: float = 5, **kwargs: object) -> watch.Watcher:
    return watch.Watcher(db, watch_minutes=minutes, flagged=watch.FlaggedSet(db, reload_s=0), clock=clock,
                         open_task=open_task, **kwargs)  # type: ignore[arg-type]


def _call(db: Database, call_id: str) -> WatchedCall | None:
    with db.read() as session:
        return session.scalars(select(WatchedCall).where(WatchedCall.call_id == call_id)).one_or_none()


def _warnings(db: Database) -> list[FlashWarning]:
    with db.read() as session:
        return list(session.scalars(select(FlashWarning).order_by(FlashWarning.id)))


def test_connected_n_minutes_warns_once_with_a_high_priority_callback(db: Database, open_task: Spy,
                                                                      clock: Clock) -> None:
    scammer, victim = fresh_mobile("170"), fresh_mobile()
    flag(db, scammer, "impersonate_authority", case_number="SH20261125-000123")
    watcher = _watcher(db, open_task, clock, minutes=5)
    clock.now = T0 + timedelta(seconds=10)
    result = watcher.handle(call_events("w1", scammer, victim, answer_after_s=5))  # ringing 5 s, then connected
    assert (result.watched, result.warned, result.ended_first) == (2, 0, 0)
    row = _call(db, "w1")
    assert row is not None and row.status == CallStatus.WATCHING
    assert row.due_at == T0 + timedelta(seconds=5, minutes=5) and row.subscriber == victim
    assert row.direction == watch.TO_SUBSCRIBER and row.flagged == scammer
    clock.now = T0 + timedelta(minutes=5, seconds=4)
    assert watcher.sweep().warned == 0  # connected 4 min 59 s
    clock.now = T0 + timedelta(minutes=5, seconds=5)
    sent: list[object] = []
    watcher.on_warned = sent.extend
    assert watcher.sweep().warned == 1
    assert watcher.sweep().warned == 0
    [warning] = _warnings(db)
    assert (warning.number, warning.call_id, warning.status) == (victim, "w1", WarningStatus.QUEUED)
    assert warning.text == flash.text_for("impersonate_authority") and warning.callback_task_id is not None
    assert [getattr(s, "ref", None) for s in sent] == [warning.id]
    [task] = open_task.calls
    assert task["phone"] == victim and task["grade"] == "high" and task["source"] == "watcher"
    assert task["on_call_now"] is True and task["dedupe_key"] == "watch:w1"
    [coded] = task["reasons"]  # the console says it in the reader's language
    assert (coded.code, coded.params) == ("watch_connected", {"flagged": scammer, "call_id": "w1", "on_call": True,
                                                             "connected_s": 300})
    assert task["fraud_type"] == "impersonate_authority" and task["case_number"] == "SH20261125-000123"
    assert scammer in task["reason"] and task["now"] == clock.now
    # the release that follows changes nothing
    watcher.handle([event("release", "w1", T0 + timedelta(minutes=9), scammer, victim)])
    row = _call(db, "w1")
    assert row is not None and row.status == CallStatus.WARNED and row.released_at is not None
    assert len(_warnings(db)) == 1 and len(open_task.calls) == 1


def test_zero_minutes_warns_at_ring(db: Database, open_task: Spy, clock: Clock) -> None:
    scammer, victim = fresh_mobile("170"), fresh_mobile()
    flag(db, scammer, "task_rebate")
    watcher = _watcher(db, open_task, clock, minutes=0)
    result = watcher.handle([event("setup", "r1", T0, victim, scammer)])  # the victim calls the scammer back
    assert result.warned == 1
    [warning] = _warnings(db)
    assert warning.number == victim and warning.text == flash.text_for("task_rebate")
    row = _call(db, "r1")
    assert row is not None and row.direction == watch.FROM_SUBSCRIBER and row.due_at == T0
    assert open_task.calls[0]["on_call_now"] is True


def test_a_call_that_ends_first_is_recorded_and_sends_nothing(db: Database, open_task: Spy, clock: Clock) -> None:
    scammer = fresh_mobile("170")
    flag(db, scammer)
    watcher = _watcher(db, open_task, clock, minutes=5)
    clock.now = T0 + timedelta(minutes=20)
    short, unanswered = fresh_mobile(), fresh_mobile()
    result = watcher.handle(call_events("e1", scammer, short, talk_s=299)
                            + call_events("e2", scammer, unanswered, answer_after_s=None, talk_s=30))
    assert (result.warned, result.ended_first) == (0, 2)
    assert watcher.sweep().warned == 0
    for call_id in ("e1", "e2"):
        row = _call(db, call_id)
        assert row is not None and row.status == CallStatus.ENDED_FIRST and row.released_at is not None
    assert _warnings(db) == [] and open_task.calls == []


def test_events_arriving_late_or_out_of_order(db: Database, open_task: Spy, clock: Clock) -> None:
    scammer, victim, other = fresh_mobile("170"), fresh_mobile(), fresh_mobile()
    flag(db, scammer)
    watcher = _watcher(db, open_task, clock, minutes=5)
    clock.now = T0 + timedelta(hours=1)
    # a long call learnt only after it ended: it lasted N minutes, so it is warned (once)
    assert watcher.handle(call_events("l1", scammer, victim, talk_s=900)).warned == 1
    assert open_task.calls[0]["on_call_now"] is False
    # another watcher saw the release first (ended first), then the answer arrives: 10 minutes connected
    release, answer = event("release", "l2", T0 + timedelta(minutes=12), scammer, other), \
        event("answer", "l2", T0 + timedelta(minutes=2), scammer, other)
    assert watcher.handle([release]).ended_first == 1
    assert watcher.handle([answer]).warned == 1
    assert watcher.handle([release, answer]).warned == 0
    assert {w.call_id for w in _warnings(db)} == {"l1", "l2"}


def test_once_per_call_across_a_restart(db: Database, open_task: Spy, clock: Clock) -> None:
    scammer, victim = fresh_mobile("170"), fresh_mobile()
    flag(db, scammer)
    events = call_events("x1", scammer, victim)  # still connected
    clock.now = T0 + timedelta(minutes=6)
    first = _watcher(db, open_task, clock, minutes=5)
    assert first.handle(events).warned == 1
    # the process restarts: a new watcher, the same events again (the stream redelivers), the sweep runs
    second = _watcher(db, open_task, clock, minutes=5)
    assert second.handle(events).warned == 0 and second.sweep().warned == 0
    assert _watcher(db, open_task, clock, minutes=0).handle(events).warned == 0
    assert len(_warnings(db)) == 1 and len(open_task.calls) == 1


def test_two_watchers_racing_on_the_same_calls_warn_each_once(db: Database, open_task: Spy, clock: Clock) -> None:
    scammer = fresh_mobile("170")
    flag(db, scammer)
    clock.now = T0 + timedelta(minutes=10)
    victims = [fresh_mobile() for _ in range(20)]
    events = [e for i, v in enumerate(victims) for e in call_events(f"race{i}", scammer, v)]
    watchers = [_watcher(db, open_task, clock, minutes=5) for _ in range(3)]
    barrier = threading.Barrier(len(watchers))
    errors: list[BaseException] = []

    def run(w: watch.Watcher, batch: list) -> None:  # type: ignore[type-arg]
        try:
            barrier.wait()
            for i in range(0, len(batch), 7):
                w.handle(batch[i:i + 7])
            w.sweep()
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(w, events[k::2] + events)) for k, w in enumerate(watchers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    warnings = _warnings(db)
    assert sorted(w.number for w in warnings) == sorted(victims)
    assert len(open_task.calls) == 20 and sum(w.totals.warned for w in watchers) == 20


def test_the_flagged_set_changes_without_a_restart(db: Database, open_task: Spy, clock: Clock) -> None:
    scammer, victim = fresh_mobile("170"), fresh_mobile()
    flagged = watch.FlaggedSet(db, reload_s=0.05)
    watcher = watch.Watcher(db, watch_minutes=0, flagged=flagged, clock=clock, open_task=open_task)
    assert watcher.handle([event("setup", "f1", T0, scammer, victim)]).watched == 0
    assert not watcher.relevant(scammer, victim)
    flag(db, scammer)
    wait = threading.Event()
    wait.wait(0.06)
    assert watcher.relevant(scammer, victim)  # reloaded, no restart
    assert watcher.handle([event("setup", "f2", T0, scammer, victim)]).warned == 1
    with db.transaction() as session:
        assert watch.remove_flagged(session, number=scammer, by="test", now=clock.now) is not None
    wait.wait(0.06)
    assert not watcher.relevant(scammer, victim)
    assert watcher.handle([event("setup", "f3", T0, scammer, fresh_mobile())]).watched == 0
    with db.transaction() as session:
        watch.put_flagged(session, number=scammer, fraud_type="romance", case_number=None, reason="再次标记",
                          by="test", now=clock.now)
    wait.wait(0.06)
    assert watcher.handle([event("setup", "f4", T0, scammer, fresh_mobile())]).warned == 1
    assert _warnings(db)[-1].text == flash.text_for("romance")


def test_who_is_not_warned_by_sms(db: Database, open_task: Spy, clock: Clock) -> None:
    scammer, accomplice, landline = fresh_mobile("170"), fresh_mobile("171"), "+862162345678"
    flag(db, scammer)
    flag(db, accomplice)
    watcher = _watcher(db, open_task, clock, minutes=0)
    # two flagged numbers talking: nobody to warn
    assert watcher.handle([event("setup", "n1", T0, scammer, accomplice)]).watched == 0
    # a fixed line: no SMS can reach it, the callback task still opens
    assert watcher.handle([event("setup", "n2", T0, scammer, landline)]).warned == 1
    [warning] = _warnings(db)
    assert warning.status == WarningStatus.NOT_SENT and "mainland mobile" in warning.last_error
    assert open_task.calls[0]["phone"] == landline
    with db.read() as session:
        assert session.scalar(select(func.count()).select_from(WatchedCall)) == 1


@pytest.mark.parametrize("minutes", [0.0, 3.0])
def test_the_setting_drives_the_watch(db: Database, open_task: Spy, clock: Clock, minutes: float) -> None:
    scammer, victim = fresh_mobile("170"), fresh_mobile()
    flag(db, scammer)
    clock.now = T0 + timedelta(minutes=2, seconds=30)
    watcher = _watcher(db, open_task, clock, minutes=minutes)
    warned = watcher.handle(call_events("s1", scammer, victim, answer_after_s=0)).warned
    assert warned == (1 if minutes == 0 else 0)


def test_a_task_not_opened_before_a_stop_is_opened_by_the_sweep(db: Database, open_task: Spy, clock: Clock) -> None:
    scammer, victim = fresh_mobile("170"), fresh_mobile()
    flag(db, scammer)
    failures = iter([RuntimeError("stopped between the two transactions")])

    def flaky(session: object, **kwargs: object) -> object:
        for failure in failures:
            raise failure
        return open_task(session, **kwargs)

    watcher = watch.Watcher(db, watch_minutes=0, flagged=watch.FlaggedSet(db, reload_s=0), clock=clock,
                            open_task=flaky)
    sent: list[object] = []
    watcher.on_warned = sent.extend
    assert watcher.handle([event("setup", "t1", T0, scammer, victim)]).warned == 1
    [warning] = _warnings(db)
    assert warning.callback_task_id is None and len(sent) == 1  # the SMS went anyway
    clock.advance(seconds=2)
    watcher.sweep()
    assert _warnings(db)[0].callback_task_id is None  # within the grace time: the first try may still be running
    clock.advance(seconds=10)
    watcher._next_task_check = 0.0
    watcher.sweep()
    [warning] = _warnings(db)
    assert warning.callback_task_id is not None
    assert [c["dedupe_key"] for c in open_task.calls] == ["watch:t1"] and open_task.calls[0]["grade"] == "high"
