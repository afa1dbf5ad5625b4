"""People log in with a password (argon2) and a session cookie; cookie-borne changes need the CSRF token."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import select
from tests.helpers import report

from fanzha.audit.models import AuditEntry
from fanzha.auth import service
from fanzha.auth.dependencies import SESSION_COOKIE
from fanzha.auth.models import Role, User
from fanzha.storage.db import Database

PASSWORD = "correct horse battery"


def _person(db: Database) -> None:
    with db.transaction() as session:
        service.create_user(session, None, username="wang", display_name="王警官", role=Role.DUTY_OFFICER,
                            org_code="center", password=PASSWORD)


def test_password_is_stored_as_argon2_only(db: Database) -> None:
    _person(db)
    with db.transaction() as session:
        user = session.execute(select(User).where(User.username == "wang")).scalar_one()
    assert user.password_hash and user.password_hash.startswith("$argon2")
    assert PASSWORD not in user.password_hash


def test_login_and_wrong_password(db: Database) -> None:
    _person(db)
    with db.transaction() as session:
        assert service.login(session, "wang", "wrong password!", 12) is None
        assert service.login(session, "nobody", PASSWORD, 12) is None
        ok = service.login(session, "wang", PASSWORD, 12)
    assert ok is not None and ok.actor.role is Role.DUTY_OFFICER
    with db.transaction() as session:
        actions = [e.action for e in session.execute(select(AuditEntry).order_by(AuditEntry.id)).scalars()]
    assert service.actor_from_session(db, ok.session_token) is not None
    assert service.actor_from_session(db, "forged") is None
    assert actions[-3:] == ["auth.login_failed", "auth.login_failed", "auth.login"]


def test_cookie_session_needs_csrf_for_changes(db: Database, app_client: TestClient) -> None:
    _person(db)
    with db.transaction() as session:
        ok = service.login(session, "wang", PASSWORD, 12)
    assert ok is not None
    app_client.cookies.set(SESSION_COOKIE, ok.session_token)
    assert app_client.get("/api/v1/me").json()["username"] == "wang"
    refused = app_client.post("/api/v1/reports", json=report())
    assert refused.status_code == 403 and refused.json()["error"] == "csrf_failed"
    wrong = app_client.post("/api/v1/reports", json=report(), headers={"X-CSRF-Token": "guess"})
    assert wrong.status_code == 403
    accepted = app_client.post("/api/v1/reports", json=report(), headers={"X-CSRF-Token": ok.csrf_token})
    assert accepted.status_code == 201


def test_logout_ends_the_session(db: Database) -> None:
    _person(db)
    with db.transaction() as session:
        ok = service.login(session, "wang", PASSWORD, 12)
        assert ok is not None
        service.logout(session, ok.actor, ok.session_token)
    assert service.actor_from_session(db, ok.session_token) is None


def test_password_guessing_locks_the_name(db: Database) -> None:
    _person(db)
    for _ in range(service.MAX_LOGIN_FAILURES):
        with db.transaction() as session:
            assert service.login(session, "wang", "guess guess guess", 12) is None
    with db.transaction() as session:
        # Even the right password is refused while the name is locked, and the refusal is recorded.
        assert service.login(session, "wang", PASSWORD, 12) is None
    with db.transaction() as session:
        last = session.execute(select(AuditEntry).order_by(AuditEntry.id.desc()).limit(1)).scalar_one()
    assert (last.action, last.object_id) == ("auth.login_locked", "wang")


def test_failures_before_a_successful_login_do_not_count(db: Database) -> None:
    _person(db)
    for _ in range(service.MAX_LOGIN_FAILURES - 1):
        with db.transaction() as session:
            service.login(session, "wang", "guess guess guess", 12)
    with db.transaction() as session:
        assert service.login(session, "wang", PASSWORD, 12) is not None
    with db.transaction() as session:
        service.login(session, "wang", "one more typo!!", 12)
    with db.transaction() as session:
        assert service.login(session, "wang", PASSWORD, 12) is not None


def test_remembered_callers_expire_and_logout_forgets_at_once(db: Database) -> None:
    _person(db)
    with db.transaction() as session:
        ok = service.login(session, "wang", PASSWORD, 12)
    assert ok is not None
    assert service.actor_from_session(db, ok.session_token) is not None
    assert service.remembered_session_actor(ok.session_token) is not None
    with db.transaction() as session:
        service.logout(session, ok.actor, ok.session_token)
    assert service.remembered_session_actor(ok.session_token) is None
    assert service.actor_from_session(db, ok.session_token) is None


def test_actor_cache_forgets_after_its_ttl() -> None:
    from fanzha.auth.cache import ActorCache

    cache = ActorCache(ttl_s=0.05, max_entries=2)
    actor = object()
    cache.put("a", actor)  # type: ignore[arg-type]
    assert cache.get("a") is actor
    cache.put("b", actor)  # type: ignore[arg-type]
    cache.put("c", actor)  # type: ignore[arg-type]
    assert cache.get("a") is None  # evicted: the cache is bounded
    import time

    time.sleep(0.06)
    assert cache.get("c") is None


def test_a_disabled_account_loses_its_sessions_and_tokens_at_once_and_comes_back_when_enabled(
        db: Database, app_client: TestClient) -> None:
    _person(db)
    with db.transaction() as session:
        admin = service.actor_for(service.create_user(session, None, username="root1", display_name="管理员",
                                                      role=Role.ADMIN, org_code="center", password=PASSWORD))
        system = service.create_user(session, None, username="hotline-gw", display_name="12345 接口",
                                     role=Role.HOTLINE_OPERATOR, org_code="hotline:12345", password=None)
        token = service.create_api_token(session, admin, system, "gateway")
        ok = service.login(session, "wang", PASSWORD, 12)
    assert ok is not None
    bearer = {"Authorization": f"Bearer {token}"}
    assert app_client.get("/api/v1/me", headers=bearer).status_code == 200  # now remembered by the actor cache
    assert service.actor_from_session(db, ok.session_token) is not None
    with db.transaction() as session:
        for name in ("wang", "hotline-gw"):
            user = service.user_by_username(session, name)
            assert user is not None
            service.set_active(session, admin, user, False)
    assert service.actor_from_session(db, ok.session_token) is None
    assert app_client.get("/api/v1/me", headers=bearer).status_code == 401
    with db.transaction() as session:
        assert service.login(session, "wang", PASSWORD, 12) is None
        user = service.user_by_username(session, "wang")
        assert user is not None
        service.set_active(session, admin, user, True)
        assert service.login(session, "wang", PASSWORD, 12) is not None
        actions = [e.action for e in session.execute(select(AuditEntry).where(AuditEntry.object_id == "wang")
                                                      .order_by(AuditEntry.id)).scalars()]
    assert "user.disabled" in actions and "user.enabled" in actions
