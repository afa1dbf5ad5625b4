"""Fixtures of the live call watch tests: the SMSC simulator, Redis, the callback queue's open_task (spied on),
flagged numbers and call events."""

from __future__ import annotations

import itertools
import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import redis

from fanzha.outreach import watcher as watch
from fanzha.outreach.events import CallEvent
from fanzha.storage.db import Database
from tests.outreach.simsmsc import SmscSim, running_smsc

REDIS_ENV = "FANZHA_TEST_REDIS_URL"
T0 = datetime(2026, 11, 25, 9, 30, tzinfo=UTC)
_serial = itertools.count(1)


def fresh_mobile(block: str = "138") -> str:
    """A mainland mobile number no other test of this process uses."""
    tail = f"{os.getpid() % 100:02d}{next(_serial):06d}"
    return f"+86{block}{tail}"


def event(kind: str, call_id: str, at: datetime, caller: str, callee: str, **extra: Any) -> CallEvent:
    return CallEvent.model_validate({"kind": kind, "call_id": call_id, "at": at, "caller": caller, "callee": callee,
                                     **extra})


def call_events(call_id: str, caller: str, callee: str, *, start: datetime = T0, answer_after_s: float | None = 5,
                talk_s: float | None = None) -> list[CallEvent]:
    """Set-up, answer (unless None) and release (unless talk_s is None: still connected)."""
    events = [event("setup", call_id, start, caller, callee)]
    if answer_after_s is not None:
        answered = start + timedelta(seconds=answer_after_s)
        events.append(event("answer", call_id, answered, caller, callee))
        if talk_s is not None:
            events.append(event("release", call_id, answered + timedelta(seconds=talk_s), caller, callee,
                                cause="normal"))
    elif talk_s is not None:
        events.append(event("release", call_id, start + timedelta(seconds=talk_s), caller, callee,
                            cause="no_answer"))
    return events


@dataclass
class Spy:
    """The real callbacks.open_task, with every call's arguments kept."""

    real: Any
    calls: list[dict[str, Any]] = field(default_factory=list)

    def __call__(self, session: Any, **kwargs: Any) -> Any:
        self.calls.append(kwargs)
        return self.real(session, **kwargs)


@pytest.fixture
def open_task() -> Spy:
    callbacks = pytest.importorskip(
        "fanzha.outreach.callbacks", reason="the callback queue (issue 6, deliverable 4) has not landed yet")
    return Spy(callbacks.open_task)


@dataclass
class Clock:
    now: datetime = T0

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


def flag(db: Database, number: str, fraud_type: str | None = "impersonate_authority",
         case_number: str | None = None) -> None:
    with db.transaction() as session:
        watch.put_flagged(session, number=number, fraud_type=fraud_type, case_number=case_number,
                          reason="测试涉诈号码", by="test", now=datetime.now(UTC))


@pytest.fixture(scope="module")
def smsc_process() -> Iterator[SmscSim]:
    with running_smsc() as sim:
        yield sim


@pytest.fixture
def smsc(smsc_process: SmscSim) -> SmscSim:
    """The module's SMSC simulator, with no session, no fault and nothing recorded."""
    smsc_process.drop()
    smsc_process.admin.post("/reset")
    return smsc_process


@pytest.fixture
def redis_url() -> str:
    url = os.environ.get(REDIS_ENV)
    if not url:
        if os.environ.get("FANZHA_REQUIRE_REDIS") == "1":
            raise RuntimeError(f"{REDIS_ENV} is not set but Redis is required (run ./scripts/test)")
        pytest.skip(f"Redis not available ({REDIS_ENV} unset; ./scripts/test starts one on loopback)")
    return url


@pytest.fixture
def client(redis_url: str) -> Iterator[redis.Redis]:
    """A connection to the test Redis."""
    connection = redis.Redis.from_url(redis_url)
    yield connection
    connection.close()


@pytest.fixture
def stream(client: redis.Redis) -> Iterator[str]:
    """A call-event stream of this test alone, deleted after it."""
    name = f"test:call-events:{uuid.uuid4().hex}"
    yield name
    client.delete(name)
