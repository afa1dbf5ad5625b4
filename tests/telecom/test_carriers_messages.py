"""Carrier messages (the bank channel's signed envelope, carrier bodies) and routing by allocation data."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from fanzha.banking.keys import KeyRing, SigningKey, ensure_key
from fanzha.telecom.carriers import messages as m
from fanzha.telecom.carriers.adapter import HttpCarrierAdapter, KeyRingFile
from fanzha.telecom.carriers.routing import INTERCEPT_CARRIERS, library_route, mvno_host

CASE, OFFICER = "SH20261125-000123", "王警官"


@pytest.fixture
def keys(tmp_path: Path) -> tuple[SigningKey, SigningKey, KeyRing]:
    ring = KeyRing()
    return ensure_key("center", tmp_path, ring), ensure_key("carrier:CMCC", tmp_path, ring), ring


def _action(number: str = "+8613812345678", carrier: str = "CMCC") -> m.CarrierAction:
    return m.CarrierAction(case_number=CASE, officer=OFFICER, number=number, carrier=carrier, action="shutdown",
                           reason="涉诈号码")


def test_an_action_and_its_answer_round_trip_signed(keys: tuple[SigningKey, SigningKey, KeyRing]) -> None:
    center, cmcc, ring = keys
    sent = m.sign_envelope(_action(), center, recipient="carrier:CMCC", idempotency_key="k-1")
    received = m.verify_and_parse(sent.to_json_bytes(), ring)
    assert received == sent and received.to_wire() == json.loads(sent.to_json_bytes())
    assert received.carrier_code == "CMCC" and received.typed_body() == _action()
    result = m.CarrierActionResult(request_id=sent.id, number="+8613812345678", status="not_ours",
                                   true_carrier="CUCC")
    answer = m.answer_to(received, result, cmcc)
    assert answer.recipient == "center" and answer.sender == "carrier:CMCC"
    assert m.verify_and_parse(answer.to_json_bytes(), ring).typed_body() == result


def test_a_changed_byte_or_a_stranger_key_fails_the_signature(keys: tuple[SigningKey, SigningKey, KeyRing],
                                                              tmp_path: Path) -> None:
    center, _, ring = keys
    wire = m.sign_envelope(_action(), center, recipient="carrier:CMCC", idempotency_key="k-2").to_wire()
    wire["body"]["number"] = "+8613900000000"
    with pytest.raises(m.BadSignature) as tampered:
        m.verify_and_parse(wire, ring)
    assert tampered.value.reason == "invalid_signature"
    stranger = ensure_key("center", tmp_path / "other", KeyRing())
    forged = m.sign_envelope(_action(), stranger, recipient="carrier:CMCC", idempotency_key="k-3")
    with pytest.raises(m.BadSignature) as unknown:
        m.verify_and_parse(forged.to_json_bytes(), ring)
    assert unknown.value.reason == "unknown_kid"


def test_misaddressed_and_malformed_messages_are_refused_naming_the_problem(
        keys: tuple[SigningKey, SigningKey, KeyRing]) -> None:
    center, cmcc, _ = keys
    with pytest.raises(m.InvalidMessage, match=r"body\.carrier CMCC but recipient is carrier:CUCC"):
        m.sign_envelope(_action(), center, recipient="carrier:CUCC", idempotency_key="k")
    with pytest.raises(m.InvalidMessage, match="from center to a carrier"):
        m.sign_envelope(_action(), cmcc, recipient="center", idempotency_key="k")
    with pytest.raises(m.InvalidMessage, match="'center' or 'carrier:<CODE>'"):
        m.sign_envelope(_action(), center, recipient="bank:ABC", idempotency_key="k")
    with pytest.raises(ValueError, match="number"):
        _action(number="13812345678")  # E.164 only on the wire
    with pytest.raises(ValueError, match="effective_at"):
        m.CarrierActionResult(request_id="0" * 8 + "-0000-4000-8000-" + "0" * 12, number="+8613812345678",
                              status="done")
    with pytest.raises(ValueError, match="reason"):
        m.CarrierActionResult(request_id="0" * 8 + "-0000-4000-8000-" + "0" * 12, number="+8613812345678",
                              status="refused")
    with pytest.raises(m.UnsupportedVersion):
        m.parse_envelope({"v": 2, "type": "CarrierAction"})
    with pytest.raises(m.UnknownMessageType, match="StopPayment"):
        m.parse_envelope({"v": 1, "type": "StopPayment"})
    with pytest.raises(m.InvalidMessage, match="not JSON"):
        m.parse_envelope(b"{nope")
    with pytest.raises(m.InvalidMessage, match="naive"):
        m.new_envelope(_action(), sender="center", recipient="carrier:CMCC", idempotency_key="k",
                       sent_at=datetime(2026, 1, 1))
    assert m.new_envelope(_action(), sender="center", recipient="carrier:CMCC", idempotency_key="k",
                          sent_at=datetime(2026, 1, 1, tzinfo=UTC))["sent_at"].endswith("+00:00")


def test_the_adapter_only_speaks_to_loopback_and_only_sends_actions(keys: tuple[SigningKey, SigningKey, KeyRing],
                                                                    tmp_path: Path) -> None:
    center, cmcc, ring = keys
    for url in ("http://10.0.0.5:8102", "http://carrier.example.com", "ftp://127.0.0.1", "http://u:p@127.0.0.1"):
        with pytest.raises(ValueError):
            HttpCarrierAdapter(url, ring)
    with HttpCarrierAdapter("http://127.0.0.1:1", ring) as adapter:
        answer = m.answer_to(m.sign_envelope(_action(), center, recipient="carrier:CMCC", idempotency_key="k"),
                             m.CarrierActionResult(request_id="0" * 8 + "-0000-4000-8000-" + "0" * 12,
                                                   number="+8613812345678", status="not_ours"), cmcc)
        with pytest.raises(ValueError, match="only center's actions"):
            adapter.send(answer)
    missing = KeyRingFile(tmp_path / "absent.json")
    assert len(missing()) == 0 and missing.problem is not None


@pytest.mark.parametrize(("number", "carrier", "virtual"), [
    ("+8613812345678", "CMCC", False), ("+8618612345678", "CUCC", False), ("+8618912345678", "CTCC", False),
    ("+8619212345678", "CBN", False),
    ("+8617051234567", "CMCC", True), ("+8616512345678", "CMCC", True), ("+8616212345678", "CTCC", True),
    ("+8617112345678", "CUCC", True), ("+8617001234567", "CTCC", True), ("+8616712345678", "CUCC", True),
])
def test_library_routing_names_the_allocated_carrier_and_spots_virtual_operators(
        number: str, carrier: str, virtual: bool) -> None:
    route = library_route(number)
    assert (route.carrier, route.virtual, route.source) == (carrier, virtual, "library")


@pytest.mark.parametrize("number", ["+85261234567", "+14155550100", "+862162345678", "+8610"])
def test_numbers_no_domestic_carrier_is_known_for(number: str) -> None:
    assert library_route(number).carrier is None and library_route(number).source == "none"


def test_virtual_operator_blocks_and_intercept_carriers() -> None:
    assert mvno_host("17031234567") == "CMCC" and mvno_host("13812345678") is None
    assert INTERCEPT_CARRIERS == ("CMCC", "CUCC", "CTCC")
