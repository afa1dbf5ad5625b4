"""callback queue (劝阻): tasks, call attempts, dedupe keys

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-27 10:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import fanzha.storage.types

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None

OPEN_ONLY = sa.text("status = 'open'")


def upgrade() -> None:
    op.create_table('callback_tasks',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('phone', sa.String(length=32), nullable=False),
    sa.Column('grade', sa.String(length=8), nullable=False),
    sa.Column('grade_rank', sa.Integer(), nullable=False),
    sa.Column('source', sa.String(length=16), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('fraud_type', sa.String(length=32), nullable=True),
    sa.Column('case_number', sa.String(length=32), nullable=True),
    sa.Column('flagged_number', sa.String(length=32), nullable=True),
    sa.Column('on_call', sa.Boolean(), nullable=False),
    sa.Column('on_call_since', fanzha.storage.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', fanzha.storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('claimed_by_id', sa.Integer(), nullable=True),
    sa.Column('claimed_at', fanzha.storage.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('lease_until', fanzha.storage.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('closed_by_id', sa.Integer(), nullable=True),
    sa.Column('closed_at', fanzha.storage.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('report_case_number', sa.String(length=32), nullable=True),
    sa.Column('station_org_id', sa.Integer(), nullable=True),
    sa.Column('created_at', fanzha.storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', fanzha.storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['claimed_by_id'], ['users.id'], name=op.f('fk_callback_tasks_claimed_by_id_users')),
    sa.ForeignKeyConstraint(['closed_by_id'], ['users.id'], name=op.f('fk_callback_tasks_closed_by_id_users')),
    sa.ForeignKeyConstraint(['station_org_id'], ['organisations.id'], name=op.f('fk_callback_tasks_station_org_id_organisations')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_callback_tasks'))
    )
    with op.batch_alter_table('callback_tasks', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_callback_tasks_phone'), ['phone'], unique=False)
        batch_op.create_index('ix_callback_tasks_queue', ['status', 'next_attempt_at'], unique=False)
        batch_op.create_index('ix_callback_tasks_closed', ['status', 'closed_at'], unique=False)
        # One open task per person: a second source raises the open task instead of queueing them twice.
        batch_op.create_index('uq_callback_tasks_open_phone', ['phone'], unique=True,
                              sqlite_where=OPEN_ONLY, postgresql_where=OPEN_ONLY)

    op.create_table('callback_attempts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('task_id', sa.Integer(), nullable=False),
    sa.Column('outcome', sa.String(length=16), nullable=False),
    sa.Column('agent_id', sa.Integer(), nullable=False),
    sa.Column('at', fanzha.storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('retry_at', fanzha.storage.types.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['agent_id'], ['users.id'], name=op.f('fk_callback_attempts_agent_id_users')),
    sa.ForeignKeyConstraint(['task_id'], ['callback_tasks.id'], name=op.f('fk_callback_attempts_task_id_callback_tasks'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_callback_attempts'))
    )
    with op.batch_alter_table('callback_attempts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_callback_attempts_task_id'), ['task_id'], unique=False)

    op.create_table('callback_task_keys',
    sa.Column('key', sa.String(length=160), nullable=False),
    sa.Column('task_id', sa.Integer(), nullable=False),
    sa.Column('created_at', fanzha.storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['task_id'], ['callback_tasks.id'], name=op.f('fk_callback_task_keys_task_id_callback_tasks'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('key', name=op.f('pk_callback_task_keys'))
    )
    with op.batch_alter_table('callback_task_keys', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_callback_task_keys_task_id'), ['task_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('callback_task_keys', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_callback_task_keys_task_id'))
    op.drop_table('callback_task_keys')
    with op.batch_alter_table('callback_attempts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_callback_attempts_task_id'))
    op.drop_table('callback_attempts')
    with op.batch_alter_table('callback_tasks', schema=None) as batch_op:
        batch_op.drop_index('uq_callback_tasks_open_phone')
        batch_op.drop_index('ix_callback_tasks_closed')
        batch_op.drop_index('ix_callback_tasks_queue')
        batch_op.drop_index(batch_op.f('ix_callback_tasks_phone'))
    op.drop_table('callback_tasks')
