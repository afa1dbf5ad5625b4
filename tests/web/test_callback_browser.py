"""The callback queue in a real browser (Debian's Chromium, headless) against a live server on loopback: an agent
takes the top task, reads the script, records "dissuaded" in one click, and the task leaves the queue; a person
queued meanwhile appears without a reload (htmx polling).

Run with ``pytest -m browser tests/web``; the browser is never downloaded (no internet at runtime).
"""

from __future__ import annotations

import re
import socket
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import uvicorn
from playwright.sync_api import Browser, Page, expect

from fanzha.app import create_app
from fanzha.auth import service as auth_service
from fanzha.auth.models import Role
from fanzha.cli import prepare_database
from fanzha.config import Settings
from fanzha.outreach import callbacks as cb
from fanzha.storage.db import Database
from tests.web.chromium import ARTIFACTS, VIEWPORT
from tests.web.conftest import PASSWORD

pytestmark = pytest.mark.browser

SCREENSHOT = Path("/tmp/callbacks.png")


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Database]]:
    """uvicorn serving a fresh database on 127.0.0.1, with one callback agent and three people to call."""
    path = tmp_path_factory.mktemp("live-callbacks") / "console.db"
    settings = Settings(database_url=f"sqlite:///{path}")
    prepare_database(settings)
    db = Database(settings.database_url)
    now = datetime.now(UTC)
    with db.transaction() as session:
        auth_service.create_user(session, None, username="agent", display_name="劝阻专员 李警官",
                                 role=Role.CALLBACK_AGENT, org_code="center", password=PASSWORD)
        cb.open_task(session, phone="+8613900000003", grade="medium", source="potential_victim",
                     reason="called by +85261234567: a 3 min call, answered 2 calls", now=now - timedelta(minutes=20),
                     fraud_type="fake_investment")
        cb.open_task(session, phone="+8613900000002", grade="high", source="potential_victim",
                     reason="called by +85261234567: a 25 min call", now=now - timedelta(minutes=12),
                     fraud_type="fake_customer_service")
        cb.open_task(session, phone="+8613900000001", grade="high", source="watcher",
                     reason="on a call with +85261234567 for 6 min", now=now - timedelta(minutes=6),
                     on_call_now=True, fraud_type="impersonate_authority", dedupe_key="call-1")
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_app(settings, db), log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the console server did not start")
        time.sleep(0.02)
    yield f"http://127.0.0.1:{port}", db
    server.should_exit = True
    thread.join(timeout=10)
    sock.close()
    db.dispose()


@pytest.fixture
def page(browser: Browser, live: tuple[str, Database]) -> Iterator[Page]:
    context = browser.new_context(viewport=VIEWPORT, locale="zh-CN", base_url=live[0])
    context.set_default_timeout(10_000)
    tab = context.new_page()
    errors: list[str] = []
    tab.on("pageerror", lambda exc: errors.append(str(exc)))
    tab.on("console", lambda msg: errors.append(msg.text)
           if msg.type == "error" and not msg.text.startswith("Failed to load resource") else None)
    tab.on("response", lambda r: errors.append(f"{r.status} {r.url}")
           if r.status >= 400 and r.request.resource_type != "document" else None)
    yield tab
    context.close()
    assert not errors, f"the page logged errors: {errors}"


def test_agent_takes_the_top_task_and_records_dissuaded(page: Page, live: tuple[str, Database]) -> None:
    _, db = live
    page.goto("/callbacks")
    expect(page).to_have_url(re.compile(r"/login\?next=/callbacks$"))
    page.get_by_label("用户名").fill("agent")
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="登录").click()
    expect(page).to_have_url(re.compile(r"/callbacks$"))
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
