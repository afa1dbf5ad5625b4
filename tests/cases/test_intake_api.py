"""Filing reports through the API: numbered, stored exactly, linked, audited; bad input loses nothing."""

from __future__ import annotations

import json
import re
from decimal import Decimal

import pytest
from sqlalchemy import func, select
from tests.conftest import MakePrincipal
from tests.helpers import VALID_ID, report

from fanzha.audit.models import AuditEntry
from fanzha.auth.models import Role
from fanzha.cases.models import Case, Transfer
from fanzha.storage.db import Database

NUMBER = re.compile(r"^SH\d{8}-\d{6}$")


def _counts(db: Database) -> tuple[int, int]:
    with db.transaction() as session:
        return (session.execute(select(func.count()).select_from(Case)).scalar_one(),
                session.execute(select(func.count()).select_from(AuditEntry)).scalar_one())


def test_report_becomes_numbered_case_with_exact_money(db: Database, principal: MakePrincipal) -> None:
    officer = principal(Role.DUTY_OFFICER)
    body = report(transfers=[{"to_account": "6228480402564890018", "amount": "12000.50", "currency": "cny"}])
    res = officer.client.post("/api/v1/reports", json=body)
    assert res.status_code == 201, res.text
    data = res.json()
    assert NUMBER.match(data["number"])
    assert data["status"] == "received" and data["sla"]["running"] is True
    assert data["fraud_type"]["name"] == "冒充公检法及政府机关"  # extracted from the narrative
    with db.transaction() as session:
        transfer = session.execute(select(Transfer)).scalar_one()
        assert transfer.amount == Decimal("12000.50") and transfer.currency == "CNY"
        assert transfer.to_bank == "ABC"  # from the BIN table
    full = officer.client.get(f"/api/v1/cases/{data['number']}").json()
    assert full["transfers"][0]["amount"] == "12000.50"
    assert full["parties"][0]["phone"] == "+8613812345678"
    assert full["history"][0]["to"] == "received"
    assert full["extraction"]["amounts"][0]["value"] == "70000"


def test_case_numbers_are_sequential_per_day(principal: MakePrincipal) -> None:
    officer = principal(Role.DUTY_OFFICER)
    numbers = [officer.client.post("/api/v1/reports", json=report(suspect_phones=[])).json()["number"]
               for _ in range(3)]
    seqs = [int(n.split("-")[1]) for n in numbers]
    assert seqs == [seqs[0], seqs[0] + 1, seqs[0] + 2]


def test_resent_report_is_the_same_case(db: Database, principal: MakePrincipal) -> None:
    op = principal(Role.HOTLINE_OPERATOR, "hotline:110")
    first = op.client.post("/api/v1/reports", json=report(external_ref="110-20261125-0042"))
    again = op.client.post("/api/v1/reports", json=report(external_ref="110-20261125-0042"))
    assert first.status_code == 201 and again.status_code == 200
    assert again.json()["number"] == first.json()["number"] and again.json()["created"] is False
    assert _counts(db)[0] == 1


def test_shared_phone_links_both_cases(principal: MakePrincipal) -> None:
    officer = principal(Role.DUTY_OFFICER)
    a = officer.client.post("/api/v1/reports", json=report()).json()
    b_body = report(transfers=[], suspect_phones=["+852 6123 4567"], victim={"name": "李某"})
    b = officer.client.post("/api/v1/reports", json=b_body).json()
    assert b["links"] == [{"case": a["number"], "kind": "phone", "value": "+85261234567"}]
    a_full = officer.client.get(f"/api/v1/cases/{a['number']}").json()
    assert {"case": b["number"], "kind": "phone", "value": "+85261234567"} in a_full["links"]


def test_shared_account_links_even_when_written_differently(principal: MakePrincipal) -> None:
    officer = principal(Role.DUTY_OFFICER)
    a = officer.client.post("/api/v1/reports", json=report(suspect_phones=[])).json()
    b = officer.client.post("/api/v1/reports", json=report(
        suspect_phones=[], transfers=[], suspect_accounts=[{"number": "6228 4804 0256 4890 018"}])).json()
    assert [link["case"] for link in b["links"]] == [a["number"]]
    assert b["links"][0]["kind"] == "account"


def test_confirmed_facts_link_later(principal: MakePrincipal) -> None:
    officer = principal(Role.DUTY_OFFICER)
    a = officer.client.post("/api/v1/reports", json=report(suspect_urls=["https://fake-gaj.example.cn/anquan"]))
    b = officer.client.post("/api/v1/reports", json=report(transfers=[], suspect_phones=[])).json()
    assert b["links"] == []
    res = officer.client.post(f"/api/v1/cases/{b['number']}/facts",
                              json={"suspect_urls": ["http://fake-gaj.example.cn/anquan/"]})
    assert res.status_code == 200, res.text
    assert res.json()["links"][0]["case"] == a.json()["number"]
    assert res.json()["sla"]["running"] is False  # confirming facts is the first action


