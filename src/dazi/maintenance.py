"""Store integrity: ``fsck`` (re-hash everything, check every reference) and ``gc`` (collect garbage)."""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import delete, select

from dazi.blobstore import BlobNotFound
from dazi.hub import Hub
from dazi.repos.git import DIR_MODE, ObjectStore
from dazi.repos.models import GitObject, LfsObject, Ref, Repo

TYPE_NAMES = {1: b"commit", 2: b"tree", 3: b"blob", 4: b"tag"}


@dataclass
class FsckReport:
    blobs_checked: int = 0
    git_objects_checked: int = 0
    refs_checked: int = 0
    temporaries: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


@dataclass
class GcReport:
    blobs_removed: int = 0
    bytes_removed: int = 0
    temporaries_removed: int = 0
    stale_claims_removed: int = 0


def fsck(hub: Hub, progress: Callable[[str], None] = lambda _m: None) -> FsckReport:
    report = FsckReport()
    sizes: dict[str, int] = {}
    for blob in hub.blobs.iter_blobs():
        report.blobs_checked += 1
        sizes[blob.digest] = blob.size
        actual = hub.blobs.rehash(blob.digest)
        if actual != blob.digest:
            report.problems.append(f"blob {blob.digest} is corrupt: its content hashes to {actual}")
    progress(f"re-hashed {report.blobs_checked} blobs")
    report.temporaries = sum(1 for _ in hub.blobs.iter_temporaries())
    with hub.db.read() as session:
        for repo_pk, oid, size in session.execute(select(LfsObject.repo_id, LfsObject.oid, LfsObject.size)):
            if oid not in sizes:
                report.problems.append(f"repo #{repo_pk} claims LFS object {oid}, which is missing from the store")
            elif sizes[oid] != size:
                report.problems.append(f"LFS object {oid}: {sizes[oid]} bytes stored, {size} recorded")
        _check_git_objects(session, report)
        for repo in session.execute(select(Repo)).scalars():
            _check_repo(session, repo, report)
    progress(f"checked {report.git_objects_checked} git objects and {report.refs_checked} refs")
    return report


def _check_git_objects(session: object, report: FsckReport) -> None:
    rows = session.execute(select(GitObject.repo_id, GitObject.oid, GitObject.type_num, GitObject.data))  # type: ignore[attr-defined]
    for repo_pk, oid, type_num, data in rows.yield_per(500):
        report.git_objects_checked += 1
        header = TYPE_NAMES[type_num] + b" " + str(len(data)).encode() + b"\x00"
        if hashlib.sha1(header + data, usedforsecurity=False).hexdigest() != oid:
            report.problems.append(f"repo #{repo_pk}: git object {oid} does not hash to its id")


def _check_repo(session: object, repo: Repo, report: FsckReport) -> None:
    """Every ref points at a commit whose trees and blobs exist, and LFS pointers are claimed."""
    store = ObjectStore(session, repo.id)  # type: ignore[arg-type]
    claimed = set(session.execute(select(LfsObject.oid).where(LfsObject.repo_id == repo.id)).scalars())  # type: ignore[attr-defined]
    seen: set[str] = set()
    for ref in session.execute(select(Ref).where(Ref.repo_id == repo.id)).scalars():  # type: ignore[attr-defined]
        report.refs_checked += 1
        try:
            head = store.peel(ref.target)
            stack = [head]
            while stack:
                oid = stack.pop()
                if oid in seen:
                    continue
                seen.add(oid)
                commit = store.get_commit(oid)
                stack.extend(p.decode() for p in commit.parents)
                _check_tree(store, commit.tree.decode(), claimed, repo, report, seen)
        except KeyError as exc:
            report.problems.append(f"{repo.repo_id}: {ref.name} reaches a missing object {exc}")


def _check_tree(
    store: ObjectStore, tree_oid: str, claimed: set[str], repo: Repo, report: FsckReport, seen: set[str]
) -> None:
    if tree_oid in seen:
        return
    seen.add(tree_oid)
    blobs = []
    for item in store.iter_tree(tree_oid, recursive=False):
        if item.mode == DIR_MODE:
            _check_tree(store, item.oid, claimed, repo, report, seen)
        else:
            blobs.append(item.oid)
    infos = store.blob_infos(blobs)
    for oid in blobs:
        info = infos.get(oid)
        if info is None:
            report.problems.append(f"{repo.repo_id}: blob {oid} is missing")
        elif info.lfs is not None and info.lfs.oid not in claimed:
            report.problems.append(f"{repo.repo_id}: LFS pointer to {info.lfs.oid} has no stored object")


def gc(hub: Hub, grace_seconds: int | None = None, dry_run: bool = False) -> GcReport:
    """Remove abandoned uploads, stale uncommitted claims, then blobs that nothing claims."""
    grace = hub.settings.gc_grace_seconds if grace_seconds is None else grace_seconds
    cutoff = time.time() - grace
    report = GcReport()
    for tmp in list(hub.blobs.iter_temporaries()):
        if tmp.mtime < cutoff:
            report.temporaries_removed += 1
            if not dry_run:
                hub.blobs.delete_temporary(tmp.key)
    with hub.db.write() as session:
        stale = delete(LfsObject).where(
            LfsObject.committed.is_(False), LfsObject.created_at < dt.datetime.fromtimestamp(cutoff, dt.UTC)
        )
        if not dry_run:
            report.stale_claims_removed = session.execute(stale).rowcount  # type: ignore[attr-defined]
    for blob in list(hub.blobs.iter_blobs()):
        if blob.mtime >= cutoff:
            continue
        with hub.db.read() as session:
            referenced = session.execute(select(LfsObject.oid).where(LfsObject.oid == blob.digest).limit(1)).first()
        if referenced is None:
            report.blobs_removed += 1
            report.bytes_removed += blob.size
            if not dry_run:
                with contextlib.suppress(BlobNotFound):
                    hub.blobs.delete(blob.digest)
    return report
