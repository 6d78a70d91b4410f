"""likes

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-24 20:00:00

- ``repo_likes``: one row per (user, repo) a user has liked (``dazi.likes``); ``repos.likes`` is the
  count kept in step with it. Existing counts are reset to the (empty) table's counts.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import dazi.db

revision: str = '0005'
down_revision: str | None = '0004'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('repo_likes',
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('repo_id', sa.Integer(), nullable=False),
    sa.Column('created_at', dazi.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['repo_id'], ['repos.id'], name=op.f('fk_repo_likes_repo_id_repos'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_repo_likes_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('user_id', 'repo_id', name=op.f('pk_repo_likes'))
    )
    with op.batch_alter_table('repo_likes', schema=None) as batch_op:
        batch_op.create_index('ix_repo_likes_repo_id_created_at', ['repo_id', 'created_at'], unique=False)
        batch_op.create_index('ix_repo_likes_user_id_created_at', ['user_id', 'created_at'], unique=False)
    op.execute(sa.text('UPDATE repos SET likes = 0'))


def downgrade() -> None:
    with op.batch_alter_table('repo_likes', schema=None) as batch_op:
        batch_op.drop_index('ix_repo_likes_user_id_created_at')
        batch_op.drop_index('ix_repo_likes_repo_id_created_at')
    op.drop_table('repo_likes')
