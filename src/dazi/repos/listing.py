"""Listing, searching and counting the repos an actor may see (``GET /api/models``, the web lists).

Every query here starts from ``visible``: private repos never appear in lists, search results,
facet counts or lineage for those who may not read them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Select, false, func, literal, literal_column, or_, select
from sqlalchemy.orm import Session, aliased

from dazi.accounts.models import Namespace
from dazi.accounts.services import Actor
from dazi.repos import search
from dazi.repos.models import BaseModelLink, Repo, RepoTag

# Written with a literal 10 (not a bound parameter) so that it is the expression the sort index of
# migration 0006 covers: home, list and search pages then read the top rows from the index.
TRENDING = Repo.downloads_recent + literal_column("10") * Repo.likes
SORTS = {
    "downloads": Repo.downloads_recent,
    "downloadsAllTime": Repo.downloads_total,
    "likes": Repo.likes,
    "lastModified": Repo.last_modified,
    "last_modified": Repo.last_modified,
    "createdAt": Repo.created_at,
    "created_at": Repo.created_at,
    "trendingScore": TRENDING,
    "trending_score": TRENDING,
    "id": Repo.repo_id_lower,
}
# Tags with these prefixes are facets of their own (or internal), not free tags.
_PREFIXED_TAGS = ("license:", "language:", "dataset:", "base_model:", "task_categories:", "format:", "region:")


@dataclass
class RepoQuery:
    repo_type: str
    search: list[str] = field(default_factory=list)
    author: str | None = None
    filters: list[str] = field(default_factory=list)  # tags, all of which must be present
    sort: str | None = None
    ascending: bool = False
    offset: int = 0
    limit: int = 1000
    # Exact matches on the indexed card columns (the web facets; the HF API filters by tags).
    pipeline_tag: str | None = None
    library: str | None = None
    license: str | None = None


def visible(stmt: Select, actor: Actor | None) -> Select:  # type: ignore[type-arg]
    """Restrict a query on ``Repo`` to what the actor may read."""
    if actor is not None and actor.is_admin:
        return stmt
    if actor is None:
        return stmt.where(Repo.private == false())
    namespaces = [actor.namespace_id, *actor.org_roles]
    return stmt.where(or_(Repo.private == false(), Repo.namespace_id.in_(namespaces)))


def _filtered(session: Session, actor: Actor | None, q: RepoQuery, stmt: Select) -> Select:  # type: ignore[type-arg]
    stmt = visible(stmt.where(Repo.type == q.repo_type), actor)
    for term in q.search:
        if term:
            stmt = stmt.where(search.matches(session, term))
    if q.author:
        owner = select(Namespace.id).where(Namespace.name_lower == q.author.lower())
        stmt = stmt.where(Repo.namespace_id.in_(owner))
    for tag in q.filters:
        stmt = stmt.where(Repo.id.in_(select(RepoTag.repo_id).where(RepoTag.tag == tag)))
    for col, value in ((Repo.pipeline_tag, q.pipeline_tag), (Repo.library_name, q.library), (Repo.license, q.license)):
        if value:
            stmt = stmt.where(col == value)
    return stmt


def list_repos(session: Session, actor: Actor | None, q: RepoQuery) -> tuple[list[Repo], bool]:
    """One page of matching repos, sorted; returns ``(page, has_more)``."""
    stmt = _filtered(session, actor, q, select(Repo))
    column = SORTS.get(q.sort or "")
    if column is None:
        column = Repo.created_at
    if q.search or q.author or q.filters or q.pipeline_tag or q.library or q.license:
        # Selective filters: let the planner use the filter's own index and sort the few matches,
        # rather than walk a sort index of migration 0006 row by row (a form no index covers).
        column = func.coalesce(column, column)
    order = column.asc() if q.ascending else column.desc()
    stmt = stmt.order_by(order, Repo.id.desc()).offset(q.offset).limit(q.limit + 1)
    rows = list(session.execute(stmt).scalars().unique())
    return rows[: q.limit], len(rows) > q.limit


def count_repos(session: Session, actor: Actor | None, q: RepoQuery) -> int:
    stmt = _filtered(session, actor, q, select(func.count(Repo.id)))
    return int(session.execute(stmt).scalar_one())


def facets(session: Session, actor: Actor | None, q: RepoQuery, limit: int = 12) -> dict[str, list[tuple[str, int]]]:
    """The most frequent values of each facet among the repos that match ``q`` (drill-down counts)."""
    matching = _filtered(session, actor, q, select(Repo.id)).subquery()
    out: dict[str, list[tuple[str, int]]] = {}
    for name, col in (("pipeline_tag", Repo.pipeline_tag), ("library", Repo.library_name), ("license", Repo.license)):
        stmt: Any = select(col, func.count()).where(Repo.id.in_(select(matching.c.id)), col.is_not(None))
        out[name] = _top(session, stmt.group_by(col), limit)
    lang = select(func.substr(RepoTag.tag, 10), func.count()).where(
        RepoTag.repo_id.in_(select(matching.c.id)), RepoTag.tag.startswith("language:")
    )
    out["language"] = _top(session, lang.group_by(RepoTag.tag), limit)
    out["tag"] = _top(session, _free_tags(matching).group_by(RepoTag.tag), limit)
    owners = (
        select(Namespace.name, func.count())
        .join(Repo, Repo.namespace_id == Namespace.id)
        .where(Repo.id.in_(select(matching.c.id)))
        .group_by(Namespace.name)
    )
    out["owner"] = _top(session, owners, limit)
    return out


def _free_tags(matching: Any) -> Any:
    """Tags that are not facets of their own: no prefix, not the repo's task, library or a language."""
    language = aliased(RepoTag)
    stmt = (
        select(RepoTag.tag, func.count())
        .join(Repo, Repo.id == RepoTag.repo_id)
        .where(RepoTag.repo_id.in_(select(matching.c.id)))
        .where(RepoTag.tag != func.coalesce(Repo.pipeline_tag, ""), RepoTag.tag != func.coalesce(Repo.library_name, ""))
        .where(
            ~select(language.tag)
            .where(language.repo_id == RepoTag.repo_id, language.tag == literal("language:") + RepoTag.tag)
            .exists()
        )
    )
    for prefix in _PREFIXED_TAGS:
        stmt = stmt.where(RepoTag.tag.not_like(f"{prefix}%"))
    return stmt


