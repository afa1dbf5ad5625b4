"""Drive a real ``python -m sim.carriers`` process over loopback, as the center would: signed actions in,
verified answers out, plus the admin endpoints (register and move numbers, faults, stats)."""

from __future__ import annotations

import itertools
import os
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from tests.sim.simbanks import SimProcess, arm_fault, simulator

from fanzha.banking.keys import KeyRing, SigningKey
from fanzha.telecom.carriers import messages as m
from fanzha.telecom.carriers.adapter import CARRIERS_KEYRING

ROOT = Path(__file__).resolve().parents[2]
CASE = "SH20261125-000123"
OFFICER = "王警官"
_serial = itertools.count(1)


def fresh_number(prefix: str = "138") -> str:
    """A mainland mobile number no other test uses (per process), in the block ``prefix`` (138: CMCC)."""
    tail = f"{os.getpid() % 100:02d}{next(_serial):06d}"
    return f"+86{prefix}{tail[-(11 - len(prefix)):]}"


@dataclass
class CarrierSim(SimProcess):
    """The simulated carriers."""

    @property
    def ring(self) -> KeyRing:
        return KeyRing.load(self.keys_dir / CARRIERS_KEYRING)

    def envelope(self, body: m.CarrierAction, key: str | None = None, signer: SigningKey | None = None,
                 recipient: str | None = None) -> m.Envelope:
        return m.sign_envelope(body, signer or self.center, recipient=recipient or m.carrier_org(body.carrier),
                               idempotency_key=key or f"t-{uuid.uuid4()}")

    def post(self, envelope: m.Envelope | bytes, carrier: str = "CMCC", timeout: float | None = None) -> httpx.Response:
        return self.post_message(f"/carriers/{carrier}/messages", envelope, timeout)

    def answer(self, response: httpx.Response) -> m.Envelope:
        return m.verify_and_parse(response.content, self.ring)

    def send(self, body: m.CarrierAction) -> m.CarrierActionResult:
        response = self.post(self.envelope(body), body.carrier)
        assert response.status_code == 200, response.text
        result = self.answer(response).typed_body()
        assert isinstance(result, m.CarrierActionResult)
        return result

    def register(self, number: str, carrier: str | None, virtual_operator: str | None = None,
                 protected: bool = False) -> dict[str, Any]:
        response = self.http.post("/admin/numbers", json={"number": number, "carrier": carrier,
                                                          "virtual_operator": virtual_operator,
                                                          "protected": protected})
        assert response.status_code == 201, response.text
        data: dict[str, Any] = response.json()
        return data

    def number(self, number: str) -> dict[str, Any]:
        response = self.http.get(f"/admin/numbers/{number}")
        assert response.status_code == 200, response.text
        data: dict[str, Any] = response.json()
        return data

    def stats(self, carrier: str) -> dict[str, Any]:
        data: dict[str, Any] = self.http.get("/admin/stats").json()["carriers"].get(carrier, {})
        return data

    def arm(self, carrier: str, mode: str, count: int = 1, delay_ms: int | None = None) -> None:
        arm_fault(self.http, {"carrier": carrier}, mode, count, delay_ms)


@contextmanager
def running(keys_dir: Path, *args: str, port: int | None = None,
            command: Sequence[str] | None = None) -> Iterator[CarrierSim]:
    """A simulated-carriers process (or ``command``, serving one on ``port``) with the center's key in keys_dir."""
    with simulator("sim.carriers", keys_dir, *args, port=port, command=command) as (proc, base, center, http):
        yield CarrierSim(proc, base, keys_dir, center, http)


def action(number: str, carrier: str = "CMCC", kind: str = "shutdown") -> m.CarrierAction:
    return m.CarrierAction(case_number=CASE, officer=OFFICER, number=number, carrier=carrier,
                           action=kind,  # type: ignore[arg-type]  # tests pass the literal as a string
                           reason="涉诈号码")
