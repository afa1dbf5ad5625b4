"""A report naming a payee account at a known bank: the stop-payment goes out without a click and the
bank's signed answer shows on the case, through a real server lifespan and the simulated banks."""

from __future__ import annotations

import time
from decimal import Decimal
from pathlib import Path

from fastapi.testclient import TestClient
from tests.helpers import report
from tests.sim.simbanks import Sim

from fanzha.app import create_app
from fanzha.auth import service as auth_service
from fanzha.auth.models import Role
from fanzha.config import Settings
from fanzha.storage.db import Database


def _token(db: Database, username: str, role: Role, org: str) -> str:
    with db.transaction() as session:
        user = auth_service.create_user(session, None, username=username, display_name=username, role=role,
                                        org_code=org, password=None)
        return auth_service.create_api_token(session, None, user, "test")


def _server(settings: Settings, db: Database, sim: Sim, **overrides: object) -> TestClient:
    # The tracing loop's queries are tested in tests/tracing; here only the first stop is looked at.
    configured = settings.model_copy(update={"bank_gateway_url": sim.base, "keys_dir": sim.keys_dir,
                                             "trace_loop": False, **overrides})
    token = _token(db, f"duty-{time.monotonic_ns()}", Role.DUTY_OFFICER, "center")
    return TestClient(create_app(configured, db), headers={"Authorization": f"Bearer {token}"})


def _wait_for(client: TestClient, number: str, status: str) -> list[dict[str, object]]:
    deadline = time.monotonic() + 15
    items: list[dict[str, object]] = []
    while time.monotonic() < deadline:
        response = client.get(f"/api/v1/cases/{number}/instructions")
        assert response.status_code == 200, response.text
        items = response.json()["items"]
        if items and all(i["status"] == status for i in items):
            return items
        time.sleep(0.05)
    raise AssertionError(f"instructions did not reach {status}: {items}")


def test_reported_transfer_is_stopped_at_the_bank_without_a_click(
    settings: Settings, db: Database, sim: Sim,
) -> None:
    account = sim.new_account(balance="80000")
    body = report(transfers=[
        {"to_account": account, "to_bank": "ABC", "amount": "70000", "currency": "CNY"},
        {"to_account": account, "to_bank": "ABC", "amount": "2000", "currency": "CNY"},  # same account: one hold
    ])
    with _server(settings, db, sim) as client:
        res = client.post("/api/v1/reports", json=body)
        assert res.status_code == 201, res.text
        items = _wait_for(client, res.json()["number"], "active")
    assert len(items) == 1
    (stop,) = items
    assert (stop["kind"], stop["bank"], stop["requested_amount"], stop["held_amount"]) == (
        "stop_payment", "ABC", "72000.00", "72000.00")
    assert stop["sent_at"] and stop["answered_at"] and stop["expires_at"]
    holds = sim.account("ABC", account)["holds"]
    assert sum(Decimal(h["amount"]) for h in holds) == Decimal("72000")


def test_approval_mode_waits_for_a_click(settings: Settings, db: Database, sim: Sim) -> None:
    account = sim.new_account(balance="500")
    body = report(transfers=[{"to_account": account, "to_bank": "ABC", "amount": "300"}])
    with _server(settings, db, sim, first_move="approval") as client:
        number = client.post("/api/v1/reports", json=body).json()["number"]
        items = client.get(f"/api/v1/cases/{number}/instructions").json()["items"]
    assert [i["status"] for i in items] == ["pending_approval"]
    assert sim.account("ABC", account)["holds"] == []


def test_bank_liaison_sees_only_its_banks_instructions(settings: Settings, db: Database, sim: Sim) -> None:
    abc_account = sim.new_account(bank="ABC", balance="100")
    icbc_account = sim.new_account(bank="ICBC", balance="100")
    body = report(transfers=[{"to_account": abc_account, "to_bank": "ABC", "amount": "100"},
                             {"to_account": icbc_account, "to_bank": "ICBC", "amount": "100"}])
    with _server(settings, db, sim) as client:
        number = client.post("/api/v1/reports", json=body).json()["number"]
        assert len(_wait_for(client, number, "active")) == 2
    token = _token(db, "icbc-liaison", Role.BANK_LIAISON, "bank:ICBC")
    icbc = TestClient(create_app(settings, db), headers={"Authorization": f"Bearer {token}"})
    items = icbc.get(f"/api/v1/cases/{number}/instructions").json()["items"]
    assert [(i["bank"], i["account"]) for i in items] == [("ICBC", icbc_account)]


