"""HTTP API for the caller's identity and for account administration (admins)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, status
from pydantic import BaseModel, ConfigDict, Field

from fanzha.auth import service
from fanzha.auth.dependencies import ActorDep, DbDep
from fanzha.auth.models import Role
from fanzha.auth.permissions import ROLE_PERMISSIONS, Permission, allowed
from fanzha.errors import Forbidden, InvalidInput, NotFound
from fanzha.http import refuse_nul

router = APIRouter(prefix="/api/v1", tags=["auth"], dependencies=[Depends(refuse_nul)])


class UserIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    username: str = Field(min_length=1, max_length=64)
    display_name: str = Field(default="", max_length=128)
    role: Role
    org: str = Field(min_length=1, max_length=64, description="organisation code, e.g. bank:ABC")
    password: str | None = Field(default=None, max_length=256)


class TokenIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=128)


def _require_admin(actor: ActorDep) -> None:
    if not allowed(actor.role, Permission.USER_MANAGE):
        raise Forbidden("only administrators manage accounts")


@router.get("/me")
def me(actor: ActorDep) -> dict[str, Any]:
    return {"username": actor.username, "role": actor.role.value, "org": actor.org_code,
            "permissions": sorted(p.value for p in ROLE_PERMISSIONS[actor.role])}


@router.get("/users")
def list_users(actor: ActorDep, db: DbDep) -> dict[str, Any]:
    _require_admin(actor)
    with db.read() as session:
        return {"items": [
            {"username": u.username, "display_name": u.display_name, "role": u.role, "org": o.code,
             "active": u.active} for u, o in service.list_users(session)
        ]}


@router.post("/users", status_code=status.HTTP_201_CREATED)
def create_user(body: UserIn, actor: ActorDep, db: DbDep) -> dict[str, Any]:
    _require_admin(actor)
    try:
        with db.transaction() as session:
            user = service.create_user(session, actor, username=body.username, display_name=body.display_name,
                                       role=body.role, org_code=body.org, password=body.password)
    except service.AuthError as exc:
        field, _, message = str(exc).partition(": ")
        raise InvalidInput(message or str(exc), field=field) from exc
    return {"username": user.username, "role": user.role, "org": body.org}


@router.post("/users/{username}/tokens", status_code=status.HTTP_201_CREATED)
def create_token(username: str, body: TokenIn, actor: ActorDep, db: DbDep) -> dict[str, str]:
    """Issue an API token for a system account; the token is shown only in this answer."""
    _require_admin(actor)
    with db.transaction() as session:
        user = service.user_by_username(session, username)
        if user is None:
            raise NotFound(f"no user {username}")
        token = service.create_api_token(session, actor, user, body.name)
    return {"token": token}
