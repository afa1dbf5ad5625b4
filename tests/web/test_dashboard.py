"""The dashboard page and its live panel: the figures of tests/reports/dataset.py as tiles and chart data, for
supervisors and duty officers only, in Chinese by default and English on request."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient

from fanzha.auth.models import Role
from fanzha.config import Settings
from fanzha.storage.db import Database
from tests.reports.dataset import DataSet, build
from tests.web.conftest import FileCase, LoginAs, MakeUser
from tests.web.pages import Element, parse


@pytest.fixture
def data(web_db: Database, web_settings: Settings) -> DataSet:
    return build(web_db, web_settings)


def _range(data: DataSet) -> str:
    return f"from={data.period.first.isoformat()}&to={data.period.last.isoformat()}"


def _tile(page: Element, name: str) -> str:
    return page.by_id(f"tile-{name}").text()


def _charts(page: Element) -> dict[str, object]:
    loaded: dict[str, object] = json.loads(page.by_id("dash-data").attrs["data-figures"])
    return loaded


def test_a_supervisor_sees_the_figures_as_tiles_a_money_table_and_chart_data(
        data: DataSet, web_user: MakeUser, web_login: LoginAs) -> None:
    console = web_login(web_user(Role.SUPERVISOR))
    response = console.get(f"/dashboard?{_range(data)}")
    assert response.status_code == 200
    page = parse(response.text)
    assert page.find("h1").text() == "中心数据看板"
    assert page.find("html").attrs["lang"] == "zh-CN"
    assert _tile(page, "cases").startswith("接报案件 6 ")
    assert "110报警 3" in _tile(page, "cases")
    assert "96,000.00 CNY" in _tile(page, "stopped") and "299,000.00 EUR" in _tile(page, "stopped")
    assert "USD" not in _tile(page, "stopped")  # nothing was held in USD
    assert "70,000.00 CNY" in _tile(page, "frozen") and "299,000.00 EUR" in _tile(page, "frozen")
    assert _tile(page, "returned") == "返还金额 58,000.00 CNY 299,000.00 EUR"
    assert "4 / 2" in _tile(page, "accounts")
    assert _tile(page, "numbers").startswith("关停号码 2 ") and "拦截 1" in _tile(page, "numbers")
    assert "20.0 分钟" in _tile(page, "stop-time") and "36.0 分钟" in _tile(page, "stop-time")
    assert "5起已止付" in _tile(page, "stop-time")
    assert _tile(page, "flash").startswith("闪信 发送 / 送达 2 / 1 ") and "预警4条" in _tile(page, "flash")
    assert _tile(page, "dissuaded") == "劝阻被害人 2"
    assert page.by_id("money-CNY").text() == "CNY 111,000.49 96,000.00 70,000.00 58,000.00"
    assert page.by_id("money-USD").text() == "USD 1,500.00 0.00 0.00 0.00"
    assert [th.text() for th in page.find("table", cls="money").find_all("th")] == [
        "币种", "报称被骗", "止付", "冻结", "返还"]
    charts = _charts(page)
    assert charts["channel"] == [{"name": "110报警", "value": 3}, {"name": "12345热线", "value": 1},
                                 {"name": "派出所内线", "value": 1}, {"name": "网上报警", "value": 1},
                                 {"name": "反诈App", "value": 0}]
    assert charts["fraud_type"] == {
        "names": ["刷单返利", "冒充电商物流客服", "虚假网络投资理财", "冒充公检法及政府机关"], "values": [3, 1, 1, 1]}
    assert charts["cases_per_day"] == [2, 2, 2]
    assert charts["median_min"] == [21.0, 12.5, 40.0] and charts["p90_min"] == [28.2, 18.5, 40.0]
    # The charts draw with the vendored ECharts; no script is inline (the CSP forbids it).
    scripts = page.find_all("script")
    assert {s.attrs["src"].split("?")[0] for s in scripts} >= {"/static/echarts.min.js", "/static/dashboard.js"}
    assert all(s.attrs.get("src") for s in scripts)
    assert "script-src 'self'" in response.headers["content-security-policy"]
    live = page.by_id("dash-live")
    assert live.attrs["hx-trigger"] == "every 15s"
    assert live.attrs["hx-get"].startswith(f"/dashboard/panel?period=7d&{_range(data)}")
    csv_links = [a.attrs["href"] for a in page.find_all("a", cls="csv")]
    assert f"/api/v1/figures/money?{_range(data)}&format=csv&lang=zh" in csv_links


def test_the_panel_alone_refreshes_with_new_reports(data: DataSet, web_user: MakeUser, web_login: LoginAs,
                                                    web_file_case: FileCase) -> None:
    officer = web_user(Role.DUTY_OFFICER)
    console = web_login(officer)
    before = console.get("/dashboard/panel?period=today", headers={"HX-Request": "true"})
    assert before.status_code == 200 and "<html" not in before.text
    assert _tile(parse(before.text), "cases") == "接报案件 0"
    web_file_case(officer, channel="12345", received_at=datetime.now(UTC) - timedelta(minutes=3))
    after = parse(console.get("/dashboard/panel?period=today", headers={"HX-Request": "true"}).text)
    assert _tile(after, "cases").startswith("接报案件 1 ") and "12345热线 1" in _tile(after, "cases")
    assert _charts(after)["cases_per_day"] == [1]


def test_filters_narrow_every_tile_and_stay_selected(data: DataSet, web_user: MakeUser, web_login: LoginAs) -> None:
    console = web_login(web_user(Role.SUPERVISOR))
    page = parse(console.get(f"/dashboard?{_range(data)}&channel=110&fraud_type=task_rebate").text)
    assert _tile(page, "cases").startswith("接报案件 1 ")
    assert "20,000.00 CNY" in _tile(page, "stopped") and "1 / 0" in _tile(page, "accounts")
    assert _tile(page, "returned") == "返还金额 0"
    assert "不按接报渠道统计" in _tile(page, "flash") and "不随渠道、类型筛选" in _tile(page, "dissuaded")
    assert page.find("option", value="110").attrs.get("selected") is not None
    assert page.find("option", value="task_rebate").attrs.get("selected") is not None


def test_english_on_request(data: DataSet, web_user: MakeUser, web_login: LoginAs) -> None:
    console = web_login(web_user(Role.SUPERVISOR))
    console.client.cookies.set("lang", "en")
    page = parse(console.get(f"/dashboard?{_range(data)}").text)
    assert page.find("h1").text() == "Center dashboard"
    assert _tile(page, "cases").startswith("Cases received 6 ")
    assert "20.0 min" in _tile(page, "stop-time")
    assert _tile(page, "returned") == "Money returned 58,000.00 CNY 299,000.00 EUR"
    charts = _charts(page)
    assert charts["channel"][0] == {"name": "110 police line", "value": 3}  # type: ignore[index]
    assert charts["fraud_type"]["names"][0] == "Task / click-farming rebate"  # type: ignore[index]


@pytest.mark.parametrize("role", [Role.BANK_LIAISON, Role.CARRIER_LIAISON, Role.HOTLINE_OPERATOR,
                                  Role.CALLBACK_AGENT, Role.AUDITOR])
def test_everyone_but_supervisors_and_duty_officers_gets_a_404(role: Role, web_user: MakeUser,
                                                               web_login: LoginAs) -> None:
    console = web_login(web_user(role))
    for url in ("/dashboard", "/dashboard/panel?period=today"):
        assert console.get(url).status_code == 404, url
    assert 'href="/dashboard"' not in console.get("/cases").text


@pytest.mark.parametrize("role", [Role.SUPERVISOR, Role.DUTY_OFFICER])
def test_the_nav_links_to_the_dashboard_for_those_who_may_see_it(role: Role, web_user: MakeUser,
                                                                 web_login: LoginAs) -> None:
    console = web_login(web_user(role))
    nav = parse(console.get("/cases").text).find("nav", cls="mainnav")
    assert [a.text() for a in nav.find_all("a", href="/dashboard")] == ["数据看板"]
    assert console.get("/dashboard").status_code == 200  # the default period needs no parameters


def test_a_stranger_is_sent_to_log_in(web_anonymous: TestClient) -> None:
    response = web_anonymous.get("/dashboard?period=30d")
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=/dashboard%3Fperiod%3D30d"


def test_a_reversed_period_is_explained_not_crashed(web_user: MakeUser, web_login: LoginAs) -> None:
    console = web_login(web_user(Role.SUPERVISOR))
    response = console.get("/dashboard?from=2026-04-20&to=2026-03-21")
    assert response.status_code == 422
    # Said in the reader's language above the form, which keeps the dates typed; the dashboard stays.
    page = parse(response.text)
    assert page.find("h1").text() == "中心数据看板"
    assert page.find("p", role="alert").text().startswith("截止日期早于起始日期")
    assert page.find("input", name="from").attrs["value"] == "2026-04-20"
    assert page.find("input", name="to").attrs["value"] == "2026-03-21"
    assert _tile(page, "cases").startswith("接报案件 0")  # the last 7 days meanwhile
    console.client.cookies.set("lang", "en")
    english = parse(console.get("/dashboard?from=2026-04-20&to=2026-03-21").text)
    assert english.find("p", role="alert").text().startswith("The end date is before the start date")


@pytest.mark.parametrize(("query", "words"), [
    ("from=2026-02-30&to=2026-03-01", "日期格式不正确"),
    ("from=2000-01-01&to=2026-03-01", "期间最长 3660 天"),
    ("period=7d&channel=fax", "所选渠道或诈骗类型不在列表中"),
])
def test_other_choices_that_cannot_be_shown_are_explained(query: str, words: str, web_user: MakeUser,
                                                          web_login: LoginAs) -> None:
    console = web_login(web_user(Role.DUTY_OFFICER))
    response = console.get(f"/dashboard?{query}")
    assert response.status_code == 422
    page = parse(response.text)
    assert page.find("h1").text() == "中心数据看板"
    assert page.find("p", role="alert").text().startswith(words)


def test_echarts_is_served_locally_with_its_licence(web_anonymous: TestClient) -> None:
    script = web_anonymous.get("/static/echarts.min.js")
    assert script.status_code == 200 and "echarts" in script.text[:5000]
    licence = web_anonymous.get("/static/echarts.LICENSE.txt")
    assert licence.status_code == 200 and "Apache License" in licence.text and "Apache ECharts" in licence.text
