"""Turning uploads into history: commits on a branch, and LFS objects claimed by a repo.

The order of effects is what keeps data safe:

1. content is streamed to temporary blobs and checked (digest, size);
2. blobs that become LFS objects are *published* to their content address; a
   published blob no row references is invisible and collected by ``gc``;
3. one database transaction writes the git objects, the repo's claims on the
   LFS objects, and moves the branch with a compare-and-swap; only then is the
   content reachable.

A crash at any point leaves either the old branch head or the new one, never a
reference to a missing blob.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
from dataclasses import dataclass

from dulwich.objects import Blob
from sqlalchemy import select
from sqlalchemy.orm import Session

from dazi.accounts.services import Actor
from dazi.db import upsert
from dazi.errors import BadRequest, Conflict, EntryNotFound, PreconditionFailed, RevisionNotFound
from dazi.hub import Hub
from dazi.repos import services as repos
from dazi.repos.git import FILE_MODE, LfsPointer, ObjectStore, make_commit
from dazi.repos.gitattributes import LfsRules, add_lfs_paths
from dazi.repos.models import BlobGitId, LfsObject, Repo
from dazi.uploads.operations import AddBytes, AddLfs, AddStreamed, CommitHeader, Delete, Operation

log = logging.getLogger(__name__)
MAX_ATTEMPTS = 8


@dataclass(frozen=True)
class CommitResult:
    oid: str
    repo_id: str
    repo_type: str


def gitattributes_at(hub: Hub, repo: Repo, branch: str) -> bytes | None:
    with hub.db.read() as session:
        head = repos.branch_head(session, repo, branch)
        return repos.read_small_file(session, repo, head, ".gitattributes")


def lfs_rules_for(hub: Hub, repo: Repo, branch: str, operations: list[Operation]) -> LfsRules:
    """The LFS patterns that will apply after the commit (a new ``.gitattributes`` wins)."""
    for op in operations:
        if isinstance(op, AddBytes) and op.path == ".gitattributes":
            return LfsRules(op.content)
    return LfsRules(gitattributes_at(hub, repo, branch))


def should_be_lfs(hub: Hub, rules: LfsRules, path: str, size: int) -> bool:
    return size >= hub.settings.lfs_threshold or rules.is_lfs(path)


def stage_content(hub: Hub, repo: Repo, branch: str, operations: list[Operation]) -> list[Operation]:
    """Move content that must live in LFS into the blob store; publish streamed blobs.

    Returns operations in which every addition is either small inline bytes or a
    published LFS pointer. Runs outside any database transaction.
    """
    rules = lfs_rules_for(hub, repo, branch, operations)
    return [_stage(hub, rules, op) for op in operations]


def _stage(hub: Hub, rules: LfsRules, op: Operation) -> Operation:
    if isinstance(op, AddBytes):
        if op.path == ".gitattributes" or not should_be_lfs(hub, rules, op.path, len(op.content)):
            return op
        writer = hub.blobs.begin()
        writer.write(op.content)
        digest = writer.finish()
        writer.publish()
        return AddLfs(op.path, digest, len(op.content), fresh=True, git_id=Blob.from_string(op.content).id.decode())
    if isinstance(op, AddStreamed):
        op.writer.publish()
        if should_be_lfs(hub, rules, op.path, op.pointer.size):
            git_id = compute_git_id(hub, op.pointer.oid, op.pointer.size)
            return AddLfs(op.path, op.pointer.oid, op.pointer.size, fresh=True, git_id=git_id)
        return AddBytes(op.path, hub.blobs.read(op.pointer.oid))
    return op


def compute_git_id(hub: Hub, oid: str, size: int) -> str:
    """The git blob sha1 of an LFS object's content (what a "regular"-mode client compares), by re-reading it."""
    digest = hashlib.sha1(f"blob {size}\0".encode(), usedforsecurity=False)
    for chunk in hub.blobs.iter_range(oid, 0, None, 8 << 20):
        digest.update(chunk)
    return digest.hexdigest()


