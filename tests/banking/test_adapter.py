"""HttpBankAdapter against a real HTTP server on 127.0.0.1 that plays a bank, well or badly."""

from __future__ import annotations

import copy
import json
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from fanzha.banking import keys as k
from fanzha.banking.adapter import (
    BankAdapter,
    HttpBankAdapter,
    PermanentBankError,
    TransientBankError,
    check_loopback,
)
from fanzha.banking.keys import KeyRing, SigningKey
from fanzha.banking.messages import (
    Envelope,
    Error,
    FreezeResult,
    MessageBody,
    StopPayment,
    StopPaymentResult,
    new_envelope,
)
from fanzha.banking.signing import sign, sign_envelope, verify_and_parse

EXPIRES = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)


class FakeBank:
    """Answers like a bank would, or misbehaves in the way ``mode`` names."""

    def __init__(self, ring: KeyRing, signers: dict[str, SigningKey]) -> None:
        self.ring = ring
        self.signers = signers
        self.mode = "ok"
        self.requests: list[tuple[str, dict[str, str], Envelope]] = []

    def handle(self, path: str, headers: dict[str, str], raw: bytes) -> tuple[int, bytes, dict[str, str]]:
        request = verify_and_parse(raw, self.ring)  # the center's signature must survive HTTP
        self.requests.append((path, headers, request))
        mode = self.mode
        if mode == "slow":
            time.sleep(1.0)
        if mode == "500":
            return 500, b"internal error", {}
        if mode == "503":
            return 503, b"busy", {"Retry-After": "7"}
        if mode == "429":
            return 429, b"slow down", {}
        if mode == "404":
            return 404, b"no such bank", {}
        if mode == "redirect":
            return 307, b"", {"Location": "http://10.0.0.1/banks/ABC/messages"}
        if mode == "garbage":
            return 200, b"<html>ok</html>", {}
        held = StopPaymentResult(request_id=request.id, status="held", held_amount=Decimal("70000.00"),
                                 currency="CNY", balance_at_hold=Decimal("81234.50"), expires_at=EXPIRES)
        answer: MessageBody = held
        signer = self.signers["bank:ABC"]
        if mode == "wrong_request":
            answer = held.model_copy(update={"request_id": str(uuid.uuid4())})
        elif mode == "wrong_type":
            answer = FreezeResult(request_id=request.id, status="frozen", frozen_amount=Decimal(1), currency="CNY",
                                  expires_at=EXPIRES)
        elif mode == "other_bank":
            signer = self.signers["bank:ICBC"]
        elif mode in ("error_200", "error_400"):
            answer = Error(request_id=request.id, code="unknown_account", message="no such account")
        wire = sign(new_envelope(answer, sender=signer.org, recipient="center", idempotency_key="ans-1"),
                    signer.private_key, signer.kid)
        if mode == "tampered":
            wire["body"]["held_amount"] = "7000000.00"
        elif mode == "foreign_key":  # ICBC's key, claiming to be ABC
            icbc = self.signers["bank:ICBC"]
            unsigned = new_envelope(answer, sender="bank:ABC", recipient="center", idempotency_key="ans-1")
            wire = sign(unsigned, icbc.private_key, icbc.kid)
        elif mode == "malformed_signed":  # properly signed, but not a valid message
            unsigned = new_envelope(answer, sender="bank:ABC", recipient="center", idempotency_key="ans-1")
            unsigned["body"]["held_amount"] = 70000.0
            wire = sign(unsigned, signer.private_key, signer.kid)
        status = 400 if mode == "error_400" else 200
        return status, json.dumps(wire, ensure_ascii=False).encode(), {"Content-Type": "application/json"}


def _handler_for(bank: FakeBank) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            status, body, headers = bank.handle(self.path, dict(self.headers.items()), raw)
            try:
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (timeout test)

        def log_message(self, format: str, *args: Any) -> None:  # keep test output clean
            pass

    return Handler


@pytest.fixture
def ring() -> KeyRing:
    return KeyRing()


@pytest.fixture
def signers(tmp_path: Path, ring: KeyRing) -> dict[str, SigningKey]:
    return {org: k.ensure_key(org, tmp_path / "keys", ring) for org in ("center", "bank:ABC", "bank:ICBC")}


@pytest.fixture
def bank(ring: KeyRing, signers: dict[str, SigningKey]) -> Iterator[tuple[FakeBank, str]]:
    fake = FakeBank(ring, signers)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(fake))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    yield fake, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


@pytest.fixture
def adapter(bank: tuple[FakeBank, str], ring: KeyRing) -> Iterator[HttpBankAdapter]:
    with HttpBankAdapter(bank[1], ring, timeout_s=0.3) as http_adapter:
        yield http_adapter


