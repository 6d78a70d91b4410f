"""Running dazi's migrations on a throwaway database of the selected backend, up and down."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any


def fresh_database_url(hub_server: Any, tmp_path: Path) -> str:
    """An empty database on the selected backend (beside the session hub's, never the same one)."""
    url = hub_server.settings.database_url
    if not url:
        return f"sqlite:///{tmp_path / 'migration.db'}"
    import psycopg

    name = f"mig_{secrets.token_hex(4)}"
    server = url.rsplit("/", 1)[0]
    dsn = server.replace("postgresql+psycopg://", "postgresql://") + "/postgres"
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return f"{server}/{name}"


@contextmanager
def migrated_database(hub_server: Any, tmp_path: Path, owner: str) -> Iterator[tuple[Any, Any, Any]]:
    """A fresh database at head with user ``owner`` and its public model ``owner/m1``.

    Yields ``(alembic config, Database, actor)``; the test moves the revision up and down itself.
    """
    from alembic import command

    from dazi.accounts.services import actor_for_user, create_user
    from dazi.db import Database, alembic_config
    from dazi.repos.services import create_repo

    cfg = alembic_config(fresh_database_url(hub_server, tmp_path))
    command.upgrade(cfg, "head")
    db = Database(cfg.get_main_option("sqlalchemy.url").replace("%%", "%"))
    try:
        with db.write() as session:
            actor = actor_for_user(session, create_user(session, owner, f"{owner}@example.org", "password123"))
            create_repo(session, actor, "model", owner, "m1", private=False)
        yield cfg, db, actor
    finally:
        db.dispose()
