"""The watcher's batched paths, on SQLite and PostgreSQL: a batch of many calls' events (shuffled, repeated) in one
transaction decides each call exactly as a batch of that call's events alone would; a watcher that commits its
warnings and dies before acknowledging the stream entries sends nothing twice when they are read again (by itself
after a restart, or by another watcher); callback tasks opened on their own thread are opened and linked to their
warnings, and the link never waits for a warning the flash dispatcher holds."""

from __future__ import annotations

import random
import threading
import uuid
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

import pytest
import redis
from sqlalchemy import select, text

from fanzha.outreach import watcher as watch
from fanzha.outreach.events import CallEvent, StreamConsumer, publish
from fanzha.outreach.models import FlashWarning, WarningStatus, WatchedCall
from fanzha.outreach.smpp import OutgoingSms, SmppSender
from fanzha.outreach.warnings import FlashDispatcher
from fanzha.storage.db import Database
from tests.outreach.conftest import T0, Clock, Spy, call_events, event, flag, fresh_mobile
from tests.outreach.simsmsc import SmscSim, wait_for

ROW_FIELDS = ("subscriber", "flagged", "direction", "carrier", "fraud_type", "status", "set_up_at", "answered_at",
              "released_at", "release_cause", "due_at")


def _watcher(db: Database, open_task: Any, clock: Clock, minutes: float, **kwargs: Any) -> watch.Watcher:
    return watch.Watcher(db, watch_minutes=minutes, flagged=watch.FlaggedSet(db, reload_s=0), clock=clock,
                         open_task=open_task, **kwargs)


def _calls(db: Database, prefix: str) -> dict[str, tuple[Any, ...]]:
    """The watched calls of a prefix, by call id without it: what the watcher recorded of each."""
    with db.read() as session:
        rows = session.scalars(select(WatchedCall).where(WatchedCall.call_id.startswith(prefix))).all()
        return {r.call_id.removeprefix(prefix): tuple(getattr(r, f) for f in ROW_FIELDS) for r in rows}


def _warned(db: Database, prefix: str) -> dict[str, tuple[str, str, str]]:
    with db.read() as session:
        rows = session.scalars(select(FlashWarning).where(FlashWarning.call_id.startswith(prefix))).all()
        return {w.call_id.removeprefix(prefix): (w.number, w.status, w.text) for w in rows}


def _scenario(prefix: str, scammer: str, people: list[str]) -> list[CallEvent]:
    """Calls of every kind: warned while connected, warned after the fact, ended first, unanswered, still ringing,
    a fixed line (no SMS), events repeated and carriers named late."""
    a, b, c, d, e, f, g = people
    return [
        *call_events(f"{prefix}long", scammer, a, talk_s=600),  # connected 10 min: warned
        *call_events(f"{prefix}up", b, scammer),  # the subscriber called; still connected after 5 s + 5 min
        *call_events(f"{prefix}short", scammer, c, talk_s=60),  # ended first
        *call_events(f"{prefix}noans", scammer, d, answer_after_s=None, talk_s=30),  # never answered
        event("setup", f"{prefix}ring", T0 + timedelta(minutes=9), scammer, e),  # still ringing
        *call_events(f"{prefix}fixed", scammer, "+862162345678", talk_s=400),  # warned, but no SMS can reach it
        event("setup", f"{prefix}carrier", T0, scammer, f),
        event("answer", f"{prefix}carrier", T0 + timedelta(seconds=4), scammer, f, carrier="CUCC"),
        event("answer", f"{prefix}carrier", T0 + timedelta(seconds=4), scammer, f, carrier="CUCC"),  # repeated
        event("release", f"{prefix}carrier", T0 + timedelta(minutes=8), scammer, f, carrier="CMCC"),
        *call_events(f"{prefix}late", scammer, g, start=T0 + timedelta(minutes=20)),  # not due yet
    ]