@pytest.fixture
def instruction(signers: dict[str, SigningKey]) -> Envelope:
    body = StopPayment(case_number="SH20261125-000123", officer="警号012345", account="6228480012345678901",
                       bank_code="ABC", amount=Decimal("70000.00"), currency="CNY", reason="电信诈骗涉案账户")
    return sign_envelope(body, signers["center"], recipient="bank:ABC", idempotency_key="SH20261125-000123:sp:1")


def test_success_returns_the_banks_verified_answer(bank: tuple[FakeBank, str], adapter: HttpBankAdapter,
                                                   instruction: Envelope) -> None:
    fake, _ = bank
    typed: BankAdapter = adapter  # HttpBankAdapter satisfies the interface the dispatcher depends on
    answer = typed.send(instruction)
    result = answer.typed_body()
    assert isinstance(result, StopPaymentResult)
    assert result.request_id == instruction.id and result.status == "held"
    assert result.held_amount == Decimal("70000.00") and result.expires_at == EXPIRES
    assert answer.sender == "bank:ABC"
    path, headers, received = fake.requests[0]
    assert path == "/banks/ABC/messages"
    assert headers["Idempotency-Key"] == "SH20261125-000123:sp:1"
    assert received.to_wire() == instruction.to_wire()  # byte-faithful, signature and all


def test_proxy_settings_do_not_capture_loopback_bank_traffic(monkeypatch: pytest.MonkeyPatch,
                                                             bank: tuple[FakeBank, str], ring: KeyRing,
                                                             instruction: Envelope) -> None:
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "all_proxy"):
        monkeypatch.setenv(name, "http://127.0.0.1:9")  # discard port: a proxy here would fail every call
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    with HttpBankAdapter(bank[1], ring, timeout_s=2) as http_adapter:
        assert isinstance(http_adapter.send(instruction).typed_body(), StopPaymentResult)


@pytest.mark.parametrize(("mode", "signature_reason"), [("tampered", "invalid_signature"),
                                                         ("foreign_key", "wrong_sender")])
def test_bad_answer_signature_is_permanent_and_carries_the_reason(
        bank: tuple[FakeBank, str], adapter: HttpBankAdapter, instruction: Envelope, mode: str,
        signature_reason: str) -> None:
    bank[0].mode = mode
    with pytest.raises(PermanentBankError) as caught:
        adapter.send(instruction)
    error = caught.value
    assert error.reason == "bad_signature" and error.bank_code == "ABC" and error.status_code == 200
    assert error.bad_signature is not None and error.bad_signature.reason == signature_reason
    assert signature_reason in str(error)


def test_answer_from_an_unknown_key_is_refused(bank: tuple[FakeBank, str], signers: dict[str, SigningKey],
                                               instruction: Envelope) -> None:
    only_center = KeyRing()
    only_center.add_key("center", signers["center"].public_key, not_before=datetime(2026, 1, 1, tzinfo=UTC))
    bank[0].ring = only_center  # the bank still accepts the instruction; the center cannot check the answer
    with HttpBankAdapter(bank[1], only_center, timeout_s=2) as http_adapter, \
            pytest.raises(PermanentBankError) as caught:
        http_adapter.send(instruction)
    assert caught.value.bad_signature is not None and caught.value.bad_signature.reason == "unknown_kid"


@pytest.mark.parametrize("mode", ["other_bank", "wrong_request", "wrong_type"])
def test_validly_signed_but_wrong_answer_is_permanent(bank: tuple[FakeBank, str], adapter: HttpBankAdapter,
                                                      instruction: Envelope, mode: str) -> None:
    bank[0].mode = mode
    with pytest.raises(PermanentBankError) as caught:
        adapter.send(instruction)
    assert caught.value.reason == "unexpected_answer"
    assert caught.value.answer is not None  # kept for the audit log


@pytest.mark.parametrize("mode", ["garbage", "malformed_signed"])
def test_malformed_answer_is_permanent(bank: tuple[FakeBank, str], adapter: HttpBankAdapter,
                                       instruction: Envelope, mode: str) -> None:
    bank[0].mode = mode
    with pytest.raises(PermanentBankError) as caught:
        adapter.send(instruction)
    assert caught.value.reason == "malformed_answer"


def test_signed_error_answer_is_permanent_with_the_answer(bank: tuple[FakeBank, str], adapter: HttpBankAdapter,
                                                          instruction: Envelope) -> None:
    for mode, reason, status in (("error_200", "bank_error", 200), ("error_400", "http_400", 400)):
        bank[0].mode = mode
        with pytest.raises(PermanentBankError) as caught:
            adapter.send(instruction)
        assert caught.value.reason == reason and caught.value.status_code == status
        assert caught.value.answer is not None
        refusal = caught.value.answer.typed_body()
        assert isinstance(refusal, Error) and refusal.code == "unknown_account"


