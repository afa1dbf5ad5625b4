"""Call events through a real Redis stream (started by scripts/test on loopback): watchers share one consumer group,
each event is handled once, a dead consumer's entries are taken over, a restarted one finishes its own, and
malformed entries are set aside; end to end, each flagged call is warned exactly once (SQLite and PostgreSQL)."""

from __future__ import annotations

import threading
import time
import uuid
from collections import Counter
from collections.abc import Sequence

import pytest
import redis
from sim.carrier_events import flagged_numbers, generate
from sqlalchemy import func, select

from fanzha.outreach import watcher as watch
from fanzha.outreach.events import CallEvent, StreamConsumer, publish
from fanzha.outreach.models import FlashWarning
from fanzha.storage.db import Database
from tests.outreach.conftest import Spy, call_events, fresh_mobile
from tests.outreach.conftest import flag as flag_number
from tests.outreach.simsmsc import wait_for


class Handled:
    def __init__(self, fail_times: int = 0) -> None:
        self.lock = threading.Lock()
        self.by_consumer: dict[str, list[str]] = {}
        self.fail_times = fail_times

    def handler(self, name: str):  # type: ignore[no-untyped-def]
        def handle(events: Sequence[CallEvent]) -> None:
            with self.lock:
                if self.fail_times > 0:
                    self.fail_times -= 1
                    raise RuntimeError("database down")
                self.by_consumer.setdefault(name, []).extend(f"{e.call_id}/{e.kind}" for e in events)
        return handle

    def all(self) -> list[str]:
        return [key for keys in self.by_consumer.values() for key in keys]


def _consumer(client: redis.Redis, stream: str, name: str, handled: Handled, **kwargs: object) -> StreamConsumer:
    consumer = StreamConsumer(client, stream=stream, group="watchers", consumer=name, relevant=lambda a, b: True,
                              handle=handled.handler(name), batch=20, block_ms=20, **kwargs)  # type: ignore[arg-type]
    consumer.ensure_group()
    return consumer


def _run(consumers: list[StreamConsumer]) -> tuple[threading.Event, list[threading.Thread]]:
    stop = threading.Event()
    threads = [threading.Thread(target=c.run, args=(stop,), daemon=True) for c in consumers]
    for thread in threads:
        thread.start()
    return stop, threads


def test_two_consumers_share_the_stream_and_handle_each_event_once(client: redis.Redis, stream: str) -> None:
    handled = Handled()
    consumers = [_consumer(client, stream, name, handled) for name in ("w1", "w2")]
    stop, threads = _run(consumers)
    try:
        calls = list(generate(300, flagged=flagged_numbers(5), flagged_share=0.1, prefix="g"))
        events = [e for call in calls for e in call.events()]
        for i in range(0, len(events), 50):
            publish(client, events[i:i + 50], stream=stream)
        wait_for(lambda: len(handled.all()) >= len(events), what="every event handled")
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=5)
    keys = handled.all()
    assert len(keys) == len(events) and len(set(keys)) == len(events)  # each once
    assert all(len(handled.by_consumer.get(name, [])) > 0 for name in ("w1", "w2"))  # shared
    assert client.xpending(stream, "watchers")["pending"] == 0  # all acknowledged


def test_a_dead_consumers_entries_are_taken_over(client: redis.Redis, stream: str) -> None:
    dead = _consumer(client, stream, "dead", Handled(fail_times=1))
    publish(client, [e for i in range(5) for e in call_events(f"t{i}", fresh_mobile("170"), fresh_mobile())],
            stream=stream)
    with pytest.raises(RuntimeError):
        dead.poll_once()  # read, failed, never acknowledged: pending on "dead"
    assert client.xpending(stream, "watchers")["pending"] == 10
    handled = Handled()
    survivor = _consumer(client, stream, "alive", handled, claim_idle_ms=10)
    time.sleep(0.05)  # idle longer than claim_idle_ms
    assert survivor.poll_once() == 0  # nothing new, but the claim round took the dead one's entries
    assert len(handled.all()) == 10 and handled.by_consumer.keys() == {"alive"}
    assert survivor.stats.claimed == 10 and client.xpending(stream, "watchers")["pending"] == 0