def test_luhn_failure_warns_but_keeps_the_card(principal: MakePrincipal) -> None:
    officer = principal(Role.DUTY_OFFICER)
    res = officer.client.post("/api/v1/reports", json=report(
        transfers=[{"to_account": "6228480402564890019", "amount": "5000"}]))
    assert res.status_code == 201
    assert any("Luhn" in w for w in res.json()["warnings"])


def test_transitions_follow_the_state_machine(principal: MakePrincipal) -> None:
    officer = principal(Role.DUTY_OFFICER)
    number = officer.client.post("/api/v1/reports", json=report()).json()["number"]
    bad = officer.client.post(f"/api/v1/cases/{number}/transitions", json={"to": "referred"})
    assert bad.status_code == 409 and "accepted" in bad.json()["message"]
    ok = officer.client.post(f"/api/v1/cases/{number}/transitions", json={"to": "accepted"})
    assert ok.status_code == 200 and ok.json()["status"] == "accepted"
    assert ok.json()["sla"]["first_action_at"] is not None
    no_note = officer.client.post(f"/api/v1/cases/{number}/transitions", json={"to": "closed"})
    assert no_note.status_code == 422 and no_note.json()["field"] == "note"
    closed = officer.client.post(f"/api/v1/cases/{number}/transitions", json={"to": "closed", "note": "已止付"})
    assert closed.json()["status"] == "closed"
    history = officer.client.get(f"/api/v1/cases/{number}").json()["history"]
    assert [(h["from"], h["to"]) for h in history] == [(None, "received"), ("received", "accepted"),
                                                       ("accepted", "closed")]


def test_every_state_change_is_audited(db: Database, principal: MakePrincipal) -> None:
    officer = principal(Role.DUTY_OFFICER)
    number = officer.client.post("/api/v1/reports", json=report()).json()["number"]
    officer.client.post(f"/api/v1/cases/{number}/transitions", json={"to": "accepted"})
    with db.transaction() as session:
        actions = [e.action for e in session.execute(
            select(AuditEntry).where(AuditEntry.object_id == number).order_by(AuditEntry.id)).scalars()]
    # The reported transfer to an ABC card gets its stop-payment, and its bank a query for the account's
    # transactions (to follow the money), in the same transaction as the case.
    assert actions == ["report.created", "bank.stop_payment_requested", "bank.transaction_query_requested",
                       "case.transitioned"]


def test_list_filters(principal: MakePrincipal) -> None:
    officer = principal(Role.DUTY_OFFICER)
    a = officer.client.post("/api/v1/reports", json=report(channel="12345")).json()["number"]
    b = officer.client.post("/api/v1/reports", json=report(
        channel="web", suspect_phones=["13900001111"], fraud_type="刷单返利")).json()["number"]
    assert [c["number"] for c in officer.client.get("/api/v1/cases?channel=web").json()["items"]] == [b]
    by_type = officer.client.get("/api/v1/cases", params={"fraud_type": "刷单返利"}).json()["items"]
    assert [c["number"] for c in by_type] == [b]
    by_phone = officer.client.get("/api/v1/cases", params={"q": "139 0000 1111"}).json()["items"]
    assert [c["number"] for c in by_phone] == [b]
    page = officer.client.get("/api/v1/cases?limit=1").json()
    assert [c["number"] for c in page["items"]] == [b]
    rest = officer.client.get(f"/api/v1/cases?limit=1&before_id={page['next_before_id']}").json()
    assert [c["number"] for c in rest["items"]] == [a]


