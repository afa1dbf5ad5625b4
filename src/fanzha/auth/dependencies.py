"""FastAPI dependencies: who is calling, and the database they act on."""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, Request
from starlette.concurrency import run_in_threadpool

from fanzha.auth import service
from fanzha.auth.actor import Actor
from fanzha.config import Settings
from fanzha.errors import DomainError
from fanzha.storage.db import Database

SESSION_COOKIE = "fanzha_session"
CSRF_HEADER = "x-csrf-token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class Unauthenticated(DomainError):
    status_code = 401
    code = "unauthenticated"


class CsrfRejected(DomainError):
    status_code = 403
    code = "csrf_failed"


# Dependencies that do no I/O are async: FastAPI runs every sync dependency in the thread pool, and
# those hops cost more than the work on a busy intake path.
async def get_db(request: Request) -> Database:
    db: Database = request.app.state.db
    return db


async def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def optional_actor(request: Request, db: Annotated[Database, Depends(get_db)]) -> Actor | None:
    """The caller from an API token (systems) or a session cookie (people), or None."""
    cached: Actor | None = getattr(request.state, "actor", None)
    if cached is not None:
        return cached
    header = request.headers.get("authorization", "")
    actor: Actor | None = None
    if header.lower().startswith("bearer "):
        token = header[7:].strip()
        actor = service.remembered_token_actor(token) or await run_in_threadpool(service.actor_from_token, db, token)
        if actor is None:
            raise Unauthenticated("the API token is unknown or revoked")
    elif cookie := request.cookies.get(SESSION_COOKIE):
        actor = service.remembered_session_actor(cookie) or await run_in_threadpool(
            service.actor_from_session, db, cookie)
    request.state.actor = actor
    return actor


async def current_actor(request: Request, actor: Annotated[Actor | None, Depends(optional_actor)]) -> Actor:
    if actor is None:
        raise Unauthenticated("log in, or send an API token as 'Authorization: Bearer <token>'")
    # Cookie sessions must prove a state change came from our own page (CSRF); tokens need not.
    # Console pages (outside /api/) check the token from their form body with require_form_csrf.
    if (actor.csrf_token is not None and request.method not in SAFE_METHODS
            and request.url.path.startswith("/api/")):
        sent = request.headers.get(CSRF_HEADER, "")
        if not hmac.compare_digest(sent, actor.csrf_token):
            raise CsrfRejected("missing or wrong X-CSRF-Token header for a cookie session")
    return actor


ActorDep = Annotated[Actor, Depends(current_actor)]
DbDep = Annotated[Database, Depends(get_db)]
SettingsDep = Annotated[Settings, Depends(get_settings)]


def require_form_csrf(actor: Actor, sent: str | None) -> None:
    """For console form posts: the hidden csrf_token field must match the session's token."""
    if actor.csrf_token is None:
        return
    if not sent or not hmac.compare_digest(sent, actor.csrf_token):
        raise CsrfRejected("the form is stale or was not sent from the console; reload the page")
