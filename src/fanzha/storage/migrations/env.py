"""Alembic environment: the URL comes from fanzha's settings or the caller, never from a file."""

from __future__ import annotations

from alembic import context

from fanzha.storage.db import make_engine
from fanzha.storage.models import Base

config = context.config
url = config.get_main_option("sqlalchemy.url")
assert url, "fanzha.storage.migrate sets sqlalchemy.url"

engine = make_engine(url)
with engine.connect() as connection:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",  # SQLite needs table rebuilds for ALTER
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()
engine.dispose()
