"""Repo info, listings and history answers for the Hugging Face routes (read side)."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy.orm import Session

from dazi.accounts.services import Actor
from dazi.hfcompat.serialize import commit_item, hf_date, repo_summary, sibling, tree_entry
from dazi.hub import Hub
from dazi.likes import services as likes
from dazi.repos import listing
from dazi.repos import services as repos
from dazi.repos.models import Repo


def _config(session: Session, repo: Repo, sha: str) -> dict[str, Any] | None:
    raw = repos.read_small_file(session, repo, sha, "config.json")
    if raw is None or len(raw) > 1_000_000:
        return None
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return None
    if not isinstance(data, dict):
        return None
    keep = ("architectures", "model_type", "tokenizer_config", "task_specific_params")
    return {k: data[k] for k in keep if k in data}


def repo_info(
    hub: Hub, actor: Actor | None, repo_type: str, repo_id: str, rev: str | None, blobs: bool
) -> dict[str, Any]:
    with hub.db.read() as session:
        repo = repos.get_repo_for(session, actor, repo_type, repo_id)
        sha = repos.resolve_revision(session, repo, rev or repos.DEFAULT_BRANCH)
        files = [e for e in repos.list_tree(session, repo, sha, "", True) if e.type == "file"]
        info = repo_summary(repo, repos.tags_of(session, repo))
        info.update(
            sha=sha,
            siblings=[sibling(e, blobs) for e in files],
            cardData=repo.card_data or {},
            usedStorage=repo.used_storage,
        )
        if repo.display_name:
            info["displayName"] = repo.display_name
        if repo_type == "model":
            config = _config(session, repo, sha)
            if config is not None:
                info["config"] = config
            info["spaces"] = []
            info["widgetData"] = []
        else:
            info["citation"] = repo.card_data.get("citation") if isinstance(repo.card_data, dict) else None
        return info


def list_page(
    hub: Hub, actor: Actor | None, query: listing.RepoQuery, full: bool, card_data: bool
) -> tuple[list[dict[str, Any]], bool]:
    with hub.db.read() as session:
        rows, more = listing.list_repos(session, actor, query)
        tags = listing.tags_for(session, [r.id for r in rows])
        items = []
        for repo in rows:
            item = repo_summary(repo, tags[repo.id])
            if card_data or full:
                item["cardData"] = repo.card_data or {}
            if full:
                sha = repos.branch_head(session, repo, repos.DEFAULT_BRANCH)
                item["sha"] = sha
                item["siblings"] = [
                    {"rfilename": e.path} for e in repos.list_tree(session, repo, sha, "", True) if e.type == "file"
                ]
            items.append(item)
        return items, more


def tree_page(
    hub: Hub,
    actor: Actor | None,
    repo_type: str,
    repo_id: str,
    rev: str,
    path: str,
    recursive: bool,
    offset: int,
    limit: int,
) -> tuple[list[dict[str, Any]], bool]:
    with hub.db.read() as session:
        repo = repos.get_repo_for(session, actor, repo_type, repo_id)
        sha = repos.resolve_revision(session, repo, rev)
        entries = repos.list_tree(session, repo, sha, path, recursive)
        page = entries[offset : offset + limit]
        return [tree_entry(e) for e in page], len(entries) > offset + limit


def paths_info(
    hub: Hub, actor: Actor | None, repo_type: str, repo_id: str, rev: str, paths: list[str]
) -> list[dict[str, Any]]:
    with hub.db.read() as session:
        repo = repos.get_repo_for(session, actor, repo_type, repo_id)
        sha = repos.resolve_revision(session, repo, rev)
        return [tree_entry(e) for e in repos.paths_info(session, repo, sha, paths)]


def commits_page(
    hub: Hub, actor: Actor | None, repo_type: str, repo_id: str, rev: str, offset: int, limit: int, formatted: bool
) -> tuple[list[dict[str, Any]], bool]:
    with hub.db.read() as session:
        repo = repos.get_repo_for(session, actor, repo_type, repo_id)
        page, more = repos.list_commits(session, repo, rev, offset, limit)
        return [commit_item(c, formatted) for c in page], more


def auth_check(hub: Hub, actor: Actor | None, repo_type: str, repo_id: str) -> None:
    """Raises RepoNotFound unless the actor may read the repo."""
    with hub.db.read() as session:
        repos.get_repo_for(session, actor, repo_type, repo_id)


def refs(hub: Hub, actor: Actor | None, repo_type: str, repo_id: str, include_prs: bool) -> dict[str, Any]:
    with hub.db.read() as session:
        repo = repos.get_repo_for(session, actor, repo_type, repo_id)
        out: dict[str, Any] = {"branches": [], "converts": [], "tags": []}
        for ref, commit in repos.peeled_refs(session, repo):
            kind, _, name = ref.name.removeprefix("refs/").partition("/")
            item = {"name": name, "ref": ref.name, "targetCommit": commit}
            if kind == "heads":
                out["branches"].append(item)
            elif kind == "tags":
                out["tags"].append(item)
        if include_prs:
            out["pullRequests"] = []
        return out


def likers_page(
    hub: Hub, actor: Actor | None, repo_type: str, repo_id: str, offset: int, limit: int
) -> tuple[list[dict[str, Any]], bool]:
    with hub.db.read() as session:
        users, more = likes.likers(session, actor, repo_type, repo_id, offset, limit)
        items = [{"user": u.name, "fullname": u.namespace.fullname or u.name, "type": "user", "avatarUrl": ""}
                 for u in users]
    return items, more


def user_likes_page(
    hub: Hub, actor: Actor | None, user: str, offset: int, limit: int
) -> tuple[list[dict[str, Any]], bool]:
    """``GET /api/users/{user}/likes``: newest first; private repos only for viewers who may read them."""
    with hub.db.read() as session:
        rows = likes.liked_repos(session, actor, user, offset=offset, limit=limit + 1)
        items = [{"createdAt": hf_date(r.liked_at), "repo": {"name": r.repo.repo_id, "type": r.repo.type}}
                 for r in rows[:limit]]
    return items, len(rows) > limit
