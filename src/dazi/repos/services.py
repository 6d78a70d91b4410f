"""Repos: create, find (without leaking private ones), refs and revisions, history, trees, settings.

Every function takes a SQLAlchemy session and typed arguments; none touches an
HTTP request. Writes to the history (new commits) live in ``dazi.uploads``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from dataclasses import dataclass
from typing import Any

from dulwich.walk import Walker
from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from dazi import authz
from dazi.accounts.models import Namespace, User
from dazi.accounts.services import Actor
from dazi.errors import BadRequest, Conflict, EntryNotFound, Forbidden, RepoNotFound, RevisionNotFound
from dazi.repos import search
from dazi.repos.cards import parse_card
from dazi.repos.git import FILE_MODE, BlobInfo, ObjectStore, TreeItem, identity, make_commit, make_tag
from dazi.repos.gitattributes import default_gitattributes
from dazi.repos.models import REPO_TYPES, BaseModelLink, LfsObject, Ref, Repo, RepoTag
from dazi.repos.names import check_name, check_ref_name

DEFAULT_BRANCH = "main"
HEX40 = re.compile(r"^[0-9a-f]{40}$")
SHORT_HEX = re.compile(r"^[0-9a-f]{5,39}$")


@dataclass(frozen=True)
class CommitInfo:
    oid: str
    title: str
    message: str
    author_name: str
    date: dt.datetime
    parents: list[str]
    author_email: str = ""


@dataclass(frozen=True)
class Entry:
    """A file or directory of a tree, with what the listings show."""

    path: str
    type: str  # "file" | "directory"
    oid: str
    size: int = 0
    lfs_oid: str | None = None
    lfs_size: int | None = None
    pointer_size: int | None = None


# -- finding repos ---------------------------------------------------------------------


def check_type(repo_type: str) -> str:
    if repo_type not in REPO_TYPES:
        raise BadRequest(f"Invalid repo type {repo_type!r}: use one of model, dataset.")
    return repo_type


def find_repo(session: Session, repo_type: str, namespace: str, name: str) -> Repo | None:
    stmt = (
        select(Repo)
        .join(Namespace, Namespace.id == Repo.namespace_id)
        .where(Repo.type == repo_type, Namespace.name_lower == namespace.lower(), Repo.name_lower == name.lower())
    )
    return session.execute(stmt).scalar_one_or_none()


def get_repo_for(session: Session, actor: Actor | None, repo_type: str, repo_id: str) -> Repo:
    """The repo if ``actor`` may read it; otherwise RepoNotFound (never reveal a private repo)."""
    parts = repo_id.split("/")
    repo = find_repo(session, repo_type, parts[0], parts[1]) if len(parts) == 2 else None
    if repo is None or not authz.can_read(actor, repo):
        raise RepoNotFound(f"Repository not found: {repo_type} {repo_id!r}.")
    return repo


def get_writable_repo(session: Session, actor: Actor | None, repo_type: str, repo_id: str) -> Repo:
    repo = get_repo_for(session, actor, repo_type, repo_id)
    if not authz.can_write(actor, repo):
        raise Forbidden(f"You do not have write access to {repo_id!r}" + _why(actor))
    return repo


def get_admin_repo(session: Session, actor: Actor | None, repo_type: str, repo_id: str) -> Repo:
    repo = get_repo_for(session, actor, repo_type, repo_id)
    if not authz.can_admin(actor, repo):
        raise Forbidden(f"You need admin rights on {repo_id!r} for this" + _why(actor))
    return repo


def _why(actor: Actor | None) -> str:
    if actor is not None and not actor.can_write:
        return " (your token is a read token)."
    return "."


def namespace_for_write(session: Session, actor: Actor | None, namespace: str) -> Namespace:
    ns = session.execute(select(Namespace).where(Namespace.name_lower == namespace.lower())).scalar_one_or_none()
    if actor is None:
        raise Forbidden("You must be logged in (send a write token) to do this.")
    if ns is None or not authz.can_write_namespace(actor, ns.id):
        raise Forbidden(f"You cannot create repos in the namespace {namespace!r}" + _why(actor))
    return ns


# -- creating, deleting, moving ---------------------------------------------------------------


def create_repo(
    session: Session,
    actor: Actor,
    repo_type: str,
    namespace: str,
    name: str,
    *,
    private: bool,
    files: dict[str, bytes] | None = None,
) -> tuple[Repo, bool]:
    """Create a repo with an initial commit; returns ``(repo, created)``.

    The initial commit holds ``.gitattributes`` and ``files`` (e.g. a README card). An existing repo the
    actor can read is returned with ``created=False``.
    """
    check_type(repo_type)
    if repo_type == "space":
        raise BadRequest("Spaces are not supported by this hub yet.")
    check_name(name, "repo name")
    existing = find_repo(session, repo_type, namespace, name)
    if existing is not None and authz.can_read(actor, existing):
        return existing, False
    ns = namespace_for_write(session, actor, namespace)
    if existing is not None:
        raise Conflict(f"A {repo_type} named {namespace}/{name} already exists.")
    repo = Repo(
        type=repo_type,
        namespace_id=ns.id,
        name=name,
        name_lower=name.lower(),
        repo_id_lower=f"{ns.name}/{name}".lower(),
        private=private,
        card_data={},
    )
    session.add(repo)
    session.flush()
    store = ObjectStore(session, repo.id)
    contents = {".gitattributes": default_gitattributes(), **(files or {})}
    tree = store.build_tree({path: (FILE_MODE, store.add_blob(data)) for path, data in contents.items()})
    author = author_identity(session, actor)
    commit = store.add(make_commit(tree, [], author, "initial commit"))
    store.flush()
    session.add(Ref(repo_id=repo.id, name=f"refs/heads/{DEFAULT_BRANCH}", target=commit))
    session.flush()
    if files:
        refresh_metadata(session, repo, commit)
    return repo, True


def author_identity(session: Session, actor: Actor) -> bytes:
    user = session.get(User, actor.user_id)
    email = user.email if user else f"{actor.name}@dazi.invalid"
    return identity(actor.name, email)


def delete_repo(session: Session, repo: Repo) -> None:
    """Delete the repo and its history; its blobs become unreferenced and ``gc`` collects them."""
    session.delete(repo)
    session.flush()


def move_repo(session: Session, actor: Actor, repo: Repo, to_namespace: str, to_name: str) -> Repo:
    check_name(to_name, "repo name")
    ns = namespace_for_write(session, actor, to_namespace)
    clash = find_repo(session, repo.type, to_namespace, to_name)
    if clash is not None and clash.id != repo.id:
        raise Conflict(f"A {repo.type} named {to_namespace}/{to_name} already exists.")
    repo.namespace_id = ns.id
    repo.namespace = ns
    repo.name = to_name
    repo.name_lower = to_name.lower()
    repo.repo_id_lower = f"{ns.name}/{to_name}".lower()
    session.flush()
    return repo


def set_private(session: Session, repo: Repo, private: bool) -> None:
    repo.private = private
    session.flush()


# -- refs and revisions -------------------------------------------------------------


def refs(session: Session, repo: Repo) -> list[Ref]:
    return list(session.execute(select(Ref).where(Ref.repo_id == repo.id).order_by(Ref.name)).scalars())


def get_ref(session: Session, repo: Repo, name: str) -> Ref | None:
    return session.get(Ref, (repo.id, name))


def branch_head(session: Session, repo: Repo, branch: str) -> str:
    ref = get_ref(session, repo, f"refs/heads/{branch}")
    if ref is None:
        raise RevisionNotFound(f"Invalid rev id: {branch} (no such branch in {repo.repo_id}).")
    return ref.target


def resolve_revision(session: Session, repo: Repo, rev: str) -> str:
    """A branch, tag, ``refs/...`` name, full or short commit id → the commit id."""
    store = ObjectStore(session, repo.id)
    candidates = [rev] if rev.startswith("refs/") else [f"refs/heads/{rev}", f"refs/tags/{rev}"]
    for name in candidates:
        ref = get_ref(session, repo, name)
        if ref is not None:
            return store.peel(ref.target)
    if HEX40.match(rev) and store.type_of(rev) == 1:
        return rev
    if SHORT_HEX.match(rev):
        found = store.commits_with_prefix(rev)
        if len(found) == 1:
            return found[0]
    raise RevisionNotFound(f"Invalid rev id: {rev}")


def create_branch(session: Session, repo: Repo, branch: str, starting_point: str | None) -> str:
    check_ref_name(branch, "branch")
    target = resolve_revision(session, repo, starting_point or DEFAULT_BRANCH)
    name = f"refs/heads/{branch}"
    if get_ref(session, repo, name) is not None:
        raise Conflict(f"Reference already exists: {name}")
    session.add(Ref(repo_id=repo.id, name=name, target=target))
    session.flush()
    return target


def delete_branch(session: Session, repo: Repo, branch: str) -> None:
    if branch == DEFAULT_BRANCH:
        raise Forbidden(f"The default branch {DEFAULT_BRANCH!r} cannot be deleted.")
    _delete_ref(session, repo, f"refs/heads/{branch}")


def create_tag(session: Session, actor: Actor, repo: Repo, rev: str, tag: str, message: str | None) -> str:
    check_ref_name(tag, "tag")
    target = resolve_revision(session, repo, rev)
    name = f"refs/tags/{tag}"
    if get_ref(session, repo, name) is not None:
        raise Conflict(f"Tag already exists: {tag}")
    if message:
        store = ObjectStore(session, repo.id)
        target_obj = store.add(make_tag(target, 1, tag, author_identity(session, actor), message))
        store.flush()
        session.add(Ref(repo_id=repo.id, name=name, target=target_obj))
    else:
        session.add(Ref(repo_id=repo.id, name=name, target=target))
    session.flush()
    return target


def delete_tag(session: Session, repo: Repo, tag: str) -> None:
    _delete_ref(session, repo, f"refs/tags/{tag}")


def _delete_ref(session: Session, repo: Repo, name: str) -> None:
    result: Any = session.execute(delete(Ref).where(Ref.repo_id == repo.id, Ref.name == name))
    if result.rowcount == 0:
        raise RevisionNotFound(f"Invalid rev id: {name.split('/', 2)[-1]}")


def compare_and_swap(session: Session, repo: Repo, name: str, old: str, new: str) -> bool:
    """Move ``name`` from ``old`` to ``new`` only if nobody moved it meanwhile."""
    stmt = (
        update(Ref)
        .where(Ref.repo_id == repo.id, Ref.name == name, Ref.target == old)
        .values(target=new, updated_at=dt.datetime.now(dt.UTC))
    )
    result: Any = session.execute(stmt)
    return bool(result.rowcount == 1)


def peeled_refs(session: Session, repo: Repo) -> list[tuple[Ref, str]]:
    store = ObjectStore(session, repo.id)
    return [(ref, store.peel(ref.target)) for ref in refs(session, repo)]


# -- history -------------------------------------------------------------------------------


def commit_info(store: ObjectStore, oid: str) -> CommitInfo:
    commit = store.get_commit(oid)
    message = commit.message.decode("utf-8", "replace")
    title, _, body = message.partition("\n")
    author = commit.author.decode("utf-8", "replace")
    return CommitInfo(
        oid=oid,
        title=title.strip(),
        message=body.strip(),
        author_name=author.split(" <", 1)[0],
        date=dt.datetime.fromtimestamp(commit.commit_time, dt.UTC),
        parents=[p.decode() for p in commit.parents],
        author_email=author.partition(" <")[2].rstrip(">"),
    )


def list_commits(session: Session, repo: Repo, rev: str, offset: int, limit: int) -> tuple[list[CommitInfo], bool]:
    """Commits reachable from ``rev``, newest first; returns ``(page, has_more)``."""
    head = resolve_revision(session, repo, rev)
    store = ObjectStore(session, repo.id)
    walker = Walker(store, [head.encode()], max_entries=offset + limit + 1)  # type: ignore[arg-type,list-item]
    oids = [entry.commit.id.decode() for entry in walker]
    page = [commit_info(store, oid) for oid in oids[offset : offset + limit]]
    return page, len(oids) > offset + limit


def changed_paths(store: ObjectStore, commit_oid: str) -> list[str]:
    """Paths that a commit added, changed or deleted relative to its first parent."""
    commit = store.get_commit(commit_oid)
    new = store.files(commit.tree.decode())
    old = store.files(store.get_commit(commit.parents[0].decode()).tree.decode()) if commit.parents else {}
    return sorted(p for p in new.keys() | old.keys() if new.get(p) != old.get(p))


# -- trees ---------------------------------------------------------------------------------


def commit_tree(store: ObjectStore, commit_oid: str) -> str:
    tree: bytes = store.get_commit(commit_oid).tree
    return tree.decode()


def _entries(store: ObjectStore, items: list[TreeItem]) -> list[Entry]:
    infos = store.blob_infos(i.oid for i in items if not i.is_dir)
    out = []
    for item in items:
        if item.is_dir:
            out.append(Entry(item.path, "directory", item.oid))
            continue
        info = infos.get(item.oid) or BlobInfo(item.oid, 0, None)
        out.append(
            Entry(
                item.path,
                "file",
                item.oid,
                size=info.content_size,
                lfs_oid=info.lfs.oid if info.lfs else None,
                lfs_size=info.lfs.size if info.lfs else None,
                pointer_size=info.size if info.lfs else None,
            )
        )
    return out


def list_tree(session: Session, repo: Repo, commit_oid: str, path: str, recursive: bool) -> list[Entry]:
    """Entries under ``path`` ("" for the root); EntryNotFound if it is not a directory."""
    store = ObjectStore(session, repo.id)
    root = commit_tree(store, commit_oid)
    if path:
        item = store.lookup(root, path)
        if item is None or not item.is_dir:
            raise EntryNotFound(f"{path!r} is not a folder of {repo.repo_id} at {commit_oid[:12]}.")
        items = list(store.iter_tree(item.oid, f"{path}/", recursive))
    else:
        items = list(store.iter_tree(root, "", recursive))
    return _entries(store, items)


def paths_info(session: Session, repo: Repo, commit_oid: str, paths: list[str]) -> list[Entry]:
    store = ObjectStore(session, repo.id)
    root = commit_tree(store, commit_oid)
    found = []
    for path in dict.fromkeys(p.strip("/") for p in paths):
        item = store.lookup(root, path) if path else None
        if item is not None:
            found.append(item)
    return _entries(store, found)


def file_entry(session: Session, repo: Repo, commit_oid: str, path: str) -> Entry:
    store = ObjectStore(session, repo.id)
    item = store.lookup(commit_tree(store, commit_oid), path)
    if item is None or item.is_dir:
        raise EntryNotFound(
            f"{path} does not exist in {repo.repo_id} at {commit_oid[:12]}.", headers={"X-Repo-Commit": commit_oid}
        )
    return _entries(store, [item])[0]


def content_sha256s(session: Session, repo: Repo, entries: list[Entry]) -> dict[str, str]:
    """The sha256 of each file's content, by git blob id (LFS files: their object id; others: hashed here)."""
    store = ObjectStore(session, repo.id)
    out: dict[str, str] = {}
    for entry in entries:
        if entry.type == "file" and entry.oid not in out:
            out[entry.oid] = entry.lfs_oid or hashlib.sha256(store.blob_data(entry.oid)).hexdigest()
    return out


