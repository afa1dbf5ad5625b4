"""Statements kept per case become one trace: paired legs walked once, victims matched to the bank's credit,
opening balances from the bank's running balance; the trace API, CSV upload and queries at the edge."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import func, select

from fanzha.audit.models import AuditEntry
from fanzha.auth.models import Role
from fanzha.banking.instructions import ApprovalPolicy
from fanzha.banking.keys import SigningKey, kid_for
from fanzha.banking.models import BankInstruction
from fanzha.cases.models import Case
from fanzha.storage.db import Database
from fanzha.tracing import store
from fanzha.tracing.loop import TraceConfig, TraceLoop, case_trace, known_accounts
from fanzha.tracing.models import LedgerEntry
from tests.conftest import MakePrincipal
from tests.helpers import report

T0 = datetime(2026, 11, 25, 1, 30, tzinfo=UTC)  # 09:30 in Shanghai, as the helper report says
A1 = ("ABC", "6228480402564890018")
M2 = ("ICBC", "6222020200112233445")


def _leg(account: tuple[str, str], txn: str, minutes: int, direction: str, amount: str, *,
         other: tuple[str, str] | None = None, channel: str = "transfer", balance: str | None = None) -> store.Leg:
    return store.Leg(bank_code=account[0], account=account[1], txn_id=txn, at=T0 + timedelta(minutes=minutes),
                     direction=direction, amount=Decimal(amount), currency="CNY",
                     counterparty_bank=other[0] if other else None, counterparty_account=other[1] if other else None,
                     channel=channel, balance_after=Decimal(balance) if balance is not None else None)


def _case_id(db: Database, number: str) -> int:
    with db.read() as session:
        return int(session.execute(select(Case.id).where(Case.number == number)).scalar_one())


def _file(principal: MakePrincipal, amount: str = "70000") -> tuple[str, int]:
    officer = principal(Role.DUTY_OFFICER)
    body = report(transfers=[{"to_account": A1[1], "to_bank": "ABC", "amount": amount, "currency": "CNY",
                              "occurred_at": T0.isoformat()}])
    number = officer.client.post("/api/v1/reports", json=body).json()["number"]
    return number, 0


def _statements(db: Database, case_id: int) -> None:
    """A1 (own 1,000) gets 70,000 from the victim, sends 60,000 to M2; M2 withdraws 20,000 at the counter."""
    with db.transaction() as session:
        store.save_legs(session, case_id=case_id, instruction_id=None, source="bank", legs=[
            _leg(A1, "a1", 0, "in", "70000", other=("BOC", "6217850000000000001"), balance="71000"),
            _leg(A1, "a2", 5, "out", "60000", other=M2, balance="11000"),
        ])
        store.save_legs(session, case_id=case_id, instruction_id=None, source="bank", legs=[
            _leg(M2, "m1", 5, "in", "60000", other=A1, balance="60000"),  # the same transfer, seen by the payee
            _leg(M2, "m2", 40, "out", "20000", channel="counter", balance="40000"),
        ])


def test_paired_legs_are_walked_once_and_the_victims_credit_is_the_banks(db: Database,
                                                                           principal: MakePrincipal) -> None:
    number, _ = _file(principal)
    case_id = _case_id(db, number)
    _statements(db, case_id)
    with db.read() as session:
        inputs = store.build_inputs(session, [case_id])
        (tr,) = case_trace(session, case_id, TraceConfig()).traces
    assert len(inputs.rows) == 3  # the victim's credit, A1 -> M2 once, M2's cash
    assert inputs.opening_balances == {A1: Decimal("1000"), M2: Decimal("0")}
    assert inputs.credit_source == {number: "statement"}
    # LIBR: A1's own 1,000 went out first, so 59,000 of the victim's reached M2 and 11,000 stayed; M2 spent
    # that clean 1,000 first at the counter, so 19,000 of the victim's was lost and 40,000 is still there.
    assert tr.summary(number) == {"credit": Decimal("70000"), "held": Decimal("51000"), "lost": Decimal("19000"),
                                  "unfollowed": Decimal("0")}
    assert tr.held_total(A1) == Decimal("11000") and tr.held_total(M2) == Decimal("40000")


def test_a_repeated_statement_adds_nothing(db: Database, principal: MakePrincipal) -> None:
    number, _ = _file(principal)
    case_id = _case_id(db, number)
    _statements(db, case_id)
    _statements(db, case_id)
    with db.read() as session:
        count = session.execute(select(func.count()).select_from(LedgerEntry)
                                .where(LedgerEntry.case_id == case_id)).scalar_one()
    assert count == 4


def test_without_a_statement_the_report_stands_for_the_credit(db: Database, principal: MakePrincipal) -> None:
    number, _ = _file(principal, amount="5000")
    case_id = _case_id(db, number)
    with db.read() as session:
        result = case_trace(session, case_id, TraceConfig())
    (tr,) = result.traces
    assert result.inputs.credit_source == {number: "report"}
    assert tr.held() == {A1: {number: Decimal("5000")}}


def test_cases_sharing_a_mule_are_traced_together(db: Database, principal: MakePrincipal) -> None:
    first, _ = _file(principal)
    second, _ = _file(principal, amount="30000")
    a, b = _case_id(db, first), _case_id(db, second)
    _statements(db, a)
    with db.transaction() as session:
        store.save_legs(session, case_id=b, instruction_id=None, source="bank", legs=[
            _leg(A1, "a1", 0, "in", "70000", other=("BOC", "6217850000000000001"), balance="71000")])
        assert store.case_scope(session, b) == [b, a]


def test_a_hub_account_brings_only_the_most_recent_cases_into_a_trace(db: Database,
                                                                     principal: MakePrincipal) -> None:
    ids = [_case_id(db, _file(principal, amount=str(1000 + i))[0]) for i in range(5)]
    with db.transaction() as session:
        for i, case_id in enumerate(ids):  # every case's statement shows the same account
            store.save_legs(session, case_id=case_id, instruction_id=None, source="bank", legs=[
                _leg(A1, f"hub{i}", i, "in", "1000", other=("BOC", "6217850000000000001"), balance="1000")])
        assert store.case_scope(session, ids[0], max_cases=3) == [ids[0], ids[3], ids[4]]
        assert store.case_scope(session, ids[0]) == ids  # under the default cap: all of them


def test_known_accounts_marks_a_short_stop_stale_until_asked_again(db: Database, principal: MakePrincipal) -> None:
    number, _ = _file(principal)
    case_id = _case_id(db, number)
    with db.transaction() as session:
        (stop,) = session.execute(select(BankInstruction).where(BankInstruction.case_id == case_id,
                                                                BankInstruction.kind == "stop_payment")).scalars()
        stop.status, stop.held_amount, stop.answered_at = "active", Decimal("100"), T0 + timedelta(hours=1)
        known = known_accounts(session, [case_id])
    # Short: the stop now covers only what the bank holds, and the account is asked again before stopping more.
    assert known[A1].stale and known[A1].stop_requested == Decimal("100")


def test_trace_api_and_evidence(db: Database, principal: MakePrincipal) -> None:
    number, _ = _file(principal)
    _statements(db, _case_id(db, number))
    officer = principal(Role.DUTY_OFFICER)
    res = officer.client.get(f"/api/v1/cases/{number}/trace", params={"account": f"ICBC/{M2[1]}"})
    assert res.status_code == 200, res.text
    body = res.json()
    (cny,) = body["traces"]
    assert {n["id"]: n["held_total"] for n in cny["accounts"]} == {f"ABC/{A1[1]}": "11000.00",
                                                                   f"ICBC/{M2[1]}": "40000.00"}
    assert [x["channel"] for x in cny["losses"]] == ["counter"]
    ((path,),) = body["evidence"]["CNY"].values()
    assert [hop["to"] for hop in path] == [f"ABC/{A1[1]}", f"ICBC/{M2[1]}"]
    bad = officer.client.get(f"/api/v1/cases/{number}/trace", params={"account": "no-slash"})
    assert bad.status_code == 422 and bad.json()["field"] == "account"


def test_csv_upload_reports_bad_rows_by_line_and_keeps_the_rest(db: Database, principal: MakePrincipal) -> None:
    number, _ = _file(principal)
    officer = principal(Role.DUTY_OFFICER)
    csv = ("timestamp,from_bank,from_account,to_bank,to_account,amount,currency,payment_format\n"
           f"2026-11-25T01:30:00Z,BOC,6217850000000000001,ABC,{A1[1]},70000,CNY,Wire\n"
           f"2026-11-25T01:35:00Z,ABC,{A1[1]},ICBC,{M2[1]},60000,CNY,Wire\n"
           f"not-a-time,ABC,{A1[1]},ICBC,{M2[1]},1,CNY,Wire\n"
           f"2026-11-25T02:10:00Z,ICBC,{M2[1]},,,-5,CNY,Cash\n"
           f"2026-11-25T02:10:00Z,ICBC,{M2[1]},,,20000,CNY,Cash\n")
    res = officer.client.post(f"/api/v1/cases/{number}/ledger", content=csv.encode(),
                              headers={"Content-Type": "text/csv"})
    assert res.status_code == 200, res.text
    body = res.json()
    assert body["rows_read"] == 5
    assert [e["line"] for e in body["errors"]] == [4, 5]
    trace = officer.client.get(f"/api/v1/cases/{number}/trace").json()
    (cny,) = trace["traces"]
    (victim,) = cny["victims"]
    assert (victim["credit"], victim["lost"], victim["credit_source"]) == ("70000.00", "20000.00", "statement")
    empty = officer.client.post(f"/api/v1/cases/{number}/ledger", content=b"",
                                headers={"Content-Type": "text/csv"})
    assert empty.status_code == 422


def test_queries_are_checked_at_the_edge(db: Database, principal: MakePrincipal) -> None:
    number, _ = _file(principal)
    officer = principal(Role.DUTY_OFFICER)
    url = f"/api/v1/cases/{number}/queries"
    no_since = officer.client.post(url, json={"kind": "transaction_query", "bank_code": "ICBC", "account": M2[1]})
    assert no_since.status_code == 422 and no_since.json()["field"] == "since"
    unknown = officer.client.post(url, json={"kind": "account_query", "bank_code": "NOPE", "account": M2[1]})
    assert unknown.status_code == 422 and unknown.json()["field"] == "bank_code"
    # These two were server errors: the currency was checked outside the model, the account's case inside the
    # signed message only.
    currency = officer.client.post(url, json={"kind": "account_query", "bank_code": "ICBC", "account": M2[1],
                                              "currency": "XYZ"})
    assert currency.status_code == 422 and currency.json()["errors"][0]["field"] == "currency", currency.text
    lower = officer.client.post(url, json={"kind": "account_query", "bank_code": "ICBC", "account": "gb29-nwbk60"})
    assert lower.status_code == 201, lower.text
    asked = officer.client.get(f"/api/v1/cases/{number}/instructions").json()["items"]
    assert "GB29NWBK60" in [i["account"] for i in asked]
    ok = officer.client.post(url, json={"kind": "transaction_query", "bank_code": "icbc", "account": M2[1],
                                        "since": T0.isoformat()})
    assert ok.status_code == 201, ok.text
    items = officer.client.get(f"/api/v1/cases/{number}/instructions").json()["items"]
    assert [(i["kind"], i["bank"], i["status"]) for i in items if i["kind"] == "transaction_query"][-1] == (
        "transaction_query", "ICBC", "queued")
    bank = principal(Role.BANK_LIAISON, "bank:ABC")
    assert bank.client.post(url, json={"kind": "account_query", "bank_code": "ICBC",
                                       "account": M2[1]}).status_code == 404


def test_money_back_in_the_victims_own_account_is_never_stopped(db: Database, principal: MakePrincipal) -> None:
    """A1 returns 60,000 to the account the victim paid from (a return, a refund): the loop stops what A1
    still holds but never the victim's own account, and says why in the audited step."""
    officer = principal(Role.DUTY_OFFICER)
    own = ("BOC", "6217850000000000001")
    body = report(transfers=[{"to_account": A1[1], "to_bank": "ABC", "amount": "70000", "currency": "CNY",
                              "from_account": own[1], "occurred_at": T0.isoformat()}])
    number = officer.client.post("/api/v1/reports", json=body).json()["number"]
    case_id = _case_id(db, number)
    with db.transaction() as session:
        store.save_legs(session, case_id=case_id, instruction_id=None, source="bank", legs=[
            _leg(A1, "a1", 0, "in", "70000", other=own, balance="71000"),
            _leg(A1, "a2", 5, "out", "60000", other=own, balance="11000"),
        ])
    key = Ed25519PrivateKey.generate()
    loop = TraceLoop(actor=officer.actor, signer=SigningKey(org="center", kid=kid_for(key.public_key()),
                                                            private_key=key),
                     policy=ApprovalPolicy(), config=TraceConfig())
    with db.transaction() as session:
        loop.advance(session, case_id, number, T0 + timedelta(hours=1))
    with db.read() as session:
        stopped = {(i.bank_code, i.account) for i in session.execute(
            select(BankInstruction).where(BankInstruction.case_id == case_id,
                                          BankInstruction.kind == "stop_payment")).scalars()}
        step = session.execute(select(AuditEntry).where(AuditEntry.object_id == number,
                                                        AuditEntry.action == "trace.step")).scalars().all()
    assert own not in stopped and A1 in stopped
    assert any("a victim's own account" in e.details for e in step)
