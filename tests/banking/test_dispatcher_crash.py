"""kill -9 the server while stop-payments are in flight: a restarted server delivers every one, once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select
from tests.helpers import report
from tests.sim.simbanks import ROOT, free_port, running

from fanzha.auth import service as auth_service
from fanzha.auth.models import Role
from fanzha.banking import outbox
from fanzha.banking.models import BankInstruction
from fanzha.config import Settings
from fanzha.storage.db import Database


def _serve(settings: Settings, keys: Path, gateway: str) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    env = {**os.environ, "FANZHA_DATABASE_URL": settings.database_url, "FANZHA_KEYS_DIR": str(keys),
           "FANZHA_BANK_GATEWAY_URL": gateway, "FANZHA_BANK_TIMEOUT_S": "5",
           "FANZHA_TRACE_LOOP": "false"}  # holds only: the loop has its own end-to-end test
    proc = subprocess.Popen([sys.executable, "-m", "uvicorn", "fanzha.asgi:app", "--host", "127.0.0.1",
                             "--port", str(port), "--log-level", "warning"], cwd=ROOT, env=env)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/healthz", timeout=1, trust_env=False).status_code == 200:
                return proc, base
        except httpx.TransportError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError("server did not start")


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_killed_server_leaves_nothing_lost_or_doubled(settings: Settings, db: Database, tmp_path: Path) -> None:
    with db.transaction() as session:
        user = auth_service.create_user(session, None, username="duty-crash", display_name="值班", password=None,
                                        role=Role.DUTY_OFFICER, org_code="center")
        token = auth_service.create_api_token(session, None, user, "crash test")
    headers = {"Authorization": f"Bearer {token}"}
    # Each answer takes 1.5 s, so the kill lands while deliveries are in flight.
    with running(tmp_path, "--latency-ms", "1500") as sim:
        accounts = [sim.new_account(balance="1000") for _ in range(12)]
        server, base = _serve(settings, tmp_path, sim.base)
        numbers = []
        try:
            for account in accounts:
                res = httpx.post(f"{base}/api/v1/reports", headers=headers, trust_env=False, timeout=10,
                                 json=report(transfers=[{"to_account": account, "to_bank": "ABC", "amount": "1000"}]))
                assert res.status_code == 201, res.text
                numbers.append(res.json()["number"])
            time.sleep(0.3)
        finally:
            server.send_signal(signal.SIGKILL)
            server.wait()
        with db.transaction() as session:
            recorded = session.execute(select(func.count()).select_from(BankInstruction)
                                       .where(BankInstruction.status == "active")).scalar_one()
        assert recorded < len(accounts), "the kill should land before every answer was recorded"
        # A lease outlives the dead process; a restarted server picks the messages up once it runs out.
        server, base = _serve(settings, tmp_path, sim.base)
        try:
            deadline = time.monotonic() + outbox.LEASE.total_seconds() + 30
            statuses: list[str] = []
            while time.monotonic() < deadline:
                statuses = [i["status"] for n in numbers for i in httpx.get(
                    f"{base}/api/v1/cases/{n}/instructions", headers=headers, trust_env=False).json()["items"]]
                if statuses == ["active"] * len(numbers):
                    break
                time.sleep(0.5)
        finally:
            server.send_signal(signal.SIGTERM)
            server.wait(timeout=30)
        assert statuses == ["active"] * len(numbers)
        assert sim.stats("ABC").get("applied", 0) == len(accounts)  # nothing doubled
        for account in accounts:
            assert [Decimal(h["amount"]) for h in sim.account("ABC", account)["holds"]] == [Decimal(1000)]
