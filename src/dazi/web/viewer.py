"""Data of the dataset viewer: the data files of a revision grouped by split, and one page of one file's rows.

Splits follow the Hugging Face convention: a file whose name or folder says ``train``, ``test`` or
``validation`` (``valid``, ``val``, ``dev``, ``eval``…) belongs to that split; when no file says so,
every data file is ``train``. Rows come from ``tables`` (pyarrow, ranged reads, cached), computed
lazily on the first visit.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from dazi.accounts.services import Actor
from dazi.errors import NotFound
from dazi.hub import Hub
from dazi.repos import services as repos
from dazi.repos.git import ObjectStore
from dazi.repos.names import check_path
from dazi.repos.services import Entry
from dazi.web import tables
from dazi.web.repo_view import RepoHeader, header

SPLIT_ORDER = ("train", "validation", "test")
_SPLIT_WORDS = {
    "train": ("train", "training"),
    "validation": ("validation", "valid", "val", "dev"),
    "test": ("test", "testing", "eval", "evaluation"),
}
_OTHER_DATA = (".json", ".arrow", ".feather", ".avro", ".xlsx", ".xls", ".txt", ".zip", ".tar", ".gz", ".zst",
               ".xml", ".h5", ".hdf5", ".npy", ".npz", ".sqlite", ".db", ".orc", ".lance")  # fmt: skip
MAX_FILES = 500


@dataclass
class DataFile:
    path: str
    split: str
    kind: str | None  # a ``tables.FORMATS`` value, or None: not something the viewer can show
    entry: Entry


@dataclass
class Split:
    name: str
    files: list[DataFile] = field(default_factory=list)


@dataclass
class ViewerPage:
    header: RepoHeader
    splits: list[Split]
    current: DataFile | None
    rows: tables.Rows | None
    page: int

    @property
    def has_next(self) -> bool:
        rows = self.rows
        return rows is not None and not rows.error and rows.offset + len(rows.rows) < rows.rows_read

    @property
    def last_page(self) -> int:
        rows = self.rows
        return max(1, -(-rows.rows_read // tables.PAGE_ROWS)) if rows is not None else 1


def split_of(path: str) -> str | None:
    """The split a path names (``data/train-00000-of-00002.parquet`` → ``train``), or None."""
    words = set(re.split(r"[^a-z]+", path.lower()))
    for split in SPLIT_ORDER:
        if words & set(_SPLIT_WORDS[split]):
            return split
    return None


def data_files(entries: list[Entry]) -> list[Split]:
    """The data files among ``entries`` (a recursive listing), grouped by split in the usual order."""
    files = []
    for entry in entries:
        name = entry.path.rsplit("/", 1)[-1].lower()
        if entry.type != "file" or name.startswith("."):
            continue
        kind = tables.format_of(entry.path)
        if kind is None and not name.endswith(_OTHER_DATA):
            continue
        files.append(DataFile(entry.path, split_of(entry.path) or "", kind, entry))
    if not any(f.split for f in files):
        for f in files:
            f.split = "train"
    groups: dict[str, Split] = {}
    for f in sorted(files[:MAX_FILES], key=lambda f: f.path)[:MAX_FILES]:
        groups.setdefault(f.split or "train", Split(f.split or "train")).files.append(f)
    order = {name: i for i, name in enumerate(SPLIT_ORDER)}
    return sorted(groups.values(), key=lambda s: (order.get(s.name, len(order)), s.name))


def viewer_page(hub: Hub, actor: Actor | None, repo_id: str, rev: str, path: str, page: int) -> ViewerPage:
    if path:
        check_path(path)
    with hub.db.read() as session:
        repo = repos.get_repo_for(session, actor, "dataset", repo_id)
        oid = repos.resolve_revision(session, repo, rev)
        splits = data_files(repos.list_tree(session, repo, oid, "", True))
        top = header(session, repo, "viewer", rev)
    shown = [f for s in splits for f in s.files]
    current = next((f for f in shown if f.path == path), None) if path else None
    if current is None and not path:
        current = next((f for f in shown if f.kind), None)
    if current is None and path:
        raise NotFound("No such data file.")
    rows = None
    if current is not None and current.kind is not None:
        rows = tables.read_rows(_cache_key(current.entry), current.kind, current.entry.size,
                                _reader(hub, repo.id, current.entry), page)
    return ViewerPage(top, splits, current, rows, page)


def _cache_key(entry: Entry) -> str:
    return f"lfs:{entry.lfs_oid}" if entry.lfs_oid else f"git:{entry.oid}"


def _reader(hub: Hub, repo_pk: int, entry: Entry) -> tables.Reader:
    """Ranged reads of the file's content: the blob store for LFS files, the git blob (read once) otherwise."""
    if entry.lfs_oid:
        digest = entry.lfs_oid

        def read_lfs(start: int, end: int) -> bytes:
            return b"".join(hub.blobs.iter_range(digest, start, end))

        return read_lfs
    loaded: list[bytes] = []

    def read_git(start: int, end: int) -> bytes:
        if not loaded:
            with hub.db.read() as session:
                loaded.append(ObjectStore(session, repo_pk).blob_data(entry.oid))
        return loaded[0][start:end]

    return read_git