def test_case_page_shows_the_stop_payment_and_its_expiry(settings: Settings, db: Database, sim: Sim) -> None:
    account = sim.new_account(balance="70000")
    body = report(transfers=[{"to_account": account, "to_bank": "ABC", "amount": "70000"}])
    with _server(settings, db, sim) as client:
        number = client.post("/api/v1/reports", json=body).json()["number"]
        _wait_for(client, number, "active")
        page = client.get(f"/cases/{number}")
    assert page.status_code == 200
    assert "紧急止付" in page.text and "生效中" in page.text and account in page.text
    assert "70,000.00" in page.text


def test_officer_renews_twice_then_is_refused_and_releases(settings: Settings, db: Database, sim: Sim) -> None:
    account = sim.new_account(balance="5000")
    body = report(transfers=[{"to_account": account, "to_bank": "ABC", "amount": "5000"}])
    with _server(settings, db, sim) as client:
        number = client.post("/api/v1/reports", json=body).json()["number"]
        (stop,) = _wait_for(client, number, "active")
        first_expiry = stop["expires_at"]
        for renewal in (1, 2):
            assert client.post(f"/api/v1/instructions/{stop['id']}/renew").status_code == 200
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                (stop,) = client.get(f"/api/v1/cases/{number}/instructions").json()["items"]
                if stop["renewals"] == renewal:
                    break
                time.sleep(0.05)
            assert stop["renewals"] == renewal
        assert stop["expires_at"] > first_expiry
        third = client.post(f"/api/v1/instructions/{stop['id']}/renew")
        assert third.status_code == 409 and "at most 2" in third.json()["message"]
        released = client.post(f"/api/v1/instructions/{stop['id']}/release", json={"reason": "资金已查明非涉案"})
        assert released.status_code == 200 and released.json()["status"] == "releasing"
        _wait_for(client, number, "released")
    assert [h["state"] for h in sim.account("ABC", account)["holds"]] == ["released"]


def test_nobody_outside_the_case_can_touch_its_instructions(settings: Settings, db: Database, sim: Sim) -> None:
    account = sim.new_account(balance="100")
    body = report(transfers=[{"to_account": account, "to_bank": "ABC", "amount": "100"}])
    with _server(settings, db, sim) as client:
        number = client.post("/api/v1/reports", json=body).json()["number"]
        (stop,) = _wait_for(client, number, "active")
    token = _token(db, "icbc-2", Role.BANK_LIAISON, "bank:ICBC")
    icbc = TestClient(create_app(settings, db), headers={"Authorization": f"Bearer {token}"})
    missing = icbc.post("/api/v1/instructions/999999/renew")
    hidden = icbc.post(f"/api/v1/instructions/{stop['id']}/renew")
    assert hidden.status_code == missing.status_code == 404


def test_sweep_ends_holds_whose_term_ran_out(settings: Settings, db: Database, sim: Sim) -> None:
    from datetime import UTC, datetime, timedelta

    from fanzha.banking.instructions import expire_due

    account = sim.new_account(balance="100")
    body = report(transfers=[{"to_account": account, "to_bank": "ABC", "amount": "100"}])
    with _server(settings, db, sim) as client:
        number = client.post("/api/v1/reports", json=body).json()["number"]
        (stop,) = _wait_for(client, number, "active")
    with db.transaction() as session:
        assert expire_due(session, datetime.now(UTC) + timedelta(hours=1)) == []
    with db.transaction() as session:
        ended = expire_due(session, datetime.now(UTC) + timedelta(hours=49))
    assert (stop["id"], "expired") in ended


def test_hand_answered_bank_gets_it_in_the_liaison_inbox(settings: Settings, db: Database, sim: Sim) -> None:
    token = _token(db, "ccb-liaison", Role.BANK_LIAISON, "bank:CCB")
    body = report(transfers=[{"to_account": "6217000010012345678", "to_bank": "CCB", "amount": "8800"}])
    with _server(settings, db, sim, hand_answered_banks=("CCB",)) as client:
        number = client.post("/api/v1/reports", json=body).json()["number"]
        (waiting,) = client.get(f"/api/v1/cases/{number}/instructions").json()["items"]
        assert waiting["status"] == "sent"  # in the CCB liaison's inbox, never to the network
        ccb = TestClient(client.app, headers={"Authorization": f"Bearer {token}"})
        inbox = ccb.get("/api/v1/bank/inbox").json()["items"]
        assert [(i["case"], i["status"], i["requested_amount"]) for i in inbox] == [(number, "sent", "8800.00")]
        too_much = ccb.post(f"/api/v1/instructions/{waiting['id']}/answer", json={"held": True, "amount": "9000"})
        assert too_much.status_code == 409 and "more than" in too_much.json()["message"]
        ok = ccb.post(f"/api/v1/instructions/{waiting['id']}/answer", json={"held": True, "amount": "8800"})
        assert ok.status_code == 200 and ok.json()["status"] == "active"
        (done,) = client.get(f"/api/v1/cases/{number}/instructions").json()["items"]
    assert done["held_amount"] == "8800.00" and done["expires_at"]
    assert sim.stats("CCB").get("received", 0) == 0