def test_a_batch_of_many_calls_decides_each_as_if_alone(db: Database, open_task: Spy, clock: Clock) -> None:
    scammer = fresh_mobile("170")
    flag(db, scammer, "fake_investment")
    clock.now = T0 + timedelta(minutes=12)
    one_by_one, batched = f"o{uuid.uuid4().hex[:6]}-", f"b{uuid.uuid4().hex[:6]}-"
    by_call: dict[str, list[CallEvent]] = {}
    for e in _scenario(one_by_one, scammer, [fresh_mobile() for _ in range(7)]):
        by_call.setdefault(e.call_id, []).append(e)
    single = _watcher(db, open_task, clock, minutes=5)
    results = [single.handle(events) for events in by_call.values()]  # each call in a batch of its own
    shuffled = _scenario(batched, scammer, [fresh_mobile() for _ in range(7)])
    random.Random(6).shuffle(shuffled)  # the stream does not keep a call's events together, nor in order
    together = _watcher(db, open_task, clock, minutes=5).handle(shuffled + shuffled[:5])
    assert together.watched == len(shuffled) + 5
    assert (together.warned, together.ended_first) == (sum(r.warned for r in results),
                                                       sum(r.ended_first for r in results)) == (4, 2)
    expected, got = _calls(db, one_by_one), _calls(db, batched)
    assert set(got) == set(expected) == {"long", "up", "short", "noans", "ring", "fixed", "carrier", "late"}
    for call_id, row in expected.items():  # the same record, but for who the subscriber is
        assert got[call_id][1:] == row[1:], call_id
    assert got["carrier"][3] == "CUCC"  # the first carrier named (in time order) stays
    warned = _warned(db, batched)
    assert set(warned) == set(_warned(db, one_by_one)) == {"long", "up", "fixed", "carrier"}
    assert warned["fixed"][1] == WarningStatus.NOT_SENT and warned["long"][1] == WarningStatus.QUEUED
    assert sorted(m.destination for m in together.warnings) == sorted(
        warned[c][0] for c in ("long", "up", "carrier"))
    assert [t["dedupe_key"] for t in open_task.calls[-4:]] == [f"watch:{batched}{c}"
                                                               for c in ("carrier", "fixed", "long", "up")]


# ---- a crash between the commit and the XACK ---------------------------------------------------------------

class Died(BaseException):
    """The process stopping at that very line (not an error anything would catch)."""


def _dies_before_acknowledging(consumer: StreamConsumer) -> None:
    def ack(ids: list[str]) -> None:
        raise Died("stopped after the commit, before XACK")

    consumer._ack = ack  # type: ignore[method-assign]


@pytest.mark.parametrize("who_reads_again", ["itself after a restart", "another watcher"])
def test_a_crash_between_commit_and_xack_doubles_nothing(who_reads_again: str, client: redis.Redis, stream: str,
                                                         db: Database, smsc: SmscSim, open_task: Spy) -> None:
    scammer = fresh_mobile("170")
    flag(db, scammer)
    victims = [fresh_mobile() for _ in range(4)]
    events = [e for i, v in enumerate(victims) for e in call_events(f"cx{i}-{uuid.uuid4().hex[:6]}", scammer, v)]
    publish(client, events, stream=stream)
    before = FlashDispatcher(db, SmppSender(smsc.config()), lease_s=30, sweep_s=0.1).start()
    first = watch.Watcher(db, watch_minutes=0, flagged=watch.FlaggedSet(db, reload_s=0), open_task=open_task,
                          on_warned=before.notify)
    dying = StreamConsumer(client, stream=stream, group="watchers", consumer="w1", relevant=first.relevant,
                           handle=first.handle, batch=100, block_ms=20)
    dying.ensure_group()
    _dies_before_acknowledging(dying)
    with pytest.raises(Died):
        dying.poll_once()
    try:
        wait_for(lambda: len(smsc.messages()) == 4, what="the four warnings at the SMSC")
        wait_for(lambda: all(w.status == "delivered" for w in _warnings(db)), what="their receipts")
    finally:
        before.stop()
    assert first.totals.warned == 4 and client.xpending(stream, "watchers")["pending"] == len(events)

    after = FlashDispatcher(db, SmppSender(smsc.config()), lease_s=30, sweep_s=0.1).start()
    handed: list[OutgoingSms] = []

    def notify(messages: Sequence[OutgoingSms]) -> None:
        handed.extend(messages)
        after.notify(messages)

    second = watch.Watcher(db, watch_minutes=0, flagged=watch.FlaggedSet(db, reload_s=0), open_task=open_task,
                           on_warned=notify)
    name = "w1" if who_reads_again == "itself after a restart" else "w2"
    reader = StreamConsumer(client, stream=stream, group="watchers", consumer=name, relevant=second.relevant,
                            handle=second.handle, batch=100, block_ms=20, claim_idle_ms=0)
    try:
        read = reader.drain_own_pending() if name == "w1" else reader.claim_stale()
        assert read == len(events) and reader.stats.relevant == len(events)  # every entry handled again
        after.sweep()
    finally:
        after.stop()
    assert client.xpending(stream, "watchers")["pending"] == 0
    assert second.totals.watched == len(events) and second.totals.warned == 0 and handed == []
    assert sorted(m["destination_addr"] for m in smsc.messages()) == sorted(v[1:] for v in victims)  # once each
    assert len(_warnings(db)) == 4 and len(open_task.calls) == 4


