"""indexes for the center's figures (reports/indexes.py)

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-26 05:00:00

Written by hand. No new table: the dashboard reads the period's cases and, over their band of ids, each child
table from these covering indexes alone (reports/figures.py).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

HELD = sa.text("kind IN ('stop_payment', 'freeze') AND held_amount IS NOT NULL")
DONE = sa.text("status = 'done'")


def upgrade() -> None:
    op.create_index("ix_cases_figures", "cases", ["received_at", "channel", "fraud_type", "id"])
    op.create_index("ix_case_transfers_figures", "case_transfers", ["case_id", "currency", "amount"])
    op.create_index("ix_bank_instructions_figures", "bank_instructions", ["case_id", "kind", "currency"],
                    postgresql_include=["held_amount", "answered_at", "bank_code", "account"],
                    postgresql_where=HELD, sqlite_where=HELD)
    op.create_index("ix_carrier_instructions_figures", "carrier_instructions", ["case_id", "action", "number"],
                    postgresql_where=DONE, sqlite_where=DONE)


def downgrade() -> None:
    op.drop_index("ix_carrier_instructions_figures", table_name="carrier_instructions")
    op.drop_index("ix_bank_instructions_figures", table_name="bank_instructions")
    op.drop_index("ix_case_transfers_figures", table_name="case_transfers")
    op.drop_index("ix_cases_figures", table_name="cases")
