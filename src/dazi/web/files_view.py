"""Data of "files and versions": the tree browser, the file viewer, the commit list and one commit."""

from __future__ import annotations

from dataclasses import dataclass

from dazi.accounts.services import Actor
from dazi.hub import Hub
from dazi.repos import services as repos
from dazi.repos.git import ObjectStore
from dazi.repos.models import Repo
from dazi.repos.names import check_path
from dazi.repos.services import CommitInfo, Entry
from dazi.web import diffs, highlight, markup, safetensors
from dazi.web.repo_view import RepoHeader, header

COMMITS_PER_PAGE = 30
_IMAGES = (".png", ".jpg", ".jpeg", ".gif", ".webp")


@dataclass
class Crumb:
    name: str
    path: str


def crumbs(path: str) -> list[Crumb]:
    parts = [p for p in path.split("/") if p]
    return [Crumb(part, "/".join(parts[: i + 1])) for i, part in enumerate(parts)]


@dataclass
class TreePage:
    header: RepoHeader
    commit: CommitInfo
    path: str
    crumbs: list[Crumb]
    entries: list[Entry]

    @property
    def name(self) -> str:
        return self.path.rsplit("/", 1)[-1]


def tree_page(hub: Hub, actor: Actor | None, repo_type: str, repo_id: str, rev: str, path: str) -> TreePage:
    path = path.strip("/")
    if path:
        check_path(path)
    with hub.db.read() as session:
        repo = repos.get_repo_for(session, actor, repo_type, repo_id)
        oid = repos.resolve_revision(session, repo, rev)
        entries = repos.list_tree(session, repo, oid, path, False)
        commit = repos.commit_info(ObjectStore(session, repo.id), oid)
        top = header(session, repo, "files", rev)
    entries.sort(key=lambda e: (e.type != "directory", e.path.lower()))
    return TreePage(top, commit, path, crumbs(path), entries)


@dataclass
class BlobPage:
    header: RepoHeader
    commit: CommitInfo
    path: str
    crumbs: list[Crumb]
    entry: Entry
    kind: str  # "source" | "markdown" | "image" | "binary" | "large" | "lfs" | "empty"
    source: highlight.Source | None = None
    html: str = ""
    tensors: safetensors.TensorSummary | None = None


def blob_page(hub: Hub, actor: Actor | None, repo_type: str, repo_id: str, rev: str, path: str) -> BlobPage:
    check_path(path)
    with hub.db.read() as session:
        repo = repos.get_repo_for(session, actor, repo_type, repo_id)
        oid = repos.resolve_revision(session, repo, rev)
        entry = repos.file_entry(session, repo, oid, path)
        store = ObjectStore(session, repo.id)
        commit = repos.commit_info(store, oid)
        small = entry.lfs_oid is None and entry.size <= highlight.MAX_VIEW_BYTES
        data = store.blob_data(entry.oid) if small else None
        top = header(session, repo, "files", rev)
    page = BlobPage(top, commit, path, crumbs(path), entry, "lfs" if entry.lfs_oid else "large")
    if path.endswith(".safetensors"):
        page.tensors = (
            safetensors.from_blob(hub.blobs, entry.lfs_oid, entry.size)
            if entry.lfs_oid
            else safetensors.from_bytes(data or b"")
        )
    if path.lower().endswith(_IMAGES) and entry.size <= 20_000_000:
        page.kind = "image"
    elif data is not None:
        _describe(page, data, repo, rev)
    return page


def _describe(page: BlobPage, data: bytes, repo: Repo, rev: str) -> None:
    if not data:
        page.kind = "empty"
    elif highlight.is_binary(data):
        page.kind = "binary"
    elif page.path.lower().endswith((".md", ".markdown")):
        page.kind = "markdown"
        page.html = markup.render_markdown(data.decode("utf-8"), repo, rev, page.path)
    else:
        page.kind = "source"
        page.source = highlight.render_source(page.path, data)


@dataclass
class CommitsPage:
    header: RepoHeader
    commits: list[CommitInfo]
    page: int
    has_more: bool


def commits_page(hub: Hub, actor: Actor | None, repo_type: str, repo_id: str, rev: str, page: int) -> CommitsPage:
    page = max(1, min(page, 10_000))
    with hub.db.read() as session:
        repo = repos.get_repo_for(session, actor, repo_type, repo_id)
        items, more = repos.list_commits(session, repo, rev, (page - 1) * COMMITS_PER_PAGE, COMMITS_PER_PAGE)
        top = header(session, repo, "commits", rev)
    return CommitsPage(top, items, page, more)


@dataclass
class CommitPage:
    header: RepoHeader
    commit: CommitInfo
    diff: diffs.CommitDiff

    @property
    def additions(self) -> int:
        return sum(f.additions for f in self.diff.files)

    @property
    def deletions(self) -> int:
        return sum(f.deletions for f in self.diff.files)


def commit_page(hub: Hub, actor: Actor | None, repo_type: str, repo_id: str, sha: str) -> CommitPage:
    with hub.db.read() as session:
        repo = repos.get_repo_for(session, actor, repo_type, repo_id)
        oid = repos.resolve_revision(session, repo, sha)
        store = ObjectStore(session, repo.id)
        info = repos.commit_info(store, oid)
        diff = diffs.commit_diff(store, oid)
        top = header(session, repo, "commits", oid)
    return CommitPage(top, info, diff)