def _warnings(db: Database) -> list[FlashWarning]:
    with db.read() as session:
        return list(session.scalars(select(FlashWarning).order_by(FlashWarning.id)))


# ---- callback tasks on their own thread ------------------------------------------------------------------------

def test_tasks_opened_on_their_own_thread_are_linked_to_their_warnings(db: Database, open_task: Spy,
                                                                       clock: Clock) -> None:
    scammer = fresh_mobile("170")
    flag(db, scammer)
    watcher = _watcher(db, open_task, clock, minutes=0)
    watcher.start_tasks()
    try:
        result = watcher.handle([event("setup", f"tt{i}", T0, scammer, fresh_mobile()) for i in range(5)],
                                defer_tasks=True)
        assert result.warned == 5
        wait_for(lambda: all(w.callback_task_id is not None for w in _warnings(db)) and len(_warnings(db)) == 5,
                 what="five tasks linked")
    finally:
        watcher.stop_tasks()
    assert sorted(c["dedupe_key"] for c in open_task.calls) == [f"watch:tt{i}" for i in range(5)]
    # without the thread, the same call opens them before it returns
    assert watcher.handle([event("setup", "tt9", T0, scammer, fresh_mobile())], defer_tasks=True).warned == 1
    assert _warnings(db)[-1].callback_task_id is not None


def test_the_link_skips_a_warning_the_dispatcher_holds_and_the_sweep_writes_it(db: Database, open_task: Spy,
                                                                               clock: Clock) -> None:
    if db.dialect != "postgresql":
        pytest.skip("row locks: SQLite has one writer at a time, nothing to skip")
    scammer = fresh_mobile("170")
    flag(db, scammer)
    watcher = _watcher(db, open_task, clock, minutes=0)
    held, release = threading.Event(), threading.Event()

    def dispatcher_holds_the_row() -> None:  # a claim, or an answer being recorded: not committed yet
        with db.transaction() as session:
            session.execute(text("SELECT id FROM flash_warnings WHERE call_id = 'lk1' FOR NO KEY UPDATE"))
            held.set()
            release.wait(30)

    holder = threading.Thread(target=dispatcher_holds_the_row)

    def on_warned(messages: Sequence[OutgoingSms]) -> None:  # the warning is committed; its task is opened next
        holder.start()
        assert held.wait(10)

    watcher.on_warned = on_warned
    try:
        assert watcher.handle([event("setup", "lk1", T0, scammer, fresh_mobile())]).warned == 1
        [warning] = _warnings(db)
        # handle returned while the row was still held: the link was skipped, not waited for
        assert warning.callback_task_id is None and not release.is_set()
    finally:
        release.set()
        holder.join()
    assert [c["dedupe_key"] for c in open_task.calls] == ["watch:lk1"]
    clock.advance(seconds=10)
    watcher._next_task_check = 0.0
    watcher.sweep()  # finds the warning without its link; the same key answers with the same task
    [warning] = _warnings(db)
    assert warning.callback_task_id is not None
    assert [c["dedupe_key"] for c in open_task.calls] == ["watch:lk1", "watch:lk1"]
    with db.read() as session:
        tasks = session.execute(text("SELECT count(*) FROM callback_tasks")).scalar_one()
    assert tasks == 1
