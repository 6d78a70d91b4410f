"""Git objects kept in the database: the object store of one repo, trees, LFS pointers.

Objects are dulwich ``ShaFile``s stored in canonical form in ``git_objects``, so
their ids are exactly the ones git computes. Commits and trees are immutable and
content-addressed, which makes them safe to cache in-process across requests and
workers (the cache is keyed by repo and id, so one repo never sees another's).
"""

from __future__ import annotations

import re
import threading
import time
from collections import OrderedDict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from dulwich.objects import Blob, Commit, ShaFile, Tag, Tree
from sqlalchemy import select
from sqlalchemy.orm import Session

from dazi.db import upsert
from dazi.repos.models import GitObject

FILE_MODE = 0o100644
EXEC_MODE = 0o100755
LINK_MODE = 0o120000
DIR_MODE = 0o040000
SUBMODULE_MODE = 0o160000
TYPE_NUMS = {"commit": 1, "tree": 2, "blob": 3, "tag": 4}

LFS_SPEC = "https://git-lfs.github.com/spec/v1"
_POINTER_RE = re.compile(rb"^version https://git-lfs\.github\.com/spec/v1\noid sha256:([0-9a-f]{64})\nsize (\d+)\n$")


@dataclass(frozen=True)
class LfsPointer:
    oid: str  # sha256 hex
    size: int

    def to_bytes(self) -> bytes:
        return f"version {LFS_SPEC}\noid sha256:{self.oid}\nsize {self.size}\n".encode()

    @classmethod
    def parse(cls, data: bytes) -> LfsPointer | None:
        if len(data) > 200:
            return None
        m = _POINTER_RE.match(data)
        return cls(m.group(1).decode(), int(m.group(2))) if m else None


@dataclass(frozen=True)
class TreeItem:
    path: str
    mode: int
    oid: str

    @property
    def is_dir(self) -> bool:
        return self.mode == DIR_MODE


@dataclass(frozen=True)
class BlobInfo:
    oid: str
    size: int  # size of the git blob (the pointer, for LFS files)
    lfs: LfsPointer | None

    @property
    def content_size(self) -> int:
        return self.lfs.size if self.lfs else self.size


class _LRU:
    def __init__(self, capacity: int):
        self.capacity = capacity
        self._data: OrderedDict[tuple[int, str], ShaFile] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple[int, str]) -> ShaFile | None:
        with self._lock:
            obj = self._data.get(key)
            if obj is not None:
                self._data.move_to_end(key)
            return obj

    def put(self, key: tuple[int, str], obj: ShaFile) -> None:
        with self._lock:
            self._data[key] = obj
            self._data.move_to_end(key)
            while len(self._data) > self.capacity:
                self._data.popitem(last=False)


_CACHE = _LRU(50_000)
BATCH = 500  # object ids per batched query


def _hex(oid: str | bytes) -> str:
    return oid.decode("ascii") if isinstance(oid, bytes) else oid


