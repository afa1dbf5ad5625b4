"""SMPP 3.4 wire format for the simulated SMSC, written from the specification (not from the client's library, so
a mistake in one is not mirrored by the other): the header, C-octet strings, TLVs, the PDUs the SMSC sends, and
the strict check of every field of a flash-SMS ``submit_sm``.
"""

from __future__ import annotations

import re
import struct
from dataclasses import dataclass, field
from typing import Any, Final

HEADER: Final = struct.Struct(">IIII")
MAX_PDU: Final = 64 * 1024

# command ids
GENERIC_NACK: Final = 0x80000000
BIND_RECEIVER, BIND_RECEIVER_RESP = 0x00000001, 0x80000001
BIND_TRANSMITTER, BIND_TRANSMITTER_RESP = 0x00000002, 0x80000002
SUBMIT_SM, SUBMIT_SM_RESP = 0x00000004, 0x80000004
DELIVER_SM, DELIVER_SM_RESP = 0x00000005, 0x80000005
UNBIND, UNBIND_RESP = 0x00000006, 0x80000006
BIND_TRANSCEIVER, BIND_TRANSCEIVER_RESP = 0x00000009, 0x80000009
ENQUIRE_LINK, ENQUIRE_LINK_RESP = 0x00000015, 0x80000015
BINDS: Final = {BIND_RECEIVER: "receiver", BIND_TRANSMITTER: "transmitter", BIND_TRANSCEIVER: "transceiver"}
COMMAND_NAMES: Final = {
    GENERIC_NACK: "generic_nack", BIND_RECEIVER: "bind_receiver", BIND_TRANSMITTER: "bind_transmitter",
    SUBMIT_SM: "submit_sm", DELIVER_SM: "deliver_sm", UNBIND: "unbind", BIND_TRANSCEIVER: "bind_transceiver",
    ENQUIRE_LINK: "enquire_link", SUBMIT_SM_RESP: "submit_sm_resp", DELIVER_SM_RESP: "deliver_sm_resp",
    UNBIND_RESP: "unbind_resp", ENQUIRE_LINK_RESP: "enquire_link_resp", BIND_RECEIVER_RESP: "bind_receiver_resp",
    BIND_TRANSMITTER_RESP: "bind_transmitter_resp", BIND_TRANSCEIVER_RESP: "bind_transceiver_resp",
}

# command_status values (SMPP 3.4 §5.1.3)
ROK: Final = 0x00
RINVMSGLEN: Final = 0x01
RINVCMDLEN: Final = 0x02
RINVCMDID: Final = 0x03
RINVBNDSTS: Final = 0x04
RALYBND: Final = 0x05
RINVPRTFLG: Final = 0x06
RINVREGDLVFLG: Final = 0x07
RSYSERR: Final = 0x08
RINVSRCADR: Final = 0x0A
RINVDSTADR: Final = 0x0B
RBINDFAIL: Final = 0x0D
RINVPASWD: Final = 0x0E
RINVSYSID: Final = 0x0F
RMSGQFUL: Final = 0x14
RINVSERTYP: Final = 0x15
RINVESMCLASS: Final = 0x43
RSUBMITFAIL: Final = 0x45
RINVSRCTON: Final = 0x48
RINVSRCNPI: Final = 0x49
RINVDSTTON: Final = 0x50
RINVDSTNPI: Final = 0x51
RINVSYSTYP: Final = 0x53
RINVREPFLAG: Final = 0x54
RTHROTTLED: Final = 0x58
RINVSCHED: Final = 0x61
RINVEXPIRY: Final = 0x62
RINVDFTMSGID: Final = 0x63
RINVOPTPARSTREAM: Final = 0xC0
ROPTPARNOTALLWD: Final = 0xC1
RINVPARLEN: Final = 0xC2
RMISSINGOPTPARAM: Final = 0xC3
RINVOPTPARAMVAL: Final = 0xC4