def known_git_ids(session: Session, oids: list[str]) -> dict[str, str]:
    if not oids:
        return {}
    rows = session.execute(select(BlobGitId.oid, BlobGitId.git_sha1).where(BlobGitId.oid.in_(oids)))
    return {oid: sha1 for oid, sha1 in rows}


def remember_git_ids(session: Session, ids: dict[str, str]) -> None:
    if ids:
        rows = [{"oid": oid, "git_sha1": sha1} for oid, sha1 in ids.items()]
        session.execute(upsert(session, BlobGitId).values(rows).on_conflict_do_nothing(index_elements=["oid"]))


def commit_changes(
    hub: Hub,
    actor: Actor,
    repo_type: str,
    repo_id: str,
    branch: str,
    header: CommitHeader,
    operations: list[Operation],
) -> CommitResult:
    """Apply ``operations`` on top of ``branch`` as one new commit."""
    with hub.db.read() as session:
        repo = repos.get_writable_repo(session, actor, repo_type, repo_id)
        if repos.get_ref(session, repo, f"refs/heads/{branch}") is None:
            if repos.get_ref(session, repo, f"refs/tags/{branch}") is not None:
                raise BadRequest(f"Cannot commit to the tag {branch!r}: commit to a branch.")
            raise RevisionNotFound(f"Invalid rev id: {branch} (commits go to an existing branch).")
    staged = stage_content(hub, repo, branch, operations)
    for _attempt in range(MAX_ATTEMPTS):
        with hub.db.write() as session:
            repo = repos.get_writable_repo(session, actor, repo_type, repo_id)
            oid = _try_commit(session, hub, actor, repo, branch, header, staged)
            if oid is not None:
                return CommitResult(oid, repo.repo_id, repo.type)
    raise Conflict("The branch kept moving while committing; please retry.")


def _try_commit(
    session: Session, hub: Hub, actor: Actor, repo: Repo, branch: str, header: CommitHeader, ops: list[Operation]
) -> str | None:
    head = repos.branch_head(session, repo, branch)
    if header.parent_commit and not head.startswith(header.parent_commit):
        raise PreconditionFailed(
            f"A commit has happened since {header.parent_commit}: the head of {branch!r} is now {head}. "
            "Pull the latest changes and retry."
        )
    store = ObjectStore(session, repo.id)
    files = store.files(repos.commit_tree(store, head))
    claims = _check_lfs_claims(session, repo, ops)
    lfs_paths: list[str] = []
    for op in ops:
        if isinstance(op, Delete):
            _apply_delete(files, op)
        elif isinstance(op, AddBytes):
            files[op.path] = (FILE_MODE, store.add_blob(op.content))
        elif isinstance(op, AddLfs):
            size = op.size if op.size is not None else claims[op.oid]
            files[op.path] = (FILE_MODE, store.add_blob(LfsPointer(op.oid, size).to_bytes()))
            lfs_paths.append(op.path)
    _track_lfs_paths(store, files, lfs_paths)
    _check_file_folder_collisions(files)
    tree = store.build_tree(files)
    commit = store.add(make_commit(tree, [head], repos.author_identity(session, actor), header.message))
    store.flush()
    _claim(session, repo, {op.oid: (op.size or claims[op.oid]) for op in ops if isinstance(op, AddLfs)})
    remember_git_ids(session, {op.oid: op.git_id for op in ops if isinstance(op, AddLfs) and op.git_id})
    if not repos.compare_and_swap(session, repo, f"refs/heads/{branch}", head, commit):
        session.rollback()
        if header.parent_commit:
            raise PreconditionFailed(f"A commit has happened since {header.parent_commit}; please retry.")
        return None
    if branch == repos.DEFAULT_BRANCH:
        repos.refresh_metadata(session, repo, commit)
    repo.last_modified = dt.datetime.now(dt.UTC)
    return commit


