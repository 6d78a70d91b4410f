"""Creating and changing repos from the browser: new repo, upload, README edit, settings.

Every change goes through the domain services (``repos.services``, ``uploads.services``), which check
permissions: a repo the visitor cannot see is a 404, one they cannot write a 403. Uploaded files are
copied in chunks from the request's spooled parts into blob-store writers (``AddStreamed``), so a
large file is never held in memory; ``commit_changes`` then decides LFS or inline by the threshold
and ``.gitattributes``, as for the Hugging Face API.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import BinaryIO

from dazi.accounts.services import Actor
from dazi.blobstore import BlobWriter
from dazi.errors import BadRequest, Conflict
from dazi.hub import Hub
from dazi.repos import services as repos
from dazi.repos.cards import parse_card
from dazi.repos.git import LfsPointer
from dazi.repos.models import Repo
from dazi.repos.names import check_path
from dazi.uploads import services as uploads
from dazi.uploads.operations import AddBytes, AddStreamed, CommitHeader, Operation
from dazi.web import people
from dazi.web.repo_view import RepoHeader, header

CHUNK = 1 << 20
LICENSES = ("apache-2.0", "mit", "bsd-3-clause", "cc-by-4.0", "cc-by-sa-4.0", "cc-by-nc-4.0", "openrail",
            "llama3", "gpl-3.0", "other")  # fmt: skip
MAX_README_CHARS = 500_000


def owners(hub: Hub, actor: Actor) -> list[str]:
    """Where the actor may create repos: their own namespace, then organizations they can write to."""
    account = people.account(hub, actor)
    return [actor.name] + [org for org, role in account.orgs if role in ("write", "admin")]


def readme_for(name: str, license: str) -> bytes:
    front = f"---\nlicense: {license}\n---\n\n" if license else ""
    return f"{front}# {name}\n".encode()


def create_repo(hub: Hub, actor: Actor, repo_type: str, owner: str, name: str, private: bool, license: str) -> Repo:
    """A new repo with a README card; ``Conflict`` when the name is taken."""
    if repo_type not in ("model", "dataset"):
        raise BadRequest("Choose a model or a dataset.")
    if license and license not in LICENSES:
        raise BadRequest("Unknown license.")
    with hub.db.write() as session:
        repo, created = repos.create_repo(session, actor, repo_type, owner, name, private=private,
                                          files={"README.md": readme_for(name, license)})
        if not created:
            raise Conflict(f"{owner}/{name} already exists.")
        repo.namespace  # noqa: B018 - loaded before the session closes (the redirect needs repo_id)
    return repo


@dataclass
class RepoForm:
    """A page of a repo that changes it (upload, README, settings)."""

    header: RepoHeader
    readme: str = ""
    owners: tuple[str, ...] = ()


def writable_page(hub: Hub, actor: Actor | None, repo_type: str, repo_id: str, tab: str) -> RepoForm:
    with hub.db.read() as session:
        repo = repos.get_writable_repo(session, actor, repo_type, repo_id)
        top = header(session, repo, tab)
        text = b""
        if tab == "readme":
            head = repos.resolve_revision(session, repo, repos.DEFAULT_BRANCH)
            text = repos.read_small_file(session, repo, head, "README.md") or b""
    return RepoForm(top, text.decode("utf-8", "replace"))


def admin_page(hub: Hub, actor: Actor, repo_type: str, repo_id: str) -> RepoForm:
    with hub.db.read() as session:
        repo = repos.get_admin_repo(session, actor, repo_type, repo_id)
        top = header(session, repo, "settings")
    return RepoForm(top, owners=tuple(owners(hub, actor)))


def upload(
    hub: Hub, actor: Actor, repo_type: str, repo_id: str, files: list[tuple[str, BinaryIO]], folder: str, message: str
) -> uploads.CommitResult:
    """One commit adding ``files`` (``(relative path, readable file)``) under ``folder``."""
    if not files:
        raise BadRequest("Choose at least one file.")
    with hub.db.read() as session:
        repos.get_writable_repo(session, actor, repo_type, repo_id)  # before reading any content
    folder = folder.strip().strip("/")
    writers: list[BlobWriter] = []
    try:
        ops: list[Operation] = []
        for name, stream in files:
            path = check_path(f"{folder}/{name}" if folder else name)
            writer = hub.blobs.begin()
            writers.append(writer)
            while chunk := stream.read(CHUNK):
                writer.write(chunk)
            ops.append(AddStreamed(path, writer, LfsPointer(writer.finish(), writer.size)))
        summary = message.strip() or (f"Upload {ops[0].path}" if len(ops) == 1 else f"Upload {len(ops)} files")
        return uploads.commit_changes(hub, actor, repo_type, repo_id, repos.DEFAULT_BRANCH,
                                      CommitHeader(summary=summary[:500]), ops)
    finally:
        for writer in writers:
            writer.abort()  # safe after publish; drops what an error left behind


def save_readme(hub: Hub, actor: Actor, repo_type: str, repo_id: str, text: str, message: str) -> uploads.CommitResult:
    if len(text) > MAX_README_CHARS:
        raise BadRequest("The README is too long to edit in the browser.")
    content = text.replace("\r\n", "\n").encode()
    summary = message.strip() or "Update README.md"
    return uploads.commit_changes(hub, actor, repo_type, repo_id, repos.DEFAULT_BRANCH,
                                  CommitHeader(summary=summary[:500]), [AddBytes("README.md", content)])


def preview_body(text: str) -> str:
    """The card's body without its YAML front matter (the preview renders what the repo page would)."""
    return parse_card(text.encode()).body


def set_private(hub: Hub, actor: Actor, repo_type: str, repo_id: str, private: bool) -> None:
    with hub.db.write() as session:
        repos.set_private(session, repos.get_admin_repo(session, actor, repo_type, repo_id), private)


def move(hub: Hub, actor: Actor, repo_type: str, repo_id: str, owner: str, name: str) -> str:
    with hub.db.write() as session:
        repo = repos.get_admin_repo(session, actor, repo_type, repo_id)
        return repos.move_repo(session, actor, repo, owner.strip(), name.strip()).repo_id


def delete(hub: Hub, actor: Actor, repo_type: str, repo_id: str, confirmation: str) -> None:
    with hub.db.write() as session:
        repo = repos.get_admin_repo(session, actor, repo_type, repo_id)
        if confirmation.strip() != repo.repo_id:
            raise BadRequest("Type the repo's full name to confirm.")
        repos.delete_repo(session, repo)
