"""Write-side answers of the ModelScope routes: login, create/delete repos, tags, LFS batch, commits.

Uploads take the hub's own paths: LFS objects go through ``lfs.services`` (the repo's claims decide what
is "already uploaded"), commits through ``uploads.services.commit_changes`` — one ModelScope commit
request is one hub commit, with the same ids the Hugging Face routes show.
"""

from __future__ import annotations

import base64
import binascii
import re
from typing import Any

from dazi.accounts.models import User
from dazi.accounts.services import Actor, actor_for_token
from dazi.errors import BadRequest, Conflict, DaziError, PayloadTooLarge, Unauthorized
from dazi.hub import Hub
from dazi.lfs import services as lfs
from dazi.mscompat import serialize, vocab
from dazi.repos import services as repos
from dazi.repos.names import check_path, split_repo_id
from dazi.uploads.operations import AddBytes, AddLfs, CommitHeader, Delete, Operation
from dazi.uploads.services import commit_changes

TOKEN_INVALID = 10010103009
ALREADY_EXISTS = {"model": 10010101001, "dataset": 10020101001}
MAX_ACTIONS = 2000
TRANSFER_ROOT = "/api/v1/lfs"  # PUT {TRANSFER_ROOT}/objects/{token}: the hub's own signed upload URL
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


class Unprocessable(DaziError):
    status_code = 422


def login(hub: Hub, token: str) -> dict[str, Any]:
    """``Data`` of ``POST /api/v1/login``: the token is its own git token and session cookie."""
    if not token:
        raise BadRequest("AccessToken is required.", extra={"ms_code": TOKEN_INVALID})
    try:
        with hub.db.read() as session:
            actor, _stale = actor_for_token(session, token)
            user = session.get(User, actor.user_id)
            email = user.email if user else ""
    except Unauthorized:
        raise BadRequest("AccessToken is invalid or expired.", extra={"ms_code": TOKEN_INVALID}) from None
    return {"AccessToken": token, "Username": actor.name, "Email": email}


def create_repo(hub: Hub, actor: Actor | None, repo_type: str, body: dict[str, Any]) -> dict[str, Any]:
    """``POST /api/v1/models`` (JSON, owner in ``Path``) and ``/api/v1/datasets`` (form, owner in ``Owner``)."""
    if actor is None:
        raise Unauthorized("Log in (send your access token) to create a repository.")
    owner, name = body.get("Path") or body.get("Owner") or actor.name, body.get("Name")
    if not isinstance(owner, str) or not isinstance(name, str) or not name:
        raise BadRequest("Name (and Path or Owner) are required strings.")
    owner, name = split_repo_id(f"{owner}/{name}")
    visibility = body.get("Visibility")
    private = vocab.private_from(vocab.PUBLIC if visibility in (None, "") else visibility)
    card = vocab.card_from(body, name)
    with hub.db.write() as session:
        repo, created = repos.create_repo(
            session, actor, repo_type, owner, name, private=private, files={"README.md": card} if card else None
        )
        if not created:
            raise Conflict(
                f"The {repo_type} {owner}/{name} already exists.", extra={"ms_code": ALREADY_EXISTS[repo_type]}
            )
        return serialize.legacy_repo(repo, repos.tags_of(session, repo))


def delete_repo(hub: Hub, actor: Actor | None, repo_type: str, repo_id: str) -> None:
    with hub.db.write() as session:
        repos.delete_repo(session, repos.get_admin_repo(session, actor, repo_type, repo_id))


def create_tag(hub: Hub, actor: Actor | None, repo_type: str, repo_id: str, body: dict[str, Any]) -> dict[str, Any]:
    """``{"TagName": "v1.0", "Ref": "master"}``: a tag on the commit ``Ref`` names."""
    tag, ref = body.get("TagName"), body.get("Ref")
    if not isinstance(tag, str) or not tag or (ref is not None and not isinstance(ref, str)):
        raise BadRequest("TagName (and an optional Ref) must be strings.")
    if tag in (vocab.MS_DEFAULT_BRANCH, repos.DEFAULT_BRANCH):
        raise BadRequest(f"{tag!r} names the default branch and cannot be a tag.")
    with hub.db.write() as session:
        repo = repos.get_writable_repo(session, actor, repo_type, repo_id)
        assert actor is not None  # a writable repo has a writer
        commit = repos.create_tag(session, actor, repo, vocab.hub_revision(session, repo, ref), tag, None)
    return {"TagName": tag, "Revision": tag, "CommitId": commit}


