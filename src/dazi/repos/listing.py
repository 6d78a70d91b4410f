"""Listing and filtering repos the actor may see (``GET /api/models`` and friends)."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import Select, false, or_, select
from sqlalchemy.orm import Session

from dazi.accounts.models import Namespace
from dazi.accounts.services import Actor
from dazi.repos.models import Repo, RepoTag

SORTS = {
    "downloads": Repo.downloads_recent,
    "downloadsAllTime": Repo.downloads_total,
    "likes": Repo.likes,
    "lastModified": Repo.last_modified,
    "last_modified": Repo.last_modified,
    "createdAt": Repo.created_at,
    "created_at": Repo.created_at,
    "trendingScore": Repo.downloads_recent + 10 * Repo.likes,
    "trending_score": Repo.downloads_recent + 10 * Repo.likes,
    "id": Repo.repo_id_lower,
}


@dataclass
class RepoQuery:
    repo_type: str
    search: list[str] = field(default_factory=list)
    author: str | None = None
    filters: list[str] = field(default_factory=list)
    sort: str | None = None
    ascending: bool = False
    offset: int = 0
    limit: int = 1000


def visible(stmt: Select, actor: Actor | None) -> Select:  # type: ignore[type-arg]
    """Restrict a query on ``Repo`` to what the actor may read."""
    if actor is not None and actor.is_admin:
        return stmt
    if actor is None:
        return stmt.where(Repo.private == false())
    namespaces = [actor.namespace_id, *actor.org_roles]
    return stmt.where(or_(Repo.private == false(), Repo.namespace_id.in_(namespaces)))


def list_repos(session: Session, actor: Actor | None, q: RepoQuery) -> tuple[list[Repo], bool]:
    stmt = visible(select(Repo).where(Repo.type == q.repo_type), actor)
    for term in q.search:
        if term:
            stmt = stmt.where(Repo.repo_id_lower.contains(term.lower(), autoescape=True))
    if q.author:
        stmt = stmt.join(Namespace, Namespace.id == Repo.namespace_id).where(Namespace.name_lower == q.author.lower())
    for tag in q.filters:
        stmt = stmt.where(Repo.id.in_(select(RepoTag.repo_id).where(RepoTag.tag == tag)))
    column = SORTS.get(q.sort or "")
    if column is None:
        column = Repo.created_at
    order = column.asc() if q.ascending else column.desc()
    stmt = stmt.order_by(order, Repo.id.desc()).offset(q.offset).limit(q.limit + 1)
    rows = list(session.execute(stmt).scalars().unique())
    return rows[: q.limit], len(rows) > q.limit


def tags_for(session: Session, repo_ids: list[int]) -> dict[int, list[str]]:
    out: dict[int, list[str]] = {rid: [] for rid in repo_ids}
    if repo_ids:
        stmt = select(RepoTag.repo_id, RepoTag.tag).where(RepoTag.repo_id.in_(repo_ids)).order_by(RepoTag.tag)
        for rid, tag in session.execute(stmt):
            out[rid].append(tag)
    return out
