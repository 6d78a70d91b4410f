"""URLs of the web pages (and of the protocol routes the pages link to), built in one place.

Revisions are percent-encoded as one segment (``refs%2Fpr%2F1``, ``feature%2Fx``), as the Hugging Face
routes expect; file paths keep their slashes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol
from urllib.parse import quote, urlencode

PREFIX = {"model": "", "dataset": "/datasets", "space": "/spaces"}
LIST_PAGE = {"model": "/models", "dataset": "/datasets"}


class RepoLike(Protocol):
    @property
    def type(self) -> str: ...

    @property
    def repo_id(self) -> str: ...


@dataclass(frozen=True)
class RepoRef:
    """A repo known by its type and id only (e.g. after a commit)."""

    type: str
    repo_id: str


def repo(r: RepoLike) -> str:
    return f"{PREFIX[r.type]}/{r.repo_id}"


def rev(value: str) -> str:
    return quote(value, safe="")


def path(value: str) -> str:
    return quote(value, safe="/")


def tree(r: RepoLike, revision: str = "main", folder: str = "") -> str:
    url = f"{repo(r)}/tree/{rev(revision)}"
    return f"{url}/{path(folder)}" if folder else url


def blob(r: RepoLike, revision: str, file: str) -> str:
    return f"{repo(r)}/blob/{rev(revision)}/{path(file)}"


def raw(r: RepoLike, revision: str, file: str) -> str:
    """The download route of the Hugging Face protocol (serves uploaded content inertly)."""
    return f"{repo(r)}/resolve/{rev(revision)}/{path(file)}"


def commits(r: RepoLike, revision: str = "main") -> str:
    return f"{repo(r)}/commits/{rev(revision)}"


def commit(r: RepoLike, oid: str) -> str:
    return f"{repo(r)}/commit/{oid}"


def lineage(r: RepoLike) -> str:
    return f"{repo(r)}/lineage"


def listing(repo_type: str, **params: str | int | None) -> str:
    query = {k: v for k, v in params.items() if v not in (None, "")}
    base = LIST_PAGE.get(repo_type, "/models")
    return f"{base}?{urlencode(query)}" if query else base


def namespace(name: str) -> str:
    return f"/{quote(name, safe='')}"


def viewer(r: RepoLike, revision: str = "main", file: str = "", page: int = 1) -> str:
    """The dataset viewer: one data file's rows (``file``), page ``page``."""
    query = urlencode({k: v for k, v in (("file", file), ("p", page)) if v and v != 1})
    url = f"{repo(r)}/viewer/{rev(revision)}"
    return f"{url}?{query}" if query else url
