"""sort indexes for lists

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-24 20:45:00

Home, list and search pages sort the repos of one type that a visitor may see by trending score
(``downloads_recent + 10 * likes``), by creation time or by recent downloads. Without an index
each page scanned and sorted every visible repo; with ``(type, private, <sort key>, id)`` the
database reads the first rows of the index for anonymous visitors and stops at the page size.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0006'
down_revision: str | None = '0005'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_INDEXES: dict[str, list[str | sa.TextClause]] = {
    'ix_repos_sort_trending': ['type', 'private', sa.text('(downloads_recent + 10 * likes)'), 'id'],
    'ix_repos_sort_created': ['type', 'private', 'created_at', 'id'],
    'ix_repos_sort_downloads': ['type', 'private', 'downloads_recent', 'id'],
}


def upgrade() -> None:
    for name, columns in _INDEXES.items():
        op.create_index(name, 'repos', columns, unique=False)


def downgrade() -> None:
    for name in _INDEXES:
        op.drop_index(name, table_name='repos')
