"""/api/v1/figures: every figure as JSON, any table as JSON or CSV, the definitions; for supervisors and duty
officers only. On SQLite and PostgreSQL, against the hand-computed values of tests/reports/dataset.py."""

from __future__ import annotations

import csv
import io

import pytest
from fastapi.testclient import TestClient

from fanzha.auth.models import Role
from fanzha.config import Settings
from fanzha.reports.tables import TABLES
from fanzha.storage.db import Database
from tests.conftest import MakePrincipal
from tests.reports.dataset import DataSet, build


@pytest.fixture
def data(db: Database, settings: Settings) -> DataSet:
    return build(db, settings)


def _range(data: DataSet) -> str:
    return f"from={data.period.first.isoformat()}&to={data.period.last.isoformat()}"


def _csv(text: str) -> list[dict[str, str]]:
    assert text.startswith("\ufeff"), "spreadsheets need the byte-order mark to read UTF-8"
    return list(csv.DictReader(io.StringIO(text[1:])))


def test_all_figures_as_json(data: DataSet, principal: MakePrincipal) -> None:
    supervisor = principal(Role.SUPERVISOR)
    response = supervisor.client.get(f"/api/v1/figures?{_range(data)}")
    assert response.status_code == 200, response.text
    body = response.json()
    d0, d1, d2 = (d.isoformat() for d in data.period.days)
    assert body["period"]["from"] == d0 and body["period"]["to"] == d2
    assert body["period"]["start"].endswith("+00:00")
    assert body["filters"] == {"channel": None, "fraud_type": None}
    assert body["cases"]["total"] == 6
    assert body["cases"]["by_channel"] == {"110": 3, "12345": 1, "station": 1, "web": 1, "app": 0}
    assert body["cases"]["by_day"] == [{"day": d0, "cases": 2}, {"day": d1, "cases": 2}, {"day": d2, "cases": 2}]
    assert body["money"] == [
        {"currency": "CNY", "reported_lost": "111000.49", "stopped": "96000.00", "frozen": "70000.00",
         "returned": "58000.00"},
        {"currency": "EUR", "reported_lost": "299000.00", "stopped": "299000.00", "frozen": "299000.00",
         "returned": "299000.00"},
        {"currency": "USD", "reported_lost": "1500.00", "stopped": "0.00", "frozen": "0.00", "returned": "0.00"},
    ]
    assert body["accounts"] == {"stopped": 4, "frozen": 2}
    assert body["numbers_shut"] == {"total": 2, "by_action": {"shutdown": 1, "intercept": 1, "block": 0}}
    assert body["stop_time"]["cases"] == 5
    assert (body["stop_time"]["median_seconds"], body["stop_time"]["p90_seconds"]) == (1200.0, 2160.0)
    assert body["stop_time"]["by_day"][0] == {"day": d0, "cases": 2, "median_seconds": 1260.0, "p90_seconds": 1692.0}
    assert body["flash_sms"] == {"warnings": 4, "sent": 2, "delivered": 1}
    assert body["people_dissuaded"] == 2

    officer = principal(Role.DUTY_OFFICER)
    narrowed = officer.client.get(f"/api/v1/figures?{_range(data)}&channel=110&fraud_type=task_rebate").json()
    assert narrowed["cases"]["total"] == 1
    assert narrowed["money"] == [{"currency": "CNY", "reported_lost": "20000.00", "stopped": "20000.00",
                                  "frozen": "0.00", "returned": "0.00"}]
    assert narrowed["flash_sms"] is None and narrowed["people_dissuaded"] is None


