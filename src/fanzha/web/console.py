"""What every console route shares: login redirects, HTML error pages, CSRF and security headers."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import Depends, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse, Response
from fastapi.routing import APIRoute
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData

from fanzha.auth import service as auth_service
from fanzha.auth.actor import Actor
from fanzha.auth.dependencies import CSRF_HEADER, SESSION_COOKIE, optional_actor, require_form_csrf
from fanzha.auth.permissions import Permission, allowed
from fanzha.auth.roles import Role
from fanzha.errors import DomainError, Forbidden, NotFound
from fanzha.web.templating import render

# Scripts and styles come only from /static (no inline code), so an injected tag cannot run.
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'; object-src 'none'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}
MAX_FORM_FIELDS = 2000


class FormMismatch(DomainError):
    """A path or form value of the wrong type (``/bank/inbox/abc/answer``): an old link or a hand-edited address."""

    code = "form_mismatch"


class LoginRequired(Exception):
    def __init__(self, next_path: str) -> None:
        super().__init__(next_path)
        self.next_path = next_path


def home_for(actor: Actor) -> str:
    """The first page a reader may open: the case list; the callback queue for a callback agent, the audit log
    for an auditor, the accounts for an administrator (roles that see no cases)."""
    if allowed(actor.role, Permission.CASE_READ):
        return "/cases"
    if allowed(actor.role, Permission.AUDIT_READ):
        return "/audit"
    if allowed(actor.role, Permission.USER_MANAGE):
        return "/accounts"
    return "/callbacks" if actor.role is Role.CALLBACK_AGENT else "/cases"


def safe_next(value: str | None, default: str = "/") -> str:
    """A local path to return to after login; anything that could leave the site becomes the default."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return default
    if any(ord(ch) < 0x20 for ch in value):
        return default
    return value


def login_url(next_path: str) -> str:
    return "/login?next=" + quote(next_path, safe="/")


def _is_htmx(request: Request) -> bool:
    return request.headers.get("hx-request") == "true"


def error_kind(exc: DomainError) -> str:
    """Which explanation the error page gives (its catalogue keys are ``errorpage.<kind>.*``)."""
    if exc.code == "csrf_failed":
        return "csrf"
    if exc.code == FormMismatch.code:
        return "form"
    if exc.status_code in (403, 404):
        return str(exc.status_code)
    return "other"


def _error_page(request: Request, exc: DomainError) -> Response:
    actor: Actor | None = getattr(request.state, "actor", None)
    if _is_htmx(request):
        # htmx swaps only 2xx answers; the message must show where the officer is looking.
        return render(request, "partials/error.html", actor, error=exc, error_kind=error_kind(exc))
    return render(request, "error.html", actor, status_code=exc.status_code, error=exc,
                  error_kind=error_kind(exc))


def _login_redirect(request: Request, exc: LoginRequired) -> Response:
    if _is_htmx(request):
        # Never navigate away from a half-typed report: say so in the panel and keep the page.
        actor: Actor | None = None
        return render(request, "partials/error.html", actor, error=None, error_kind="session")
    return RedirectResponse(login_url(exc.next_path), status_code=303)


async def not_found_page(request: Request) -> Response | None:
    """The console's page for an address no route serves (an old bookmark, a typo), for a browser asking for a
    page; None for API clients and assets, which keep the JSON answer."""
    if request.method != "GET" or request.url.path.startswith(("/api/", "/static/")) \
            or "text/html" not in request.headers.get("accept", ""):
        return None
    actor: Actor | None = None
    if cookie := request.cookies.get(SESSION_COOKIE):
        actor = auth_service.remembered_session_actor(cookie) or await run_in_threadpool(
            auth_service.actor_from_session, request.app.state.db, cookie)
    request.state.actor = actor
    response = render(request, "error.html", actor, status_code=404, error=NotFound("no such page"),
                      error_kind="nopage")
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    return response


class ConsoleRoute(APIRoute):
    """Console routes answer with pages: errors become an HTML page, a missing login a redirect."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def console_handler(request: Request) -> Response:
            try:
                response = await handler(request)
            except LoginRequired as exc:
                response = _login_redirect(request, exc)
            except DomainError as exc:
                response = _error_page(request, exc)
            except RequestValidationError:
                response = _error_page(request, FormMismatch("the request does not match this page's form"))
            for name, value in SECURITY_HEADERS.items():
                response.headers.setdefault(name, value)
            return response

        return console_handler


def page_actor(request: Request, actor: Annotated[Actor | None, Depends(optional_actor)]) -> Actor:
    """The logged-in person; otherwise a redirect to the login page that comes back here."""
    if actor is None:
        if request.method == "GET":
            here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        else:
            # A form post cannot be replayed by a GET; come back to the page the form was on.
            here = request.url.path.removesuffix("/transition").removesuffix("/facts")
        raise LoginRequired(here)
    return actor


PageActor = Annotated[Actor, Depends(page_actor)]


async def form_data(request: Request) -> FormData:
    form = await request.form(max_files=0, max_fields=MAX_FORM_FIELDS)
    # No typed text holds NUL, and PostgreSQL cannot store one: a crafted form gets the form page, not a 500.
    if any("\x00" in key or (isinstance(value, str) and "\x00" in value) for key, value in form.multi_items()):
        raise FormMismatch("a form field holds a NUL character")
    return form


FormDep = Annotated[FormData, Depends(form_data)]


def check_csrf(request: Request, actor: Actor, form: FormData | None) -> None:
    """The hidden ``csrf_token`` field (forms) or the X-CSRF-Token header (htmx) must match the session."""
    sent = form.get("csrf_token") if form is not None else None
    token = sent if isinstance(sent, str) and sent else request.headers.get(CSRF_HEADER)
    require_form_csrf(actor, token)


def need(actor: Actor, permission: Permission) -> None:
    if not allowed(actor.role, permission):
        raise Forbidden("your role may not use this page")


def field(form: FormData, name: str) -> str:
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""

