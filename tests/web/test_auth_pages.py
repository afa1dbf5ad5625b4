"""Logging in and out of the console, and what a logged-out browser is allowed to see."""

from __future__ import annotations

import re

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from fanzha.app import create_app
from fanzha.auth.dependencies import SESSION_COOKIE
from fanzha.auth.models import Role
from fanzha.config import Settings
from fanzha.storage.db import Database
from fanzha.web.auth_pages import LOGIN_CSRF_COOKIE
from tests.web.conftest import LoginAs, MakeUser, login
from tests.web.pages import parse


def _cookie_header(response: object, name: str) -> str:
    headers = response.headers.get_list("set-cookie")  # type: ignore[attr-defined]
    found = [h for h in headers if h.startswith(f"{name}=")]
    assert found, f"no {name} cookie set"
    return str(found[0])


def test_login_form_sets_a_matching_double_submit_token(web_anonymous: TestClient) -> None:
    page = web_anonymous.get("/login")
    assert page.status_code == 200
    cookie = _cookie_header(page, LOGIN_CSRF_COOKIE)
    token = cookie.split(";")[0].split("=", 1)[1]
    assert parse(page.text).find("input", name="csrf_token").attrs["value"] == token
    assert "HttpOnly" in cookie and "samesite=strict" in cookie.lower()


def test_successful_login_sets_a_strict_http_only_session_and_goes_to_cases(
        web_anonymous: TestClient, web_user: MakeUser) -> None:
    officer = web_user(Role.DUTY_OFFICER)
    response = login(web_anonymous, officer.username, officer.password)
    assert response.status_code == 303
    assert response.headers["location"] == "/cases"
    cookie = _cookie_header(response, SESSION_COOKIE)
    assert "HttpOnly" in cookie and "samesite=strict" in cookie.lower()
    assert "secure" not in cookie.lower()  # plain HTTP on loopback by default
    assert web_anonymous.get("/cases").status_code == 200


def test_session_cookie_is_secure_when_configured(web_settings: Settings, web_db: Database,
                                                  web_user: MakeUser) -> None:
    officer = web_user(Role.DUTY_OFFICER)
    app = create_app(web_settings.model_copy(update={"secure_cookies": True}), web_db)
    with TestClient(app, base_url="https://testserver", follow_redirects=False) as client:
        response = login(client, officer.username, officer.password)
        assert "; secure" in _cookie_header(response, SESSION_COOKIE).lower()


def test_wrong_password_and_unknown_user_get_the_same_generic_answer(
        web_anonymous: TestClient, web_user: MakeUser) -> None:
    officer = web_user(Role.DUTY_OFFICER)
    wrong_password = login(web_anonymous, officer.username, "not-the-password")
    unknown_user = login(web_anonymous, "nobody-here", officer.password)
    messages = []
    for response in (wrong_password, unknown_user):
        assert response.status_code == 401
        assert SESSION_COOKIE not in response.headers.get("set-cookie", "")
        messages.append(parse(response.text).find("p", cls="alert").text())
    assert messages[0] == messages[1] == "用户名或密码不正确。"
    # The username typed is kept, the password never is.
    page = parse(wrong_password.text)
    assert page.find("input", name="username").attrs["value"] == officer.username
    assert "value" not in page.find("input", name="password").attrs


@pytest.mark.parametrize("token", ["", "forged-token"])
def test_login_without_the_matching_form_token_is_refused(
        web_anonymous: TestClient, web_user: MakeUser, token: str) -> None:
    officer = web_user(Role.DUTY_OFFICER)
    web_anonymous.get("/login")  # the cookie is set, but the post does not echo it
    response = web_anonymous.post("/login", data={"username": officer.username, "password": officer.password,
                                                  "csrf_token": token})
    assert response.status_code == 403
    assert SESSION_COOKIE not in response.headers.get("set-cookie", "")
    assert web_anonymous.get("/cases").status_code == 303


