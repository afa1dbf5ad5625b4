"""Run a real ``python -m sim.smsc`` process on loopback and read what arrived through its admin API."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import httpx

from fanzha.outreach.smpp import SmppConfig
from tests.sim.simbanks import ROOT, free_port, stop, wait_healthy

SYSTEM_ID = "fanzha"
PASSWORD = "s3cr3tpw"


@dataclass
class SmscSim:
    proc: subprocess.Popen[bytes]
    port: int
    admin: httpx.Client

    def config(self, **overrides: Any) -> SmppConfig:
        values: dict[str, Any] = {"host": "127.0.0.1", "port": self.port, "system_id": SYSTEM_ID,
                                  "password": PASSWORD, "enquire_link_s": 30.0, "response_timeout_s": 5.0,
                                  "reconnect_min_s": 0.02, "reconnect_max_s": 0.2, "throttle_min_s": 0.05,
                                  "throttle_max_s": 0.4}
        values.update(overrides)
        return SmppConfig(**values)

    def messages(self) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = self.admin.get("/messages").json()["items"]
        return items

    def rejections(self) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = self.admin.get("/rejections").json()["items"]
        return items

    def stats(self) -> dict[str, Any]:
        stats: dict[str, Any] = self.admin.get("/stats").json()
        return stats

    def counter(self, name: str) -> int:
        value: int = self.stats()["counters"].get(name, 0)
        return value

    def faults(self, **changes: Any) -> dict[str, Any]:
        response = self.admin.post("/faults", json=changes)
        assert response.status_code == 200, response.text
        faults: dict[str, Any] = response.json()
        return faults

    def drop(self) -> int:
        dropped: int = self.admin.post("/drop").json()["dropped"]
        return dropped


@contextmanager
def running_smsc(*extra: str) -> Iterator[SmscSim]:
    port, admin_port = free_port(), free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "sim.smsc", "--port", str(port), "--admin-port", str(admin_port),
         "--system-id", SYSTEM_ID, "--password", PASSWORD, *extra],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{admin_port}"
    try:
        wait_healthy(base, proc)
        with httpx.Client(base_url=base, timeout=10, trust_env=False) as admin:
            yield SmscSim(proc, port, admin)
    finally:
        stop(proc)


def wait_for(predicate: Callable[[], Any], timeout_s: float = 10.0, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError(f"timed out after {timeout_s}s waiting for {what}")
