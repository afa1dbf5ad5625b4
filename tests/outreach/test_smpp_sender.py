"""The SMPP sender against the simulated SMSC over a real socket: the flash PDU fields as the SMSC read them,
enquire_link both ways, reconnect after a dropped connection (an unanswered submit goes again, once), throttle
back-off, the send window, a bind refused, and delivery receipts reported by message id."""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import pytest

from fanzha.outreach import flash
from fanzha.outreach.smpp import DeliveryReceipt, OutgoingSms, SmppConfig, SmppSender, validity
from tests.outreach.simsmsc import PASSWORD, SmscSim, wait_for

TEXT = flash.text_for("impersonate_authority")


class Recorder:
    """SenderEvents that keeps everything (no database)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.claimed: list[int] = []
        self.released_refs: list[int] = []
        self.ids: dict[int, str] = {}
        self.refusals: dict[int, str] = {}
        self.receipts: list[DeliveryReceipt] = []

    def claim(self, refs: Sequence[int]) -> set[int]:
        with self.lock:
            self.claimed.extend(refs)
        return set(refs)

    def released(self, refs: Sequence[int]) -> None:
        with self.lock:
            self.released_refs.extend(refs)

    def submitted(self, ref: int, message_id: str) -> None:
        with self.lock:
            assert ref not in self.ids, f"{ref} answered twice"
            self.ids[ref] = message_id

    def refused(self, ref: int, status: int, detail: str) -> None:
        with self.lock:
            self.refusals[ref] = detail

    def receipt(self, receipt: DeliveryReceipt) -> None:
        with self.lock:
            self.receipts.append(receipt)


@contextmanager
def sender(config: SmppConfig) -> Iterator[tuple[SmppSender, Recorder]]:
    events = Recorder()
    smpp = SmppSender(config)
    smpp.start(events)
    try:
        wait_for(lambda: smpp.connected, what="bind") if config.password == PASSWORD else None
        yield smpp, events
    finally:
        smpp.stop()


def sms(ref: int, number: str = "+8613812345678", text: str = TEXT) -> OutgoingSms:
    return OutgoingSms(ref=ref, destination=number, text=text)


@pytest.mark.parametrize("subunit", [False, True])
def test_the_smsc_reads_a_flash_sms_in_one_ucs2_class0_segment(smsc: SmscSim, subunit: bool) -> None:
    with sender(smsc.config(dest_addr_subunit=subunit)) as (smpp, events):
        smpp.submit([sms(1, "+8613812345678"), sms(2, "+8618612345678", flash.text_for("task_rebate"))])
        wait_for(lambda: len(events.receipts) == 2, what="two receipts")
    got = {m["destination_addr"]: m for m in smsc.messages()}
    assert set(got) == {"8613812345678", "8618612345678"}
    for number, message in got.items():
        assert message["data_coding"] == 0x18 and message["esm_class"] == 0 and message["protocol_id"] == 0
        assert message["dest_addr_ton"] == 1 and message["dest_addr_npi"] == 1
        assert message["sm_length"] <= 140 and message["chars"] <= 70
        assert message["tlvs"].get("0x0424") is None and message["tlvs"].get("0x020C") is None  # one segment
        assert message["dest_addr_subunit"] == (1 if subunit else None)
        assert message["registered_delivery"] == 1 and message["validity_period"] == validity(10)
        assert message["source_addr"] == "96110" and message["schedule_delivery_time"] == ""
        assert message["text"] == (TEXT if number == "8613812345678" else flash.text_for("task_rebate"))
    # receipts come back matched by message id
    assert {r.message_id for r in events.receipts} == {m["message_id"] for m in got.values()}
    assert set(events.ids.values()) == {m["message_id"] for m in got.values()}
    assert all(r.stat == "DELIVRD" for r in events.receipts)
    assert smsc.rejections() == []


def test_enquire_link_keeps_the_session_alive_both_ways(smsc: SmscSim) -> None:
    smsc.faults(enquire_link_every_s=0.1)
    with sender(smsc.config(enquire_link_s=0.1)) as (smpp, _events):
        wait_for(lambda: smsc.counter("enquire_links_received") >= 3, what="our enquire_links")
        wait_for(lambda: smsc.counter("enquire_link_resps_received") >= 3, what="answers to the SMSC's")
        assert smpp.stats.enquire_links_answered >= 3 and smpp.stats.connects == 1


def test_each_pdu_is_sent_at_once_not_held_for_an_ack(smsc: SmscSim) -> None:
    """TCP_NODELAY on the session's socket, after a reconnect too: Nagle's algorithm would hold a submit_sm while an
    earlier write is unacknowledged (up to the SMSC's delayed ACK, 40 ms)."""
    with sender(smsc.config()) as (smpp, _events):
        for round_ in range(2):
            client = smpp._client
            assert client is not None and client._socket is not None
            assert client._socket.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0
            if round_ == 0:
                smsc.drop()
                wait_for(lambda: smpp.stats.connects == 2 and smpp.connected, what="the reconnect")
        smpp.submit([sms(1)])
        wait_for(lambda: len(smsc.messages()) == 1, what="the submit")


def test_a_dropped_connection_reconnects_and_the_unanswered_submit_goes_again_once(smsc: SmscSim) -> None:
    with sender(smsc.config()) as (smpp, events):
        smpp.submit([sms(1)])
        wait_for(lambda: 1 in events.ids, what="first accepted")
        assert smsc.drop() == 1  # the SMSC drops the idle session
        smpp.submit([sms(2, "+8613912345678")])
        wait_for(lambda: 2 in events.ids, what="second accepted after reconnect")
        smsc.faults(drop_after=1)  # drop when the next submit arrives, without answering it
        smpp.submit([sms(3, "+8613712345678")])
        wait_for(lambda: 3 in events.ids, what="third accepted after the drop")
        assert smpp.stats.connects >= 3
        assert 3 in events.released_refs  # written, unanswered, released, written again
    destinations = [m["destination_addr"] for m in smsc.messages()]
    assert sorted(destinations) == ["8613712345678", "8613812345678", "8613912345678"]  # each exactly once
    assert smsc.counter("submits_dropped") == 1


def test_throttled_submits_back_off_and_go_again(smsc: SmscSim) -> None:
    smsc.faults(throttle_next=3)
    started = time.monotonic()
    with sender(smsc.config(throttle_min_s=0.05, throttle_max_s=0.4)) as (smpp, events):
        smpp.submit([sms(1)])
        wait_for(lambda: 1 in events.ids, what="accepted after throttling")
        elapsed = time.monotonic() - started
        assert smpp.stats.throttled == 3 and events.refusals == {}
    assert elapsed >= 0.05 + 0.1 + 0.2  # exponential back-off between the tries
    assert [r["status"] for r in smsc.rejections()] == [0x58] * 3
    assert len(smsc.messages()) == 1


def test_the_send_window_and_the_rate_limit(smsc: SmscSim) -> None:
    smsc.faults(respond_delay_ms=150)
    with sender(smsc.config(window=3)) as (smpp, events):
        smpp.submit([sms(i, f"+86138000000{i:02d}") for i in range(1, 10)])
        wait_for(lambda: len(events.ids) == 9, what="nine accepted")
    assert smsc.counter("max_unanswered") == 3  # never more than the window awaiting an answer
    smsc.faults(respond_delay_ms=0)
    started = time.monotonic()
    with sender(smsc.config(max_per_second=20)) as (smpp, events):
        smpp.submit([sms(i, f"+86139000000{i:02d}") for i in range(1, 13)])
        wait_for(lambda: len(events.ids) == 12, what="twelve accepted")
    assert time.monotonic() - started >= (12 - 2) / 20 * 0.9  # a burst of 2 (a tenth of a second), then 20/s


def test_a_refused_bind_is_retried_and_the_password_never_logged(smsc: SmscSim,
                                                                 caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    config = smsc.config(password="wrongpw1")
    with sender(config) as (smpp, _events):
        wait_for(lambda: smpp.stats.bind_failures >= 2, what="bind retried")
        assert not smpp.connected and "0x0000000E" in smpp.stats.last_error
    assert smsc.counter("bind_failures") >= 2
    assert "wrongpw1" not in caplog.text and b"wrongpw1".hex() not in caplog.text
    assert "wrongpw1" not in repr(config)


def test_a_refusal_for_good_is_reported(smsc: SmscSim) -> None:
    with sender(smsc.config()) as (smpp, events):
        smpp.submit([sms(1, "+8613812345678")])
        wait_for(lambda: 1 in events.ids, what="accepted")
        smsc.faults(receipt_stat="UNDELIV")
        smpp.submit([sms(2, "+8613812345679")])
        wait_for(lambda: len(events.receipts) == 2, what="two receipts")
    assert sorted(r.stat for r in events.receipts) == ["DELIVRD", "UNDELIV"]
    with pytest.raises(ValueError, match="70"):
        SmppSender(smsc.config()).submit([sms(3, text="请" * 71)])
    with pytest.raises(ValueError, match=r"E\.164"):
        SmppSender(smsc.config()).submit([sms(3, number="13812345678")])


def test_an_unanswered_submit_times_out_and_goes_again(smsc: SmscSim) -> None:
    smsc.faults(silent=True)
    with sender(smsc.config(response_timeout_s=0.3)) as (smpp, events):
        smpp.submit([sms(1)])
        wait_for(lambda: 1 in events.released_refs, what="released after the response timeout")
        smsc.faults(silent=False)
        wait_for(lambda: 1 in events.ids, what="accepted")
    assert len(smsc.messages()) == 1 and smsc.counter("submits_unanswered") >= 1