# TLV tags
TAG_DEST_ADDR_SUBUNIT: Final = 0x0005
TAG_RECEIPTED_MESSAGE_ID: Final = 0x001E
TAG_SAR_MSG_REF_NUM: Final = 0x020C
TAG_SAR_TOTAL_SEGMENTS: Final = 0x020E
TAG_SAR_SEGMENT_SEQNUM: Final = 0x020F
TAG_MESSAGE_PAYLOAD: Final = 0x0424
TAG_MESSAGE_STATE: Final = 0x0427
# Tags with a fixed length (the ones this SMSC knows): a TLV of the wrong length is refused.
TLV_SIZES: Final = {0x0005: 1, 0x0006: 1, 0x0007: 1, 0x0008: 2, 0x000D: 1, 0x000E: 1, 0x000F: 1, 0x0010: 1,
                    0x0017: 4, 0x0019: 1, 0x0030: 1, 0x0201: 1, 0x0204: 2, 0x0205: 1, 0x020A: 2, 0x020B: 2,
                    0x020C: 2, 0x020D: 1, 0x020E: 1, 0x020F: 1, 0x0302: 1, 0x0304: 2, 0x0427: 1, 0x1201: 1}
# One segment only: a flash warning is never split or carried in a payload.
TLV_NOT_ALLOWED: Final = {TAG_MESSAGE_PAYLOAD: "message_payload", TAG_SAR_MSG_REF_NUM: "sar_msg_ref_num",
                          TAG_SAR_TOTAL_SEGMENTS: "sar_total_segments", TAG_SAR_SEGMENT_SEQNUM: "sar_segment_seqnum"}

VALID_TON: Final = frozenset(range(0, 7))
VALID_NPI: Final = frozenset({0, 1, 3, 4, 6, 8, 9, 10, 14, 18})
DATA_CODING_FLASH_UCS2: Final = 0x18
MAX_UCS2_OCTETS: Final = 140
_TIME = re.compile(r"^(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(\d)(\d{2})([+\-R])$")


class PduError(Exception):
    """A PDU that cannot be read at all: answered with generic_nack (or the session is closed)."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


class Refusal(Exception):
    """A well-formed PDU with a field the SMSC refuses: answered with this command_status."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


def header(data: bytes) -> tuple[int, int, int, int]:
    length, command_id, status, sequence = HEADER.unpack_from(data)
    return length, command_id, status, sequence


def build(command_id: int, sequence: int, body: bytes = b"", status: int = ROK) -> bytes:
    return HEADER.pack(16 + len(body), command_id, status, sequence) + body


def cstring(value: str | bytes) -> bytes:
    raw = value.encode("ascii") if isinstance(value, str) else value
    return raw + b"\x00"


def tlv(tag: int, value: bytes) -> bytes:
    return struct.pack(">HH", tag, len(value)) + value


class Reader:
    """Reads a PDU body field by field; a field that runs past its bound is a Refusal with the field's status."""

    def __init__(self, body: bytes) -> None:
        self.body = body
        self.pos = 0

    def cstr(self, max_octets: int, status: int, name: str) -> bytes:
        """A C-octet string of at most ``max_octets`` including its NUL."""
        end = self.body.find(b"\x00", self.pos, self.pos + max_octets)
        if end < 0:
            raise Refusal(status, f"{name}: no NUL within {max_octets} octets")
        value = self.body[self.pos:end]
        self.pos = end + 1
        return value

    def u8(self, name: str) -> int:
        if self.pos >= len(self.body):
            raise Refusal(RINVMSGLEN, f"{name}: the PDU ends before it")
        value = self.body[self.pos]
        self.pos += 1
        return value

    def octets(self, n: int, name: str) -> bytes:
        if self.pos + n > len(self.body):
            raise Refusal(RINVMSGLEN, f"{name}: {n} octets announced, {len(self.body) - self.pos} left")
        value = self.body[self.pos:self.pos + n]
        self.pos += n
        return value

    def rest(self) -> bytes:
        return self.body[self.pos:]


