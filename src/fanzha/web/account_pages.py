"""Account administration in the console (administrators only): who may sign in, as what, for which
organisation.

An administrator sees no case data (auth/permissions.py). Creating an account or resetting its password
generates a strong password that this one answer shows (never stored in clear, never logged, not cached by
the browser); the person changes nothing else here. Disabling an account ends its sessions at once.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session

from fanzha.auth import service as auth_service
from fanzha.auth.actor import Actor
from fanzha.auth.dependencies import DbDep
from fanzha.auth.models import User
from fanzha.auth.permissions import Permission
from fanzha.auth.roles import Role
from fanzha.errors import NotFound
from fanzha.orgs.service import list_orgs
from fanzha.storage.db import Database
from fanzha.web.console import ConsoleRoute, FormDep, PageActor, check_csrf, field, need
from fanzha.web.templating import render

router = APIRouter(route_class=ConsoleRoute, include_in_schema=False)

NO_STORE = {"Cache-Control": "no-store"}


def _page(request: Request, actor: Actor, db: Database, *, status_code: int = 200, error: str = "",
          form: dict[str, str] | None = None, issued: dict[str, str] | None = None, notice: str = "") -> Response:
    with db.read() as session:
        users = [{"username": u.username, "display_name": u.display_name, "role": u.role, "org": o.code,
                  "org_name": o.name_zh, "org_name_en": o.name_en or o.name_zh, "active": u.active,
                  "created_at": u.created_at, "has_password": u.password_hash is not None}
                 for u, o in auth_service.list_users(session)]
        orgs = [{"code": o.code, "name": o.name_zh, "name_en": o.name_en or o.name_zh}
                for o in list_orgs(session) if o.active]
    response = render(request, "accounts.html", actor, status_code=status_code, users=users, orgs=orgs,
                      roles=[r.value for r in Role], error=error, form=form or {}, issued=issued,
                      notice=notice)
    if issued:
        response.headers.update(NO_STORE)
    return response


@router.get("/accounts")
def accounts(request: Request, actor: PageActor, db: DbDep) -> Response:
    need(actor, Permission.USER_MANAGE)
    notice = request.query_params.get("notice", "")
    return _page(request, actor, db, notice=notice if notice in ("enabled", "disabled") else "")


@router.post("/accounts")
def create_account(request: Request, actor: PageActor, form: FormDep, db: DbDep) -> Response:
    need(actor, Permission.USER_MANAGE)
    check_csrf(request, actor, form)
    typed = {name: field(form, name) for name in ("username", "display_name", "role", "org")}
    if typed["role"] not in {r.value for r in Role}:
        return _page(request, actor, db, status_code=422, error="role", form=typed)
    password = auth_service.generated_password()
    try:
        with db.transaction() as session:
            user = auth_service.create_user(session, actor, username=typed["username"],
                                            display_name=typed["display_name"], role=Role(typed["role"]),
                                            org_code=typed["org"], password=password)
            username = user.username
    except auth_service.AuthError as exc:
        return _page(request, actor, db, status_code=422, error=exc.code, form=typed)
    return _page(request, actor, db, status_code=201, issued={"username": username, "password": password,
                                                              "kind": "created"})


def _user(session: Session, username: str) -> User:
    user = auth_service.user_by_username(session, username)
    if user is None:
        raise NotFound(f"no account {username}")
    return user


@router.post("/accounts/{username}/password")
def reset_password(request: Request, username: str, actor: PageActor, form: FormDep, db: DbDep) -> Response:
    need(actor, Permission.USER_MANAGE)
    check_csrf(request, actor, form)
    try:
        with db.transaction() as session:
            password = auth_service.reset_password(session, actor, _user(session, username))
    except auth_service.AuthError as exc:
        return _page(request, actor, db, status_code=409, error=exc.code)
    return _page(request, actor, db, issued={"username": username, "password": password, "kind": "reset"})


@router.post("/accounts/{username}/active")
def set_active(request: Request, username: str, actor: PageActor, form: FormDep, db: DbDep) -> Response:
    need(actor, Permission.USER_MANAGE)
    check_csrf(request, actor, form)
    active = field(form, "active") == "1"
    try:
        with db.transaction() as session:
            auth_service.set_active(session, actor, _user(session, username), active)
    except auth_service.AuthError as exc:
        return _page(request, actor, db, status_code=409, error=exc.code)
    return RedirectResponse(f"/accounts?notice={'enabled' if active else 'disabled'}", status_code=303)


