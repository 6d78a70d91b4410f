"""Shapes of the JSON objects the Hugging Face clients read (repo info, tree entries, commits)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from dazi.repos.models import Repo
from dazi.repos.services import CommitInfo, Entry

URL_PREFIX = {"model": "", "dataset": "datasets/", "space": "spaces/"}
PLURAL = {"models": "model", "datasets": "dataset", "spaces": "space"}


def hf_date(value: dt.datetime) -> str:
    """``YYYY-MM-DDTHH:MM:SS.mmmZ``: the only date form the clients parse."""
    value = value.astimezone(dt.UTC)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def repo_url(base: str, repo: Repo) -> str:
    return f"{base}/{URL_PREFIX[repo.type]}{repo.repo_id}"


def repo_summary(repo: Repo, tags: list[str]) -> dict[str, Any]:
    """The fields of a listing item (and the start of repo info)."""
    item: dict[str, Any] = {
        "_id": f"{repo.id:024x}",
        "id": repo.repo_id,
        "author": repo.namespace.name,
        "private": repo.private,
        "gated": False,
        "disabled": False,
        "downloads": repo.downloads_recent,
        "downloadsAllTime": repo.downloads_total,
        "likes": repo.likes,
        "trendingScore": repo.downloads_recent + 10 * repo.likes,
        "tags": tags,
        "createdAt": hf_date(repo.created_at),
        "lastModified": hf_date(repo.last_modified),
    }
    if repo.type == "model":
        item["modelId"] = repo.repo_id
        if repo.pipeline_tag:
            item["pipeline_tag"] = repo.pipeline_tag
        if repo.library_name:
            item["library_name"] = repo.library_name
    elif repo.type == "dataset":
        item["description"] = repo.description
    return item


def sibling(entry: Entry, blobs: bool) -> dict[str, Any]:
    item: dict[str, Any] = {"rfilename": entry.path}
    if blobs:
        item["size"] = entry.size
        item["blobId"] = entry.oid
        if entry.lfs_oid:
            item["lfs"] = {"size": entry.lfs_size, "sha256": entry.lfs_oid, "pointerSize": entry.pointer_size}
    return item


def tree_entry(entry: Entry) -> dict[str, Any]:
    if entry.type == "directory":
        return {"type": "directory", "oid": entry.oid, "size": 0, "path": entry.path}
    item: dict[str, Any] = {"type": "file", "oid": entry.oid, "size": entry.size, "path": entry.path}
    if entry.lfs_oid:
        item["lfs"] = {"oid": entry.lfs_oid, "size": entry.lfs_size, "pointerSize": entry.pointer_size}
    return item


def commit_item(info: CommitInfo, formatted: bool) -> dict[str, Any]:
    item: dict[str, Any] = {
        "id": info.oid,
        "authors": [{"user": info.author_name}],
        "date": hf_date(info.date),
        "title": info.title,
        "message": info.message,
    }
    if formatted:
        import html

        item["formatted"] = {"title": html.escape(info.title), "message": html.escape(info.message)}
    return item