def parse_tlvs(data: bytes) -> dict[int, bytes]:
    tlvs: dict[int, bytes] = {}
    pos = 0
    while pos < len(data):
        if pos + 4 > len(data):
            raise Refusal(RINVOPTPARSTREAM, f"a TLV header is cut short ({len(data) - pos} octets)")
        tag, length = struct.unpack_from(">HH", data, pos)
        pos += 4
        if pos + length > len(data):
            raise Refusal(RINVOPTPARSTREAM, f"TLV 0x{tag:04X} announces {length} octets, {len(data) - pos} left")
        value = data[pos:pos + length]
        pos += length
        if tag in TLV_SIZES and length != TLV_SIZES[tag]:
            raise Refusal(RINVPARLEN, f"TLV 0x{tag:04X} has length {length}, expected {TLV_SIZES[tag]}")
        if tag in tlvs:
            raise Refusal(RINVOPTPARSTREAM, f"TLV 0x{tag:04X} appears twice")
        tlvs[tag] = value
    return tlvs


def check_time(value: str, status: int, name: str) -> None:
    """SMPP absolute (``YYMMDDhhmmsstnn+``/``-``) or relative (``...R``) time, or empty."""
    if not value:
        return
    match = _TIME.match(value)
    if match is None:
        raise Refusal(status, f"{name} {value!r} is not a 16-character SMPP time")
    _yy, mm, dd, hh, mi, ss, _t, nn, p = match.groups()
    if p == "R":
        if int(mm) > 11 or int(dd) > 30 or int(hh) > 23 or int(mi) > 59 or int(ss) > 59:
            raise Refusal(status, f"{name} {value!r}: relative time out of range")
        return
    if not (1 <= int(mm) <= 12 and 1 <= int(dd) <= 31 and int(hh) <= 23 and int(mi) <= 59 and int(ss) <= 59
            and int(nn) <= 48):
        raise Refusal(status, f"{name} {value!r}: absolute time out of range")


@dataclass
class SubmitSm:
    """Every field of a submit_sm, as the SMSC read it."""

    service_type: str
    source_addr_ton: int
    source_addr_npi: int
    source_addr: str
    dest_addr_ton: int
    dest_addr_npi: int
    destination_addr: str
    esm_class: int
    protocol_id: int
    priority_flag: int
    schedule_delivery_time: str
    validity_period: str
    registered_delivery: int
    replace_if_present_flag: int
    data_coding: int
    sm_default_msg_id: int
    sm_length: int
    short_message: bytes
    tlvs: dict[int, bytes] = field(default_factory=dict)
    text: str = ""

    def as_json(self) -> dict[str, Any]:
        return {
            "service_type": self.service_type, "source_addr_ton": self.source_addr_ton,
            "source_addr_npi": self.source_addr_npi, "source_addr": self.source_addr,
            "dest_addr_ton": self.dest_addr_ton, "dest_addr_npi": self.dest_addr_npi,
            "destination_addr": self.destination_addr, "esm_class": self.esm_class, "protocol_id": self.protocol_id,
            "priority_flag": self.priority_flag, "schedule_delivery_time": self.schedule_delivery_time,
            "validity_period": self.validity_period, "registered_delivery": self.registered_delivery,
            "replace_if_present_flag": self.replace_if_present_flag, "data_coding": self.data_coding,
            "sm_default_msg_id": self.sm_default_msg_id, "sm_length": self.sm_length,
            "short_message_hex": self.short_message.hex(), "text": self.text, "chars": len(self.text),
            "tlvs": {f"0x{tag:04X}": value.hex() for tag, value in sorted(self.tlvs.items())},
            "dest_addr_subunit": self.tlvs[TAG_DEST_ADDR_SUBUNIT][0] if TAG_DEST_ADDR_SUBUNIT in self.tlvs else None,
        }


