"""returns, acknowledgements, hold times and expiry alarms on bank instructions

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-26 06:30:00

Written by hand.
- ``acknowledged_at`` (instruction and outbox message): a bank may say "received" (Ack) before it answers; the timeline shows both.
- ``held_at``: when money was first held; a renewal's answer must not move it (the first-stop figure uses it).
- ``alarm_for``: the expiry an alarm was raised for, so each term alarms once.
- the figures' covering index carries ``held_at`` instead of ``answered_at``.
- a Return (资金返还) is an instruction of kind ``return`` against a hold (``target_instruction_id``), paying
  ``returned_amount`` to the victim's ``payee_*`` account on one ``basis``; a pro-rata return waits for its
  public notice (``notice_until``) and the bank executes it by ``due_at`` (3 working days).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import fanzha.storage.types

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

RETURNED = sa.text("kind = 'return' AND returned_amount IS NOT NULL")
HELD = sa.text("kind IN ('stop_payment', 'freeze') AND held_amount IS NOT NULL")


def _figures_index(time_column: str) -> None:
    # The first-stop figure reads the first hold time from the index alone (reports/figures.py).
    op.create_index("ix_bank_instructions_figures", "bank_instructions", ["case_id", "kind", "currency"],
                    postgresql_include=["held_amount", time_column, "bank_code", "account"],
                    postgresql_where=HELD, sqlite_where=HELD)


def upgrade() -> None:
    with op.batch_alter_table("bank_instructions") as batch_op:
        batch_op.add_column(sa.Column("acknowledged_at", fanzha.storage.types.UTCDateTime(timezone=True),
                                      nullable=True))
        batch_op.add_column(sa.Column("held_at", fanzha.storage.types.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("alarm_for", fanzha.storage.types.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("target_instruction_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("payee_account", sa.String(40), nullable=True))
        batch_op.add_column(sa.Column("payee_bank", sa.String(64), nullable=True))
        batch_op.add_column(sa.Column("payee_name", sa.String(64), nullable=True))
        batch_op.add_column(sa.Column("basis", sa.String(24), nullable=True))
        batch_op.add_column(sa.Column("notice_until", fanzha.storage.types.UTCDateTime(timezone=True),
                                      nullable=True))
        batch_op.add_column(sa.Column("due_at", fanzha.storage.types.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("returned_amount", fanzha.storage.types.Money(), nullable=True))
        batch_op.create_foreign_key("fk_bank_instructions_target", "bank_instructions",
                                    ["target_instruction_id"], ["id"], ondelete="CASCADE")
        batch_op.create_index("ix_bank_instructions_target", ["target_instruction_id"])
    with op.batch_alter_table("outbox") as batch_op:
        batch_op.add_column(sa.Column("acknowledged_at", fanzha.storage.types.UTCDateTime(timezone=True),
                                      nullable=True))
    # Holds answered before this revision: the last answer time is the best record of when money was held.
    op.execute("UPDATE bank_instructions SET held_at = answered_at "
               "WHERE kind IN ('stop_payment', 'freeze') AND held_amount IS NOT NULL")
    op.drop_index("ix_bank_instructions_figures", table_name="bank_instructions")
    _figures_index("held_at")
    op.create_index("ix_bank_instructions_returns", "bank_instructions", ["case_id", "currency"],
                    postgresql_include=["returned_amount"], postgresql_where=RETURNED, sqlite_where=RETURNED)


def downgrade() -> None:
    op.drop_index("ix_bank_instructions_returns", table_name="bank_instructions")
    op.drop_index("ix_bank_instructions_figures", table_name="bank_instructions")
    _figures_index("answered_at")
    with op.batch_alter_table("outbox") as batch_op:
        batch_op.drop_column("acknowledged_at")
    with op.batch_alter_table("bank_instructions") as batch_op:
        batch_op.drop_index("ix_bank_instructions_target")
        batch_op.drop_constraint("fk_bank_instructions_target", type_="foreignkey")
        for column in ("returned_amount", "due_at", "notice_until", "basis", "payee_name", "payee_bank",
                       "payee_account", "target_instruction_id", "alarm_for", "held_at", "acknowledged_at"):
            batch_op.drop_column(column)
