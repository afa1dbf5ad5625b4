"""structured reasons on callback tasks

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-26 10:30:00

Written by hand. ``callback_tasks.reasons``: the task's reasons as a JSON list of ``{"code", "params"}``
(outreach/reasons.py), so the console says them in the reader's language with Shanghai times. Text, as the other
JSON columns; NULL on existing rows, whose ``reason`` text is shown as before.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A nullable column: SQLite adds it in place (no table copy), PostgreSQL without rewriting the table.
    op.add_column("callback_tasks", sa.Column("reasons", sa.Text(), nullable=True))


def downgrade() -> None:
    # Not in batch mode: copying the table on SQLite would have to rebuild its partial unique index (open tasks'
    # phones) from reflection; SQLite 3.35+ drops an unindexed column in place.
    op.drop_column("callback_tasks", "reasons")
