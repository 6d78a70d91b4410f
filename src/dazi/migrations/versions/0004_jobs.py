"""jobs

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-24 19:30:00

- ``jobs``: durable rows of long-running work (model preparation, revision checks; later deployments,
  fine-tuning, evaluation), with status, progress, log, result, attempts and the lease of the job
  service supervising a running job (``dazi.jobs``).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import dazi.db

revision: str = '0004'
down_revision: str | None = '0003'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('jobs',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('kind', sa.String(length=64), nullable=False),
    sa.Column('owner_id', sa.Integer(), nullable=True),
    sa.Column('payload', sa.JSON(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('progress', sa.Float(), nullable=False),
    sa.Column('message', sa.String(length=500), nullable=False),
    sa.Column('log', sa.Text(), nullable=False),
    sa.Column('result', sa.JSON(), nullable=True),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('max_attempts', sa.Integer(), nullable=False),
    sa.Column('cancel_requested', sa.Boolean(), nullable=False),
    sa.Column('executor', sa.String(length=16), nullable=True),
    sa.Column('lease_owner', sa.String(length=200), nullable=True),
    sa.Column('lease_expires_at', dazi.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('created_at', dazi.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', dazi.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('started_at', dazi.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('finished_at', dazi.db.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['owner_id'], ['users.id'], name=op.f('fk_jobs_owner_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_jobs'))
    )
    with op.batch_alter_table('jobs', schema=None) as batch_op:
        batch_op.create_index('ix_jobs_status_created_at', ['status', 'created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_jobs_owner_id'), ['owner_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('jobs', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_jobs_owner_id'))
        batch_op.drop_index('ix_jobs_status_created_at')
    op.drop_table('jobs')