def _check_file_folder_collisions(files: dict[str, tuple[int, str]]) -> None:
    """A path cannot be both a file and a folder (git trees cannot hold that)."""
    for path in files:
        parts = path.split("/")
        for depth in range(1, len(parts)):
            folder = "/".join(parts[:depth])
            if folder in files:
                raise BadRequest(f"Cannot commit {path!r}: {folder!r} is a file, so it cannot also be a folder.")


def _apply_delete(files: dict[str, tuple[int, str]], op: Delete) -> None:
    if op.folder:
        prefix = op.path + "/"
        doomed = [p for p in files if p.startswith(prefix)]
        if not doomed:
            raise EntryNotFound(f"Cannot delete folder {op.path}: a folder with this name doesn't exist.")
        for p in doomed:
            del files[p]
    elif files.pop(op.path, None) is None:
        raise EntryNotFound(f"Cannot delete {op.path}: A file with this name doesn't exist.")


def _track_lfs_paths(store: ObjectStore, files: dict[str, tuple[int, str]], lfs_paths: list[str]) -> None:
    """Add LFS files that no ``.gitattributes`` pattern covers, so that git-lfs smudges them on clone."""
    current = files.get(".gitattributes")
    text = store.blob_data(current[1]) if current else None
    rules = LfsRules(text)
    missing = [p for p in lfs_paths if not rules.is_lfs(p)]
    if missing:
        files[".gitattributes"] = (FILE_MODE, store.add_blob(add_lfs_paths(text, missing)))


def _check_lfs_claims(session: Session, repo: Repo, ops: list[Operation]) -> dict[str, int]:
    """Every ``lfsFile`` must name an object uploaded to (or already in) this repo."""
    wanted = {op.oid for op in ops if isinstance(op, AddLfs) and not op.fresh}
    if not wanted:
        return {}
    rows = session.execute(
        select(LfsObject.oid, LfsObject.size).where(LfsObject.repo_id == repo.id, LfsObject.oid.in_(wanted))
    ).all()
    found = {oid: int(size) for oid, size in rows}
    for op in ops:
        if isinstance(op, AddLfs) and op.oid in wanted:
            if op.oid not in found:
                raise BadRequest(
                    f"The LFS object {op.oid} for {op.path!r} has not been uploaded to {repo.repo_id}: "
                    "upload it through the LFS batch API first."
                )
            if op.size is not None and op.size != found[op.oid]:
                raise BadRequest(
                    f"Size mismatch for {op.path!r}: uploaded {found[op.oid]} bytes, commit says {op.size}."
                )
    return found


def _claim(session: Session, repo: Repo, objects: dict[str, int]) -> None:
    if not objects:
        return
    now = dt.datetime.now(dt.UTC)
    rows = [
        {"repo_id": repo.id, "oid": oid, "size": size, "committed": True, "created_at": now}
        for oid, size in objects.items()
    ]
    stmt = upsert(session, LfsObject).values(rows)
    session.execute(stmt.on_conflict_do_update(index_elements=["repo_id", "oid"], set_={"committed": True}))


def claim_uploaded(session: Session, repo: Repo, oid: str, size: int) -> None:
    """Record that ``oid`` was uploaded to ``repo`` (not committed yet)."""
    now = dt.datetime.now(dt.UTC)
    stmt = upsert(session, LfsObject).values(repo_id=repo.id, oid=oid, size=size, committed=False, created_at=now)
    session.execute(stmt.on_conflict_do_nothing(index_elements=["repo_id", "oid"]))


def has_object(session: Session, repo: Repo, oid: str) -> int | None:
    """The size of ``oid`` if this repo may use it, else None."""
    row = session.execute(select(LfsObject.size).where(LfsObject.repo_id == repo.id, LfsObject.oid == oid)).first()
    return None if row is None else int(row[0])