BAD_INPUTS = [
    pytest.param({"victim": None}, "victim", id="missing-victim"),
    pytest.param({"channel": "fax"}, "channel", id="unknown-channel"),
    pytest.param({"transfers": [{"to_account": "6228480402564890018", "amount": "-5"}]},
                 "transfers.0.amount", id="negative-amount"),
    pytest.param({"transfers": [{"to_account": "6228480402564890018", "amount": "1e15"}]},
                 "transfers.0.amount", id="absurd-amount"),
    pytest.param({"transfers": [{"to_account": "6228480402564890018", "amount": "10.123"}]},
                 "transfers.0.amount", id="too-many-decimals"),
    pytest.param({"transfers": [{"to_account": "6228480402564890018", "amount": "100", "currency": "RMB"}]},
                 "transfers.0.currency", id="unknown-currency"),
    pytest.param({"transfers": [{"to_account": "62-28", "amount": "100"}]}, "transfers.0.to_account",
                 id="bad-account"),
    pytest.param({"transfers": [{"to_account": "6228480402564890018", "amount": "100", "to_bank": "月亮银行"}]},
                 "transfers.0.to_bank", id="unknown-bank"),
    pytest.param({"transfers": [{"to_account": "6228480402564890018", "amount": "100",
                                 "occurred_at": "2026-11-25T09:00:00"}]}, "transfers.0.occurred_at",
                 id="naive-time"),
    pytest.param({"victim": {"name": "冯某", "id_number": "110105194912310021"}}, "victim.id_number",
                 id="bad-id-checksum"),
    pytest.param({"victim": {"name": "冯某", "phone": "12"}}, "victim.phone", id="bad-phone"),
    pytest.param({"suspect_phones": ["not a phone"]}, "suspect_phones.0", id="bad-suspect-phone"),
    pytest.param({"narrative": ""}, "narrative", id="empty-narrative"),
    pytest.param({"narrative": "诈" * 30_000}, "narrative", id="long-narrative"),
    pytest.param({"received_at": "2099-01-01T00:00:00+08:00"}, "received_at", id="future-receipt"),
    pytest.param({"fraud_type": "外星人诈骗"}, "fraud_type", id="unknown-type"),
    pytest.param({"surprise": 1}, "surprise", id="unknown-field"),
    pytest.param({"transfers": [{"to_account": "", "amount": "100"}]}, "transfers.0.to_account",
                 id="empty-account"),  # was dropped by the validator, then a server error
    pytest.param({"transfers": [{"to_account": "6228480402564890018", "amount": "100", "occurred_at": 0}]},
                 "transfers.0.occurred_at", id="number-as-time"),  # was taken as 1970-01-01
    pytest.param({"transfers": [{"to_account": "6228480402564890018", "amount": "100",
                                 "occurred_at": "0001-01-01T00:00:00Z"}]}, "transfers.0.occurred_at",
                 id="year-one"),  # overflowed in the first move (500)
    pytest.param({"received_at": "9999-12-31T23:59:59-12:00"}, "received_at", id="beyond-year-9999"),
    pytest.param({"external_ref": " "}, "external_ref", id="blank-external-ref"),
]


@pytest.mark.parametrize(("change", "field"), BAD_INPUTS)
def test_bad_input_names_the_field_and_writes_nothing(
    db: Database, principal: MakePrincipal, change: dict[str, object], field: str
) -> None:
    officer = principal(Role.DUTY_OFFICER)
    before = _counts(db)
    body = report(**change)
    if body.get("victim") is None:
        del body["victim"]
    res = officer.client.post("/api/v1/reports", json=body)
    assert res.status_code == 422, res.text
    data = res.json()
    fields = {data.get("field")} | {e["field"] for e in data.get("errors", [])}
    assert field in fields, data
    assert data["message"]
    assert _counts(db) == before


def test_malformed_json_is_a_400(db: Database, principal: MakePrincipal) -> None:
    officer = principal(Role.DUTY_OFFICER)
    before = _counts(db)
    res = officer.client.post("/api/v1/reports", content=b'{"channel": "110", ',
                              headers={"content-type": "application/json"})
    assert res.status_code == 400 and res.json()["field"] == "body"
    assert _counts(db) == before


def test_ten_megabyte_narrative_is_refused_before_parsing(db: Database, principal: MakePrincipal) -> None:
    officer = principal(Role.DUTY_OFFICER)
    before = _counts(db)
    body = json.dumps(report(narrative="骗" * 3_500_000), ensure_ascii=False).encode()
    assert len(body) > 10_000_000
    res = officer.client.post("/api/v1/reports", content=body, headers={"content-type": "application/json"})
    assert res.status_code == 413 and res.json()["field"] == "body"
    assert _counts(db) == before


def test_valid_id_number_is_kept(principal: MakePrincipal) -> None:
    officer = principal(Role.DUTY_OFFICER)
    number = officer.client.post("/api/v1/reports", json=report()).json()["number"]
    parties = officer.client.get(f"/api/v1/cases/{number}").json()["parties"]
    assert parties[0]["id_number"] == VALID_ID


def test_warnings_stay_with_the_case(principal: MakePrincipal) -> None:
    officer = principal(Role.DUTY_OFFICER)
    number = officer.client.post("/api/v1/reports", json=report(
        transfers=[{"to_account": "6228480402564890019", "amount": "5000"}])).json()["number"]
    warnings = officer.client.get(f"/api/v1/cases/{number}").json()["warnings"]
    assert len(warnings) == 1 and "6228480402564890019" in warnings[0]


def test_an_empty_external_ref_is_refused_not_shared_by_every_report(db: Database, principal: MakePrincipal) -> None:
    # "" was stored as a reference: the next report with "" from the channel hit the unique index (500), lost.
    officer = principal(Role.DUTY_OFFICER)
    before = _counts(db)
    for narrative in ("第一个报案。", "另一个报案，完全不同的事。"):
        res = officer.client.post("/api/v1/reports", json=report(external_ref="", narrative=narrative))
        assert res.status_code == 422, res.text
        assert res.json()["errors"][0]["field"] == "external_ref"
    assert _counts(db) == before
    assert officer.client.post("/api/v1/reports", json=report()).status_code == 201  # no reference: fine
