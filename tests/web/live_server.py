"""The browser tests' live console: uvicorn on 127.0.0.1 in a thread, a tab that fails on page errors, a log-in.

``live_server`` (module-scoped) starts a server per call, each on its own copy of the migrated database, with the
people to log in as, a ``seed`` for the rest of the data and any settings the test needs (a simulator's URL, a
feature switch); all of a module's servers stop when the module ends. A module names its server ``live``:

    @pytest.fixture(scope="module")
    def live(live_server: StartLive) -> Live:
        return live_server(Person("duty", Role.DUTY_OFFICER, "值班民警 王警官"), seed=add_tasks)

and ``page`` opens a tab on it.
"""

from __future__ import annotations

import re
import shutil
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import quote

import pytest
import uvicorn
from playwright.sync_api import Browser, Page, expect

from fanzha.app import create_app
from fanzha.auth import service as auth_service
from fanzha.auth.models import Role
from fanzha.config import Settings
from fanzha.storage.db import Database
from tests.web.chromium import VIEWPORT

PASSWORD = "night-shift-2026"  # every test person's (tests.web.conftest re-exports it)


@dataclass(frozen=True)
class Person:
    """Someone with a password, to log in through the form."""

    username: str
    role: Role
    display_name: str
    org: str = "center"


@dataclass(frozen=True)
class Live:
    base: str  # http://127.0.0.1:PORT
    db: Database  # the server's own database: rows written here show on its next request
    settings: Settings


Seed = Callable[[Database, Settings], object]  # whatever it returns is ignored


class StartLive(Protocol):
    def __call__(self, *people: Person, seed: Seed | None = None, **settings: Any) -> Live: ...


@contextmanager
def serving(settings: Settings, db: Database) -> Iterator[str]:
    """The console for ``db`` on a port the OS chose; yields its base URL and stops it on exit."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_app(settings, db), log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 15
        while not server.started:
            if time.monotonic() > deadline or not thread.is_alive():
                raise RuntimeError("the console server did not start")
            time.sleep(0.02)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


@pytest.fixture(scope="module")
def live_server(tmp_path_factory: pytest.TempPathFactory, web_template_db: Path) -> Iterator[StartLive]:
    with ExitStack() as servers:

        def start(*people: Person, seed: Seed | None = None, **overrides: Any) -> Live:
            path = tmp_path_factory.mktemp("live") / "console.db"
            shutil.copyfile(web_template_db, path)  # migrated and seeded once per session
            settings = Settings(database_url=f"sqlite:///{path}", **overrides)
            db = Database(settings.database_url)
            servers.callback(db.dispose)
            with db.transaction() as session:
                for p in people:
                    auth_service.create_user(session, None, username=p.username, display_name=p.display_name,
                                             role=p.role, org_code=p.org, password=PASSWORD)
            if seed is not None:
                seed(db, settings)
            return Live(servers.enter_context(serving(settings, db)), db, settings)

        yield start


@contextmanager
def open_tab(browser: Browser, base_url: str, *, strict: bool = False) -> Iterator[Page]:
    """A zh-CN tab at 1366x768 that fails the test on script errors, CSP violations and broken sub-resources.

    Failed loads of pages themselves (a form answered 422) are allowed unless ``strict``.
    """
    context = browser.new_context(viewport=VIEWPORT, locale="zh-CN", base_url=base_url)
    context.set_default_timeout(10_000)
    tab = context.new_page()
    errors: list[str] = []
    tab.on("pageerror", lambda exc: errors.append(str(exc)))
    tab.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" and (
        strict or not msg.text.startswith("Failed to load resource")) else None)
    tab.on("response", lambda r: errors.append(f"{r.status} {r.url}") if r.status >= 400 and (
        strict or r.request.resource_type != "document") else None)
    yield tab
    context.close()
    assert not errors, f"the page logged errors: {errors}"


@pytest.fixture
def page(browser: Browser, live: Live) -> Iterator[Page]:
    """A tab on the module's ``live`` server."""
    with open_tab(browser, live.base) as tab:
        yield tab


def log_in(page: Page, username: str, next_path: str) -> None:
    """Open ``next_path``, get sent to the login form, log in, and land back on ``next_path``."""
    page.goto(next_path)
    expect(page).to_have_url(re.compile(r"/login\?next=" + re.escape(quote(next_path, safe="/")) + "$"))
    page.get_by_label("用户名").fill(username)
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="登录").click()
    expect(page).to_have_url(re.compile(re.escape(next_path) + "$"))
