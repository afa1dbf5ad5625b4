"""Shared fixtures: a clean database per test on SQLite and on PostgreSQL, apps and API clients per role.

scripts/test starts a private PostgreSQL server and sets FANZHA_TEST_POSTGRES_URL; with
FANZHA_REQUIRE_POSTGRES=1 (as in CI) a missing server is an error, never a silent skip.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck
from hypothesis import settings as hyp_settings
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from fanzha.app import create_app
from fanzha.auth import service as auth_service
from fanzha.auth.actor import Actor
from fanzha.auth.models import Role
from fanzha.banking.runtime import ensure_auto_account
from fanzha.cases import numbering
from fanzha.cli import prepare_database
from fanzha.config import Settings
from fanzha.storage.db import Database
from fanzha.storage.models import Base

hyp_settings.register_profile("ci", deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
hyp_settings.load_profile("ci")

PG_ENV = "FANZHA_TEST_POSTGRES_URL"
# The center's signing key for tests lives in a throwaway directory, never in the work tree.
os.environ.setdefault("FANZHA_KEYS_DIR", tempfile.mkdtemp(prefix="fanzha-test-keys-"))
# Reference data (organisations) and the schema version survive between tests; everything else is wiped.
KEEP_TABLES = {"organisations", "alembic_version"}


def _worker() -> str:
    return os.environ.get("PYTEST_XDIST_WORKER", "main")


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One migrated, seeded SQLite file per worker; each test gets a copy (much faster than migrating)."""
    path = tmp_path_factory.mktemp("sqlite-template") / "template.db"
    prepare_database(Settings(database_url=f"sqlite:///{path}"))
    return path


@pytest.fixture(scope="session")
def postgres_base_url() -> Iterator[str | None]:
    """A database of this worker's own on the test server, migrated once."""
    server = os.environ.get(PG_ENV)
    if not server:
        if os.environ.get("FANZHA_REQUIRE_POSTGRES") == "1":
            raise RuntimeError(f"{PG_ENV} is not set but PostgreSQL is required (run ./scripts/test)")
        yield None
        return
    name = f"fanzha_test_{_worker()}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(server).set(database=name).render_as_string(hide_password=False)
    prepare_database(Settings(database_url=url))
    yield url
    admin.dispose()


def _wipe_postgres(url: str) -> None:
    tables = [t.name for t in Base.metadata.sorted_tables if t.name not in KEEP_TABLES]
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("TRUNCATE " + ", ".join(f'"{t}"' for t in tables) + " RESTART IDENTITY CASCADE"))
        conn.execute(text("INSERT INTO audit_head (id, last_seq, last_hash) VALUES (1, 0, :h)"), {"h": "0" * 64})
        sequences = conn.execute(text("SELECT relname FROM pg_class WHERE relkind = 'S' AND relname LIKE 'case_seq_%'"))
        for (name,) in sequences.all():
            conn.execute(text(f'DROP SEQUENCE "{name}"'))
    numbering._created_sequences.clear()
    engine.dispose()
    db = Database(url)
    with db.transaction() as session:
        ensure_auto_account(session)  # reference data that `fanzha db upgrade` creates
    db.dispose()


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path) -> str:
    """A clean, migrated, seeded database; every storage test runs once per backend."""
    if request.param == "sqlite":
        path = tmp_path / "fanzha.db"
        shutil.copyfile(sqlite_template, path)
        return f"sqlite:///{path}"
    base: str | None = request.getfixturevalue("postgres_base_url")
    if base is None:
        pytest.skip(f"PostgreSQL not available ({PG_ENV} unset; ./scripts/test starts one)")
    _wipe_postgres(base)
    return base


@pytest.fixture
def settings(db_url: str) -> Settings:
    return Settings(database_url=db_url)


@pytest.fixture
def db(settings: Settings) -> Iterator[Database]:
    database = Database(settings.database_url)
    yield database
    database.dispose()


@pytest.fixture
def app_client(settings: Settings, db: Database) -> Iterator[TestClient]:
    with TestClient(create_app(settings, db)) as client:
        yield client


@dataclass
class Principal:
    actor: Actor
    token: str
    client: TestClient


MakePrincipal = Callable[..., Principal]

DEFAULT_ORG = {
    Role.DUTY_OFFICER: "center", Role.SUPERVISOR: "center", Role.AUDITOR: "center", Role.ADMIN: "center",
    Role.CALLBACK_AGENT: "center", Role.HOTLINE_OPERATOR: "hotline:12345", Role.BANK_LIAISON: "bank:ABC",
    Role.CARRIER_LIAISON: "carrier:CMCC",
}


@pytest.fixture
def principal(db: Database, settings: Settings) -> MakePrincipal:
    """Create a system account with an API token for a role; returns an authenticated client."""
    made: list[TestClient] = []
    counter = iter(range(1, 10_000))

    def make(role: Role, org: str | None = None, username: str | None = None) -> Principal:
        name = username or f"{role.value}-{next(counter)}"
        with db.transaction() as session:
            user = auth_service.create_user(session, None, username=name, display_name=name, role=role,
                                            org_code=org or DEFAULT_ORG[role], password=None)
            token = auth_service.create_api_token(session, None, user, "test")
            actor = auth_service.actor_for(user)
        client = TestClient(create_app(settings, db), headers={"Authorization": f"Bearer {token}"})
        made.append(client)
        return Principal(actor, token, client)

    return make