def _ascii(raw: bytes, status: int, name: str) -> str:
    try:
        text = raw.decode("ascii")
    except UnicodeDecodeError:
        raise Refusal(status, f"{name} is not ASCII") from None
    if not text.isprintable():
        raise Refusal(status, f"{name} holds control characters")
    return text


def read_submit_sm(body: bytes, *, require_subunit: bool = False) -> SubmitSm:
    """Read and check every field of a flash-SMS submit_sm; a Refusal names the field and its command_status."""
    r = Reader(body)
    service_type = _ascii(r.cstr(6, RINVSERTYP, "service_type"), RINVSERTYP, "service_type")
    src_ton = r.u8("source_addr_ton")
    src_npi = r.u8("source_addr_npi")
    source = _ascii(r.cstr(21, RINVSRCADR, "source_addr"), RINVSRCADR, "source_addr")
    dst_ton = r.u8("dest_addr_ton")
    dst_npi = r.u8("dest_addr_npi")
    destination = _ascii(r.cstr(21, RINVDSTADR, "destination_addr"), RINVDSTADR, "destination_addr")
    esm_class = r.u8("esm_class")
    protocol_id = r.u8("protocol_id")
    priority_flag = r.u8("priority_flag")
    schedule = _ascii(r.cstr(17, RINVSCHED, "schedule_delivery_time"), RINVSCHED, "schedule_delivery_time")
    validity = _ascii(r.cstr(17, RINVEXPIRY, "validity_period"), RINVEXPIRY, "validity_period")
    registered = r.u8("registered_delivery")
    replace = r.u8("replace_if_present_flag")
    data_coding = r.u8("data_coding")
    default_msg = r.u8("sm_default_msg_id")
    sm_length = r.u8("sm_length")
    short_message = r.octets(sm_length, "short_message")
    tlvs = parse_tlvs(r.rest())
    sm = SubmitSm(service_type, src_ton, src_npi, source, dst_ton, dst_npi, destination, esm_class, protocol_id,
                  priority_flag, schedule, validity, registered, replace, data_coding, default_msg, sm_length,
                  short_message, tlvs)

    # addresses
    if src_ton not in VALID_TON:
        raise Refusal(RINVSRCTON, f"source_addr_ton {src_ton} is not a TON")
    if src_npi not in VALID_NPI:
        raise Refusal(RINVSRCNPI, f"source_addr_npi {src_npi} is not an NPI")
    if not source or (src_ton != 5 and not source.isdigit()):
        raise Refusal(RINVSRCADR, f"source_addr {source!r}: digits expected (TON {src_ton})")
    if dst_ton != 1:
        raise Refusal(RINVDSTTON, f"dest_addr_ton {dst_ton}: this SMSC routes international numbers (TON 1)")
    if dst_npi != 1:
        raise Refusal(RINVDSTNPI, f"dest_addr_npi {dst_npi}: E.164 (NPI 1) expected")
    if not re.fullmatch(r"[1-9][0-9]{6,14}", destination):
        raise Refusal(RINVDSTADR, f"destination_addr {destination!r} is not an international number without '+'")
    # message mode and type
    if len(service_type) > 5:
        raise Refusal(RINVSERTYP, "service_type longer than 5 characters")
    if esm_class != 0:
        raise Refusal(RINVESMCLASS, f"esm_class 0x{esm_class:02X}: a flash SMS is esm_class 0 "
                                    "(0x10 is not flash; 0x40 means a UDH: more than one segment)")
    if protocol_id != 0:
        raise Refusal(RSUBMITFAIL, f"protocol_id 0x{protocol_id:02X}: 0 expected (0x40 is a silent type-0 SMS)")
    if priority_flag > 3:
        raise Refusal(RINVPRTFLG, f"priority_flag {priority_flag} is not 0-3")
    if schedule:
        raise Refusal(RINVSCHED, f"schedule_delivery_time {schedule!r}: a warning is delivered at once")
    check_time(validity, RINVEXPIRY, "validity_period")
    if registered & ~0x1F or registered & 0x03 == 0x03:
        raise Refusal(RINVREGDLVFLG, f"registered_delivery 0x{registered:02X} has reserved bits")
    if replace > 1:
        raise Refusal(RINVREPFLAG, f"replace_if_present_flag {replace} is not 0 or 1")
    if default_msg != 0:
        raise Refusal(RINVDFTMSGID, f"sm_default_msg_id {default_msg}: canned messages are not used")
    # one UCS2 segment, message class 0
    for tag, name in TLV_NOT_ALLOWED.items():
        if tag in tlvs:
            raise Refusal(ROPTPARNOTALLWD, f"{name}: a flash SMS is one segment in short_message")
    if data_coding != DATA_CODING_FLASH_UCS2:
        raise Refusal(RSUBMITFAIL, f"data_coding 0x{data_coding:02X}: a flash SMS in Chinese is 0x18 "
                                   "(UCS2, message class 0)")
    if not 0 < sm_length <= MAX_UCS2_OCTETS or sm_length % 2:
        raise Refusal(RINVMSGLEN, f"sm_length {sm_length}: one UCS2 segment is 2-140 octets, an even number")
    try:
        text = short_message.decode("utf-16-be")
    except UnicodeDecodeError:
        raise Refusal(RINVMSGLEN, "short_message is not UCS2") from None
    if any(0xD800 <= ord(c) <= 0xDFFF or ord(c) > 0xFFFF for c in text):
        raise Refusal(RINVMSGLEN, "short_message holds surrogates: UCS2 has none")
    sm.text = text
    subunit = tlvs.get(TAG_DEST_ADDR_SUBUNIT)
    if subunit is not None and subunit != b"\x01":
        raise Refusal(RINVOPTPARAMVAL, f"dest_addr_subunit {subunit.hex()}: 1 (display) expected for flash")
    if require_subunit and subunit is None:
        raise Refusal(RMISSINGOPTPARAM, "this SMSC wants dest_addr_subunit = 1 for a flash SMS")
    return sm


