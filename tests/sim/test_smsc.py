"""The simulated SMSC over a real socket on loopback: it binds with the right credentials only, answers
enquire_link, checks every field of a flash submit_sm and refuses a wrong one with the command_status the SMPP 3.4
specification gives, sends delivery receipts, and drops or throttles on demand.

Requests are built with smpplib (independent of the simulator's own codec) and sent over a plain socket."""

from __future__ import annotations

import socket
import struct
from collections.abc import Iterator
from typing import Any

import pytest
import smpplib.smpp
from tests.outreach.simsmsc import PASSWORD, SYSTEM_ID, SmscSim, running_smsc, wait_for

TEXT = "【反诈中心】与您通话的号码涉嫌诈骗！请立即挂断电话，切勿转账汇款。有疑问请拨打96110或110。"


class _Seq:
    sequence = 0

    def next_sequence(self) -> int:
        self.sequence += 1
        return self.sequence


class RawEsme:
    """A bare SMPP client: writes PDUs, reads PDUs (parsed by smpplib)."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        self.seq = _Seq()

    def pdu(self, command: str, **fields: Any) -> Any:
        return smpplib.smpp.make_pdu(command, client=self.seq, **fields)

    def send(self, pdu: Any) -> int:
        self.sock.sendall(pdu.generate())
        sequence: int = pdu.sequence
        return sequence

    def send_raw(self, data: bytes) -> None:
        self.sock.sendall(data)

    def read(self) -> Any:
        head = self._exact(4)
        (length,) = struct.unpack(">I", head)
        return smpplib.smpp.parse_pdu(head + self._exact(length - 4), client=self.seq, allow_unknown_opt_params=True)

    def _exact(self, n: int) -> bytes:
        data = b""
        while len(data) < n:
            chunk = self.sock.recv(n - len(data))
            if not chunk:
                raise ConnectionError("closed by the SMSC")
            data += chunk
        return data

    def bind(self, command: str = "bind_transceiver", system_id: str = SYSTEM_ID, password: str = PASSWORD) -> Any:
        self.send(self.pdu(command, system_id=system_id, password=password, system_type=""))
        return self.read()

    def close(self) -> None:
        self.sock.close()


def flash_fields(**overrides: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "service_type": "", "source_addr_ton": 3, "source_addr_npi": 0, "source_addr": "96110",
        "dest_addr_ton": 1, "dest_addr_npi": 1, "destination_addr": "8613812345678", "esm_class": 0,
        "protocol_id": 0, "priority_flag": 1, "schedule_delivery_time": "", "validity_period": "000000001000000R",
        "registered_delivery": 1, "replace_if_present_flag": 0, "data_coding": 0x18, "sm_default_msg_id": 0,
        "short_message": TEXT.encode("utf-16-be"),
    }
    fields.update(overrides)
    return fields


@pytest.fixture(scope="module")
def sim() -> Iterator[SmscSim]:
    with running_smsc() as running:
        yield running


@pytest.fixture
def esme(sim: SmscSim) -> Iterator[RawEsme]:
    client = RawEsme(sim.port)
    assert client.bind().status == 0
    yield client
    client.close()


def test_a_right_flash_submit_is_accepted_with_every_field_recorded_and_a_receipt(sim: SmscSim,
                                                                                  esme: RawEsme) -> None:
    before = len(sim.messages())
    sequence = esme.send(esme.pdu("submit_sm", **flash_fields(dest_addr_subunit=1)))
    resp = esme.read()
    assert (resp.command, resp.status, resp.sequence) == ("submit_sm_resp", 0, sequence)
    message_id = resp.message_id.decode()
    got = sim.messages()[before]
    assert got["message_id"] == message_id
    assert (got["data_coding"], got["esm_class"], got["protocol_id"], got["dest_addr_subunit"]) == (0x18, 0, 0, 1)
    assert (got["dest_addr_ton"], got["dest_addr_npi"], got["destination_addr"]) == (1, 1, "8613812345678")
    assert got["text"] == TEXT and got["chars"] == len(TEXT) and got["sm_length"] == 2 * len(TEXT)
    assert got["validity_period"] == "000000001000000R" and got["registered_delivery"] == 1
    receipt = esme.read()
    assert receipt.command == "deliver_sm" and receipt.esm_class == 0x04
    assert receipt.receipted_message_id.decode() == message_id and receipt.message_state == 2
    assert f"id:{message_id}".encode() in receipt.short_message and b"stat:DELIVRD" in receipt.short_message
    assert receipt.source_addr.decode() == "8613812345678" and receipt.destination_addr.decode() == "96110"
    answer = esme.pdu("deliver_sm_resp")
    answer.sequence = receipt.sequence
    esme.send(answer)
    wait_for(lambda: sim.counter("receipts_acknowledged") >= 1, what="the receipt acknowledged")


LONG = "请" * 71
WRONG = [
    ("esm_class 0x10 is not flash", {"esm_class": 0x10}, 0x43),
    ("UDHI: a second segment", {"esm_class": 0x40}, 0x43),
    ("UCS2 without message class 0", {"data_coding": 0x08}, 0x45),
    ("GSM class 0", {"data_coding": 0x10}, 0x45),
    ("more than 70 characters", {"short_message": LONG.encode("utf-16-be")}, 0x01),
    ("odd octet count", {"short_message": TEXT.encode("utf-16-be")[:-1]}, 0x01),
    ("silent type-0 SMS", {"protocol_id": 0x40}, 0x45),
    ("national destination", {"dest_addr_ton": 2}, 0x50),
    ("destination numbering plan", {"dest_addr_npi": 9}, 0x51),
    ("destination with a plus", {"destination_addr": "+8613812345678"}, 0x0B),
    ("source TON", {"source_addr_ton": 7}, 0x48),
    ("source NPI", {"source_addr_npi": 2}, 0x49),
    ("source not digits", {"source_addr": "96110x"}, 0x0A),
    ("scheduled", {"schedule_delivery_time": "261125093000000+"}, 0x61),
    ("bad validity", {"validity_period": "10 minutes"}, 0x62),
    ("reserved receipt bits", {"registered_delivery": 0x03}, 0x07),
    ("priority 4", {"priority_flag": 4}, 0x06),
    ("replace flag 2", {"replace_if_present_flag": 2}, 0x54),
    ("canned message", {"sm_default_msg_id": 3}, 0x63),
    ("service type too long", {"raw_service_type": b"ABCDEFG"}, 0x15),
    ("subunit not display", {"dest_addr_subunit": 2}, 0xC4),
    ("payload instead of short_message", {"short_message": b"", "message_payload": TEXT.encode("utf-16-be")}, 0xC1),
    ("segmented", {"sar_msg_ref_num": 7, "sar_total_segments": 2, "sar_segment_seqnum": 1}, 0xC1),
]


@pytest.mark.parametrize(("why", "change", "status"), WRONG, ids=[w[0] for w in WRONG])
def test_a_wrong_field_is_refused_with_its_command_status(sim: SmscSim, esme: RawEsme, why: str,
                                                          change: dict[str, Any], status: int) -> None:
    accepted = len(sim.messages())
    rejected = len(sim.rejections())
    change = dict(change)
    raw_service_type = change.pop("raw_service_type", None)
    pdu = esme.pdu("submit_sm", **flash_fields(**change))
    if raw_service_type is None:
        esme.send(pdu)
    else:  # smpplib cuts a long service_type to fit: write the PDU by hand
        data = pdu.generate()
        data = data[4:16] + raw_service_type + data[16:]
        esme.send_raw(struct.pack(">I", len(data) + 4) + data)
    resp = esme.read()
    assert (resp.command, resp.status) == ("submit_sm_resp", status), why
    assert len(sim.messages()) == accepted
    refusal = sim.rejections()[rejected]
    assert refusal["status"] == status and refusal["reason"]


def test_malformed_tlvs_are_refused(sim: SmscSim, esme: RawEsme) -> None:
    body = esme.pdu("submit_sm", **flash_fields()).generate()
    bad_length = body + struct.pack(">HH", 0x0005, 2) + b"\x01\x01"  # dest_addr_subunit is one octet
    cut_short = body + struct.pack(">HH", 0x0204, 8) + b"\x00"
    for raw, status in ((bad_length, 0xC2), (cut_short, 0xC0)):
        esme.send_raw(struct.pack(">I", len(raw)) + raw[4:])
        assert esme.read().status == status


def test_an_smsc_that_wants_the_subunit_refuses_a_submit_without_it() -> None:
    with running_smsc("--require-subunit") as sim:
        client = RawEsme(sim.port)
        try:
            assert client.bind().status == 0
            client.send(client.pdu("submit_sm", **flash_fields()))
            assert client.read().status == 0xC3  # ESME_RMISSINGOPTPARAM
            client.send(client.pdu("submit_sm", **flash_fields(dest_addr_subunit=1)))
            assert client.read().status == 0
        finally:
            client.close()


def test_binds_are_checked(sim: SmscSim) -> None:
    for kwargs, status in (({"password": "wrong"}, 0x0E), ({"system_id": "other"}, 0x0F)):
        client = RawEsme(sim.port)
        try:
            assert client.bind(**kwargs).status == status
        finally:
            client.close()
    client = RawEsme(sim.port)
    try:
        client.send(client.pdu("submit_sm", **flash_fields()))
        assert client.read().status == 0x04  # ESME_RINVBNDSTS: not bound
        assert client.bind("bind_receiver").status == 0
        client.send(client.pdu("submit_sm", **flash_fields()))
        assert client.read().status == 0x04  # a receiver does not submit
        assert client.bind().status == 0x05  # ESME_RALYBND
    finally:
        client.close()


def test_enquire_link_unknown_commands_and_unbind(sim: SmscSim, esme: RawEsme) -> None:
    sequence = esme.send(esme.pdu("enquire_link"))
    resp = esme.read()
    assert (resp.command, resp.sequence, resp.status) == ("enquire_link_resp", sequence, 0)
    esme.send_raw(struct.pack(">IIII", 16, 0x00000103, 0, 77))  # data_sm: not served here
    nack = esme.read()
    assert (nack.command, nack.status, nack.sequence) == ("generic_nack", 0x03, 77)
    esme.send(esme.pdu("unbind"))
    assert esme.read().command == "unbind_resp"


def test_throttle_and_drop_on_demand(sim: SmscSim, esme: RawEsme) -> None:
    sim.faults(throttle_next=2)
    statuses = []
    for _ in range(3):
        esme.send(esme.pdu("submit_sm", **flash_fields()))
        statuses.append(esme.read().status)
        if statuses[-1] == 0:
            esme.read()  # its receipt
    assert statuses == [0x58, 0x58, 0]
    accepted = len(sim.messages())
    sim.faults(drop_after=1)
    esme.send(esme.pdu("submit_sm", **flash_fields()))
    with pytest.raises((ConnectionError, OSError)):
        esme.read()
    assert len(sim.messages()) == accepted  # dropped unanswered: the SMSC never took it
    assert sim.counter("submits_dropped") >= 1