def test_every_table_downloads_as_csv(data: DataSet, principal: MakePrincipal) -> None:
    client = principal(Role.SUPERVISOR).client
    for table in TABLES:
        response = client.get(f"/api/v1/figures/{table}?{_range(data)}&format=csv")
        assert response.status_code == 200, table
        assert response.headers["content-type"] == "text/csv; charset=utf-8"
        assert f'filename="{table}_{data.period.first.isoformat()}_' in response.headers["content-disposition"]
        assert _csv(response.text), table
    money = _csv(client.get(f"/api/v1/figures/money?{_range(data)}&format=csv").text)
    assert money == [
        {"currency": "CNY", "reported_lost": "111000.49", "stopped": "96000.00", "frozen": "70000.00",
         "returned": "58000.00"},
        {"currency": "EUR", "reported_lost": "299000.00", "stopped": "299000.00", "frozen": "299000.00",
         "returned": "299000.00"},
        {"currency": "USD", "reported_lost": "1500.00", "stopped": "0.00", "frozen": "0.00", "returned": "0.00"},
    ]
    channels = _csv(client.get(f"/api/v1/figures/cases_by_channel?{_range(data)}&format=csv").text)
    assert channels[0] == {"channel": "110", "name": "110报警", "cases": "3"}
    english = _csv(client.get(f"/api/v1/figures/cases_by_channel?{_range(data)}&format=csv&lang=en").text)
    assert english[0]["name"] == "110 police line"
    by_day = _csv(client.get(f"/api/v1/figures/stop_time_by_day?{_range(data)}&format=csv").text)
    assert [(r["cases"], r["median_seconds"], r["p90_seconds"]) for r in by_day] == [
        ("2", "1260.0", "1692.0"), ("2", "750.0", "1110.0"), ("1", "2400.0", "2400.0")]
    outreach = _csv(client.get(f"/api/v1/figures/outreach?{_range(data)}&format=csv").text)
    assert [(r["measure"], r["count"]) for r in outreach] == [
        ("flash_warnings", "4"), ("flash_sent", "2"), ("flash_delivered", "1"), ("people_dissuaded", "2")]
    shut = _csv(client.get(f"/api/v1/figures/numbers_shut?{_range(data)}&format=csv").text)
    assert [(r["action"], r["numbers"]) for r in shut] == [("shutdown", "1"), ("intercept", "1"), ("block", "0"),
                                                           ("all", "2")]


def test_a_table_as_json_and_the_definitions(data: DataSet, principal: MakePrincipal) -> None:
    client = principal(Role.DUTY_OFFICER).client
    body = client.get(f"/api/v1/figures/accounts?{_range(data)}").json()
    assert body["columns"] == ["measure", "name", "accounts"]
    assert body["rows"] == [{"measure": "stopped", "name": "止付", "accounts": 4},
                            {"measure": "frozen", "name": "冻结", "accounts": 2}]
    definitions = client.get("/api/v1/figures/definitions").json()
    assert set(definitions) == {"cases_received", "money", "accounts", "numbers_shut", "stop_time", "flash_sms",
                                "people_dissuaded"}
    assert "never summed across currencies" in definitions["money"]
    assert "**returned** (返还金额)" in definitions["money"]
    assert "earliest ``held_at``" in definitions["stop_time"]
    assert "median and the 90th percentile" in definitions["stop_time"]


def test_presets_and_defaults_are_local_days(principal: MakePrincipal) -> None:
    client = principal(Role.SUPERVISOR).client
    today = client.get("/api/v1/figures").json()["period"]
    assert today["from"] == today["to"]
    week = client.get("/api/v1/figures?period=7d").json()["period"]
    assert week["to"] == today["from"] and len(client.get("/api/v1/figures?period=7d").json()["cases"]["by_day"]) == 7


@pytest.mark.parametrize(("query", "field"), [("from=2016-04-20&to=2016-03-21", "to"), ("from=yesterday", "from"),
                                              ("channel=fax", "channel"), ("fraud_type=x", "fraud_type"),
                                              ("period=year", "period")])
def test_bad_parameters_are_refused_with_the_field_named(query: str, field: str, principal: MakePrincipal) -> None:
    response = principal(Role.SUPERVISOR).client.get(f"/api/v1/figures?{query}")
    assert response.status_code == 422
    assert field in response.text


def test_unknown_table_is_a_404(principal: MakePrincipal) -> None:
    assert principal(Role.SUPERVISOR).client.get("/api/v1/figures/salaries").status_code == 404


@pytest.mark.parametrize("role", [Role.BANK_LIAISON, Role.CARRIER_LIAISON, Role.HOTLINE_OPERATOR,
                                  Role.CALLBACK_AGENT, Role.AUDITOR, Role.ADMIN])
def test_only_supervisors_and_duty_officers_read_the_figures(role: Role, principal: MakePrincipal) -> None:
    client = principal(role).client
    for url in ("/api/v1/figures", "/api/v1/figures/money?format=csv", "/api/v1/figures/definitions"):
        assert client.get(url).status_code == 404, url


def test_no_token_no_figures(app_client: TestClient) -> None:
    assert app_client.get("/api/v1/figures").status_code == 401