class ObjectStore:
    """The git objects of one repo. Dulwich-compatible enough for ``dulwich.walk.Walker``."""

    def __init__(self, session: Session, repo_id: int):
        self.session = session
        self.repo_id = repo_id
        self._pending: dict[str, ShaFile] = {}

    # -- reading -----------------------------------------------------------------------

    def __contains__(self, oid: str | bytes) -> bool:
        key = _hex(oid)
        if key in self._pending or _CACHE.get((self.repo_id, key)) is not None:
            return True
        stmt = select(GitObject.oid).where(GitObject.repo_id == self.repo_id, GitObject.oid == key)
        return self.session.execute(stmt).first() is not None

    def __getitem__(self, oid: str | bytes) -> ShaFile:
        key = _hex(oid)
        obj = self._pending.get(key) or _CACHE.get((self.repo_id, key))
        if obj is not None:
            return obj
        row = self.session.execute(
            select(GitObject.type_num, GitObject.data).where(GitObject.repo_id == self.repo_id, GitObject.oid == key)
        ).first()
        if row is None:
            raise KeyError(key)
        obj = ShaFile.from_raw_string(row.type_num, row.data, sha=key.encode())  # type: ignore[arg-type]
        if row.type_num in (1, 2, 4):
            _CACHE.put((self.repo_id, key), obj)
        return obj

    def get_commit(self, oid: str) -> Commit:
        obj = self[oid]
        if not isinstance(obj, Commit):
            raise KeyError(oid)
        return obj

    def get_tree(self, oid: str) -> Tree:
        obj = self[oid]
        if not isinstance(obj, Tree):
            raise KeyError(oid)
        return obj

    def peel(self, oid: str) -> str:
        """Follow annotated tags to the object they point to."""
        obj = self[oid]
        while isinstance(obj, Tag):
            oid = _hex(obj.object[1])
            obj = self[oid]
        return oid

    def type_of(self, oid: str) -> int | None:
        row = self.session.execute(
            select(GitObject.type_num).where(GitObject.repo_id == self.repo_id, GitObject.oid == oid)
        ).first()
        return None if row is None else int(row[0])

    def types_of(self, oids: Iterable[str]) -> dict[str, int]:
        """The type of each of ``oids`` that the repo has (absent ones are left out), in batches."""
        return self._numbers(GitObject.type_num, oids)

    def sizes_of(self, oids: Iterable[str]) -> dict[str, int]:
        """The size of the canonical bytes of each of ``oids`` the repo has, in batches."""
        return self._numbers(GitObject.size, oids)

    def _numbers(self, column: Any, oids: Iterable[str]) -> dict[str, int]:
        out: dict[str, int] = {}
        for chunk in _chunks(oids):
            stmt = select(GitObject.oid, column).where(GitObject.repo_id == self.repo_id, GitObject.oid.in_(chunk))
            out.update((oid, int(value)) for oid, value in self.session.execute(stmt))
        return out

    def raw_many(self, oids: Iterable[str]) -> dict[str, tuple[int, bytes]]:
        """``oid -> (type_num, canonical bytes)`` for the objects the repo has, one query per batch."""
        out: dict[str, tuple[int, bytes]] = {}
        for chunk in _chunks(oids):
            stmt = select(GitObject.oid, GitObject.type_num, GitObject.data).where(
                GitObject.repo_id == self.repo_id, GitObject.oid.in_(chunk)
            )
            out.update((oid, (int(type_num), bytes(data))) for oid, type_num, data in self.session.execute(stmt))
        return out

    def get_many(self, oids: Iterable[str]) -> dict[str, ShaFile]:
        """Many objects at once: staged or cached ones first, the rest in batched queries."""
        out: dict[str, ShaFile] = {}
        misses = []
        for oid in dict.fromkeys(oids):
            obj = self._pending.get(oid) or _CACHE.get((self.repo_id, oid))
            if obj is None:
                misses.append(oid)
            else:
                out[oid] = obj
        for oid, (type_num, data) in self.raw_many(misses).items():
            obj = ShaFile.from_raw_string(type_num, data, sha=oid.encode())  # type: ignore[arg-type]
            if type_num in (1, 2, 4):
                _CACHE.put((self.repo_id, oid), obj)
            out[oid] = obj
        return out

    def commits_with_prefix(self, prefix: str, limit: int = 2) -> list[str]:
        stmt = (
            select(GitObject.oid)
            .where(GitObject.repo_id == self.repo_id, GitObject.type_num == 1, GitObject.oid.startswith(prefix))
            .limit(limit)
        )
        return [r[0] for r in self.session.execute(stmt)]

    def blob_infos(self, oids: Iterable[str]) -> dict[str, BlobInfo]:
        out: dict[str, BlobInfo] = {}
        for chunk in _chunks(oids):
            stmt = select(GitObject.oid, GitObject.size, GitObject.lfs_oid, GitObject.lfs_size).where(
                GitObject.repo_id == self.repo_id, GitObject.oid.in_(chunk)
            )
            for oid, size, lfs_oid, lfs_size in self.session.execute(stmt):
                lfs = LfsPointer(lfs_oid, int(lfs_size or 0)) if lfs_oid else None
                out[oid] = BlobInfo(oid, int(size), lfs)
        return out

    def blob_data(self, oid: str) -> bytes:
        obj = self[oid]
        if not isinstance(obj, Blob):
            raise KeyError(oid)
        return obj.as_raw_string()

    # -- trees ----------------------------------------------------------------------

    def iter_tree(self, tree_oid: str, prefix: str = "", recursive: bool = True) -> Iterator[TreeItem]:
        """Entries of a tree (directories too), depth-first, paths relative to the root."""
        for entry in self.get_tree(tree_oid).iteritems():
            name = entry.path.decode("utf-8", "surrogateescape")
            path = f"{prefix}{name}"
            item = TreeItem(path, entry.mode, _hex(entry.sha))
            yield item
            if recursive and entry.mode == DIR_MODE:
                yield from self.iter_tree(item.oid, f"{path}/", True)

    def files(self, tree_oid: str) -> dict[str, tuple[int, str]]:
        """Every file of a tree: ``path -> (mode, oid)``."""
        return {i.path: (i.mode, i.oid) for i in self.iter_tree(tree_oid) if not i.is_dir}

    def lookup(self, tree_oid: str, path: str) -> TreeItem | None:
        """The entry at ``path`` (a file or a directory), or None."""
        oid, mode = tree_oid, DIR_MODE
        parts = path.split("/")
        for i, part in enumerate(parts):
            if mode != DIR_MODE:
                return None
            tree = self.get_tree(oid)
            try:
                mode, sha = tree[part.encode("utf-8", "surrogateescape")]
            except KeyError:
                return None
            oid = _hex(sha)
            if i == len(parts) - 1:
                return TreeItem(path, mode, oid)
        return None

    # -- writing --------------------------------------------------------------------

    def add(self, obj: ShaFile) -> str:
        """Stage an object; it is written by ``flush`` (in the caller's transaction)."""
        oid = obj.id.decode("ascii")
        self._pending[oid] = obj
        return oid

    def add_blob(self, data: bytes) -> str:
        return self.add(Blob.from_string(data))

    def build_tree(self, files: dict[str, tuple[int, str]]) -> str:
        """Write the trees for a flat ``path -> (mode, oid)`` map; return the root tree id."""
        dirs: dict[str, dict[str, tuple[int, str]]] = {"": {}}
        for path in files:
            parts = path.split("/")
            for depth in range(1, len(parts)):
                dirs.setdefault("/".join(parts[:depth]), {})
        for path, (mode, oid) in files.items():
            parent, _, name = path.rpartition("/")
            dirs[parent][name] = (mode, oid)
        for d in sorted(dirs, key=lambda p: p.count("/") if p else -1, reverse=True):
            if d == "":
                continue
            tree_oid = self._write_tree(dirs[d])
            parent, _, name = d.rpartition("/")
            dirs[parent][name] = (DIR_MODE, tree_oid)
        return self._write_tree(dirs[""])

    def _write_tree(self, entries: dict[str, tuple[int, str]]) -> str:
        tree = Tree()
        for name, (mode, oid) in entries.items():
            tree.add(name.encode("utf-8", "surrogateescape"), mode, oid.encode("ascii"))  # type: ignore[arg-type]
        return self.add(tree)

    def flush(self) -> None:
        """Insert the staged objects that the repo does not have yet."""
        if not self._pending:
            return
        insert_objects(
            self.session, self.repo_id, ((oid, obj.type_num, obj.as_raw_string()) for oid, obj in self._pending.items())
        )
        self._pending.clear()