def read_bind(body: bytes) -> tuple[str, str, str, int]:
    r = Reader(body)
    system_id = _ascii(r.cstr(16, RINVSYSID, "system_id"), RINVSYSID, "system_id")
    password = r.cstr(9, RINVPASWD, "password").decode("latin-1")
    system_type = _ascii(r.cstr(13, RINVSYSTYP, "system_type"), RINVSYSTYP, "system_type")
    version = r.u8("interface_version")
    r.u8("addr_ton")
    r.u8("addr_npi")
    r.cstr(41, RBINDFAIL, "address_range")
    return system_id, password, system_type, version


MESSAGE_STATE: Final = {"DELIVRD": 2, "EXPIRED": 3, "DELETED": 4, "UNDELIV": 5, "ACCEPTD": 6, "UNKNOWN": 7,
                        "REJECTD": 8}


def deliver_receipt(sequence: int, sm: SubmitSm, message_id: str, stat: str, submit_date: str, done_date: str,
                    err: str = "000") -> bytes:
    """A deliver_sm carrying an SMSC delivery receipt (esm_class 0x04) for ``sm``, SMPP 3.4 Appendix B."""
    text = (f"id:{message_id} sub:001 dlvrd:{'001' if stat == 'DELIVRD' else '000'} submit date:{submit_date} "
            f"done date:{done_date} stat:{stat} err:{err} text:").encode("ascii")
    body = (cstring("") + bytes([sm.dest_addr_ton, sm.dest_addr_npi]) + cstring(sm.destination_addr)
            + bytes([sm.source_addr_ton, sm.source_addr_npi]) + cstring(sm.source_addr)
            + bytes([0x04, 0, 0]) + cstring("") + cstring("") + bytes([0, 0, 0, 0, len(text)]) + text
            + tlv(TAG_RECEIPTED_MESSAGE_ID, cstring(message_id)) + tlv(TAG_MESSAGE_STATE, bytes([MESSAGE_STATE[stat]])))
    return build(DELIVER_SM, sequence, body)
