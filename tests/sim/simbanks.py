"""Drive a real ``python -m sim.banks`` process over loopback, as the center would: signed envelopes in,
verified answers out, plus the admin endpoints."""

from __future__ import annotations

import itertools
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx

from fanzha.banking import messages as m
from fanzha.banking.keys import KeyRing, SigningKey, ensure_key
from fanzha.banking.signing import sign_envelope, verify_and_parse
from fanzha.channel.envelope import SignedEnvelope

ROOT = Path(__file__).resolve().parents[2]
CENTER_KEYRING = "center.keyring.json"  # agreed with sim/banks/identity.py
BANKS_KEYRING = "banks.keyring.json"
CASE = "SH20261125-000123"
OFFICER = "王警官"
_numbers = itertools.count(1)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def center_key(keys_dir: Path) -> SigningKey:
    """The center's key in the shared key directory, published in center.keyring.json (as the center does)."""
    path = keys_dir / CENTER_KEYRING
    ring = KeyRing.load(path) if path.exists() else KeyRing()
    signer = ensure_key("center", keys_dir, ring)
    ring.save(path)
    return signer


def wait_healthy(base: str, proc: subprocess.Popen[bytes], timeout_s: float = 30) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"simulator exited with {proc.returncode}")
        try:
            response = httpx.get(f"{base}/healthz", timeout=1, trust_env=False)
            if response.status_code == 200:
                health: dict[str, Any] = response.json()
                return health
        except httpx.TransportError:
            pass
        time.sleep(0.05)
    raise RuntimeError(f"simulator at {base} not healthy after {timeout_s}s")


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@dataclass
class SimProcess:
    """A running simulator process: where it serves, the center's key, and an HTTP client on it."""

    proc: subprocess.Popen[bytes]
    base: str
    keys_dir: Path
    center: SigningKey
    http: httpx.Client

    def post_message(self, path: str, envelope: SignedEnvelope[Any, Any] | bytes,
                     timeout: float | None) -> httpx.Response:
        """POST a signed envelope (or raw bytes, to test what a bad message gets) to a partner's inbox."""
        content = envelope if isinstance(envelope, bytes) else envelope.to_json_bytes()
        kwargs: dict[str, Any] = {} if timeout is None else {"timeout": timeout}
        return self.http.post(path, content=content, headers={"Content-Type": "application/json"}, **kwargs)


@dataclass
class Sim(SimProcess):
    """The simulated banks."""

    @property
    def banks_ring(self) -> KeyRing:
        return KeyRing.load(self.keys_dir / BANKS_KEYRING)

    # -- messages --------------------------------------------------------------------------------------------
    def envelope(self, body: m.MessageBody, bank: str = "ABC", key: str | None = None,
                 signer: SigningKey | None = None) -> m.Envelope:
        return sign_envelope(body, signer or self.center, recipient=f"bank:{bank}",
                             idempotency_key=key or f"t-{uuid.uuid4()}")

    def post(self, envelope: m.Envelope | bytes, bank: str = "ABC", timeout: float | None = None) -> httpx.Response:
        return self.post_message(f"/banks/{bank}/messages", envelope, timeout)

    def answer(self, response: httpx.Response) -> m.Envelope:
        """The bank's answer, after checking its signature against the published bank keys."""
        return verify_and_parse(response.content, self.banks_ring)

    def send(self, body: m.MessageBody, bank: str | None = None) -> Any:
        """Sign, post, verify; return the typed answer body (status must be 200). Bank: the body's, or ABC."""
        bank = bank or getattr(body, "bank_code", "ABC")
        response = self.post(self.envelope(body, bank), bank)
        assert response.status_code == 200, response.text
        return self.answer(response).typed_body()

    # -- admin -----------------------------------------------------------------------------------------------
    def new_account(self, bank: str = "ABC", balance: str = "10000", holder: str = "李某某",
                    currency: str = "CNY") -> str:
        number = f"62{os.getpid() % 1000:03d}{next(_numbers):011d}{uuid.uuid4().int % 1000:03d}"
        response = self.http.post("/admin/accounts", json={
            "bank": bank, "account": number, "holder_name": holder, "id_masked": "310***********123X",
            "balances": {currency: balance} if Decimal(balance) else {}})
        assert response.status_code == 201, response.text
        return number

    def account(self, bank: str, number: str) -> dict[str, Any]:
        response = self.http.get(f"/admin/accounts/{bank}/{number}")
        assert response.status_code == 200, response.text
        data: dict[str, Any] = response.json()
        return data

    def move(self, **spec: Any) -> httpx.Response:
        return self.http.post("/admin/transactions", json=spec)

    def stats(self, bank: str) -> dict[str, Any]:
        data: dict[str, Any] = self.http.get("/admin/stats").json()["banks"].get(bank, {})
        return data

    def arm(self, bank: str, mode: str, count: int = 1, delay_ms: int | None = None) -> None:
        arm_fault(self.http, {"bank": bank}, mode, count, delay_ms)


@contextmanager
def simulator(module: str, keys_dir: Path, *args: str, port: int | None = None,
              command: Sequence[str] | None = None) -> Iterator[tuple[subprocess.Popen[bytes], str, SigningKey,
                                                                       httpx.Client]]:
    """``python -m <module>`` (or `command`, which must serve on `port`) with the center's key in keys_dir,
    healthy, with an HTTP client on it; stopped afterwards. Serves the banks and the carriers simulators."""
    center = center_key(keys_dir)
    port = port or free_port()
    argv = list(command) if command else [sys.executable, "-m", module, "--port", str(port),
                                          "--keys-dir", str(keys_dir), *args]
    proc = subprocess.Popen(argv, cwd=ROOT)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(base, proc)
        with httpx.Client(base_url=base, timeout=10, trust_env=False) as http:
            yield proc, base, center, http
    finally:
        stop(proc)


def arm_fault(http: httpx.Client, party: dict[str, str], mode: str, count: int, delay_ms: int | None) -> None:
    """Arm a fault on a simulator; ``party`` names who misbehaves, e.g. ``{"bank": "ABC"}``."""
    spec: dict[str, Any] = {**party, "mode": mode, "count": count}
    if delay_ms is not None:
        spec["delay_ms"] = delay_ms
    response = http.post("/admin/faults", json=spec)
    assert response.status_code == 201, response.text


@contextmanager
def running(keys_dir: Path, *args: str, port: int | None = None,
            command: Sequence[str] | None = None) -> Iterator[Sim]:
    """A simulated-banks process (or `command`, which must serve one on `port`) with the center's key."""
    with simulator("sim.banks", keys_dir, *args, port=port, command=command) as (proc, base, center, http):
        yield Sim(proc, base, keys_dir, center, http)


def stop_payment(account: str, amount: str | None = None, bank: str = "ABC", currency: str = "CNY",
                 name: str | None = None, hours: int = 48) -> m.StopPayment:
    return m.StopPayment(case_number=CASE, officer=OFFICER, account=account, bank_code=bank, account_name=name,
                         amount=Decimal(amount) if amount else None, currency=currency, reason="电信诈骗涉案账户",
                         hold_hours=hours)


def freeze(account: str, amount: str | None = None, bank: str = "ABC", major: bool = False,
           days: int = 180) -> m.Freeze:
    return m.Freeze(case_number=CASE, officer=OFFICER, account=account, bank_code=bank,
                    amount=Decimal(amount) if amount else None, currency="CNY", days=days, major_case=major)
