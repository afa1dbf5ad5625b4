"""Accounts, passwords (argon2), API tokens and browser sessions."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import bindparam, delete, func, select
from sqlalchemy.orm import Session

from fanzha.audit import service as audit
from fanzha.audit.models import AuditEntry
from fanzha.auth.actor import Actor
from fanzha.auth.cache import ActorCache
from fanzha.auth.models import ApiToken, Role, User, WebSession
from fanzha.auth.permissions import ROLE_ORG_KINDS
from fanzha.orgs.models import Organisation, OrgKind
from fanzha.orgs.service import org_by_code
from fanzha.storage.db import Database

_hasher = PasswordHasher()
# Verified against when the username is unknown, so a miss takes as long as a wrong password.
_DUMMY_HASH = _hasher.hash("fanzha-timing-equaliser")
TOKEN_PREFIX = "fz_"
MIN_PASSWORD_LENGTH = 10


class AuthError(ValueError):
    """A request to change accounts that cannot be honoured: the message says why ("field: why"), `code` names
    the reason for the console's catalogue."""

    def __init__(self, message: str, code: str = "invalid") -> None:
        super().__init__(message)
        self.code = code


def _sha256(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


def actor_for(user: User, csrf_token: str | None = None) -> Actor:
    org = user.org
    return Actor(
        user_id=user.id, username=user.username, role=Role(user.role), org_id=org.id, org_code=org.code,
        org_kind=org.kind, org_short_code=org.short_code, csrf_token=csrf_token,
    )


def create_user(
    session: Session, by: Actor | None, *, username: str, display_name: str, role: Role, org_code: str,
    password: str | None,
) -> User:
    username = username.strip()
    if not username or len(username) > 64 or not username.replace("_", "").replace(".", "").replace("-", "").isalnum():
        raise AuthError("username: 1-64 letters, digits, '.', '_' or '-'", "username_format")
    if password is not None and len(password) < MIN_PASSWORD_LENGTH:
        raise AuthError(f"password: at least {MIN_PASSWORD_LENGTH} characters", "password_short")
    org = org_by_code(session, org_code)
    if org is None:
        raise AuthError(f"org: no organisation with code {org_code!r}", "org_unknown")
    if OrgKind(org.kind) not in ROLE_ORG_KINDS[role]:
        kinds = ", ".join(sorted(k.value for k in ROLE_ORG_KINDS[role]))
        raise AuthError(f"role: a {role.value} must belong to an organisation of kind {kinds}, not {org.kind}",
                        "role_org")
    if session.execute(select(User.id).where(User.username == username)).first():
        raise AuthError(f"username: {username!r} is taken", "username_taken")
    user = User(
        username=username, display_name=display_name.strip() or username, role=role.value, org_id=org.id,
        password_hash=_hasher.hash(password) if password else None, active=True,
        created_at=datetime.now(UTC),
    )
    user.org = org
    session.add(user)
    session.flush()
    audit.append(session, by, "user.created", "user", user.username,
                 {"role": role.value, "org": org.code, "has_password": password is not None})
    return user


def ensure_service_account(session: Session, *, username: str, display_name: str, role: Role,
                           org_code: str) -> User:
    """An account for an automatic rule (no password, no token): created once, then reused."""
    user = user_by_username(session, username)
    if user is None:
        user = create_user(session, None, username=username, display_name=display_name, role=role,
                           org_code=org_code, password=None)
    return user


def set_password(session: Session, by: Actor | None, user: User, password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AuthError(f"password: at least {MIN_PASSWORD_LENGTH} characters", "password_short")
    user.password_hash = _hasher.hash(password)
    audit.append(session, by, "user.password_set", "user", user.username)


# Read aloud or copied by hand at a desk: no 0/O, 1/l/I.
_UNAMBIGUOUS = "23456789abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ"


def generated_password() -> str:
    """A strong one-time password for an account an administrator creates or resets (shown once, never stored
    in clear or logged)."""
    return "".join(secrets.choice(_UNAMBIGUOUS) for _ in range(16))  # about 92 bits


def reset_password(session: Session, by: Actor, user: User) -> str:
    """A new generated password for a person; their open sessions end, so only the new one gets in."""
    if user.password_hash is None:
        raise AuthError("username: a system account signs in with API tokens, not a password", "system_account")
    password = generated_password()
    set_password(session, by, user, password)
    _end_sessions(session, user)
    return password


def set_active(session: Session, by: Actor, user: User, active: bool) -> None:
    """Enable or disable an account. A disabled account's sessions end at once and its API tokens are refused
    (within the actor cache's few seconds on other processes); an administrator cannot disable themselves."""
    if user.id == by.user_id and not active:
        raise AuthError("username: you cannot disable your own account", "self_disable")
    if user.active == active:
        return
    user.active = active
    if not active:
        _end_sessions(session, user)
        for token_hash in session.execute(select(ApiToken.token_hash).where(ApiToken.user_id == user.id)).scalars():
            actors.forget("t:" + token_hash)
    audit.append(session, by, "user.enabled" if active else "user.disabled", "user", user.username)


def _end_sessions(session: Session, user: User) -> None:
    hashes = list(session.execute(select(WebSession.token_hash).where(WebSession.user_id == user.id)).scalars())
    session.execute(delete(WebSession).where(WebSession.user_id == user.id))
    for token_hash in hashes:
        actors.forget("s:" + token_hash)


def create_api_token(session: Session, by: Actor | None, user: User, name: str) -> str:
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    session.add(ApiToken(user_id=user.id, name=name, token_hash=_sha256(token), created_at=datetime.now(UTC)))
    session.flush()
    audit.append(session, by, "token.created", "user", user.username, {"name": name})
    return token


# Every API request resolves its caller: a plain column select, built once, keeps that cheap.
_ACTOR_COLUMNS = (User.id, User.username, User.role, Organisation.id, Organisation.code, Organisation.kind,
                  Organisation.short_code)
_BY_TOKEN = (
    select(*_ACTOR_COLUMNS).join(Organisation, Organisation.id == User.org_id)
    .join(ApiToken, ApiToken.user_id == User.id)
    .where(ApiToken.token_hash == bindparam("token_hash"), ApiToken.revoked_at.is_(None), User.active.is_(True))
)
_BY_SESSION = (
    select(*_ACTOR_COLUMNS, WebSession.csrf_token).join(Organisation, Organisation.id == User.org_id)
    .join(WebSession, WebSession.user_id == User.id)
    .where(WebSession.token_hash == bindparam("token_hash"), WebSession.expires_at > bindparam("now"),
           User.active.is_(True))
)


def _actor_row(row: Any, csrf_token: str | None) -> Actor:
    user_id, username, role, org_id, org_code, org_kind, short_code = row[:7]
    return Actor(user_id=user_id, username=username, role=Role(role), org_id=org_id, org_code=org_code,
                 org_kind=org_kind, org_short_code=short_code, csrf_token=csrf_token)


actors = ActorCache()


def remembered_token_actor(token: str) -> Actor | None:
    """The caller behind an API token if this process saw it moments ago (no I/O)."""
    return actors.get("t:" + _sha256(token))


def remembered_session_actor(token: str) -> Actor | None:
    return actors.get("s:" + _sha256(token))


def actor_from_token(db: Database, token: str) -> Actor | None:
    key = "t:" + _sha256(token)
    if cached := actors.get(key):
        return cached
    row = db.read_one(_BY_TOKEN, {"token_hash": key[2:]})
    actor = _actor_row(row, None) if row else None
    if actor:
        actors.put(key, actor)
    return actor


@dataclass(frozen=True, slots=True)
class LoginResult:
    session_token: str
    csrf_token: str
    actor: Actor


# Password guessing: after this many failures in the window, further attempts fail without a check.
MAX_LOGIN_FAILURES = 5
LOCKOUT = timedelta(minutes=15)


def _recent_failures(session: Session, username: str, now: datetime) -> int:
    """Failed logins for this name in the lockout window, since its last successful login."""
    last_ok = session.execute(
        select(func.max(AuditEntry.at)).where(AuditEntry.action == "auth.login", AuditEntry.object_id == username)
    ).scalar_one()
    since = max(now - LOCKOUT, last_ok) if last_ok else now - LOCKOUT
    return session.execute(
        select(func.count()).select_from(AuditEntry).where(
            AuditEntry.action == "auth.login_failed", AuditEntry.object_id == username, AuditEntry.at > since)
    ).scalar_one()


def login(session: Session, username: str, password: str, session_hours: int) -> LoginResult | None:
    username = username.strip()[:64]
    now = datetime.now(UTC)
    if _recent_failures(session, username, now) >= MAX_LOGIN_FAILURES:
        audit.append(session, None, "auth.login_locked", "user", username)
        return None
    user = session.execute(
        select(User).where(User.username == username, User.active.is_(True))
    ).scalar_one_or_none()
    stored = user.password_hash if user and user.password_hash else _DUMMY_HASH
    try:
        _hasher.verify(stored, password)
        ok = user is not None and user.password_hash is not None
    except (VerificationError, InvalidHashError):
        ok = False
    if not ok or user is None:
        # Failed logins are kept (as a security record) without the password tried.
        audit.append(session, None, "auth.login_failed", "user", username)
        return None
    token = secrets.token_urlsafe(32)
    csrf = secrets.token_urlsafe(24)
    session.add(WebSession(token_hash=_sha256(token), user_id=user.id, csrf_token=csrf, created_at=now,
                           expires_at=now + timedelta(hours=session_hours)))
    if _hasher.check_needs_rehash(user.password_hash or ""):
        user.password_hash = _hasher.hash(password)
    actor = actor_for(user, csrf)
    audit.append(session, actor, "auth.login", "user", user.username)
    return LoginResult(token, csrf, actor)


def actor_from_session(db: Database, token: str) -> Actor | None:
    key = "s:" + _sha256(token)
    if cached := actors.get(key):
        return cached
    row = db.read_one(_BY_SESSION, {"token_hash": key[2:], "now": datetime.now(UTC)})
    actor = _actor_row(row, row.csrf_token) if row else None
    if actor:
        actors.put(key, actor)
    return actor


def logout(session: Session, actor: Actor, token: str) -> None:
    session.execute(delete(WebSession).where(WebSession.token_hash == _sha256(token)))
    actors.forget("s:" + _sha256(token))
    audit.append(session, actor, "auth.logout", "user", actor.username)


def user_by_username(session: Session, username: str) -> User | None:
    return session.execute(select(User).where(User.username == username)).scalar_one_or_none()


def list_users(session: Session) -> list[tuple[User, Organisation]]:
    rows = session.execute(select(User, Organisation).join(Organisation).order_by(User.username)).all()
    return [(u, o) for u, o in rows]
