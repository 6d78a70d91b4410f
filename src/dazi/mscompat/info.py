"""Read-side answers of the ModelScope routes: the user, repo details, lists, files, revisions, commits.

Each function opens one read transaction, loads the repo through ``get_repo_for`` (private repos are
"not found" to those who may not read them) and returns plain data for the route to wrap.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from dazi.accounts.models import User
from dazi.accounts.services import Actor
from dazi.errors import EntryNotFound, RepoNotFound, Unauthorized
from dazi.hub import Hub
from dazi.mscompat import serialize, vocab
from dazi.repos import listing
from dazi.repos import services as repos
from dazi.repos.models import Repo

MAX_COMMITS = 100_000  # history walked to count a repo's commits


def load_repo(session: Session, actor: Actor | None, repo_type: str, ref: str) -> Repo:
    """A repo by ``owner/name`` or by its numeric id (what ``Data.Id`` reports), if the actor may read it."""
    if ref.isdigit():
        found = session.get(Repo, int(ref))
        if found is None or found.type != repo_type:
            raise RepoNotFound(f"Repository not found: {repo_type} {ref!r}.")
        ref = found.repo_id
    return repos.get_repo_for(session, actor, repo_type, ref)


def current_user(hub: Hub, actor: Actor | None) -> dict[str, Any]:
    if actor is None:
        raise Unauthorized("Not logged in: send 'Authorization: Bearer <token>' or log in.")
    with hub.db.read() as session:
        user = session.get(User, actor.user_id)
        if user is None:
            raise Unauthorized("Invalid token: its user no longer exists.")
        return {
            "id": actor.user_id,
            "username": actor.name,
            "email": user.email,
            "display_name": user.namespace.fullname or actor.name,
            "avatar_url": "",
            "is_admin": actor.is_admin,
        }


def repo_detail(
    hub: Hub, actor: Actor | None, repo_type: str, repo_id: str, revision: str | None, openapi: bool
) -> dict[str, Any]:
    """A repo's details; an explicit ``revision`` must exist (the old SDK asks for ``master``)."""
    with hub.db.read() as session:
        repo = load_repo(session, actor, repo_type, repo_id)
        if revision:
            repos.resolve_revision(session, repo, vocab.hub_revision(session, repo, revision))
        tags = repos.tags_of(session, repo)
        return serialize.openapi_repo(repo, tags) if openapi else serialize.legacy_repo(repo, tags)


@dataclass
class ListQuery:
    repo_type: str
    owner: str | None = None
    search: str | None = None
    sort: str | None = None
    tags: list[str] = field(default_factory=list)
    page: int = 1
    size: int = 10


def list_repos(hub: Hub, actor: Actor | None, q: ListQuery, openapi: bool) -> tuple[list[dict[str, Any]], int]:
    """One page of the repos the actor may see, and how many match in all."""
    query = listing.RepoQuery(
        repo_type=q.repo_type,
        search=[q.search] if q.search else [],
        author=q.owner,
        filters=q.tags,
        sort=q.sort if q.sort in listing.SORTS else None,
        offset=(q.page - 1) * q.size,
        limit=q.size,
    )
    shape = serialize.openapi_repo if openapi else serialize.legacy_repo
    with hub.db.read() as session:
        rows, _more = listing.list_repos(session, actor, query)
        tags = listing.tags_for(session, [r.id for r in rows])
        total = listing.count_repos(session, actor, query)
        return [shape(r, tags[r.id]) for r in rows], total


def list_files(
    hub: Hub,
    actor: Actor | None,
    repo_type: str,
    ref: str,
    revision: str | None,
    root: str,
    recursive: bool,
    page: tuple[int, int] | None = None,
) -> list[dict[str, Any]]:
    """Entries under ``root`` (all of them, or page ``(number, size)``); a missing ``root`` lists nothing."""
    with hub.db.read() as session:
        repo = load_repo(session, actor, repo_type, ref)
        commit = repos.resolve_revision(session, repo, vocab.hub_revision(session, repo, revision))
        try:
            entries = repos.list_tree(session, repo, commit, root.strip("/"), recursive)
        except EntryNotFound:
            entries = []
        if page is not None:
            number, size = page
            entries = entries[(number - 1) * size : number * size]
        hashes = repos.content_sha256s(session, repo, entries)
        return [serialize.file_entry(e, hashes.get(e.oid, ""), commit) for e in entries]


def revisions(hub: Hub, actor: Actor | None, repo_type: str, repo_id: str, end_time: int | None) -> dict[str, Any]:
    """``RevisionMap``: branches (the default first) and tags (newest first, optionally up to ``end_time``)."""
    with hub.db.read() as session:
        repo = repos.get_repo_for(session, actor, repo_type, repo_id)
        real_master = vocab.has_master(session, repo)
        branches, tags = [], []
        for ref, commit in repos.peeled_refs(session, repo):
            kind, _, name = ref.name.removeprefix("refs/").partition("/")
            if kind == "heads":
                branches.append((name != repos.DEFAULT_BRANCH, vocab.ms_branch(name, real_master), commit, ref))
            elif kind == "tags" and (end_time is None or serialize.epoch(ref.updated_at) <= end_time):
                tags.append((ref.updated_at, name, commit, ref))
    branch_items = [serialize.revision(name, commit, ref.updated_at) for _, name, commit, ref in sorted(branches)]
    tags.sort(key=lambda t: (t[0], t[1]), reverse=True)
    tag_items = [serialize.revision(name, commit, when) for when, name, commit, _ in tags]
    return {"RevisionMap": {"Branches": branch_items, "Tags": tag_items}}


def commits(
    hub: Hub, actor: Actor | None, repo_type: str, repo_id: str, ref: str | None, page: int, size: int
) -> tuple[list[dict[str, Any]], int]:
    """One page of the history of ``ref`` (newest first) and the number of commits in it."""
    with hub.db.read() as session:
        repo = repos.get_repo_for(session, actor, repo_type, repo_id)
        history, _more = repos.list_commits(session, repo, vocab.hub_revision(session, repo, ref), 0, MAX_COMMITS)
    return [serialize.commit(c) for c in history[(page - 1) * size : page * size]], len(history)


def hub_revision(hub: Hub, actor: Actor | None, repo_type: str, repo_id: str, revision: str | None) -> str:
    """The hub revision a ModelScope ``Revision`` names in this repo (``master`` → ``main``)."""
    with hub.db.read() as session:
        return vocab.hub_revision(session, repos.get_repo_for(session, actor, repo_type, repo_id), revision)


def check_readable(hub: Hub, actor: Actor | None, repo_type: str, repo_id: str) -> None:
    with hub.db.read() as session:
        repos.get_repo_for(session, actor, repo_type, repo_id)
