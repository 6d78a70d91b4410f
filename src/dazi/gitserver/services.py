"""git smart-HTTP services: who may do what, ref advertisements, one upload-pack round, one push.

Every function opens its own short transactions; none touches an HTTP request. The wire protocol
lives in ``protocol``, ``uploadpack`` and ``receivepack``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from sqlalchemy.orm import Session

from dazi.accounts.services import Actor
from dazi.errors import RepoNotFound, Unauthorized
from dazi.gitserver import receivepack
from dazi.gitserver.protocol import (
    RECEIVE_CAPABILITIES,
    UPLOAD_CAPABILITIES,
    ProtocolError,
    advertise_refs,
    error_line,
    service_header,
)
from dazi.gitserver.uploadpack import MissingObject, Negotiation, UploadRequest, stream_pack
from dazi.hub import Hub
from dazi.repos import services as repos
from dazi.repos.git import ObjectStore
from dazi.repos.models import Repo

UPLOAD = "git-upload-pack"
RECEIVE = "git-receive-pack"
SERVICES = (UPLOAD, RECEIVE)


class AuthenticationRequired(Unauthorized):
    """Anonymous, and the request needs credentials: git asks for them and retries."""


def _open(session: Session, actor: Actor | None, repo_type: str, repo_id: str, service: str) -> Repo:
    """The repo, if ``actor`` may fetch from it (upload-pack) or push to it (receive-pack)."""
    try:
        repo = repos.get_repo_for(session, actor, repo_type, repo_id)
    except RepoNotFound:
        if actor is None:
            raise AuthenticationRequired(f"Authentication required for {repo_id}: use a token as password.") from None
        raise
    if service == RECEIVE:
        if actor is None:
            raise AuthenticationRequired("Pushing needs a write token: use it as the password (any user name).")
        repos.get_writable_repo(session, actor, repo_type, repo_id)
    return repo


def check_access(hub: Hub, actor: Actor | None, repo_type: str, repo_id: str, service: str) -> None:
    with hub.db.read() as session:
        _open(session, actor, repo_type, repo_id, service)


def advertisement(hub: Hub, actor: Actor | None, repo_type: str, repo_id: str, service: str) -> bytes:
    """The answer to ``GET …/info/refs?service=…``: the service header and the v0 ref advertisement."""
    with hub.db.read() as session:
        repo = _open(session, actor, repo_type, repo_id, service)
        peeled_refs = repos.peeled_refs(session, repo)
    targets = {ref.name: ref.target for ref, _peeled in peeled_refs}
    peeled = {ref.name: target for ref, target in peeled_refs if target != ref.target}
    main = receivepack.MAIN
    if main in targets and receivepack.MASTER_ALIAS not in targets:
        targets[receivepack.MASTER_ALIAS] = targets[main]
    refs = sorted(targets.items())
    if service == UPLOAD:
        head = main if main in targets else None
        body = advertise_refs(refs, peeled, UPLOAD_CAPABILITIES, head)
    else:
        body = advertise_refs(refs, {}, RECEIVE_CAPABILITIES, None)
    return service_header(service) + body


@dataclass
class UploadAnswer:
    """The bytes of one upload-pack round: all at once, or streamed (with a pack)."""

    body: bytes = b""
    stream: Iterator[bytes] | None = None


def upload_pack(hub: Hub, actor: Actor | None, repo_type: str, repo_id: str, body: bytes) -> UploadAnswer:
    """Negotiate one stateless round; if a pack follows, plan it (the bytes are read while streaming)."""
    try:
        request = UploadRequest.parse(body)
        with hub.db.read() as session:
            repo = _open(session, actor, repo_type, repo_id, UPLOAD)
            tags = [r.target for r in repos.refs(session, repo) if r.name.startswith("refs/tags/")]
            answer = Negotiation(ObjectStore(session, repo.id), request, tags).run()
            pk = repo.id
    except (ProtocolError, MissingObject) as exc:
        return UploadAnswer(error_line(str(exc)))
    if answer.plan is None:
        return UploadAnswer(b"".join(answer.lines))
    return UploadAnswer(stream=stream_pack(answer.plan, answer.lines, hub.db.read, pk))


def receive_pack(hub: Hub, actor: Actor, repo_type: str, repo_id: str, chunks: Iterator[bytes]) -> bytes:
    """Apply one push (all-or-nothing) and return git's report-status answer."""
    try:
        return receivepack.receive(hub, actor, repo_type, repo_id, chunks)
    except ProtocolError as exc:
        return error_line(str(exc))