def test_login_token_from_another_browser_is_refused(web_app: FastAPI, web_user: MakeUser) -> None:
    officer = web_user(Role.DUTY_OFFICER)
    with TestClient(web_app, follow_redirects=False) as attacker, \
            TestClient(web_app, follow_redirects=False) as victim:
        token = re.search(r'name="csrf_token" value="([^"]+)"', attacker.get("/login").text)
        assert token is not None
        victim.get("/login")
        response = victim.post("/login", data={"username": officer.username, "password": officer.password,
                                               "csrf_token": token.group(1)})
        assert response.status_code == 403


@pytest.mark.parametrize("path", ["/cases", "/cases/new", "/cases/SH20261125-000001", "/cases?status=received&q=1"])
def test_logged_out_pages_redirect_to_login_and_come_back(
        web_anonymous: TestClient, web_user: MakeUser, path: str) -> None:
    response = web_anonymous.get(path)
    assert response.status_code == 303
    location = response.headers["location"]
    assert location.startswith("/login?next=")
    form = parse(web_anonymous.get(location).text)
    assert form.find("input", name="next").attrs["value"] == path
    officer = web_user(Role.DUTY_OFFICER)
    assert login(web_anonymous, officer.username, officer.password, next_path=path).headers["location"] == path


def test_login_never_sends_the_user_off_site(web_anonymous: TestClient, web_user: MakeUser) -> None:
    officer = web_user(Role.DUTY_OFFICER)
    response = login(web_anonymous, officer.username, officer.password, next_path="//evil.example/phish")
    assert response.headers["location"] == "/"


def test_logged_out_form_posts_do_not_act(web_anonymous: TestClient) -> None:
    response = web_anonymous.post("/cases/new", data={"channel": "110", "victim_name": "冯某", "narrative": "x"})
    assert response.status_code == 303
    assert response.headers["location"].startswith("/login?next=/cases/new")


def test_logout_needs_the_form_token(web_user: MakeUser, web_login: LoginAs) -> None:
    console = web_login(web_user(Role.DUTY_OFFICER))
    refused = console.post("/logout", {"csrf_token": "stale"})
    assert refused.status_code == 403
    assert "页面已过期" in parse(refused.text).find("h1").text()
    assert console.get("/cases").status_code == 200  # still logged in


def test_logout_ends_the_session(web_user: MakeUser, web_login: LoginAs) -> None:
    console = web_login(web_user(Role.DUTY_OFFICER))
    old_cookie = console.client.cookies.get(SESSION_COOKIE)
    response = console.post("/logout")
    assert response.status_code == 303
    assert response.headers["location"] == "/login"
    assert console.get("/cases").status_code == 303
    # The old cookie, replayed, is dead on the server too.
    console.client.cookies.set(SESSION_COOKIE, old_cookie or "")
    assert console.get("/cases").status_code == 303


def test_logged_in_user_visiting_login_goes_straight_to_the_console(
        web_user: MakeUser, web_login: LoginAs) -> None:
    console = web_login(web_user(Role.DUTY_OFFICER))
    response = console.get("/login?next=/cases/new")
    assert response.status_code == 303
    assert response.headers["location"] == "/cases/new"


def test_pages_carry_a_strict_content_security_policy(web_anonymous: TestClient) -> None:
    headers = web_anonymous.get("/login").headers
    assert "script-src 'self'" in headers["content-security-policy"]
    assert "frame-ancestors 'none'" in headers["content-security-policy"]
    assert headers["x-frame-options"] == "DENY"


def test_static_files_are_served_without_a_login(web_anonymous: TestClient) -> None:
    for name in ("console.css", "console.js", "htmx.min.js"):
        assert web_anonymous.get(f"/static/{name}").status_code == 200


def test_each_reader_lands_on_a_page_they_may_open(web_anonymous: TestClient, web_user: MakeUser) -> None:
    agent = web_user(Role.CALLBACK_AGENT)
    landed = login(web_anonymous, agent.username, agent.password, next_path="")
    assert landed.headers["location"] == "/"
    home = web_anonymous.get("/", follow_redirects=False)
    assert home.headers["location"] == "/callbacks"  # not the case list, which would answer 403
    assert web_anonymous.get("/callbacks").status_code == 200
