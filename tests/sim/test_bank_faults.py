"""Misbehaving banks: every fault mode does what the dispatcher tests will rely on - nothing lost, nothing
doubled - and the books survive a restart of the simulator."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
from simbanks import CASE, OFFICER, Sim, running, stop_payment

from fanzha.banking import messages as m
from fanzha.banking.adapter import HttpBankAdapter, TransientBankError


@pytest.fixture(scope="module")
def sim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sim]:
    with running(tmp_path_factory.mktemp("keys")) as sim:
        yield sim


@pytest.fixture(autouse=True)
def _disarm(sim: Sim) -> Iterator[None]:
    yield
    sim.http.delete("/admin/faults")


def _deltas(before: dict[str, object], after: dict[str, object]) -> dict[str, int]:
    return {k: int(after.get(k, 0)) - int(before.get(k, 0))  # type: ignore[call-overload]
            for k in ("received", "applied", "duplicates_suppressed")}


def test_timeout_hangs_past_the_client_and_applies_nothing(sim: Sim) -> None:
    number = sim.new_account(bank="BOC", balance="5000")
    envelope = sim.envelope(stop_payment(number, "1000", bank="BOC"), bank="BOC")
    before = sim.stats("BOC")
    sim.arm("BOC", "timeout", delay_ms=600)
    with pytest.raises(httpx.ReadTimeout):
        sim.post(envelope, bank="BOC", timeout=0.2)
    time.sleep(0.7)  # the hung request has ended by now, still without acting
    assert _deltas(before, sim.stats("BOC")) == {"received": 1, "applied": 0, "duplicates_suppressed": 0}
    assert sim.account("BOC", number)["holds"] == []
    retry = sim.post(envelope, bank="BOC")
    assert retry.status_code == 200 and sim.answer(retry).typed_body().status == "held"
    assert _deltas(before, sim.stats("BOC")) == {"received": 2, "applied": 1, "duplicates_suppressed": 0}


def test_error_500_applies_nothing_until_the_fault_is_spent(sim: Sim) -> None:
    number = sim.new_account(bank="CCB")
    envelope = sim.envelope(stop_payment(number, "1000", bank="CCB"), bank="CCB")
    before = sim.stats("CCB")
    sim.arm("CCB", "error_500", count=2)
    assert [sim.post(envelope, bank="CCB").status_code for _ in range(3)] == [500, 500, 200]
    assert _deltas(before, sim.stats("CCB")) == {"received": 3, "applied": 1, "duplicates_suppressed": 0}
    assert len(sim.account("CCB", number)["holds"]) == 1


def test_duplicate_delivery_is_applied_once_and_answered_identically(sim: Sim) -> None:
    number = sim.new_account(bank="COMM")
    envelope = sim.envelope(stop_payment(number, "1000", bank="COMM"), bank="COMM")
    before = sim.stats("COMM")
    sim.arm("COMM", "duplicate")
    first = sim.post(envelope, bank="COMM")
    assert first.status_code == 200
    assert _deltas(before, sim.stats("COMM")) == {"received": 1, "applied": 1, "duplicates_suppressed": 1}
    again = sim.post(envelope, bank="COMM")
    assert again.content == first.content and len(sim.account("COMM", number)["holds"]) == 1


def test_late_answer_is_applied_at_once_and_a_resend_gets_the_same_answer(sim: Sim) -> None:
    number = sim.new_account(bank="PSBC")
    envelope = sim.envelope(stop_payment(number, "1000", bank="PSBC"), bank="PSBC")
    before = sim.stats("PSBC")
    sim.arm("PSBC", "late", delay_ms=800)
    with pytest.raises(httpx.ReadTimeout):
        sim.post(envelope, bank="PSBC", timeout=0.3)
    assert len(sim.account("PSBC", number)["holds"]) == 1  # held, though the answer has not left yet
    started = time.monotonic()
    resend = sim.post(envelope, bank="PSBC")
    assert resend.status_code == 200 and time.monotonic() - started < 0.5
    assert sim.answer(resend).typed_body().request_id == envelope.id
    assert _deltas(before, sim.stats("PSBC")) == {"received": 2, "applied": 1, "duplicates_suppressed": 1}


def test_late_answer_arrives_after_its_delay(sim: Sim) -> None:
    sim.arm("SPDB", "late", delay_ms=300)
    started = time.monotonic()
    response = sim.post(sim.envelope(stop_payment(sim.new_account(bank="SPDB"), bank="SPDB"), bank="SPDB"), "SPDB")
    assert response.status_code == 200 and time.monotonic() - started >= 0.3


def test_a_fault_for_any_bank_fires_once_and_faults_are_listed(sim: Sim) -> None:
    sim.arm("*", "error_500")
    assert sim.http.get("/admin/faults").json()["armed"] == {"*": [{"mode": "error_500", "remaining": 1,
                                                                    "delay_ms": 0}]}
    envelope = sim.envelope(stop_payment(sim.new_account(bank="CIB"), bank="CIB"), bank="CIB")
    assert [sim.post(envelope, bank="CIB").status_code for _ in range(2)] == [500, 200]
    assert sim.http.get("/admin/faults").json()["armed"] == {}


def test_latency_can_be_changed_while_running(sim: Sim) -> None:
    assert sim.http.post("/admin/latency", json={"latency_ms": 250}).status_code == 200
    try:
        started = time.monotonic()
        sim.send(stop_payment(sim.new_account(bank="CITIC"), bank="CITIC"))
        assert time.monotonic() - started >= 0.25
    finally:
        sim.http.post("/admin/latency", json={"latency_ms": 0})


def test_the_center_adapter_retries_through_a_timeout_without_doubling(sim: Sim) -> None:
    number = sim.new_account(bank="CMBC", balance="3000")
    envelope = sim.envelope(stop_payment(number, "2000", bank="CMBC"), bank="CMBC")
    sim.arm("CMBC", "late", delay_ms=600)
    with HttpBankAdapter(sim.base, sim.banks_ring, timeout_s=0.2) as adapter:
        with pytest.raises(TransientBankError):
            adapter.send(envelope)
        answer = adapter.send(envelope)
    body = answer.typed_body()
    assert isinstance(body, m.StopPaymentResult) and (body.status, body.held_amount) == ("held", Decimal("2000"))
    stats = sim.stats("CMBC")
    assert (stats["applied"], stats["duplicates_suppressed"]) == (1, 1)


def test_state_survives_a_restart_and_the_clock_runs_holds_out(tmp_path: Path) -> None:
    keys, state = tmp_path / "keys", tmp_path / "banks-state.json"
    with running(keys, "--state", str(state), "--banks", "ABC,ICBC") as sim:
        number = sim.new_account(balance="6000")
        placed = sim.envelope(stop_payment(number, "6000"))
        first = sim.post(placed)
        assert first.status_code == 200
    with running(keys, "--state", str(state), "--banks", "ABC,ICBC") as sim:
        again = sim.post(placed)
        assert again.content == first.content  # the answer kept across the restart: still acted on once
        assert sim.stats("ABC")["applied"] == 0 and sim.account("ABC", number)["held"]["CNY"] == "6000"
        moved = sim.http.post("/admin/clock", json={"advance_seconds": 48 * 3600 + 1}).json()
        assert datetime.fromisoformat(moved["now"]) > datetime.now(UTC) + timedelta(hours=48)
        assert sim.account("ABC", number)["holds"][0]["state"] == "expired"
        renew = m.Renew(case_number=CASE, officer=OFFICER, target_id=placed.id, kind="stop_payment", hours_or_days=48)
        late = sim.send(renew)
        assert late.status == "rejected" and late.reason.startswith("hold_expired")
        assert sim.move(**{"from": {"bank": "ABC", "account": number}, "amount": "6000"}).status_code == 201