def read_small_file(session: Session, repo: Repo, commit_oid: str, path: str) -> bytes | None:
    """The content of a regular (non-LFS) file, or None if missing or stored in LFS."""
    store = ObjectStore(session, repo.id)
    item = store.lookup(commit_tree(store, commit_oid), path)
    if item is None or item.is_dir:
        return None
    info = store.blob_infos([item.oid]).get(item.oid)
    if info is None or info.lfs is not None:
        return None
    return store.blob_data(item.oid)


# -- card metadata -------------------------------------------------------------------------


def refresh_metadata(session: Session, repo: Repo, commit_oid: str) -> None:
    """Re-read the card and file-derived tags of the default branch into indexed columns."""
    store = ObjectStore(session, repo.id)
    card = parse_card(read_small_file(session, repo, commit_oid, "README.md"))
    repo.card_data = card.data
    repo.card_error = card.error
    repo.description = card.description
    repo.display_name = card.display_name
    repo.license = card.license
    repo.pipeline_tag = card.pipeline_tag
    repo.library_name = card.library_name
    repo.base_model_relation = card.base_model_relation
    files = store.files(commit_tree(store, commit_oid))
    tags = card.tags() | _file_tags(files)
    session.execute(delete(RepoTag).where(RepoTag.repo_id == repo.id))
    session.add_all(RepoTag(repo_id=repo.id, tag=t) for t in sorted(tags))
    search.index_repo(session, repo, card, sorted(tags))
    session.execute(delete(BaseModelLink).where(BaseModelLink.repo_id == repo.id))
    session.add_all(
        BaseModelLink(repo_id=repo.id, base_repo_id_lower=b.lower(), relation=card.base_model_relation)
        for b in dict.fromkeys(card.base_models)
    )
    infos = store.blob_infos(oid for _mode, oid in files.values())
    repo.used_storage = sum(i.content_size for i in infos.values())
    repo.last_modified = dt.datetime.now(dt.UTC)


def _file_tags(files: dict[str, tuple[int, str]]) -> set[str]:
    names = {p.rsplit("/", 1)[-1] for p in files}
    exts = {n.rsplit(".", 1)[-1].lower() for n in names if "." in n}
    tags = set()
    if "safetensors" in exts:
        tags.add("safetensors")
    if "gguf" in exts:
        tags.add("gguf")
    if "pytorch_model.bin" in names:
        tags.add("pytorch")
    for fmt in ("parquet", "csv", "json", "jsonl", "arrow"):
        if fmt in exts:
            tags.add(f"format:{fmt}")
    return tags


def tags_of(session: Session, repo: Repo) -> list[str]:
    return list(session.execute(select(RepoTag.tag).where(RepoTag.repo_id == repo.id).order_by(RepoTag.tag)).scalars())


def mark_lfs_committed(session: Session, repo: Repo, oids: set[str]) -> None:
    if oids:
        session.execute(
            update(LfsObject).where(LfsObject.repo_id == repo.id, LfsObject.oid.in_(oids)).values(committed=True)
        )