def test_only_the_instructed_banks_liaison_may_answer(settings: Settings, db: Database, sim: Sim) -> None:
    body = report(transfers=[{"to_account": "6217000010012345679", "to_bank": "CCB", "amount": "100"}])
    token = _token(db, "abc-liaison-2", Role.BANK_LIAISON, "bank:ABC")
    with _server(settings, db, sim, hand_answered_banks=("CCB",)) as client:
        number = client.post("/api/v1/reports", json=body).json()["number"]
        (waiting,) = client.get(f"/api/v1/cases/{number}/instructions").json()["items"]
        abc = TestClient(client.app, headers={"Authorization": f"Bearer {token}"})
        refused = abc.post(f"/api/v1/instructions/{waiting['id']}/answer", json={"held": False, "reason": "x"})
        officer_try = client.post(f"/api/v1/instructions/{waiting['id']}/answer", json={"held": False, "reason": "x"})
    assert refused.status_code == 404  # ABC cannot even see a CCB instruction
    assert officer_try.status_code == 403


def test_liaison_answers_in_the_console_inbox(settings: Settings, db: Database, sim: Sim) -> None:
    token = _token(db, "ccb-liaison-3", Role.BANK_LIAISON, "bank:CCB")
    body = report(transfers=[{"to_account": "6217000010012345670", "to_bank": "CCB", "amount": "1200"}])
    with _server(settings, db, sim, hand_answered_banks=("CCB",)) as client:
        number = client.post("/api/v1/reports", json=body).json()["number"]
        (waiting,) = client.get(f"/api/v1/cases/{number}/instructions").json()["items"]
        ccb = TestClient(client.app, headers={"Authorization": f"Bearer {token}"})
        page = ccb.get("/bank/inbox")
        assert page.status_code == 200 and number in page.text and "紧急止付" in page.text
        posted = ccb.post(f"/bank/inbox/{waiting['id']}/answer", data={"held": "yes", "amount": "1,200"},
                          follow_redirects=False)
        assert posted.status_code == 303
        (done,) = client.get(f"/api/v1/cases/{number}/instructions").json()["items"]
    assert done["status"] == "active" and done["held_amount"] == "1200.00"


def test_officer_approves_renews_and_releases_from_the_case_page(settings: Settings, db: Database, sim: Sim) -> None:
    account = sim.new_account(balance="900")
    body = report(transfers=[{"to_account": account, "to_bank": "ABC", "amount": "900"}])
    with _server(settings, db, sim, first_move="approval") as client:
        number = client.post("/api/v1/reports", json=body).json()["number"]
        (pending,) = client.get(f"/api/v1/cases/{number}/instructions").json()["items"]
        page = client.get(f"/cases/{number}")
        assert "批准发送" in page.text
        approved = client.post(f"/cases/{number}/instructions/{pending['id']}/approve", follow_redirects=False)
        assert approved.status_code == 303 and "instruction_approve" in approved.headers["location"]
        _wait_for(client, number, "active")
        no_reason = client.post(f"/cases/{number}/instructions/{pending['id']}/release", data={"reason": ""},
                                follow_redirects=False)
        assert "release_needs_reason" in no_reason.headers["location"]
        client.post(f"/cases/{number}/instructions/{pending['id']}/release", data={"reason": "核实非涉案资金"})
        _wait_for(client, number, "released")


def test_processes_starting_together_share_one_center_key(tmp_path: Path) -> None:
    """Server workers racing to create the center's key must all end up signing with the published one."""
    import json
    import subprocess
    import sys

    code = ("import sys; from pathlib import Path; from fanzha.config import Settings; "
            "from fanzha.banking.first_move import center_signer; "
            "print(center_signer(Settings(keys_dir=Path(sys.argv[1]))).kid)")
    procs = [subprocess.Popen([sys.executable, "-c", code, str(tmp_path)], stdout=subprocess.PIPE, text=True)
             for _ in range(6)]
    kids = {p.communicate(timeout=60)[0].strip() for p in procs}
    published = {k["kid"] for k in json.loads((tmp_path / "center.keyring.json").read_text())["keys"]}
    assert len(kids) == 1 and kids <= published
