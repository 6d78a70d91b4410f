"""Splitting raw request paths: revisions and paths arrive percent-encoded (``refs%2Fpr%2F1``).

Starlette decodes ``scope["path"]`` before routing, which makes ``refs%2Fpr%2F1``
look like three segments; these helpers split ``raw_path`` first and decode each
segment afterwards.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import unquote_to_bytes

from fastapi import Request

from dazi.errors import BadRequest, NotFound

API_MARKERS = frozenset(
    {
        "revision",
        "tree",
        "paths-info",
        "preupload",
        "commit",
        "commits",
        "refs",
        "branch",
        "tag",
        "settings",
        "auth-check",
        "xet-write-token",
        "xet-read-token",
        "discussions",
        "likers",
        "like",
        "lfs-files",
        "super-squash",
        "user-access-request",
        "duplicate",
        "commits-count",
        "treesize",
        "scan",
        "resource-group",
    }
)


def raw_segments(request: Request) -> list[str]:
    raw: bytes = request.scope.get("raw_path") or request.url.path.encode()
    path = raw.split(b"?", 1)[0]
    try:
        return [unquote_to_bytes(seg).decode("utf-8") for seg in path.split(b"/")[1:]]
    except UnicodeDecodeError:
        raise BadRequest("The URL is not valid UTF-8.") from None


@dataclass(frozen=True)
class RepoPath:
    repo_id: str
    marker: str | None  # None: the repo itself
    rest: list[str]


def split_repo_path(segments: list[str]) -> RepoPath:
    """``ns/name/<marker>/...`` (or ``name/<marker>/...`` for one-segment ids)."""
    if len(segments) >= 3 and segments[2] in API_MARKERS:
        return RepoPath(f"{segments[0]}/{segments[1]}", segments[2], segments[3:])
    if len(segments) == 2 and segments[1] in API_MARKERS:
        return RepoPath(segments[0], segments[1], [])
    if len(segments) >= 2 and segments[1] in API_MARKERS and segments[0]:
        return RepoPath(segments[0], segments[1], segments[2:])
    if len(segments) == 2 and all(segments):
        return RepoPath(f"{segments[0]}/{segments[1]}", None, [])
    if len(segments) == 1 and segments[0]:
        return RepoPath(segments[0], None, [])
    raise NotFound("Not found.")
