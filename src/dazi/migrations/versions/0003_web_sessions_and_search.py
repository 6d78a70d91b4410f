"""web sessions and full-text search

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24 19:00:00

- ``web_sessions``: signed-in browsers of the web site (the cookie holds a secret, the row its sha256).
- ``repo_search``: the text search matches besides the repo id, indexed by trigrams so that Chinese
  substrings match: an FTS5 table with the ``trigram`` tokenizer on SQLite (kept in sync by triggers),
  ``pg_trgm`` GIN indexes on PostgreSQL (also on ``repos.repo_id_lower`` for id searches).
- Existing repos are indexed from the README of their default branch.
"""

from collections.abc import Sequence
import re

import sqlalchemy as sa
from alembic import op

import dazi.db

revision: str = '0003'
down_revision: str | None = '0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_SQLITE_FTS = [
    "CREATE VIRTUAL TABLE repo_search_fts USING fts5("
    "document, content='repo_search', content_rowid='repo_id', tokenize='trigram')",
    "CREATE TRIGGER repo_search_ai AFTER INSERT ON repo_search BEGIN "
    "INSERT INTO repo_search_fts(rowid, document) VALUES (new.repo_id, new.document); END",
    "CREATE TRIGGER repo_search_ad AFTER DELETE ON repo_search BEGIN "
    "INSERT INTO repo_search_fts(repo_search_fts, rowid, document) VALUES ('delete', old.repo_id, old.document); END",
    "CREATE TRIGGER repo_search_au AFTER UPDATE ON repo_search BEGIN "
    "INSERT INTO repo_search_fts(repo_search_fts, rowid, document) VALUES ('delete', old.repo_id, old.document); "
    "INSERT INTO repo_search_fts(rowid, document) VALUES (new.repo_id, new.document); END",
]
_POSTGRES_TRGM = [
    "CREATE EXTENSION IF NOT EXISTS pg_trgm",
    "CREATE INDEX ix_repo_search_document_trgm ON repo_search USING gin (document gin_trgm_ops)",
    "CREATE INDEX ix_repos_repo_id_lower_trgm ON repos USING gin (repo_id_lower gin_trgm_ops)",
]
_FRONT = re.compile(r"\A\ufeff?---[ \t]*\r?\n.*?^---[ \t]*$", re.S | re.M)


def upgrade() -> None:
    op.create_table('web_sessions',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('created_at', dazi.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('expires_at', dazi.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_web_sessions_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_web_sessions'))
    )
    with op.batch_alter_table('web_sessions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_web_sessions_expires_at'), ['expires_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_web_sessions_user_id'), ['user_id'], unique=False)

    op.create_table('repo_search',
    sa.Column('repo_id', sa.Integer(), nullable=False),
    sa.Column('document', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['repo_id'], ['repos.id'], name=op.f('fk_repo_search_repo_id_repos'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('repo_id', name=op.f('pk_repo_search'))
    )
    bind = op.get_bind()
    for statement in _SQLITE_FTS if bind.dialect.name == "sqlite" else _POSTGRES_TRGM:
        op.execute(statement)
    _backfill(bind)


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        for trigger in ("repo_search_ai", "repo_search_ad", "repo_search_au"):
            op.execute(f"DROP TRIGGER IF EXISTS {trigger}")
        op.execute("DROP TABLE IF EXISTS repo_search_fts")
    else:
        op.execute("DROP INDEX IF EXISTS ix_repos_repo_id_lower_trgm")
        op.execute("DROP INDEX IF EXISTS ix_repo_search_document_trgm")
    op.drop_table('repo_search')
    with op.batch_alter_table('web_sessions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_web_sessions_user_id'))
        batch_op.drop_index(batch_op.f('ix_web_sessions_expires_at'))
    op.drop_table('web_sessions')


# -- backfill: self-contained (raw rows + dulwich), so that later code changes cannot break it --------


def _backfill(bind: sa.engine.Connection) -> None:
    repos = bind.execute(sa.text(
        "SELECT r.id, r.display_name, r.description, f.target FROM repos r "
        "JOIN refs f ON f.repo_id = r.id AND f.name = 'refs/heads/main'"
    )).all()
    for repo_id, display_name, description, head in repos:
        tags = bind.execute(sa.text("SELECT tag FROM repo_tags WHERE repo_id = :r ORDER BY tag"), {"r": repo_id})
        readme = _readme(bind, repo_id, head)
        body = _FRONT.sub("", readme, count=1).lstrip("\r\n")
        parts = [display_name or "", description or "", " ".join(t for (t,) in tags), body]
        document = "\n".join(p for p in parts if p)[:200_000]
        bind.execute(sa.text("INSERT INTO repo_search (repo_id, document) VALUES (:r, :d)"),
                     {"r": repo_id, "d": document})


def _readme(bind: sa.engine.Connection, repo_id: int, commit_oid: str) -> str:
    from dulwich.objects import ShaFile

    def load(oid: str) -> ShaFile | None:
        row = bind.execute(sa.text("SELECT type_num, data FROM git_objects WHERE repo_id = :r AND oid = :o"),
                           {"r": repo_id, "o": oid}).first()
        return None if row is None else ShaFile.from_raw_string(row[0], bytes(row[1]), sha=oid.encode())  # type: ignore[arg-type]

    commit = load(commit_oid)
    tree = load(commit.tree.decode()) if commit is not None else None  # type: ignore[attr-defined]
    if tree is None:
        return ""
    try:
        _mode, sha = tree[b"README.md"]  # type: ignore[index]
    except KeyError:
        return ""
    blob = load(sha.decode())
    data = blob.as_raw_string() if blob is not None else b""
    if data.startswith(b"version https://git-lfs"):
        return ""
    return data.decode("utf-8", "replace")
