"""The simulated carriers as a separate process: signed answers, numbers that move, refusals, every fault mode
(nothing lost, nothing doubled), a restart that keeps the answers, and admin endpoints."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sim.carriers.__main__ import parse_args
from tests.sim.simbanks import free_port
from tests.sim.simcarriers import CarrierSim, action, fresh_number, running

from fanzha.banking.keys import KeyRing, ensure_key
from fanzha.cli import sim_carriers_argv
from fanzha.telecom.carriers import messages as m
from fanzha.telecom.carriers.adapter import HttpCarrierAdapter, PermanentCarrierError, TransientCarrierError


@pytest.fixture(scope="module")
def sim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CarrierSim]:
    with running(tmp_path_factory.mktemp("carrier-keys")) as simulator:
        yield simulator


@pytest.fixture(autouse=True)
def _disarm(sim: CarrierSim) -> Iterator[None]:
    yield
    sim.http.delete("/admin/faults")


def _deltas(before: dict[str, object], after: dict[str, object]) -> dict[str, int]:
    return {k: int(after.get(k, 0)) - int(before.get(k, 0))  # type: ignore[call-overload]
            for k in ("received", "applied", "duplicates_suppressed")}


def test_a_carrier_shuts_down_its_own_number_and_signs_the_answer(sim: CarrierSim) -> None:
    number = fresh_number("138")  # a China Mobile block
    envelope = sim.envelope(action(number, "CMCC"))
    response = sim.post(envelope, "CMCC")
    assert response.status_code == 200
    answer = sim.answer(response)  # signature checked against the published carrier keys
    body = answer.typed_body()
    assert answer.sender == "carrier:CMCC" and isinstance(body, m.CarrierActionResult)
    assert (body.status, body.request_id, body.number) == ("done", envelope.id, number)
    assert body.effective_at is not None
    assert sim.number(number)["state"] == "shut_down"


def test_a_moved_number_is_not_ours_and_the_answer_names_the_true_carrier(sim: CarrierSim) -> None:
    number = fresh_number("139")
    sim.register(number, "CUCC")  # ported from China Mobile to China Unicom
    result = sim.send(action(number, "CMCC"))
    assert (result.status, result.true_carrier) == ("not_ours", "CUCC")
    assert sim.number(number)["state"] == "active"  # CMCC did nothing
    assert sim.send(action(number, "CUCC")).status == "done"
    history = sim.number(number)["history"]
    assert [h["event"] for h in history] == ["moved", "shut_down"]


def test_a_virtual_operator_number_is_blocked_by_its_host_network(sim: CarrierSim) -> None:
    number = fresh_number("1705")  # 1705: a virtual-operator block on China Mobile's network
    holder = sim.number(number)
    assert holder["carrier"] == "CMCC" and holder["virtual_operator"] is not None
    result = sim.send(action(number, "CMCC", "block"))
    assert (result.status, result.virtual_operator) == ("done", holder["virtual_operator"])
    assert sim.number(number)["state"] == "blocked"
    elsewhere = sim.send(action(number, "CTCC", "block"))
    assert (elsewhere.status, elsewhere.true_carrier) == ("not_ours", "CMCC")


def test_any_carrier_intercepts_and_says_who_holds_the_number(sim: CarrierSim) -> None:
    number = fresh_number("186")  # China Unicom
    result = sim.send(action(number, "CMCC", "intercept"))
    assert (result.status, result.true_carrier) == ("done", "CUCC")
    assert sim.number(number)["intercepted_by"] == ["CMCC"]
    foreign = "+85261234567"
    assert sim.send(action(foreign, "CTCC", "intercept")).status == "done"
    shut = sim.send(action(foreign, "CTCC", "shutdown"))
    assert (shut.status, shut.true_carrier) == ("not_ours", None)  # no domestic network holds it


def test_a_protected_line_is_refused_with_a_reason(sim: CarrierSim) -> None:
    number = fresh_number("135")
    sim.register(number, "CMCC", protected=True)
    result = sim.send(action(number, "CMCC"))
    assert result.status == "refused" and result.reason and "protected" in result.reason


def test_a_repeat_of_one_key_is_answered_alike_and_acted_on_once(sim: CarrierSim) -> None:
    envelope = sim.envelope(action(fresh_number("136"), "CMCC"))
    before = sim.stats("CMCC")
    first, again = sim.post(envelope), sim.post(envelope)
    assert first.content == again.content
    assert _deltas(before, sim.stats("CMCC")) == {"received": 2, "applied": 1, "duplicates_suppressed": 1}
    reused = sim.envelope(action(fresh_number("136"), "CMCC"), key=envelope.idempotency_key)
    conflict = sim.post(reused)
    assert conflict.status_code == 409
    assert sim.answer(conflict).typed_body().code == "idempotency_conflict"  # type: ignore[union-attr]


def test_timeout_hangs_past_the_client_and_does_nothing(sim: CarrierSim) -> None:
    number = fresh_number("137")
    envelope = sim.envelope(action(number, "CMCC"))
    before = sim.stats("CMCC")
    sim.arm("CMCC", "timeout", delay_ms=600)
    with pytest.raises(httpx.ReadTimeout):
        sim.post(envelope, timeout=0.2)
    time.sleep(0.7)
    assert _deltas(before, sim.stats("CMCC")) == {"received": 1, "applied": 0, "duplicates_suppressed": 0}
    assert sim.number(number)["state"] == "active"
    assert sim.answer(sim.post(envelope)).typed_body().status == "done"  # type: ignore[union-attr]
    assert _deltas(before, sim.stats("CMCC")) == {"received": 2, "applied": 1, "duplicates_suppressed": 0}


def test_error_500_does_nothing_until_the_fault_is_spent(sim: CarrierSim) -> None:
    envelope = sim.envelope(action(fresh_number("189"), "CTCC"))
    before = sim.stats("CTCC")
    sim.arm("CTCC", "error_500", count=2)
    assert [sim.post(envelope, "CTCC").status_code for _ in range(3)] == [500, 500, 200]
    assert _deltas(before, sim.stats("CTCC")) == {"received": 3, "applied": 1, "duplicates_suppressed": 0}


def test_duplicate_delivery_is_acted_on_once_and_answered_identically(sim: CarrierSim) -> None:
    envelope = sim.envelope(action(fresh_number("185"), "CUCC"))
    before = sim.stats("CUCC")
    sim.arm("CUCC", "duplicate")
    first = sim.post(envelope, "CUCC")
    assert first.status_code == 200
    assert _deltas(before, sim.stats("CUCC")) == {"received": 1, "applied": 1, "duplicates_suppressed": 1}
    assert sim.post(envelope, "CUCC").content == first.content


def test_late_answer_acts_at_once_and_a_resend_gets_the_same_answer(sim: CarrierSim) -> None:
    number = fresh_number("192")  # China Broadnet
    envelope = sim.envelope(action(number, "CBN"))
    sim.arm("CBN", "late", delay_ms=800)
    with pytest.raises(httpx.ReadTimeout):
        sim.post(envelope, "CBN", timeout=0.3)
    assert sim.number(number)["state"] == "shut_down"  # done, though the answer has not left yet
    started = time.monotonic()
    resend = sim.post(envelope, "CBN")
    assert resend.status_code == 200 and time.monotonic() - started < 0.5
    assert sim.answer(resend).typed_body().request_id == envelope.id  # type: ignore[union-attr]


def test_the_center_adapter_retries_through_a_late_answer_without_doubling(sim: CarrierSim) -> None:
    envelope = sim.envelope(action(fresh_number("150"), "CMCC"))
    before = sim.stats("CMCC")
    sim.arm("CMCC", "late", delay_ms=600)
    with HttpCarrierAdapter(sim.base, sim.ring, timeout_s=0.2) as adapter:
        with pytest.raises(TransientCarrierError):
            adapter.send(envelope)
        answer = adapter.send(envelope)
    assert answer.typed_body().status == "done"  # type: ignore[union-attr]
    assert _deltas(before, sim.stats("CMCC"))["applied"] == 1


def test_bad_signatures_misrouting_and_garbage_are_refused_signed(sim: CarrierSim, tmp_path: Path) -> None:
    intruder = ensure_key("center", tmp_path, KeyRing())  # a "center" key the carriers were never told about
    forged = sim.post(sim.envelope(action(fresh_number("151"), "CMCC"), signer=intruder))
    assert forged.status_code == 401
    assert sim.answer(forged).typed_body().code == "bad_signature"  # type: ignore[union-attr]
    misrouted = sim.post(sim.envelope(action(fresh_number("152"), "CUCC")), "CMCC")
    assert misrouted.status_code == 422 and sim.answer(misrouted).typed_body().code == "misrouted"  # type: ignore[union-attr]
    garbage = sim.post(b'{"v": 1, "type": "CarrierAction"}')
    assert garbage.status_code in (401, 422)
    assert sim.http.post("/carriers/NOPE/messages", content=b"{}").status_code == 404
    with HttpCarrierAdapter(sim.base, sim.ring) as adapter, pytest.raises(PermanentCarrierError) as refused:
        adapter.send(sim.envelope(action(fresh_number("153"), "CMCC"), signer=intruder))
    assert refused.value.reason == "http_401" and refused.value.answer is not None


def test_admin_endpoints_refuse_what_they_cannot_do(sim: CarrierSim) -> None:
    number = fresh_number("155")
    assert sim.http.post("/admin/numbers", json={"number": number, "carrier": "NOPE"}).status_code == 422
    assert sim.http.post("/admin/numbers", json={"number": number, "carrier": None,
                                                 "virtual_operator": "JD"}).status_code == 422
    assert sim.http.post("/admin/numbers", json={"number": "13800", "carrier": "CMCC"}).status_code == 422
    assert sim.http.post("/admin/faults", json={"carrier": "NOPE", "mode": "late"}).status_code == 422
    assert sim.http.post("/admin/latency", json={"latency_ms": -1}).status_code == 422


def test_state_survives_a_restart(tmp_path: Path) -> None:
    keys, state = tmp_path / "keys", tmp_path / "carriers-state.json"
    number = fresh_number("158")
    with running(keys, "--state", str(state)) as sim:
        sim.register(number, "CTCC")
        envelope = sim.envelope(action(number, "CTCC"))
        first = sim.post(envelope, "CTCC")
        assert first.status_code == 200
    with running(keys, "--state", str(state)) as sim:
        assert sim.post(envelope, "CTCC").content == first.content  # acted on once, across the restart
        assert sim.stats("CTCC").get("applied", 0) == 0
        assert sim.number(number)["carrier"] == "CTCC" and sim.number(number)["state"] == "shut_down"


def test_fanzha_sim_carriers_serves_the_carriers(tmp_path: Path) -> None:
    port = free_port()
    command = [sys.executable, "-m", "fanzha.cli", "sim", "carriers", "--port", str(port), "--keys-dir",
               str(tmp_path), "--latency-ms", "0"]
    with running(tmp_path, port=port, command=command) as sim:
        health = sim.http.get("/healthz").json()
        assert health["carriers"] == ["CBN", "CMCC", "CTCC", "CUCC"] and health["center_keyring"] == "loaded"
        assert sim.send(action(fresh_number("138"), "CMCC")).status == "done"
    assert (tmp_path / "carriers.keyring.json").exists()


def test_command_line_is_loopback_only_and_fanzha_starts_the_same_module() -> None:
    with pytest.raises(SystemExit):
        parse_args(["--host", "0.0.0.0"])
    with pytest.raises(SystemExit):
        parse_args(["--latency-ms", "-5"])
    assert parse_args(["--port", "9"]).port == 9
    argv = sim_carriers_argv(port=8102, keys_dir=Path("k"), state=Path("s.json"))
    assert argv[:3] == [sys.executable, "-m", "sim.carriers"]
    assert argv[argv.index("--port") + 1] == "8102" and argv[argv.index("--state") + 1] == "s.json"