def lfs_batch(
    hub: Hub, actor: Actor | None, repo_type: str, repo_id: str, body: dict[str, Any], base: str
) -> dict[str, Any]:
    """Upload URLs for the objects this repo does not have yet; objects it has are left out of the answer.

    Only this repo's own claims count as "present": an object stored for another repo must be uploaded
    again (its digest proves nothing), so nobody can claim content they cannot read.
    """
    if body.get("operation", "upload") != "upload" or not isinstance(body.get("objects"), list):
        raise BadRequest('Expected {"operation": "upload", "objects": [{"oid", "size"}]}.')
    answer = lfs.batch(hub, actor, repo_type, repo_id, body, base, transfer_root=TRANSFER_ROOT)
    needed = []
    for item in answer["objects"]:
        error = item.get("error")
        if error:
            raise (PayloadTooLarge if error["code"] == 413 else BadRequest)(f"{item['oid']}: {error['message']}")
        if "actions" in item:
            upload = item["actions"]["upload"]
            needed.append({"oid": item["oid"], "size": item["size"], "actions": {"upload": upload}})
    return {"objects": needed}


def commit(
    hub: Hub, actor: Actor | None, repo_type: str, repo_id: str, revision: str, body: dict[str, Any]
) -> dict[str, Any]:
    """``{"commit_message", "actions": [create|update normal/lfs, delete]}`` → one commit on the branch."""
    actions = body.get("actions")
    if not isinstance(actions, list) or not actions:
        raise BadRequest("'actions' must be a non-empty list.")
    if len(actions) > MAX_ACTIONS:
        raise Unprocessable(f"commit request exceeds actions limit: {len(actions)} > {MAX_ACTIONS}")
    message = body.get("commit_message")
    description = body.get("commit_description")
    if not isinstance(message, str | None) or not isinstance(description, str | None):
        raise BadRequest("'commit_message' and 'commit_description' must be strings.")
    operations = [operation(a, i) for i, a in enumerate(actions)]
    if actor is None:
        raise Unauthorized("Log in (send your access token) to commit.")
    with hub.db.read() as session:
        branch = vocab.hub_revision(session, repos.get_repo_for(session, actor, repo_type, repo_id), revision)
    header = CommitHeader(summary=message or "", description=description or "")
    result = commit_changes(hub, actor, repo_type, repo_id, branch, header, operations)
    return {"oid": result.oid, "CommitId": result.oid, "commit_message": header.message}


def operation(action: Any, index: int) -> Operation:
    """One commit action → a hub operation. Any file may come as ``normal`` or ``lfs``, whatever its size."""
    if not isinstance(action, dict):
        raise BadRequest(f"actions[{index}] must be an object.")
    kind, path, file_type = action.get("action"), action.get("path"), action.get("type") or "normal"
    if not isinstance(path, str):
        raise BadRequest(f"actions[{index}].path must be a string.")
    raw = path.lstrip("/")
    if kind == "delete":
        return Delete(check_path(raw.rstrip("/")), folder=raw.endswith("/"))
    path = check_path(raw)
    if kind not in ("create", "update"):
        raise BadRequest(f"actions[{index}].action must be create, update or delete, not {kind!r}.")
    size = action.get("size")
    if size is not None and (not isinstance(size, int) or isinstance(size, bool) or size < 0):
        raise BadRequest(f"actions[{index}].size must be a non-negative integer.")
    if file_type == "lfs":
        oid = action.get("sha256")
        if not isinstance(oid, str) or not _SHA256.match(oid) or size is None:
            raise BadRequest(f"actions[{index}] ({path}): an lfs file needs its sha256 (hex) and size.")
        return AddLfs(path, oid, size)
    if file_type != "normal":
        raise BadRequest(f"actions[{index}].type must be normal or lfs, not {file_type!r}.")
    return AddBytes(path, _content(action, index, path, size))


def _content(action: dict[str, Any], index: int, path: str, size: int | None) -> bytes:
    content, encoding = action.get("content") or "", action.get("encoding") or "base64"
    if not isinstance(content, str) or encoding != "base64":
        raise BadRequest(f"actions[{index}] ({path}): content must be a base64 string.")
    try:
        data = base64.b64decode(content, validate=True)
    except (binascii.Error, ValueError):
        raise BadRequest(f"actions[{index}] ({path}): content is not valid base64.") from None
    if size is not None and size != len(data):
        raise BadRequest(f"actions[{index}] ({path}): size says {size} bytes, content has {len(data)}.")
    return data
