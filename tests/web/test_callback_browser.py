"""The callback queue in a real browser (Debian's Chromium, headless) against a live server on loopback: an agent
takes the top task, reads the script, records "dissuaded" in one click, and the task leaves the queue; a person
queued meanwhile appears without a reload (htmx polling).

Run with ``pytest -m browser tests/web``; the browser is never downloaded (no internet at runtime).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from fanzha.auth.models import Role
from fanzha.config import Settings
from fanzha.outreach import callbacks as cb
from fanzha.storage.db import Database
from tests.web.chromium import ARTIFACTS
from tests.web.live_server import Live, Person, StartLive, log_in

pytestmark = pytest.mark.browser

SCREENSHOT = Path("/tmp/callbacks.png")


def _queue(db: Database, _settings: Settings) -> None:
    """Three people to call: one on a call with the fraud number right now."""
    now = datetime.now(UTC)
    with db.transaction() as session:
        cb.open_task(session, phone="+8613900000003", grade="medium", source="potential_victim",
                     reason="called by +85261234567: a 3 min call, answered 2 calls", now=now - timedelta(minutes=20),
                     fraud_type="fake_investment")
        cb.open_task(session, phone="+8613900000002", grade="high", source="potential_victim",
                     reason="called by +85261234567: a 25 min call", now=now - timedelta(minutes=12),
                     fraud_type="fake_customer_service")
        cb.open_task(session, phone="+8613900000001", grade="high", source="watcher",
                     reason="on a call with +85261234567 for 6 min", now=now - timedelta(minutes=6),
                     on_call_now=True, fraud_type="impersonate_authority", dedupe_key="call-1")


@pytest.fixture(scope="module")
def live(live_server: StartLive) -> Live:
    """A callback agent and three people to call."""
    return live_server(Person("agent", Role.CALLBACK_AGENT, "劝阻专员 李警官"), seed=_queue)


def test_agent_takes_the_top_task_and_records_dissuaded(page: Page, live: Live) -> None:
    db = live.db
    log_in(page, "agent", "/callbacks")
    expect(page.get_by_role("heading", name="劝阻回访", exact=True)).to_be_visible()

    ready = page.locator("#ready tbody tr")
    expect(ready).to_have_count(3)
    expect(ready.first).to_contain_text("+8613900000001")  # on a call right now: first
    expect(ready.first).to_contain_text("正在通话")
    expect(ready.nth(1)).to_contain_text("+8613900000002")

    page.get_by_role("button", name="领取下一个").click()
    expect(page.locator("#callback-notice")).to_have_text("已领取，请立即拨打。")
    expect(page.locator("#current-phone")).to_have_text("+8613900000001")
    expect(page.locator("#script")).to_contain_text("安全账户")
    expect(page.locator("#lease")).to_contain_text("为您保留至")
    expect(page.locator("#ready tbody tr")).to_have_count(2)

    # someone else is queued while the agent is on the phone: the list shows them without a reload
    with db.transaction() as session:
        cb.open_task(session, phone="+8613900000004", grade="low", source="manual", reason="市民来电求助",
                     now=datetime.now(UTC))
    expect(page.locator("#ready tbody tr")).to_have_count(3, timeout=12_000)
    expect(page.locator("#ready")).to_contain_text("+8613900000004")
    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOT), full_page=True)

    page.get_by_role("button", name="劝阻成功").click()
    expect(page.locator("#callback-notice")).to_have_text("已记录：劝阻成功。")
    expect(page.locator("#current-phone")).to_have_count(0)
    expect(page.locator("#ready")).not_to_contain_text("+8613900000001")
    expect(page.locator("#recent")).to_contain_text("+8613900000001")
    expect(page.locator("#recent")).to_contain_text("劝阻成功")
    expect(page.locator("#count-dissuaded")).to_have_text("1")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "callbacks-after-dissuaded.png"), full_page=True)
    with db.read() as session:
        assert cb.dissuaded_count(session, datetime.now(UTC) - timedelta(hours=1),
                                  datetime.now(UTC) + timedelta(minutes=1)) == 1
