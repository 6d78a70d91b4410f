"""Shapes of the JSON objects the ModelScope clients read: repo details, file entries, revisions, commits.

Legacy ``/api/v1`` objects use PascalCase and epoch seconds; OpenAPI ``/openapi/v1`` objects use
snake_case and ISO-8601 times.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from dazi.mscompat import vocab
from dazi.repos.models import Repo
from dazi.repos.services import CommitInfo, Entry


def epoch(value: dt.datetime) -> int:
    return int(value.timestamp())


def iso(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def legacy_repo(repo: Repo, tags: list[str]) -> dict[str, Any]:
    """A repo as ``GET /api/v1/{models|datasets}/{owner}/{name}`` answers it (also the list items)."""
    item: dict[str, Any] = {
        "Id": repo.id,
        "Path": repo.namespace.name,
        "Owner": repo.namespace.name,
        "Name": repo.name,
        "ChineseName": repo.display_name,
        "Description": repo.description,
        "Visibility": vocab.visibility(repo),
        "License": repo.license or "",
        "Tasks": vocab.card_tasks(repo),
        "Tags": tags,
        "Downloads": repo.downloads_total,
        "Likes": repo.likes,
        "StorageSize": repo.used_storage,
        "CreatedAt": epoch(repo.created_at),
        "UpdatedAt": epoch(repo.last_modified),
        "LastUpdatedTime": epoch(repo.last_modified),
    }
    if repo.type == "dataset":
        item["Type"] = vocab.DATASET_TYPE_GENERAL
    return item


def openapi_repo(repo: Repo, tags: list[str]) -> dict[str, Any]:
    """A repo as ``GET /openapi/v1/{models|datasets}/{owner}/{name}`` answers it (also the list items)."""
    return {
        "id": repo.repo_id,
        "owner": repo.namespace.name,
        "name": repo.name,
        "display_name": repo.display_name or repo.name,
        "description": repo.description,
        "downloads": repo.downloads_total,
        "likes": repo.likes,
        "created_at": iso(repo.created_at),
        "last_modified": iso(repo.last_modified),
        "license": repo.license or "",
        "tags": tags,
        "tasks": vocab.card_tasks(repo),
        "private": repo.private,
        "gated": False,
        "login_required": repo.private,
        "file_size": repo.used_storage,
    }


def file_entry(entry: Entry, sha256: str, commit: str) -> dict[str, Any]:
    """One entry of ``…/repo/files`` and ``…/repo/tree`` (``Revision`` is the listed commit)."""
    is_dir = entry.type == "directory"
    return {
        "Name": entry.path.rsplit("/", 1)[-1],
        "Path": entry.path,
        "Type": "tree" if is_dir else "blob",
        "Size": 0 if is_dir else entry.size,
        "Sha256": "" if is_dir else sha256,
        "Revision": commit,
        "CommitId": commit,
        "BlobId": entry.oid,
        "IsLFS": bool(entry.lfs_oid),
        "Mode": "40000" if is_dir else "100644",
    }


def revision(name: str, commit: str, created: dt.datetime) -> dict[str, Any]:
    return {"Revision": name, "CommitId": commit, "CreatedAt": epoch(created)}


def commit(info: CommitInfo) -> dict[str, Any]:
    when = epoch(info.date)
    return {
        "Id": info.oid,
        "ShortId": info.oid[:8],
        "Title": info.title,
        "Message": f"{info.title}\n\n{info.message}" if info.message else info.title,
        "AuthorName": info.author_name,
        "AuthorEmail": info.author_email,
        "AuthoredDate": when,
        "CommitterName": info.author_name,
        "CommitterEmail": info.author_email,
        "CommittedDate": when,
        "CreatedAt": when,
        "ParentIds": info.parents,
    }
