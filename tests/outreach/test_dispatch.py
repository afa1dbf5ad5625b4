"""Warnings on their way to the simulated SMSC, on SQLite and PostgreSQL: each delivery receipt is matched back
to its warning by message id; a restart sends nothing twice; a warning left unanswered by a dead sender is marked
unconfirmed and never sent again, one left queued is sent; the server's lifespan runs it all."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from fanzha.app import create_app
from fanzha.auth.models import Role
from fanzha.config import Settings
from fanzha.outreach import watcher as watch
from fanzha.outreach.models import FlashWarning, WarningStatus
from fanzha.outreach.smpp import SmppSender
from fanzha.outreach.warnings import FlashDispatcher
from fanzha.storage.db import Database
from tests.conftest import MakePrincipal
from tests.outreach.conftest import Spy, call_events, flag, fresh_mobile
from tests.outreach.simsmsc import PASSWORD, SYSTEM_ID, SmscSim, wait_for


@contextmanager
def live(db: Database, smsc: SmscSim, open_task: Spy, minutes: float = 0) -> Iterator[watch.Watcher]:
    dispatcher = FlashDispatcher(db, SmppSender(smsc.config()), lease_s=30, sweep_s=0.1).start()
    watcher = watch.Watcher(db, watch_minutes=minutes, flagged=watch.FlaggedSet(db, reload_s=0),
                            open_task=open_task, on_warned=dispatcher.notify)
    try:
        yield watcher
    finally:
        dispatcher.stop()


def _warnings(db: Database) -> dict[str, FlashWarning]:
    with db.read() as session:
        return {w.call_id: w for w in session.scalars(select(FlashWarning))}


def test_receipts_are_matched_to_their_warnings(db: Database, smsc: SmscSim, open_task: Spy) -> None:
    scammer = fresh_mobile("170")
    flag(db, scammer, "fake_investment")
    victims = [fresh_mobile() for _ in range(3)]
    with live(db, smsc, open_task) as watcher:
        assert watcher.handle([e for i, v in enumerate(victims) for e in call_events(f"d{i}", scammer, v)]).warned == 3
        wait_for(lambda: all(w.status == "delivered" for w in _warnings(db).values()), what="three delivered")
        smsc.faults(receipt_stat="UNDELIV")
        late = fresh_mobile()
        watcher.handle(call_events("d9", scammer, late))
        wait_for(lambda: _warnings(db)["d9"].status == "undelivered", what="the undelivered receipt")
    by_destination = {m["destination_addr"]: m for m in smsc.messages()}
    for call_id, warning in _warnings(db).items():
        message = by_destination[warning.number[1:]]
        assert warning.message_id == message["message_id"] and warning.attempts == 1
        assert warning.submitted_at is not None and warning.delivered_at is not None and warning.sent_at is not None
        assert warning.delivery_status == ("UNDELIV" if call_id == "d9" else "DELIVRD")
        assert message["text"] == warning.text and message["data_coding"] == 0x18
    assert len(smsc.messages()) == 4


def test_a_restart_sends_nothing_twice(db: Database, smsc: SmscSim, open_task: Spy) -> None:
    scammer, victim = fresh_mobile("170"), fresh_mobile()
    flag(db, scammer)
    events = call_events("rs1", scammer, victim)
    with live(db, smsc, open_task) as first:
        assert first.handle(events).warned == 1
        wait_for(lambda: _warnings(db)["rs1"].status == "delivered", what="delivered")
    with live(db, smsc, open_task) as second:  # a new process: same events again, its sweeps run
        assert second.handle(events).warned == 0
        second.sweep()
        wait_for(lambda: smsc.counter("receipts_acknowledged") >= 1, what="the receipt acknowledged")
    assert [m["destination_addr"] for m in smsc.messages()] == [victim[1:]]
    assert len(open_task.calls) == 1


def test_a_dead_senders_warnings(db: Database, smsc: SmscSim, open_task: Spy) -> None:
    scammer, answered_unknown, never_sent = fresh_mobile("170"), fresh_mobile(), fresh_mobile()
    flag(db, scammer)
    # a server records two warnings and dies: one written to the SMSC (answer unknown), one never written
    watcher = watch.Watcher(db, watch_minutes=0, flagged=watch.FlaggedSet(db, reload_s=0), open_task=open_task)
    watcher.handle(call_events("dead1", scammer, answered_unknown) + call_events("dead2", scammer, never_sent))
    long_ago = datetime.now(UTC) - timedelta(minutes=5)
    with db.transaction() as session:
        session.execute(update(FlashWarning).where(FlashWarning.call_id == "dead1").values(
            status=WarningStatus.SENDING.value, sending_by="flash-deadbeef", sending_until=long_ago, sent_at=long_ago,
            attempts=1))
    with live(db, smsc, open_task):
        wait_for(lambda: _warnings(db)["dead2"].status == "delivered", what="the queued one sent by the sweep")
        warnings = _warnings(db)
        assert warnings["dead1"].status == "unconfirmed" and "not sent again" in warnings["dead1"].last_error
    assert [m["destination_addr"] for m in smsc.messages()] == [never_sent[1:]]


def test_warnings_wait_for_an_smsc_and_one_that_cannot_be_sent_is_rejected(db: Database, smsc: SmscSim,
                                                                            open_task: Spy) -> None:
    scammer, victim, other = fresh_mobile("170"), fresh_mobile(), fresh_mobile()
    flag(db, scammer)
    watcher = watch.Watcher(db, watch_minutes=0, flagged=watch.FlaggedSet(db, reload_s=0), open_task=open_task)
    watcher.handle(call_events("wait1", scammer, victim) + call_events("wait2", scammer, other))
    assert {w.status for w in _warnings(db).values()} == {"queued"}  # no SMSC yet: they wait
    with db.transaction() as session:  # a number no SMSC can route (damaged by hand)
        session.execute(update(FlashWarning).where(FlashWarning.call_id == "wait2").values(number=other[3:]))
    dispatcher = FlashDispatcher(db, SmppSender(smsc.config(dest_addr_subunit=True)), sweep_s=0.1).start()
    try:
        wait_for(lambda: _warnings(db)["wait1"].status == "delivered", what="sent once an SMSC is there")
        wait_for(lambda: _warnings(db)["wait2"].status == "rejected", what="the unsendable one rejected")
    finally:
        dispatcher.stop()
    assert "not sendable" in _warnings(db)["wait2"].last_error
    assert dispatcher.stats.claimed == 1 and dispatcher.stats.submitted == 1
    assert [m["destination_addr"] for m in smsc.messages()] == [victim[1:]]


@pytest.fixture
def smsc_settings(db_url: str, smsc: SmscSim) -> Settings:
    return Settings(database_url=db_url, watch_minutes=0, smsc_host="127.0.0.1", smsc_port=smsc.port,
                    smsc_system_id=SYSTEM_ID, smsc_password=PASSWORD, watch_sweep_s=0.1)


def test_the_server_lifespan_runs_the_watch_and_the_sender(smsc_settings: Settings, db: Database, smsc: SmscSim,
                                                           principal: MakePrincipal, open_task: Spy) -> None:
    officer = principal(Role.DUTY_OFFICER)
    carrier = principal(Role.CARRIER_LIAISON)
    scammer, victim = fresh_mobile("170"), fresh_mobile()
    assert officer.client.put(f"/api/v1/outreach/flagged-numbers/{scammer}",
                              json={"reason": "冒充客服", "fraud_type": "fake_customer_service"}).status_code == 201
    with TestClient(create_app(smsc_settings, db), headers=carrier.client.headers) as client:
        events = [e.model_dump(mode="json") for e in call_events("ls1", scammer, victim)]
        assert client.post("/api/v1/outreach/call-events", json={"events": events}).json()["warned"] == 1

        def delivered() -> bool:
            items = officer.client.get("/api/v1/outreach/warnings").json()["items"]
            return bool(items) and items[0]["status"] == "delivered"

        wait_for(delivered, what="delivered through the server's own sender")
    [message] = smsc.messages()
    assert message["destination_addr"] == victim[1:] and message["esm_class"] == 0
    assert smsc.counter("binds") == 1
