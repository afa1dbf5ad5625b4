"""Carrier actions end to end, on SQLite and PostgreSQL, against the simulated carriers process: the right carrier
and action, the signed message in the outbox with the decision, answers recorded, "not ours" re-routed and
remembered, large batches approved by a supervisor, faults retried - nothing lost, nothing doubled."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from fanzha.app import create_app
from fanzha.audit.models import AuditEntry
from fanzha.auth.actor import Actor
from fanzha.auth.models import Role
from fanzha.banking.keys import KeyRing
from fanzha.cases.models import Case
from fanzha.config import Settings
from fanzha.errors import Conflict, Forbidden, InvalidInput
from fanzha.storage.db import Database
from fanzha.telecom.carriers import actions, outbox, routing
from fanzha.telecom.carriers.actions import CarrierPolicy
from fanzha.telecom.carriers.adapter import HttpCarrierAdapter
from fanzha.telecom.carriers.dispatcher import CarrierDispatcher, DispatchStats
from fanzha.telecom.carriers.models import CarrierInstruction, CarrierOutboxMessage, CarrierRoute
from tests.conftest import MakePrincipal
from tests.helpers import report
from tests.sim.simcarriers import CarrierSim, fresh_number, running


@pytest.fixture(scope="module")
def sim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CarrierSim]:
    with running(tmp_path_factory.mktemp("carrier-keys")) as simulator:
        yield simulator


@pytest.fixture(autouse=True)
def _disarm(sim: CarrierSim) -> Iterator[None]:
    yield
    sim.http.delete("/admin/faults")


class Clock:
    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now


def _case(principal: MakePrincipal) -> tuple[Actor, str, int, Actor]:
    officer = principal(Role.DUTY_OFFICER)
    number = officer.client.post("/api/v1/reports", json=report(transfers=[])).json()["number"]
    db: Database = officer.client.app.state.db  # type: ignore[attr-defined]
    with db.read() as session:
        case_id = session.execute(select(Case.id).where(Case.number == number)).scalar_one()
    return officer.actor, number, case_id, principal(Role.SUPERVISOR).actor


def _request(db: Database, sim: CarrierSim, actor: Actor, case: tuple[str, int], numbers: list[str],
             action: str = "auto", policy: CarrierPolicy | None = None, intercept_at: list[str] | None = None,
             now: datetime | None = None) -> actions.RequestResult:
    with db.transaction() as session:
        return actions.request_actions(session, actor, case_id=case[1], case_number=case[0], numbers=numbers,
                                       action=action, intercept_at=intercept_at,  # type: ignore[arg-type]
                                       reason="电信网络诈骗涉案号码", now=now or datetime.now(UTC),
                                       signer=sim.center, policy=policy or CarrierPolicy())


def _dispatcher(db: Database, sim: CarrierSim, clock: Clock, timeout_s: float = 5,
                policy: CarrierPolicy | None = None) -> CarrierDispatcher:
    return CarrierDispatcher(db, HttpCarrierAdapter(sim.base, sim.ring, timeout_s=timeout_s), signer=sim.center,
                             policy=policy, clock=clock)


def _drain(dispatcher: CarrierDispatcher, clock: Clock, rounds: int = 10) -> DispatchStats:
    total = DispatchStats()
    for _ in range(rounds):
        stats = dispatcher.run_once()
        for name in ("delivered", "retried", "failed", "rerouted"):
            setattr(total, name, getattr(total, name) + getattr(stats, name))
        clock.now += timedelta(minutes=2)  # past any backoff
    dispatcher.close()
    return total


def _rows(db: Database, case_id: int) -> list[CarrierInstruction]:
    with db.read() as session:
        return list(session.execute(select(CarrierInstruction).where(CarrierInstruction.case_id == case_id)
                                    .order_by(CarrierInstruction.id)).scalars())


def _actions(db: Database, case_number: str) -> list[str]:
    with db.read() as session:
        return [e.action for e in session.execute(select(AuditEntry).where(AuditEntry.object_id == case_number)
                                                  .order_by(AuditEntry.id)).scalars()]


def test_a_number_is_shut_down_by_its_carrier_and_the_signed_answer_kept(
        db: Database, sim: CarrierSim, principal: MakePrincipal) -> None:
    officer, case_number, case_id, _ = _case(principal)
    number = fresh_number("138")
    result = _request(db, sim, officer, (case_number, case_id), [number])
    (instruction,) = result.created
    assert (instruction.action, instruction.carrier, instruction.status, instruction.route_source) == (
        "shutdown", "CMCC", "queued", "library")
    with db.read() as session:  # the signed message was written with the decision
        (message,) = session.execute(select(CarrierOutboxMessage)).scalars()
        assert (message.recipient, message.status, message.idempotency_key) == (
            "carrier:CMCC", "pending", instruction.message_id)
    clock = Clock()
    stats = _drain(_dispatcher(db, sim, clock), clock, rounds=1)
    assert (stats.delivered, stats.retried, stats.failed) == (1, 0, 0)
    (done,) = _rows(db, case_id)
    assert done.status == "done" and done.effective_at is not None and done.sent_at is not None
    assert '"CarrierActionResult"' in done.answer and '"sig"' in done.answer
    assert sim.number(number)["state"] == "shut_down"
    assert _actions(db, case_number)[-2:] == ["carrier.shutdown_requested", "carrier.answer"]


def test_not_ours_is_rerouted_to_the_true_carrier_and_the_routing_remembered(
        db: Database, sim: CarrierSim, principal: MakePrincipal) -> None:
    officer, case_number, case_id, _ = _case(principal)
    number = fresh_number("139")  # allocated to China Mobile...
    sim.register(number, "CUCC")  # ...since moved to China Unicom
    _request(db, sim, officer, (case_number, case_id), [number])
    clock = Clock()
    stats = _drain(_dispatcher(db, sim, clock), clock, rounds=3)
    assert (stats.delivered, stats.rerouted, stats.failed) == (2, 1, 0)
    first, second = _rows(db, case_id)
    assert (first.carrier, first.status, first.true_carrier) == ("CMCC", "not_ours", "CUCC")
    assert (second.carrier, second.status, second.route_source, second.rerouted_from_id, second.hops) == (
        "CUCC", "done", "answer", first.id, 1)
    assert second.batch == first.batch and second.requested_by_id == first.requested_by_id
    assert sim.number(number)["state"] == "shut_down"
    with db.read() as session:
        learned = session.execute(select(CarrierRoute).where(CarrierRoute.number == number)).scalar_one()
        assert (learned.carrier, learned.source, learned.instruction_id) == ("CUCC", "answer", first.id)
        assert routing.route(session, number).source == "learned"
    trail = _actions(db, case_number)
    assert trail[-5:] == ["carrier.shutdown_requested", "carrier.answer", "carrier.route_corrected",
                          "carrier.rerouted", "carrier.answer"]

    # The next case about the same number goes straight to China Unicom, and nothing is asked twice.
    other_officer, other_case, other_id, _ = _case(principal)
    again = _request(db, sim, other_officer, (other_case, other_id), [number])
    assert again.created == [] and [i.id for i in again.existing] == [second.id]
    sim.register(number, "CTCC")  # moves again; a new request names the carrier it last heard of
    fresh = fresh_number("139")
    sim.register(fresh, "CTCC")
    with db.transaction() as session:
        routing.learn(session, None, number=fresh, carrier="CUCC", virtual_operator=None, source="hand",
                      instruction_id=None, case_number=other_case, now=datetime.now(UTC))
    made = _request(db, sim, other_officer, (other_case, other_id), [fresh]).created
    assert [(i.carrier, i.route_source) for i in made] == [("CUCC", "learned")]


def test_a_virtual_operator_number_is_blocked_on_its_host_and_a_foreign_one_intercepted(
        db: Database, sim: CarrierSim, principal: MakePrincipal) -> None:
    officer, case_number, case_id, _ = _case(principal)
    mvno = fresh_number("1705")
    foreign = "+85261234567"
    result = _request(db, sim, officer, (case_number, case_id), [mvno, foreign])
    assert [(i.number, i.action, i.carrier) for i in result.created] == [
        (mvno, "block", "CMCC"), (foreign, "intercept", "CMCC"), (foreign, "intercept", "CUCC"),
        (foreign, "intercept", "CTCC")]
    clock = Clock()
    assert _drain(_dispatcher(db, sim, clock), clock, rounds=2).delivered == 4
    rows = _rows(db, case_id)
    assert [r.status for r in rows] == ["done"] * 4
    operator = sim.number(mvno)["virtual_operator"]
    assert rows[0].virtual_operator == operator and sim.number(mvno)["state"] == "blocked"
    assert sorted(sim.number(foreign)["intercepted_by"]) == ["CMCC", "CTCC", "CUCC"]
    with db.read() as session:
        route = routing.route(session, mvno)
        assert (route.carrier, route.virtual, route.virtual_operator, route.source) == ("CMCC", True, operator,
                                                                                        "learned")


def test_officers_choose_intercepts_and_impossible_requests_say_why(
        db: Database, sim: CarrierSim, principal: MakePrincipal) -> None:
    officer, case_number, case_id, _ = _case(principal)
    cucc = fresh_number("186")
    made = _request(db, sim, officer, (case_number, case_id), [cucc], action="intercept").created
    assert [(i.carrier, i.route_source) for i in made] == [("CMCC", "default"), ("CTCC", "default")]
    with pytest.raises(InvalidInput, match="CUCC's own number") as own:
        _request(db, sim, officer, (case_number, case_id), [cucc], action="intercept", intercept_at=["CUCC"])
    assert own.value.field == "intercept_at"
    with pytest.raises(InvalidInput, match="only an intercept") as foreign:
        _request(db, sim, officer, (case_number, case_id), ["+14155550100"], action="shutdown")
    assert foreign.value.field == "numbers"
    with pytest.raises(InvalidInput, match="unknown carrier"):
        _request(db, sim, officer, (case_number, case_id), [cucc], action="intercept", intercept_at=["ATT"])
    with pytest.raises(InvalidInput, match="only for action intercept"):
        _request(db, sim, officer, (case_number, case_id), [cucc], intercept_at=["CMCC"])
    with pytest.raises(Forbidden):
        _request(db, sim, principal(Role.CARRIER_LIAISON).actor, (case_number, case_id), [cucc])


def test_a_large_batch_waits_for_a_supervisor(db: Database, sim: CarrierSim, principal: MakePrincipal) -> None:
    officer, case_number, case_id, supervisor = _case(principal)
    policy = CarrierPolicy(supervisor_batch=2)
    numbers = [fresh_number("135") for _ in range(3)]
    result = _request(db, sim, officer, (case_number, case_id), numbers, policy=policy)
    assert result.needs_supervisor and {i.status for i in result.created} == {"pending_approval"}
    with db.read() as session:
        assert session.execute(select(CarrierOutboxMessage)).first() is None  # nothing signed, nothing sent
    now = datetime.now(UTC)
    with db.transaction() as session, pytest.raises(Forbidden):
        actions.approve_batch(session, officer, result.batch, now=now, signer=sim.center, policy=policy)
    with db.transaction() as session:
        approved = actions.approve_batch(session, supervisor, result.batch, now=now, signer=sim.center,
                                         policy=policy)
        assert len(approved) == 3
    with db.transaction() as session, pytest.raises(Conflict, match="awaits approval"):
        actions.approve_batch(session, supervisor, result.batch, now=now, signer=sim.center, policy=policy)
    clock = Clock()
    assert _drain(_dispatcher(db, sim, clock), clock, rounds=1).delivered == 3
    rows = _rows(db, case_id)
    assert {r.status for r in rows} == {"done"} and {r.approved_by_id for r in rows} == {supervisor.user_id}
    small = _request(db, sim, officer, (case_number, case_id), [fresh_number("135")], policy=policy)
    assert not small.needs_supervisor and small.created[0].status == "queued"
    by_supervisor = _request(db, sim, supervisor, (case_number, case_id), [fresh_number("135") for _ in range(3)],
                             policy=policy)
    assert not by_supervisor.needs_supervisor

    declined = _request(db, sim, officer, (case_number, case_id), [fresh_number("135") for _ in range(3)],
                        policy=policy)
    with db.transaction() as session:
        actions.decline_batch(session, supervisor, declined.batch, reason="号码证据不足", now=now)
    assert {r.status for r in _rows(db, case_id) if r.batch == declined.batch} == {"declined"}


def test_faults_are_retried_and_every_instruction_takes_effect_once(
        db: Database, sim: CarrierSim, principal: MakePrincipal) -> None:
    officer, case_number, case_id, _ = _case(principal)
    numbers = [fresh_number("187") for _ in range(6)]  # China Mobile block 187
    before = sim.stats("CMCC").get("applied_by_action", {}).get("shutdown", 0)
    _request(db, sim, officer, (case_number, case_id), numbers)
    sim.arm("CMCC", "timeout", count=1, delay_ms=1500)
    sim.arm("CMCC", "error_500", count=2)
    sim.arm("CMCC", "duplicate", count=2)
    sim.arm("CMCC", "late", count=1, delay_ms=900)
    clock = Clock()
    stats = _drain(_dispatcher(db, sim, clock, timeout_s=0.5), clock, rounds=8)
    rows = _rows(db, case_id)
    assert [r.status for r in rows] == ["done"] * 6, [(r.status, r.last_error) for r in rows]
    assert stats.failed == 0 and stats.delivered == 6 and stats.retried >= 4  # timeout, two 500s, the late one
    assert sim.stats("CMCC")["applied_by_action"]["shutdown"] - before == 6  # each number shut down once
    assert all(sim.number(n)["state"] == "shut_down" for n in numbers)
    with db.read() as session:
        messages = list(session.execute(select(CarrierOutboxMessage)).scalars())
        assert [m.status for m in messages] == ["delivered"] * 6 and sum(m.attempts for m in messages) >= 10
    assert _actions(db, case_number).count("carrier.answer") == 6


def test_a_dispatcher_that_died_after_sending_is_resumed_without_doubling(
        db: Database, sim: CarrierSim, principal: MakePrincipal) -> None:
    officer, case_number, case_id, _ = _case(principal)
    number = fresh_number("188")
    _request(db, sim, officer, (case_number, case_id), [number])
    clock = Clock()
    (claimed,) = outbox.claim_due(db, clock.now)
    with HttpCarrierAdapter(sim.base, sim.ring) as adapter:
        from fanzha.telecom.carriers.messages import parse_envelope

        adapter.send(parse_envelope(claimed.envelope))  # the carrier acts; the dispatcher dies before recording
    assert outbox.claim_due(db, clock.now) == []  # still leased
    before = sim.stats("CMCC")
    clock.now += outbox.LEASE + timedelta(seconds=1)
    stats = _drain(_dispatcher(db, sim, clock), clock, rounds=1)
    assert stats.delivered == 1
    after = sim.stats("CMCC")
    assert after["applied"] == before["applied"]  # the carrier did not act again...
    assert after["duplicates_suppressed"] == before["duplicates_suppressed"] + 1  # ...it answered the repeat
    assert _rows(db, case_id)[0].status == "done"


def test_an_answer_that_cannot_be_trusted_fails_the_instruction(
        db: Database, sim: CarrierSim, principal: MakePrincipal) -> None:
    officer, case_number, case_id, _ = _case(principal)
    _request(db, sim, officer, (case_number, case_id), [fresh_number("182")])
    clock = Clock()
    untrusting = CarrierDispatcher(db, HttpCarrierAdapter(sim.base, KeyRing()), signer=sim.center, clock=clock)
    assert _drain(untrusting, clock, rounds=1).failed == 1
    (row,) = _rows(db, case_id)
    assert row.status == "failed" and row.last_error.startswith("bad_signature")
    assert _actions(db, case_number)[-1] == "carrier.delivery_failed"


def test_carriers_without_a_link_answer_by_hand_and_a_not_ours_is_rerouted(
        db: Database, sim: CarrierSim, principal: MakePrincipal) -> None:
    officer, case_number, case_id, _ = _case(principal)
    policy = CarrierPolicy(hand_answered=frozenset({"CMCC"}), max_hops=1)
    number = fresh_number("135")
    (instruction,) = _request(db, sim, officer, (case_number, case_id), [number], policy=policy).created
    assert instruction.status == "sent" and instruction.sent_at is not None
    with db.read() as session:
        assert session.execute(select(CarrierOutboxMessage.status)).scalar_one() == "inbox"
    cmcc, cucc = principal(Role.CARRIER_LIAISON, "carrier:CMCC").actor, principal(Role.CARRIER_LIAISON,
                                                                                   "carrier:CUCC").actor
    now = datetime.now(UTC)
    with db.transaction() as session:
        row = session.get(CarrierInstruction, instruction.id)
        assert row is not None
        with pytest.raises(Forbidden):
            actions.answer_by_hand(session, cucc, row, status="done", true_carrier=None, reason="", now=now,
                                   case_number=case_number, signer=sim.center, policy=policy)
        with pytest.raises(InvalidInput) as no_reason:
            actions.answer_by_hand(session, cmcc, row, status="refused", true_carrier=None, reason=" ", now=now,
                                   case_number=case_number, signer=sim.center, policy=policy)
        assert no_reason.value.field == "reason"
        with pytest.raises(InvalidInput):
            actions.answer_by_hand(session, cmcc, row, status="not_ours", true_carrier="CMCC", reason="", now=now,
                                   case_number=case_number, signer=sim.center, policy=policy)
        again = actions.answer_by_hand(session, cmcc, row, status="not_ours", true_carrier="cucc", reason="已携号转网",
                                       now=now, case_number=case_number, signer=sim.center, policy=policy)
        assert again is not None and (again.carrier, again.status, again.hops) == ("CUCC", "queued", 1)
    with db.transaction() as session:
        row = session.get(CarrierInstruction, instruction.id)
        assert row is not None and row.status == "not_ours" and '"by_hand"' in row.answer
        with pytest.raises(Conflict, match="waiting in the inbox"):
            actions.answer_by_hand(session, cmcc, row, status="done", true_carrier=None, reason="", now=now,
                                   case_number=case_number, signer=sim.center, policy=policy)
        assert session.execute(select(CarrierRoute.carrier, CarrierRoute.source)
                               .where(CarrierRoute.number == number)).one() == ("CUCC", "hand")

    # The re-routed instruction goes to China Unicom by system; if it says "not ours" too, hops stop at one.
    sim.register(number, "CTCC")
    clock = Clock()
    stats = _drain(_dispatcher(db, sim, clock, policy=policy), clock, rounds=2)
    assert (stats.delivered, stats.rerouted) == (1, 0)
    rows = _rows(db, case_id)
    assert [(r.carrier, r.status) for r in rows] == [("CMCC", "not_ours"), ("CUCC", "not_ours")]
    assert "decide by hand" in rows[1].last_error
    assert _actions(db, case_number)[-1] == "carrier.reroute_stopped"


def test_the_server_delivers_through_its_own_dispatcher_thread(
        db: Database, sim: CarrierSim, principal: MakePrincipal, settings: Settings) -> None:
    officer = principal(Role.DUTY_OFFICER)
    case_number = officer.client.post("/api/v1/reports", json=report(transfers=[])).json()["number"]
    number = fresh_number("139")
    sim.register(number, "CTCC")
    live = settings.model_copy(update={"carrier_gateway_url": sim.base, "keys_dir": sim.keys_dir})
    with TestClient(create_app(live, db), headers={"Authorization": f"Bearer {officer.token}"}) as client:
        made = client.post("/api/v1/telecom/actions", json={"case_number": case_number, "numbers": [number],
                                                             "reason": "涉诈号码"})
        assert made.status_code == 201, made.text
        deadline = time.monotonic() + 20
        items: list[dict[str, Any]] = []
        while time.monotonic() < deadline:
            items = client.get("/api/v1/telecom/actions", params={"case_number": case_number}).json()["items"]
            if any(i["status"] == "done" for i in items):
                break
            time.sleep(0.1)
    assert sorted((i["carrier"], i["status"]) for i in items) == [("CMCC", "not_ours"), ("CTCC", "done")]
    assert sim.number(number)["state"] == "shut_down"
