"""A callback task's reasons as codes (outreach/reasons.py) on SQLite and PostgreSQL: stored from the telecom
grading and the watcher beside the English text, both kept when a second source merges, a person's words kept as
typed, and tasks stored before codes existed still read through their text."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import update

from fanzha.outreach import callbacks as cb
from fanzha.outreach import reasons as why
from fanzha.outreach.callback_models import CallbackTask
from fanzha.outreach.reasons import ReasonCode
from fanzha.storage.db import Database
from fanzha.telecom.victims import FlaggedNumber, Grade, PotentialVictim

T0 = datetime(2026, 11, 25, 1, 0, tzinfo=UTC)
CALLER = "+85261234567"
PERSON = "+8613900000001"


def graded(*, structured: bool = True) -> FlaggedNumber:
    """A potential victim as `fanzha telecom victims` grades one: 3 calls, short ones only."""
    victim = PotentialVictim(
        number=PERSON, grade=Grade.LOW, action="SMS warning", reasons=["3 calls, short calls only (longest 2 min)"],
        structured_reasons=[why.reason(ReasonCode.SHORT_CALLS, flagged=CALLER, calls=3, longest_s=120)]
        if structured else [],
        calls=3, calls_from_flagged=3, calls_to_flagged=0, answered=3, talk_s=200, longest_s=120,
        first_call=T0 - timedelta(hours=2), last_call=T0 - timedelta(hours=1), still_connected=False)
    return FlaggedNumber(number=CALLER, calls_out=3, victims=[victim], grades={})


def task_view(db: Database, task_id: int) -> dict[str, Any]:
    with db.read() as session:
        task = session.get(CallbackTask, task_id)
        assert task is not None
        return cb.views(session, [task], T0)[0]


def from_victims(db: Database, flagged: FlaggedNumber, at: datetime = T0) -> int:
    with db.transaction() as session:
        result = cb.open_from_victims(session, None, [flagged], now=at)
    [task] = result.opened or result.merged or result.existing
    return task.id


def watcher_task(db: Database, at: datetime, *, call_id: str = "w1") -> int:
    coded = why.reason(ReasonCode.WATCH_CONNECTED, flagged=CALLER, call_id=call_id, on_call=True, connected_s=180)
    with db.transaction() as session:
        return cb.open_task(session, phone=PERSON, grade="high", source="watcher", now=at, on_call_now=True,
                            reason=f"与涉诈号码{CALLER}的通话已通话3分钟触发闪信预警（仍在通话，通话编号{call_id}）",
                            reasons=[coded], dedupe_key=f"watch:{call_id}").id


def test_a_graded_victim_becomes_a_task_with_its_reasons_as_codes_and_as_text(db: Database) -> None:
    view = task_view(db, from_victims(db, graded()))
    assert view["reason"] == f"called by {CALLER}: 3 calls, short calls only (longest 2 min)"  # unchanged, for the API
    assert view["reasons"] == [{"code": "short_calls", "params": {"flagged": CALLER, "calls": 3, "longest_s": 120}}]


def test_a_second_source_merges_its_reasons_into_the_task_once(db: Database) -> None:
    task_id = from_victims(db, graded())
    assert watcher_task(db, T0 + timedelta(minutes=1)) == task_id
    assert watcher_task(db, T0 + timedelta(minutes=2)) == task_id  # the same call again: nothing new
    view = task_view(db, task_id)
    assert [r["code"] for r in view["reasons"]] == ["short_calls", "watch_connected"]
    assert view["reasons"][1]["params"] == {"flagged": CALLER, "call_id": "w1", "on_call": True, "connected_s": 180}
    assert view["reason"].startswith(f"called by {CALLER}: 3 calls") and "通话编号w1" in view["reason"]
    # another call is another reason; an equal one from the analysis is not repeated
    watcher_task(db, T0 + timedelta(minutes=3), call_id="w2")
    from_victims(db, graded(), at=T0 + timedelta(minutes=4))
    assert [r["code"] for r in task_view(db, task_id)["reasons"]] == ["short_calls", "watch_connected",
                                                                      "watch_connected"]


def test_a_task_stored_before_codes_keeps_its_text_first_when_merged(db: Database) -> None:
    task_id = from_victims(db, graded())
    with db.transaction() as session:  # as migration 0010 leaves the rows that were there
        session.execute(update(CallbackTask).where(CallbackTask.id == task_id).values(reasons=None))
    old = task_view(db, task_id)
    assert old["reasons"] == [{"code": "text", "params": {"text": old["reason"]}}]
    watcher_task(db, T0 + timedelta(minutes=1))
    merged = task_view(db, task_id)["reasons"]
    assert merged[0] == {"code": "text", "params": {"text": old["reason"]}}
    assert [r["code"] for r in merged] == ["text", "watch_connected"]


def test_analysis_output_from_before_codes_is_stored_as_its_text(db: Database) -> None:
    view = task_view(db, from_victims(db, graded(structured=False)))
    assert view["reasons"] == [{"code": "text", "params": {"text": view["reason"]}}]


def test_a_reason_typed_by_a_person_stays_as_typed(db: Database) -> None:
    coded = why.reason(ReasonCode.REPEATED_CALLS, flagged=CALLER, calls=9)
    with db.transaction() as session:
        task = cb.open_task(session, phone=PERSON, grade="medium", source="manual", now=T0,
                            reason="市民来电称正与自称公安的人通话", reasons=[coded])
    assert task_view(db, task.id)["reasons"] == [{"code": "text", "params": {"text": "市民来电称正与自称公安的人通话"}}]


def test_stored_reasons_that_cannot_be_read_give_way_to_the_text() -> None:
    assert why.loads('[{"code": "no_such_code", "params": {}}]', "as stored") == [why.text("as stored")]
    assert why.loads("not json", "as stored") == [why.text("as stored")]
    assert why.loads('{"code": "text"}', "as stored") == [why.text("as stored")]
    many = [why.reason(ReasonCode.REPEATED_CALLS, flagged=CALLER, calls=n) for n in range(3, 80)]
    assert len(why.merged([], many)) == why.MAX_REASONS


def test_naive_times_are_refused() -> None:
    with pytest.raises(ValueError, match="aware"):
        why.reason(ReasonCode.STILL_CONNECTED, flagged=CALLER, since_at=datetime(2026, 1, 1))