def _top(session: Session, stmt: Any, limit: int) -> list[tuple[str, int]]:
    rows = session.execute(stmt.order_by(func.count().desc()).limit(limit)).all()
    return sorted(((str(v), int(n)) for v, n in rows if v), key=lambda r: (-r[1], r[0]))


def tags_for(session: Session, repo_ids: list[int]) -> dict[int, list[str]]:
    out: dict[int, list[str]] = {rid: [] for rid in repo_ids}
    if repo_ids:
        stmt = select(RepoTag.repo_id, RepoTag.tag).where(RepoTag.repo_id.in_(repo_ids)).order_by(RepoTag.tag)
        for rid, tag in session.execute(stmt):
            out[rid].append(tag)
    return out


# -- lineage (``base_model`` links) -------------------------------------------------------------------


def visible_by_ids(session: Session, actor: Actor | None, repo_type: str, ids_lower: list[str]) -> dict[str, Repo]:
    """The repos among ``ids_lower`` ("ns/name", lowercased) that exist and the actor may read."""
    if not ids_lower:
        return {}
    stmt = visible(select(Repo).where(Repo.type == repo_type, Repo.repo_id_lower.in_(ids_lower)), actor)
    return {r.repo_id_lower: r for r in session.execute(stmt).scalars().unique()}


def base_links(session: Session, repo: Repo) -> list[BaseModelLink]:
    """The bases a repo's card declares, in a stable order."""
    stmt = select(BaseModelLink).where(BaseModelLink.repo_id == repo.id).order_by(BaseModelLink.base_repo_id_lower)
    return list(session.execute(stmt).scalars())


def derivative_counts(session: Session, actor: Actor | None, repo: Repo) -> dict[str, int]:
    """How many visible models declare ``repo`` as a base, by relation (``None`` → ``finetune``)."""
    stmt = visible(
        select(BaseModelLink.relation, func.count())
        .join(Repo, Repo.id == BaseModelLink.repo_id)
        .where(BaseModelLink.base_repo_id_lower == repo.repo_id_lower, Repo.type == "model"),
        actor,
    ).group_by(BaseModelLink.relation)
    counts: dict[str, int] = {}
    for relation, n in session.execute(stmt):
        key = relation or "finetune"
        counts[key] = counts.get(key, 0) + int(n)
    return counts


def derivatives(
    session: Session, actor: Actor | None, repo: Repo, relation: str | None, limit: int
) -> tuple[list[Repo], bool]:
    """Visible models derived from ``repo`` (one relation, or all), most downloaded first."""
    links = select(BaseModelLink.repo_id).where(BaseModelLink.base_repo_id_lower == repo.repo_id_lower)
    if relation == "finetune":
        links = links.where(or_(BaseModelLink.relation == "finetune", BaseModelLink.relation.is_(None)))
    elif relation:
        links = links.where(BaseModelLink.relation == relation)
    stmt = visible(select(Repo).where(Repo.type == "model", Repo.id.in_(links)), actor)
    stmt = stmt.order_by(Repo.downloads_recent.desc(), Repo.id.desc()).limit(limit + 1)
    rows = list(session.execute(stmt).scalars().unique())
    return rows[:limit], len(rows) > limit
