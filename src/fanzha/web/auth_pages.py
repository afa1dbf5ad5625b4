"""Log in, log out, and the language switch."""

from __future__ import annotations

import hmac
import secrets
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import RedirectResponse, Response

from fanzha.auth import service
from fanzha.auth.actor import Actor
from fanzha.auth.dependencies import SESSION_COOKIE, DbDep, SettingsDep, optional_actor
from fanzha.config import Settings
from fanzha.web.console import ConsoleRoute, FormDep, check_csrf, field, safe_next
from fanzha.web.i18n import LANG_COOKIE, LANGUAGES
from fanzha.web.templating import render

router = APIRouter(route_class=ConsoleRoute, include_in_schema=False)

LOGIN_CSRF_COOKIE = "fanzha_login_csrf"
LANG_COOKIE_SECONDS = 365 * 24 * 3600
OptionalActor = Annotated[Actor | None, Depends(optional_actor)]


def _login_page(request: Request, settings: Settings, *, next_path: str, username: str = "",
                error: str | None = None, status_code: int = 200) -> Response:
    """The form with a fresh double-submit token: the cookie and the hidden field must match on POST."""
    token = secrets.token_urlsafe(24)
    response = render(request, "login.html", None, status_code=status_code, login_csrf=token,
                      next_path=next_path, username=username, error=error)
    response.set_cookie(LOGIN_CSRF_COOKIE, token, max_age=3600, path="/login", httponly=True,
                        samesite="strict", secure=settings.secure_cookies)
    return response


@router.get("/login")
def login_form(request: Request, actor: OptionalActor, settings: SettingsDep,
               next_path: Annotated[str, Query(alias="next", max_length=2048)] = "") -> Response:
    if actor is not None:
        return RedirectResponse(safe_next(next_path), status_code=303)
    return _login_page(request, settings, next_path=safe_next(next_path))


@router.post("/login")
def login(request: Request, form: FormDep, db: DbDep, settings: SettingsDep) -> Response:
    next_path = safe_next(field(form, "next"))
    username = field(form, "username")[:64]
    sent = field(form, "csrf_token")
    expected = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    if not sent or not expected or not hmac.compare_digest(sent, expected):
        return _login_page(request, settings, next_path=next_path, username=username, error="login.expired",
                           status_code=403)
    password = form.get("password")
    with db.transaction() as session:
        result = service.login(session, username, password if isinstance(password, str) else "",
                               settings.session_hours)
    if result is None:
        # Never say whether the name or the password was wrong.
        return _login_page(request, settings, next_path=next_path, username=username, error="login.failed",
                           status_code=401)
    response = RedirectResponse(next_path, status_code=303)
    response.set_cookie(SESSION_COOKIE, result.session_token, max_age=settings.session_hours * 3600, path="/",
                        httponly=True, samesite="strict", secure=settings.secure_cookies)
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/login")
    return response


@router.post("/logout")
def logout(request: Request, form: FormDep, actor: OptionalActor, db: DbDep, settings: SettingsDep) -> Response:
    response = RedirectResponse("/login", status_code=303)
    if actor is None:
        return response
    check_csrf(request, actor, form)
    token = request.cookies.get(SESSION_COOKIE, "")
    with db.transaction() as session:
        service.logout(session, actor, token)
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="strict",
                           secure=settings.secure_cookies)
    return response


@router.get("/ui/lang/{lang}")
def switch_language(lang: str, settings: SettingsDep,
                    next_path: Annotated[str, Query(alias="next", max_length=2048)] = "") -> Response:
    response = RedirectResponse(safe_next(next_path), status_code=303)
    if lang in LANGUAGES:
        response.set_cookie(LANG_COOKIE, lang, max_age=LANG_COOKIE_SECONDS, path="/", httponly=True,
                            samesite="lax", secure=settings.secure_cookies)
    return response
