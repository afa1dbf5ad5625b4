"""Console fixtures: a migrated SQLite file per test, users per role, and browsers-without-a-browser; the browser
tests' Chromium, live server and tab come from chromium.py and live_server.py.

Names start with ``web_`` so they never clash with the shared fixtures in tests/conftest.py.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from httpx import Response

from fanzha.app import create_app
from fanzha.auth import service as auth_service
from fanzha.auth.actor import Actor
from fanzha.auth.models import Role
from fanzha.cases import intake
from fanzha.cases.schemas import ReportIn
from fanzha.cli import prepare_database
from fanzha.config import Settings
from fanzha.storage.db import Database
from tests.web.chromium import browser  # noqa: F401  (the browser tests' shared fixtures)
from tests.web.live_server import PASSWORD, live_server, page  # noqa: F401

FENG_NARRATIVE = (
    "4月25日上午9时，市民冯某接到自称宝山公安的电话（+85261234567），称其涉嫌洗钱，要求将存款转至安全账户。"
    "冯某通过手机银行向农业银行账户6228480402564890018转账7万元。"
)
ABC_CARD = "6228480402564890018"  # an Agricultural Bank of China debit card number (BIN 622848)
_CSRF_FIELD = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture(scope="session")
def web_template_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Migrated and seeded once per session; each test copies it."""
    path = tmp_path_factory.mktemp("web-template") / "template.db"
    prepare_database(Settings(database_url=f"sqlite:///{path}"))
    return path


@pytest.fixture
def web_settings(tmp_path: Path, web_template_db: Path) -> Settings:
    path = tmp_path / "console.db"
    shutil.copyfile(web_template_db, path)
    return Settings(database_url=f"sqlite:///{path}")


@pytest.fixture
def web_db(web_settings: Settings) -> Iterator[Database]:
    database = Database(web_settings.database_url)
    yield database
    database.dispose()


@pytest.fixture
def web_app(web_settings: Settings, web_db: Database) -> FastAPI:
    return create_app(web_settings, web_db)


@dataclass
class WebUser:
    username: str
    password: str
    actor: Actor


MakeUser = Callable[..., WebUser]


@pytest.fixture
def web_user(web_db: Database) -> MakeUser:
    """Create a person with a password: ``web_user(Role.DUTY_OFFICER)`` or with an org and name."""
    counter = iter(range(1, 10_000))
    default_org = {
        Role.DUTY_OFFICER: "center", Role.SUPERVISOR: "center", Role.AUDITOR: "center", Role.ADMIN: "center",
        Role.CALLBACK_AGENT: "center", Role.HOTLINE_OPERATOR: "hotline:12345", Role.BANK_LIAISON: "bank:ABC",
        Role.CARRIER_LIAISON: "carrier:CMCC",
    }

    def make(role: Role, org: str | None = None, username: str | None = None) -> WebUser:
        name = username or f"{role.value.replace('_', '')}{next(counter)}"
        with web_db.transaction() as session:
            user = auth_service.create_user(session, None, username=name, display_name=name, role=role,
                                            org_code=org or default_org[role], password=PASSWORD)
            actor = auth_service.actor_for(user)
        return WebUser(name, PASSWORD, actor)

    return make


class Console:
    """A logged-in person's browser, minus the browser: follows the console's forms and CSRF tokens."""

    def __init__(self, client: TestClient) -> None:
        self.client = client
        self.csrf = ""

    def get(self, url: str, **kwargs: Any) -> Response:
        response: Response = self.client.get(url, **kwargs)
        if match := _CSRF_FIELD.search(response.text):
            self.csrf = match.group(1)
        return response

    def post(self, url: str, data: dict[str, Any] | None = None, *, csrf: bool = True, **kwargs: Any) -> Response:
        form = dict(data or {})
        if csrf:
            form.setdefault("csrf_token", self.csrf)
        response: Response = self.client.post(url, data=form, **kwargs)
        return response


def login(client: TestClient, username: str, password: str, next_path: str = "/cases") -> Response:
    form = client.get(f"/login?next={next_path}")
    token = _CSRF_FIELD.search(form.text)
    assert token is not None, "the login form has no CSRF field"
    response: Response = client.post("/login", data={"username": username, "password": password,
                                                     "csrf_token": token.group(1), "next": next_path})
    return response


LoginAs = Callable[[WebUser], Console]


@pytest.fixture
def web_login(web_app: FastAPI) -> Iterator[LoginAs]:
    """A fresh client per person, logged in through the real login form."""
    clients: list[TestClient] = []

    def as_user(user: WebUser) -> Console:
        client = TestClient(web_app, follow_redirects=False)
        clients.append(client)
        response = login(client, user.username, user.password)
        assert response.status_code == 303, response.text
        console = Console(client)
        console.get("/cases")
        return console

    yield as_user
    for client in clients:
        client.close()


@pytest.fixture
def web_anonymous(web_app: FastAPI) -> Iterator[TestClient]:
    with TestClient(web_app, follow_redirects=False) as client:
        yield client


FileCase = Callable[..., str]


@pytest.fixture
def web_file_case(web_db: Database, web_settings: Settings) -> FileCase:
    """File a report through the intake service (not the form) and return the case number."""

    def file(user: WebUser, *, narrative: str = "市民报称被骗。", channel: str = "110", victim: str = "王某",
             received_at: datetime | None = None, **facts: Any) -> str:
        report = ReportIn.model_validate({"channel": channel, "victim": {"name": victim}, "narrative": narrative,
                                          "received_at": received_at, **facts})
        return intake.create_case(web_db, web_settings, user.actor, report).case.number

    return file
