"""Liking and unliking repos, and who likes what.

``like`` and ``unlike`` are idempotent; each changes ``Repo.likes`` by one in the same transaction
only when it changed a row, with an SQL increment (no lost updates between concurrent requests).
Lists only ever show repos the viewer may read (``listing.visible``).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, delete, func, select, update
from sqlalchemy.orm import Session

from dazi.accounts.models import Namespace, User
from dazi.accounts.services import Actor
from dazi.db import upsert, utcnow
from dazi.errors import Forbidden, NotFound, Unauthorized
from dazi.likes.models import RepoLike
from dazi.repos import listing
from dazi.repos import services as repos
from dazi.repos.models import Repo


@dataclass(frozen=True)
class Liked:
    repo: Repo
    liked_at: dt.datetime


def _liker(actor: Actor | None) -> Actor:
    if actor is None:
        raise Unauthorized("You must be logged in to like a repository.")
    if not actor.can_write:
        raise Forbidden("Liking needs a write token (your token is a read token).")
    return actor


def _bump(session: Session, repo: Repo, delta: int) -> None:
    session.execute(
        update(Repo)
        .where(Repo.id == repo.id)
        .values(likes=Repo.likes + delta)
        .execution_options(synchronize_session=False)
    )
    session.refresh(repo, ["likes"])


def like(session: Session, actor: Actor | None, repo_type: str, repo_id: str) -> Repo:
    """Like a repo the actor may read; liking it again changes nothing."""
    user = _liker(actor)
    repo = repos.get_repo_for(session, user, repo_type, repo_id)
    stmt = upsert(session, RepoLike).values(user_id=user.user_id, repo_id=repo.id, created_at=utcnow())
    inserted = stmt.on_conflict_do_nothing(index_elements=["user_id", "repo_id"]).returning(RepoLike.repo_id)
    if session.execute(inserted).first() is not None:  # RETURNING: rowcount is unreliable here on psycopg
        _bump(session, repo, 1)
    return repo


def unlike(session: Session, actor: Actor | None, repo_type: str, repo_id: str) -> Repo:
    """Take a like back; unliking a repo one does not like changes nothing."""
    user = _liker(actor)
    repo = repos.get_repo_for(session, user, repo_type, repo_id)
    stmt = delete(RepoLike).where(RepoLike.user_id == user.user_id, RepoLike.repo_id == repo.id)
    if session.execute(stmt.returning(RepoLike.repo_id)).first() is not None:
        _bump(session, repo, -1)
    return repo


def has_liked(session: Session, actor: Actor | None, repo: Repo) -> bool:
    if actor is None:
        return False
    stmt = select(RepoLike.repo_id).where(RepoLike.user_id == actor.user_id, RepoLike.repo_id == repo.id)
    return session.execute(stmt).first() is not None


def _user_named(session: Session, name: str) -> User:
    stmt = select(User).join(Namespace, Namespace.id == User.namespace_id).where(Namespace.name_lower == name.lower())
    user = session.execute(stmt).scalar_one_or_none()
    if user is None:
        raise NotFound(f"No user named {name!r}.")
    return user


def _liked_query(user_id: int, viewer: Actor | None) -> Select[Any]:
    stmt = select(Repo, RepoLike.created_at).join(RepoLike, RepoLike.repo_id == Repo.id)
    return listing.visible(stmt.where(RepoLike.user_id == user_id), viewer)


def liked_repos(
    session: Session, viewer: Actor | None, user_name: str, *, offset: int = 0, limit: int | None = None
) -> list[Liked]:
    """What ``user_name`` likes, newest first, as far as ``viewer`` may see (private repos hidden)."""
    stmt = _liked_query(_user_named(session, user_name).id, viewer)
    stmt = stmt.order_by(RepoLike.created_at.desc(), Repo.id.desc()).offset(offset).limit(limit)
    return [Liked(row[0], row[1]) for row in session.execute(stmt).all()]


def count_liked(session: Session, viewer: Actor | None, user_id: int) -> int:
    stmt = listing.visible(
        select(func.count(Repo.id)).join(RepoLike, RepoLike.repo_id == Repo.id).where(RepoLike.user_id == user_id),
        viewer,
    )
    return int(session.execute(stmt).scalar_one())


def likers(
    session: Session, actor: Actor | None, repo_type: str, repo_id: str, offset: int, limit: int
) -> tuple[list[User], bool]:
    """Who likes a repo the actor may read, oldest like first; returns ``(page, has_more)``."""
    repo = repos.get_repo_for(session, actor, repo_type, repo_id)
    stmt = (
        select(User)
        .join(RepoLike, RepoLike.user_id == User.id)
        .where(RepoLike.repo_id == repo.id)
        .order_by(RepoLike.created_at, User.id)
        .offset(offset)
        .limit(limit + 1)
    )
    rows = list(session.execute(stmt).scalars().unique())
    return rows[:limit], len(rows) > limit