def test_plain_4xx_is_permanent(bank: tuple[FakeBank, str], adapter: HttpBankAdapter,
                                instruction: Envelope) -> None:
    bank[0].mode = "404"
    with pytest.raises(PermanentBankError) as caught:
        adapter.send(instruction)
    assert caught.value.reason == "http_404" and caught.value.answer is None
    assert not isinstance(caught.value, TransientBankError)


@pytest.mark.parametrize(("mode", "status", "retry_after"), [("500", 500, None), ("503", 503, 7.0),
                                                             ("429", 429, None)])
def test_server_errors_and_throttling_are_transient(bank: tuple[FakeBank, str], adapter: HttpBankAdapter,
                                                    instruction: Envelope, mode: str, status: int,
                                                    retry_after: float | None) -> None:
    bank[0].mode = mode
    with pytest.raises(TransientBankError) as caught:
        adapter.send(instruction)
    assert caught.value.status_code == status and caught.value.retry_after_s == retry_after


def test_timeout_is_transient(bank: tuple[FakeBank, str], adapter: HttpBankAdapter, instruction: Envelope) -> None:
    bank[0].mode = "slow"
    started = time.monotonic()
    with pytest.raises(TransientBankError, match=r"no answer within 0\.3s"):
        adapter.send(instruction)
    assert time.monotonic() - started < 0.9  # gave up at the timeout, did not wait for the bank


def test_connection_refused_is_transient(ring: KeyRing, instruction: Envelope) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    # nothing listens on the port now
    with HttpBankAdapter(f"http://127.0.0.1:{port}", ring, timeout_s=1) as http_adapter, \
            pytest.raises(TransientBankError, match="ConnectError"):
        http_adapter.send(instruction)


def test_a_retry_with_the_same_envelope_is_the_same_message(bank: tuple[FakeBank, str], adapter: HttpBankAdapter,
                                                             instruction: Envelope) -> None:
    bank[0].mode = "500"
    with pytest.raises(TransientBankError):
        adapter.send(instruction)
    bank[0].mode = "ok"
    adapter.send(instruction)
    first, second = (request for _, _, request in bank[0].requests)
    assert first.id == second.id and first.idempotency_key == second.idempotency_key and first.sig == second.sig


@pytest.mark.parametrize("url", [
    "http://10.0.0.1:8000", "http://example.com", "https://bank.example.cn/api", "http://127.0.0.1.evil.com",
    "http://localhost@evil.com", "http://user:pw@127.0.0.1:8000", "ftp://127.0.0.1", "http://127.0.0.1:80/?x=1",
    "http://0.0.0.0:8000", "not a url",
])
def test_non_loopback_url_refused(url: str, ring: KeyRing) -> None:
    with pytest.raises(ValueError):
        HttpBankAdapter(url, ring)


@pytest.mark.parametrize(("url", "base"), [
    ("http://127.0.0.1:8765/", "http://127.0.0.1:8765"), ("http://localhost:8765/gw", "http://localhost:8765/gw"),
    ("http://[::1]:8765", "http://[::1]:8765"), ("https://localhost", "https://localhost"),
])
def test_loopback_urls_accepted(url: str, base: str, ring: KeyRing) -> None:
    assert check_loopback(url) == base
    with HttpBankAdapter(url, ring) as http_adapter:
        assert http_adapter.url_for("ABC") == f"{base}/banks/ABC/messages"


def test_only_center_instructions_are_sent(adapter: HttpBankAdapter, signers: dict[str, SigningKey]) -> None:
    answer = sign_envelope(StopPaymentResult(request_id=str(uuid.uuid4()), status="held", currency="CNY",
                                             held_amount=Decimal(1), expires_at=EXPIRES),
                           signers["bank:ABC"], recipient="center", idempotency_key="k")
    with pytest.raises(ValueError, match="only center's instructions"):
        adapter.send(answer)


def test_callers_client_is_not_closed_and_redirects_are_not_followed(bank: tuple[FakeBank, str], ring: KeyRing,
                                                                     instruction: Envelope) -> None:
    client = httpx.Client(trust_env=False, follow_redirects=True)
    with HttpBankAdapter(bank[1], ring, client=client) as http_adapter:
        http_adapter.send(instruction)
        bank[0].mode = "redirect"  # to a non-loopback address: must not be followed
        with pytest.raises(PermanentBankError) as caught:
            http_adapter.send(instruction)
        assert caught.value.reason == "http_307"
    assert not client.is_closed
    client.close()


def test_answer_is_stored_in_its_signed_form(bank: tuple[FakeBank, str], adapter: HttpBankAdapter, ring: KeyRing,
                                             instruction: Envelope) -> None:
    answer = adapter.send(instruction)
    stored = json.loads(answer.to_json_bytes())  # what the dispatcher would put in the database
    later = verify_and_parse(copy.deepcopy(stored), ring, now=datetime.now(UTC) + timedelta(days=1))
    assert later == answer
