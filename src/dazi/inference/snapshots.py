"""Files of a repo revision, read from the hub's own storage: listing, hashing, and materializing a snapshot.

A snapshot is the folder an engine loads from: ``<cache>/<repo pk>-<commit>/``. It is written from the
database (regular files) and the blob store (LFS files) into a temporary folder, checked, then renamed
into place, so a half-written snapshot is never loaded; a snapshot is keyed by commit id and so never
changes. Nothing here touches the network. LFS files of the local blob store are hard-linked when the
cache is on the same file system (content-addressed blobs never change), otherwise copied while hashed.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from dazi.hub import Hub
from dazi.repos.git import ObjectStore
from dazi.repos.services import commit_tree

CHUNK = 1 << 20
COMPLETE = ".dazi-complete"
# Weights of other frameworks and formats that the CPU engines never read.
_SKIP_SUFFIXES = (".msgpack", ".h5", ".onnx", ".onnx_data", ".gguf", ".ot", ".tflite", ".mlmodel", ".ggml")
_SKIP_DIRS = ("onnx/", "openvino/", "coreml/", "flax/", "tf/")


class SnapshotError(Exception):
    """Stored content does not match what the revision records."""


@dataclass(frozen=True)
class RevisionFile:
    path: str
    git_oid: str
    size: int
    lfs_oid: str | None = None  # the sha256 of LFS content


def revision_files(session: object, repo_pk: int, commit: str) -> list[RevisionFile]:
    """Every file of the revision, with its size and (for LFS files) its sha256."""
    store = ObjectStore(session, repo_pk)  # type: ignore[arg-type]
    items = [i for i in store.iter_tree(commit_tree(store, commit)) if not i.is_dir]
    infos = store.blob_infos(i.oid for i in items)
    out = []
    for item in items:
        info = infos.get(item.oid)
        if info is None:
            raise SnapshotError(f"{item.path}: git blob {item.oid} is missing from the database")
        lfs = info.lfs
        out.append(RevisionFile(item.path, item.oid, info.content_size, lfs.oid if lfs else None))
    return out


def wanted(files: list[RevisionFile]) -> list[RevisionFile]:
    """The files an engine needs: no other frameworks' weights, no ``.bin`` weights next to safetensors."""
    has_safetensors = any(f.path.endswith(".safetensors") for f in files)
    keep = []
    for f in files:
        name = f.path.rsplit("/", 1)[-1]
        if f.path.endswith(_SKIP_SUFFIXES) or f.path.startswith(_SKIP_DIRS):
            continue
        if has_safetensors and name.startswith("pytorch_model") and name.endswith(".bin"):
            continue
        keep.append(f)
    return keep


def read_regular(hub: Hub, repo_pk: int, git_oid: str) -> bytes:
    with hub.db.read() as session:
        return ObjectStore(session, repo_pk).blob_data(git_oid)


def iter_content(hub: Hub, repo_pk: int, f: RevisionFile, chunk: int = CHUNK) -> Iterator[bytes]:
    if f.lfs_oid is None:
        yield read_regular(hub, repo_pk, f.git_oid)
    else:
        yield from hub.blobs.iter_range(f.lfs_oid, 0, None, chunk)


def check_content(
    hub: Hub,
    repo_pk: int,
    f: RevisionFile,
    on_chunk: Callable[[int], None] = lambda _n: None,
    chunk: int = CHUNK,
    sink: Callable[[bytes], object] | None = None,
) -> str:
    """Stream one file, check it against the revision (git blob id, or LFS sha256 and size), and return
    its sha256. ``sink`` receives the bytes (to write them somewhere) and ``on_chunk`` their count."""
    sha256 = hashlib.sha256()
    sha1 = hashlib.sha1(f"blob {f.size}\0".encode(), usedforsecurity=False) if f.lfs_oid is None else None
    size = 0
    for data in iter_content(hub, repo_pk, f, chunk):
        sha256.update(data)
        if sha1 is not None:
            sha1.update(data)
        if sink is not None:
            sink(data)
        size += len(data)
        on_chunk(len(data))
    digest = sha256.hexdigest()
    if size != f.size:
        raise SnapshotError(f"{f.path}: {size} bytes stored, {f.size} recorded")
    if f.lfs_oid is not None and digest != f.lfs_oid:
        raise SnapshotError(f"{f.path}: content hashes to sha256 {digest}, the LFS pointer says {f.lfs_oid}")
    if sha1 is not None and sha1.hexdigest() != f.git_oid:
        raise SnapshotError(f"{f.path}: content does not hash to its git blob id {f.git_oid}")
    return digest


def _safe_target(root: Path, path: str) -> Path:
    parts = PurePosixPath(path).parts
    if not parts or any(p in ("", ".", "..") for p in parts) or path.startswith("/"):
        raise SnapshotError(f"refusing to write the path {path!r}")
    return root.joinpath(*parts)


def snapshot_dir(cache: Path, repo_pk: int, commit: str) -> Path:
    return cache / f"{repo_pk}-{commit}"


def materialize(hub: Hub, cache: Path, repo_pk: int, commit: str, files: list[RevisionFile]) -> Path:
    """The snapshot folder of ``files`` at ``commit``, written if it is not there yet."""
    target = snapshot_dir(cache, repo_pk, commit)
    if (target / COMPLETE).exists():
        os.utime(target / COMPLETE)  # recently used (for a future disk-space sweep)
        return target
    cache.mkdir(parents=True, exist_ok=True)
    tmp = cache / f".tmp-{repo_pk}-{commit}-{uuid.uuid4().hex[:8]}"
    tmp.mkdir()
    try:
        for f in files:
            _write_file(hub, repo_pk, f, _safe_target(tmp, f.path))
        (tmp / COMPLETE).write_text(f"{time.time()}\n")
        try:
            tmp.rename(target)
        except OSError:  # another thread or process finished the same snapshot first
            if not (target / COMPLETE).exists():
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target


def _write_file(hub: Hub, repo_pk: int, f: RevisionFile, dest: Path) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    local = hub.blobs.local_path(f.lfs_oid) if f.lfs_oid else None
    if local is not None and local.stat().st_size == f.size:
        try:
            os.link(local, dest)
            return
        except OSError:
            pass  # another file system: copy (and check) below
    with dest.open("wb") as out:
        check_content(hub, repo_pk, f, sink=out.write)
