"""The callback queue in the console: who may see it, the agent's call from the top of the queue to a one-click
outcome, the script in the reader's language, live updates, and the duty officer's read-only view."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from fanzha.auth.models import Role
from fanzha.cases.models import Case
from fanzha.outreach import callbacks as cb
from fanzha.outreach import warnings as flash_warnings
from fanzha.outreach.callback_models import CallbackTask, Outcome, Source, TaskStatus
from fanzha.outreach.models import WarningStatus
from fanzha.storage.db import Database
from fanzha.web import callback_pages as cp
from fanzha.web.i18n import catalogue
from tests.conftest import MakePrincipal
from tests.web.conftest import Console, LoginAs, MakeUser
from tests.web.pages import Element, parse

R = Role


def open_tasks(db: Database) -> dict[str, int]:
    """Three people to call: one still on a call with a fraudster (low grade), a high and a medium."""
    now = datetime.now(UTC)
    with db.transaction() as session:
        ids = {
            "medium": cb.open_task(session, phone="+8613900000003", grade="medium", source="potential_victim",
                                   reason="called by +85261234567: a 3 min call", now=now - timedelta(minutes=9),
                                   fraud_type="fake_investment").id,
            "high": cb.open_task(session, phone="+8613900000002", grade="high", source="potential_victim",
                                 reason="called by +85261234567: a 25 min call", now=now - timedelta(minutes=5),
                                 fraud_type="fake_customer_service").id,
            "on_call": cb.open_task(session, phone="+8613900000001", grade="low", source="watcher",
                                    reason="on a call with +85261234567 for 6 min", now=now, on_call_now=True,
                                    fraud_type="impersonate_authority", dedupe_key="call-1").id,
        }
    return ids


def ready_phones(page: Element) -> list[str]:
    return [row.find_all("td")[1].text().split()[0] for row in page.by_id("ready").find("tbody").find_all("tr")]


@pytest.fixture
def agent(web_user: MakeUser, web_login: LoginAs) -> Console:
    return web_login(web_user(R.CALLBACK_AGENT, username="agent.li"))


# ---- access -----------------------------------------------------------------------------------------------------

PAGES = {
    "GET /callbacks": (lambda c: c.get("/callbacks"), {R.CALLBACK_AGENT: 200, R.SUPERVISOR: 200, R.DUTY_OFFICER: 200}),
    "GET /callbacks/queue": (lambda c: c.get("/callbacks/queue"),
                             {R.CALLBACK_AGENT: 200, R.SUPERVISOR: 200, R.DUTY_OFFICER: 200}),
    "POST /callbacks/claim-next": (lambda c: c.post("/callbacks/claim-next", follow_redirects=False),
                                   {R.CALLBACK_AGENT: 303, R.SUPERVISOR: 303}),
    "POST /callbacks/{id}/outcome": (lambda c: c.post("/callbacks/1/outcome", data={"outcome": "dissuaded"},
                                                      follow_redirects=False),
                                     {R.CALLBACK_AGENT: 303, R.SUPERVISOR: 303}),
}


@pytest.mark.parametrize("role", list(Role), ids=lambda r: r.value)
def test_role_against_every_callback_page(role: Role, principal: MakePrincipal, db: Database) -> None:
    """Agents and supervisors work, duty officers read, liaisons are told there is nothing, others refused."""
    open_tasks(db)
    caller = principal(role)
    failures = []
    for name, (call, expected) in PAGES.items():
        want = expected.get(role, 404 if role in (R.BANK_LIAISON, R.CARRIER_LIAISON) else 403)
        res = call(caller.client)
        if res.status_code != want:
            failures.append(f"{name}: expected {want}, got {res.status_code}")
    assert not failures, "\n".join(failures)


def test_the_nav_shows_the_queue_to_those_who_use_it(web_user: MakeUser, web_login: LoginAs) -> None:
    for role, shown in ((R.CALLBACK_AGENT, True), (R.DUTY_OFFICER, True), (R.HOTLINE_OPERATOR, False)):
        page = parse(web_login(web_user(role)).get("/cases/new" if role is R.HOTLINE_OPERATOR else "/callbacks").text)
        assert bool(page.find_all("a", href="/callbacks")) is shown, role


def test_a_page_needs_a_login(web_anonymous: TestClient) -> None:
    res = web_anonymous.get("/callbacks")
    assert res.status_code == 303 and res.headers["location"] == "/login?next=/callbacks"


# ---- the agent's call -----------------------------------------------------------------------------------------

def test_the_agent_takes_the_top_task_sees_the_script_and_records_dissuaded(agent: Console, web_db: Database) -> None:
    ids = open_tasks(web_db)
    page = parse(agent.get("/callbacks").text)
    assert page.find("h1").text() == "劝阻回访"
    assert ready_phones(page) == ["+8613900000001", "+8613900000002", "+8613900000003"]
    assert "正在通话" in page.by_id("task-{}".format(ids["on_call"])).text()
    live = page.by_id("live")
    assert live.attrs["hx-get"] == "/callbacks/queue" and live.attrs["hx-trigger"] == "every 5s"
    assert page.by_id("claim-next").text() == "领取下一个"

    taken = agent.post("/callbacks/claim-next", follow_redirects=False)
    assert taken.status_code == 303 and taken.headers["location"] == "/callbacks?notice=claimed"
    page = parse(agent.get("/callbacks?notice=claimed").text)
    assert page.by_id("current-phone").text() == "+8613900000001"
    script = page.by_id("script").text()
    assert "96110" in script and "安全账户" in script  # impersonating police: there is no "safe account"
    assert "冒充公检法及政府机关" in page.by_id("current").text()
    lease = page.by_id("lease")
    assert lease.attrs["hx-post"] == f"/callbacks/{ids['on_call']}/heartbeat" and "为您保留至" in lease.text()
    # the queue no longer offers it, and the claim buttons wait until this call is done
    assert ready_phones(page) == ["+8613900000002", "+8613900000003"]
    assert all("disabled" in b.attrs for b in page.by_id("ready").find_all("button"))

    beat = agent.client.post(f"/callbacks/{ids['on_call']}/heartbeat", headers={"x-csrf-token": agent.csrf})
    assert beat.status_code == 200 and 'hx-trigger="every 30s"' in beat.text

    done = agent.post(f"/callbacks/{ids['on_call']}/outcome", {"outcome": "dissuaded", "note": "已挂断"},
                      follow_redirects=False)
    assert done.headers["location"] == "/callbacks?notice=dissuaded"
    page = parse(agent.get("/callbacks?notice=dissuaded").text)
    assert page.by_id("callback-notice").text() == "已记录：劝阻成功。"
    assert "+8613900000001" not in page.by_id("ready").text()
    assert "劝阻成功" in page.by_id(f"closed-{ids['on_call']}").text()
    assert page.by_id("count-dissuaded").text() == "1"
    live_part = parse(agent.get("/callbacks/queue").text)
    assert ready_phones(live_part) == ["+8613900000002", "+8613900000003"]


def test_the_script_in_english_keeps_the_chinese_words(agent: Console, web_db: Database) -> None:
    ids = open_tasks(web_db)
    agent.get("/ui/lang/en?next=/callbacks")
    agent.post(f"/callbacks/{ids['high']}/claim", follow_redirects=False)
    page = parse(agent.get("/callbacks").text)
    assert page.find("h1").text() == "Callbacks (劝阻)"
    script = page.by_id("script")
    assert "refund" in script.text() and "area code + 96110" in script.text()
    assert any(n.attrs.get("lang") == "zh-CN" and "退款" in n.text() for n in script.find_all("span"))
    assert page.find("button", value="dissuaded").text() == "Dissuaded"


def test_already_paid_opens_a_report_the_supervisor_can_open(web_user: MakeUser, web_login: LoginAs,
                                                             web_db: Database) -> None:
    ids = open_tasks(web_db)
    supervisor = web_login(web_user(R.SUPERVISOR))
    supervisor.post(f"/callbacks/{ids['high']}/claim", follow_redirects=False)
    paid = supervisor.post(f"/callbacks/{ids['high']}/outcome", {"outcome": "paid"}, follow_redirects=False)
    location = paid.headers["location"]
    number = re.search(r"case=([A-Z]+\d{8}-\d{6})", location)
    assert number is not None
    page = parse(supervisor.get(location).text)
    assert page.by_id("callback-notice").find("a").attrs["href"] == f"/cases/{number.group(1)}"
    case_page = supervisor.get(f"/cases/{number.group(1)}")
    assert case_page.status_code == 200 and "+8613900000002" in case_page.text
    with web_db.read() as session:
        case = session.execute(select(Case).where(Case.number == number.group(1))).scalar_one()
        assert case.fraud_type == "fake_customer_service"


def test_not_reached_waits_and_refused_needs_a_station(agent: Console, web_db: Database) -> None:
    ids = open_tasks(web_db)
    agent.post(f"/callbacks/{ids['on_call']}/claim", follow_redirects=False)
    missed = agent.post(f"/callbacks/{ids['on_call']}/outcome", {"outcome": "not_reached"}, follow_redirects=False)
    assert missed.headers["location"] == "/callbacks?notice=not_reached"
    page = parse(agent.get("/callbacks").text)
    assert "+8613900000001" in page.by_id("waiting").text()
    agent.post(f"/callbacks/{ids['high']}/claim", follow_redirects=False)
    refused = agent.post(f"/callbacks/{ids['high']}/outcome", {"outcome": "refused", "station": ""})
    assert refused.status_code == 422
    assert parse(refused.text).by_id("callback-error").text() == "请先选择负责上门劝阻的派出所。"
    options = [o.attrs["value"] for o in parse(refused.text).find("select", name="station").find_all("option")]
    assert "station:BAOSHAN" in options
    visit = agent.post(f"/callbacks/{ids['high']}/outcome", {"outcome": "refused", "station": "station:BAOSHAN"},
                       follow_redirects=False)
    assert visit.headers["location"] == "/callbacks?notice=refused"
    page = parse(agent.get("/callbacks").text)
    assert "宝山公安分局" in page.by_id(f"closed-{ids['high']}").text()


def test_a_lost_lease_is_said_on_the_next_heartbeat(web_user: MakeUser, web_login: LoginAs,
                                                    web_db: Database) -> None:
    ids = open_tasks(web_db)
    first = web_login(web_user(R.CALLBACK_AGENT))
    second = web_user(R.CALLBACK_AGENT)
    first.post(f"/callbacks/{ids['high']}/claim", follow_redirects=False)
    later = datetime.now(UTC) + cb.LEASE + timedelta(seconds=5)
    with web_db.transaction() as session:  # the first agent's page was closed; the second takes the task
        cb.claim(session, second.actor, ids["high"], later)
    beat = first.client.post(f"/callbacks/{ids['high']}/heartbeat", headers={"x-csrf-token": first.csrf})
    assert "此任务已不再由您占用" in beat.text and "hx-post" not in beat.text
    taken = first.post(f"/callbacks/{ids['high']}/outcome", {"outcome": "dissuaded"}, follow_redirects=False)
    assert taken.headers["location"] == "/callbacks?error=not_yours"
    with web_db.read() as session:
        task = session.get(CallbackTask, ids["high"])
        assert task is not None and task.status == "open" and task.claimed_by_id == second.actor.user_id


def test_forms_need_the_csrf_token(agent: Console, web_db: Database) -> None:
    open_tasks(web_db)
    refused = agent.post("/callbacks/claim-next", csrf=False, follow_redirects=False)
    assert refused.status_code == 403


# ---- the duty officer's view ----------------------------------------------------------------------------------

def test_the_duty_officer_reads_the_queue_and_the_warnings_sent(web_user: MakeUser, web_login: LoginAs,
                                                                web_db: Database) -> None:
    ids = open_tasks(web_db)
    now = datetime.now(UTC)
    with web_db.transaction() as session:  # what the live-call watch records when it warns a subscriber
        first = flash_warnings.record(session, call_id="call-1", number="+8613900000001", flagged="+85261234567",
                                      fraud_type="impersonate_authority", text="【反诈中心】警方提示", now=now,
                                      sendable=True, callback_task_id=ids["on_call"])
        flash_warnings.record(session, call_id="call-2", number="+85291234567", flagged="+85261234567",
                              fraud_type=None, text="【反诈中心】警方提示", now=now, sendable=False,
                              callback_task_id=None)
    duty = web_login(web_user(R.DUTY_OFFICER))
    page = parse(duty.get("/callbacks").text)
    assert ready_phones(page) == ["+8613900000001", "+8613900000002", "+8613900000003"]
    assert not page.find_all("button", id="claim-next") and not page.by_id("ready").find_all("button")
    assert page.by_id("count-ready").text() == "3" and page.by_id("count-on-call").text() == "1"
    warnings = page.by_id("flash-warnings")
    assert warnings.find("h2").text() == "闪信预警"
    assert page.by_id("warnings-total").text() == "2" and page.by_id("warnings-delivered").text() == "0"
    row = page.by_id(f"warning-{first}").text()
    assert "+8613900000001" in row and "排队中" in row
    assert "无法发送" in warnings.find("table").text()
    assert duty.post("/callbacks/claim-next", follow_redirects=False).status_code == 403


def test_every_warning_status_has_a_message() -> None:
    for lang in ("zh", "en"):
        messages = catalogue(lang)
        assert not [s for s in WarningStatus if f"callback.warnings.status.{s.value}" not in messages]
        assert not [g for g in ("high", "medium", "low") if f"callback.grade.{g}" not in messages]
        for prefix, values in (("callback.status.", TaskStatus), ("callback.source.", Source),
                               ("callback.outcome.", Outcome)):
            assert not [v for v in values if prefix + v.value not in messages]
        for prefix, keys in (("callback.notice.", cp.NOTICES), ("callback.error.", cp.ERRORS)):
            assert not [k for k in keys if prefix + k not in messages]