def test_a_restarted_consumer_finishes_its_own_pending_entries(client: redis.Redis, stream: str) -> None:
    failing = Handled(fail_times=1)
    first = _consumer(client, stream, "w1", failing)
    publish(client, call_events("p1", fresh_mobile("170"), fresh_mobile()), stream=stream)
    with pytest.raises(RuntimeError):
        first.poll_once()
    restarted = _consumer(client, stream, "w1", failing)  # same name, new process
    assert restarted.drain_own_pending() == 2
    assert sorted(failing.all()) == ["p1/answer", "p1/setup"]
    assert client.xpending(stream, "watchers")["pending"] == 0


def test_malformed_entries_are_acknowledged_and_counted(client: redis.Redis, stream: str) -> None:
    handled = Handled()
    consumer = _consumer(client, stream, "w1", handled)
    good = call_events("m1", fresh_mobile("170"), fresh_mobile())[0].to_fields()
    publish(client, [good, {**good, "at": "yesterday"}, {**good, "kind": "ringing"}, {"caller": "x"}],
            stream=stream)
    assert consumer.poll_once() == 4
    assert handled.all() == ["m1/setup"] and consumer.stats.invalid == 3
    assert client.xpending(stream, "watchers")["pending"] == 0


def test_end_to_end_each_flagged_call_is_warned_once(client: redis.Redis, stream: str, db: Database,
                                                     open_task: Spy) -> None:
    flagged = flagged_numbers(4, seed=99)
    for number in flagged:
        flag_number(db, number)
    watchers = [watch.Watcher(db, watch_minutes=0, flagged=watch.FlaggedSet(db, reload_s=0), open_task=open_task)
                for _ in range(2)]
    consumers = [StreamConsumer(client, stream=stream, group="watchers", consumer=f"w{i}", relevant=w.relevant,
                                handle=w.handle, batch=25, block_ms=20) for i, w in enumerate(watchers)]
    for consumer in consumers:
        consumer.ensure_group()
    calls = list(generate(400, flagged=flagged, flagged_share=0.1, prefix=f"e2e{uuid.uuid4().hex[:6]}-"))
    events = [e for call in calls for e in call.events()]
    publish(client, events, stream=stream)
    publish(client, events[:60], stream=stream)  # a carrier resends a burst: nothing may be warned twice
    stop, threads = _run(consumers)
    flagged_calls = {c.call_id for c in calls if c.flagged}
    try:
        wait_for(lambda: sum(c.stats.read for c in consumers) == len(events) + 60, what="stream consumed")
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=5)
    with db.read() as session:
        warned = Counter(session.scalars(select(FlashWarning.call_id)).all())
        total = session.scalar(select(func.count()).select_from(FlashWarning))
    assert set(warned) == flagged_calls and total == len(flagged_calls) and max(warned.values()) == 1
    assert all(c.stats.relevant > 0 for c in consumers)


def test_a_running_consumer_retries_a_failed_batch_without_losing_it(client: redis.Redis, stream: str) -> None:
    handled = Handled(fail_times=2)  # the database is down for the first two tries
    consumer = _consumer(client, stream, "w1", handled)
    stop, threads = _run([consumer])
    try:
        publish(client, call_events("rt1", fresh_mobile("170"), fresh_mobile(), talk_s=30), stream=stream)
        wait_for(lambda: len(handled.all()) == 3, what="handled after the retries")
        wait_for(lambda: client.xpending(stream, "watchers")["pending"] == 0, what="acknowledged")
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=5)
    assert sorted(handled.all()) == ["rt1/answer", "rt1/release", "rt1/setup"]
    assert consumer.stats.errors == 2
