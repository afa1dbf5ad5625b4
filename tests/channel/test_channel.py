"""The shared signed channel: one envelope, signature and HTTP core serve the banks, the carriers and any new
partner; the wire format did not change when banks and carriers moved onto it."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Collection, Mapping
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any, ClassVar

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from fanzha.banking import messages as bm
from fanzha.banking import signing as bs
from fanzha.channel.adapter import LoopbackAdapter, PartnerError, PermanentPartnerError, TransientPartnerError
from fanzha.channel.envelope import SignedEnvelope
from fanzha.channel.keys import KeyRing, SigningKey, kid_for
from fanzha.channel.signing import BadSignature
from fanzha.channel.wire import ERROR, InvalidMessage, Partner, UnknownMessageType, Uuid4Str, describe
from fanzha.telecom.carriers import messages as cm

NOW = datetime(2026, 11, 25, 10, 15, tzinfo=timezone(timedelta(hours=8)))
EPOCH = datetime(2026, 1, 1, tzinfo=UTC)


# ---- a third, made-up channel: what a new partner needs to supply ---------------------------------------------

class LabType(StrEnum):
    PING = "Ping"
    PONG = "Pong"
    ERROR = "Error"


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Ping(_Body):
    lab: str
    text: str


class Pong(_Body):
    request_id: Uuid4Str
    text: str


class LabError(_Body):
    request_id: Uuid4Str | None = None
    code: str
    message: str


LabBody = Ping | Pong | LabError
LAB = Partner(name="lab", code_re=r"[A-Z]{2,4}", code_field="lab", instructions=frozenset({LabType.PING}),
              answers=frozenset({LabType.PONG}))


class LabEnvelope(SignedEnvelope[LabType, LabBody]):
    PARTNER = LAB
    BODIES: ClassVar[Mapping[Any, type[BaseModel]]] = {LabType.PING: Ping, LabType.PONG: Pong,
                                                        LabType.ERROR: LabError}


class LabBusy(TransientPartnerError):
    pass


class LabRefused(PermanentPartnerError[LabEnvelope]):
    pass


class LabAdapter(LoopbackAdapter[LabEnvelope]):
    PARTNER_NAME: ClassVar[str] = "lab"
    MAX_ANSWER_BYTES: ClassVar[int] = 2_000
    TRANSIENT = LabBusy
    PERMANENT = LabRefused

    def send(self, envelope: LabEnvelope) -> LabEnvelope:
        return self._exchange(envelope, envelope.partner_code)

    def _verify_and_parse(self, content: bytes) -> LabEnvelope:
        return LabEnvelope.verified(content, self.keyring)

    def _answer_types(self, request: LabEnvelope) -> Collection[str]:
        return (LabType.PONG,)


def _signer(org: str, seed: int) -> SigningKey:
    key = Ed25519PrivateKey.from_private_bytes(bytes([seed]) * 32)
    return SigningKey(org=org, kid=kid_for(key.public_key()), private_key=key)


CENTER = _signer("center", 1)
LAB_AB = _signer("lab:AB", 2)
RING = KeyRing()
for _s in (CENTER, LAB_AB):
    RING.add_key(_s.org, _s.public_key, not_before=EPOCH)


def _ping() -> LabEnvelope:
    return LabEnvelope.signed(Ping(lab="AB", text="hi"), CENTER, recipient="lab:AB", idempotency_key="k1",
                              sent_at=NOW)


def test_a_new_channel_signs_verifies_and_keeps_the_wire_form() -> None:
    ping = _ping()
    wire = ping.to_wire()
    assert list(wire) == ["v", "type", "id", "idempotency_key", "sent_at", "sender", "recipient", "kid", "body", "sig"]
    again = LabEnvelope.verified(ping.to_json_bytes(), RING, now=NOW)
    assert again == ping and again.to_wire() == wire and again.partner_code == "AB"
    assert isinstance(again.typed_body(), Ping) and LabEnvelope.kind_of(again.typed_body()) is LabType.PING
    tampered = {**wire, "body": {"lab": "AB", "text": "bye"}}
    with pytest.raises(BadSignature) as bad:
        LabEnvelope.verified(tampered, RING, now=NOW)
    assert bad.value.reason == "invalid_signature"


def test_routing_is_checked_with_the_channels_words() -> None:
    def build(body: LabBody, sender: str, recipient: str) -> None:
        LabEnvelope.build(body, sender=sender, recipient=recipient, idempotency_key="k", sent_at=NOW)

    pong = Pong(request_id=str(uuid.uuid4()), text="x")
    cases: list[tuple[LabBody, str, str, str]] = [
        (Ping(lab="AB", text="x"), "lab:AB", "center", "Ping goes from center to a lab, not from lab:AB to center"),
        (Ping(lab="AB", text="x"), "center", "lab:CD", "body.lab AB but recipient is lab:CD"),
        (pong, "center", "lab:AB", "Pong goes from a lab to center"),
        (LabError(code="x", message="y"), "center", "center", "Error goes between center and a lab"),
        (Ping(lab="AB", text="x"), "center", "bank:AB", "'center' or 'lab:<CODE>'"),
    ]
    for body, sender, recipient, words in cases:
        with pytest.raises(InvalidMessage, match=words):
            build(body, sender, recipient)
    with pytest.raises(UnknownMessageType, match="StopPayment is not a lab message body"):
        LabEnvelope.kind_of(bm.StopPayment(case_number="SH20261125-000123", officer="x", account="622202123456",
                                           bank_code="AB", currency="CNY", reason="r"))


def test_unknown_types_and_bad_orgs_read_as_before() -> None:
    wire = _ping().to_wire()
    with pytest.raises(UnknownMessageType, match=r"'Pang' \(known: Ping, Pong, Error\)"):
        LabEnvelope.parse({**wire, "type": "Pang"})
    # The org check says what pydantic's Field(pattern=...) says, with the channel's pattern.

    class Pattern(BaseModel):
        sender: Annotated[str, Field(pattern=LAB.org_re)]

    with pytest.raises(ValidationError) as expected:
        Pattern(sender="lab:ab")
    with pytest.raises(InvalidMessage) as got:
        LabEnvelope.parse({**wire, "sender": "lab:ab"})
    assert str(got.value) == "invalid message: " + describe(expected.value)


def test_bank_and_carrier_messages_do_not_cross_channels() -> None:
    with pytest.raises(UnknownMessageType, match=r"'StopPayment' \(known: CarrierAction, CarrierActionResult, Error\)"):
        cm.parse_envelope(_golden_bank().to_wire())
    error = {**_golden_carrier().to_wire(), "type": "Error", "body": {"code": "x", "message": "y"}}
    assert cm.parse_envelope(error).carrier_code == "CMCC"
    with pytest.raises(InvalidMessage, match=r"recipient: String should match pattern '\^\(center\|bank:"):
        bm.parse_envelope(error)
    # One BadSignature, one MessageError: callers of either channel catch the same classes.
    assert bs.BadSignature is cm.BadSignature is BadSignature
    assert bm.MessageError is cm.MessageError


# ---- the wire format is the one the banks and carriers already speak ------------------------------------------

_FIXED = _signer("center", 7)
GOLDEN_BANK = (
    '{"v":1,"type":"StopPayment","id":"0b0f5a4e-8c0e-4d3b-9a53-5b8f0a0f6e11","idempotency_key":'
    '"SH20261125-000123:sp:1","sent_at":"2026-11-25T10:15:00+08:00","sender":"center","recipient":"bank:ABC",'
    '"kid":"%s","body":{"case_number":"SH20261125-000123","officer":"王警官","account":"6222021234567890",'
    '"bank_code":"ABC","account_name":null,"amount":"12000.50","currency":"CNY","reason":"电信诈骗",'
    '"victim_transfer_at":null,"hold_hours":48},"sig":"%s"}'
)
GOLDEN_CARRIER = (
    '{"v":1,"type":"CarrierAction","id":"7d9f0f5e-2b1a-4c3d-9e8f-0a1b2c3d4e5f","idempotency_key":'
    '"2f1c3c0e-6f0a-4c47-8f3e-1d2b3c4d5e6f","sent_at":"2026-11-25T10:15:00+08:00","sender":"center",'
    '"recipient":"carrier:CMCC","kid":"%s","body":{"case_number":"SH20261125-000123","officer":"王警官",'
    '"number":"+8613812345678","carrier":"CMCC","action":"shutdown","reason":"诈骗号码"},"sig":"%s"}'
)


def _golden_bank() -> bm.Envelope:
    body = bm.StopPayment(case_number="SH20261125-000123", officer="王警官", account="6222021234567890",
                          bank_code="ABC", amount=Decimal("12000.50"), currency="CNY", reason="电信诈骗")
    return bs.sign_envelope(body, _FIXED, recipient="bank:ABC", idempotency_key="SH20261125-000123:sp:1",
                            message_id="0b0f5a4e-8c0e-4d3b-9a53-5b8f0a0f6e11", sent_at=NOW)


def _golden_carrier() -> cm.Envelope:
    body = cm.CarrierAction(case_number="SH20261125-000123", officer="王警官", number="+8613812345678",
                            carrier="CMCC", action="shutdown", reason="诈骗号码")
    return cm.sign_envelope(body, _FIXED, recipient="carrier:CMCC",
                            idempotency_key="2f1c3c0e-6f0a-4c47-8f3e-1d2b3c4d5e6f",
                            message_id="7d9f0f5e-2b1a-4c3d-9e8f-0a1b2c3d4e5f", sent_at=NOW)


@pytest.mark.parametrize(("make", "golden", "sig"), [
    (_golden_bank, GOLDEN_BANK,
     "4lXBpzdijXisFg/QZEiCuAFtI5bNkc2NToCCeIA+SMTe1f99LslAfQ66yGKLXOdkqFm3PmKYkmHJe6ouCUsNAg=="),
    (_golden_carrier, GOLDEN_CARRIER,
     "4bu4bAGGTBGvxjozTAPsUjoB53nP5oyL4UoPfKkLqd8H8RDHaXD58A8U8+hTDjvl+COHX7CexVHgYRbCSmMCDA=="),
])
def test_signed_bytes_are_unchanged(make: Callable[[], SignedEnvelope[StrEnum, BaseModel]], golden: str,
                                    sig: str) -> None:
    # Ed25519 is deterministic: same key, same content, same signature as before the channel was shared.
    assert make().to_json_bytes().decode() == golden % (_FIXED.kid, sig)


# ---- the HTTP core, against an in-process transport ----------------------------------------------------------

def _adapter(handler: Callable[[httpx.Request], httpx.Response],
             keyring: KeyRing | Callable[[], KeyRing] = RING) -> LabAdapter:
    client = httpx.Client(transport=httpx.MockTransport(handler))
    return LabAdapter("http://127.0.0.1:9", keyring, client=client)


def _answer(request: httpx.Request, body: LabBody, status: int = 200, signer: SigningKey = LAB_AB,
            headers: dict[str, str] | None = None) -> httpx.Response:
    sent = LabEnvelope.parse(request.content)
    answer = LabEnvelope.signed(body, signer, recipient=sent.sender, idempotency_key=f"answer-{sent.id}")
    return httpx.Response(status, content=answer.to_json_bytes(), headers=headers)


def test_an_answer_comes_back_verified_from_the_partners_url() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return _answer(request, Pong(request_id=LabEnvelope.parse(request.content).id, text="ok"))

    rings: list[int] = []

    def keyring() -> KeyRing:
        rings.append(1)  # asked on each answer: a keyring file may have been rotated meanwhile
        return RING

    ping = _ping()
    with _adapter(handler, keyring) as adapter:
        answer = adapter.send(ping)
        adapter.send(ping)
    assert isinstance(answer.typed_body(), Pong) and len(rings) == 2
    assert str(seen[0].url) == "http://127.0.0.1:9/labs/AB/messages"
    assert seen[0].headers["Idempotency-Key"] == "k1" and seen[0].content == ping.to_json_bytes()


def test_failures_are_classified_for_the_channel() -> None:
    ping = _ping()

    def fails(handler: Callable[[httpx.Request], httpx.Response]) -> PartnerError:
        with _adapter(handler) as adapter, pytest.raises(PartnerError) as caught:
            adapter.send(ping)
        assert caught.value.partner == "AB"
        return caught.value

    def refused(handler: Callable[[httpx.Request], httpx.Response]) -> LabRefused:
        error = fails(handler)
        assert isinstance(error, LabRefused)
        return error

    busy = fails(lambda r: httpx.Response(503, headers={"Retry-After": "7"}))
    assert isinstance(busy, LabBusy) and busy.status_code == 503 and busy.retry_after_s == 7.0
    assert str(busy) == "lab AB: HTTP 503"

    conflict = refused(lambda r: _answer(r, LabError(request_id=ping.id, code="no", message="never"), status=409))
    assert conflict.reason == "http_409" and conflict.answer is not None

    error = refused(lambda r: _answer(r, LabError(request_id=ping.id, code="no", message="never")))
    assert error.reason == "lab_error" and error.answer is not None and error.answer.type == ERROR

    other = refused(lambda r: _answer(r, Pong(request_id=str(uuid.uuid4()), text="?")))
    assert other.reason == "unexpected_answer" and "answer is for request" in str(other) and other.answer is not None

    forged = refused(lambda r: _answer(r, Pong(request_id=ping.id, text="?"), signer=_signer("lab:AB", 9)))
    assert forged.reason == "bad_signature" and forged.bad_signature is not None
    assert forged.bad_signature.reason == "unknown_kid" and isinstance(forged.__cause__, BadSignature)

    huge = refused(lambda r: httpx.Response(200, content=json.dumps({"pad": "x" * 3000}).encode()))
    assert huge.reason == "malformed_answer" and "too large" in str(huge)

    assert refused(lambda r: httpx.Response(200, content=b"{}")).reason == "bad_signature"

    def down(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    unreachable = fails(down)
    assert isinstance(unreachable, LabBusy) and "ConnectError" in str(unreachable)


@pytest.mark.parametrize("url", ["http://10.0.0.1", "http://user:pw@127.0.0.1", "ftp://127.0.0.1"])
def test_only_loopback_is_reached_and_the_error_names_the_partner(url: str) -> None:
    with pytest.raises(ValueError, match="lab base URL"):
        LabAdapter(url, RING)