def _chunks(items: Iterable[str], size: int = BATCH) -> Iterator[list[str]]:
    """Distinct ``items`` in lists of at most ``size`` (one ``IN (...)`` query each)."""
    unique = list(dict.fromkeys(items))
    for i in range(0, len(unique), size):
        yield unique[i : i + size]


def insert_objects(session: Session, repo_id: int, objects: Iterable[tuple[str, int, bytes]]) -> int:
    """Insert ``(oid, type_num, canonical bytes)`` rows the repo does not have yet; returns how many were new.

    Rows go in groups of at most 200 objects or 32 MiB, so that a large push never builds one huge statement.
    """
    batch: list[tuple[str, int, bytes]] = []
    batch_bytes = 0
    written = 0
    for item in objects:
        batch.append(item)
        batch_bytes += len(item[2])
        if len(batch) >= 200 or batch_bytes >= 32 << 20:
            written += _insert_batch(session, repo_id, batch)
            batch, batch_bytes = [], 0
    if batch:
        written += _insert_batch(session, repo_id, batch)
    return written


def _insert_batch(session: Session, repo_id: int, batch: list[tuple[str, int, bytes]]) -> int:
    keys = [oid for oid, _t, _d in batch]
    existing = set(
        session.execute(select(GitObject.oid).where(GitObject.repo_id == repo_id, GitObject.oid.in_(keys))).scalars()
    )
    rows = []
    for oid, type_num, data in batch:
        if oid in existing:
            continue
        existing.add(oid)
        pointer = LfsPointer.parse(data) if type_num == 3 else None
        rows.append(
            {
                "repo_id": repo_id,
                "oid": oid,
                "type_num": type_num,
                "size": len(data),
                "data": data,
                "lfs_oid": pointer.oid if pointer else None,
                "lfs_size": pointer.size if pointer else None,
            }
        )
    if rows:
        session.execute(upsert(session, GitObject).on_conflict_do_nothing(), rows)
    return len(rows)


def make_commit(tree_oid: str, parents: list[str], author: bytes, message: str, when: float | None = None) -> Commit:
    commit = Commit()
    commit.tree = tree_oid.encode("ascii")
    commit.parents = [p.encode("ascii") for p in parents]  # type: ignore[misc]
    commit.author = commit.committer = author
    ts = int(when if when is not None else time.time())
    commit.author_time = commit.commit_time = ts
    commit.author_timezone = commit.commit_timezone = 0
    commit.message = message.encode("utf-8") if message.endswith("\n") else (message + "\n").encode("utf-8")
    return commit


def make_tag(target_oid: str, target_type: int, name: str, tagger: bytes, message: str) -> Tag:
    tag = Tag()
    cls = {1: Commit, 2: Tree, 3: Blob, 4: Tag}[target_type]
    tag.object = (cls, target_oid.encode("ascii"))
    tag.name = name.encode("utf-8")
    tag.tagger = tagger
    tag.tag_time = int(time.time())
    tag.tag_timezone = 0
    tag.message = (message if message.endswith("\n") else message + "\n").encode("utf-8")
    return tag


def identity(name: str, email: str) -> bytes:
    clean = re.sub(r"[<>\n]", "", name) or "unknown"
    mail = re.sub(r"[<>\n\s]", "", email) or "unknown@dazi.invalid"
    return f"{clean} <{mail}>".encode()
