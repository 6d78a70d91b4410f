"""LFS batch decisions and transfers, over the blob store and the repo's LFS claims."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from dazi.accounts.services import Actor
from dazi.blobstore import DigestMismatch, SizeMismatch
from dazi.errors import BadRequest, Forbidden, NotFound
from dazi.hub import Hub
from dazi.repos import services as repos
from dazi.repos.models import Repo
from dazi.uploads import signing
from dazi.uploads.services import claim_uploaded, has_object

_SHA256 = re.compile(r"^[0-9a-f]{64}$")


@dataclass(frozen=True)
class Transfer:
    repo_pk: int
    oid: str
    size: int
    op: str  # "upload" | "download"


TRANSFER_ROOT = "/api/lfs"  # transfers are {root}/objects/{token}, verification {root}/verify/{token}


def batch(
    hub: Hub,
    actor: Actor | None,
    repo_type: str,
    repo_id: str,
    body: dict[str, Any],
    base: str,
    transfer_root: str = TRANSFER_ROOT,
) -> dict[str, Any]:
    """Answer an LFS batch request; transfer hrefs are ``{base}{transfer_root}/objects/{signed token}``."""
    operation = body.get("operation")
    objects = body.get("objects")
    if operation not in ("upload", "download") or not isinstance(objects, list):
        raise BadRequest("Expected {operation: upload|download, objects: [{oid, size}]}.")
    with hub.db.read() as session:
        if operation == "upload":
            repo = repos.get_writable_repo(session, actor, repo_type, repo_id)
        else:
            repo = repos.get_repo_for(session, actor, repo_type, repo_id)
        answers = [_answer(session, hub, repo, operation, obj, base + transfer_root) for obj in objects]
    return {"transfer": "basic", "objects": answers, "hash_algo": "sha256"}


def _answer(session: Any, hub: Hub, repo: Any, operation: str, obj: Any, root: str) -> dict[str, Any]:
    oid = obj.get("oid") if isinstance(obj, dict) else None
    size = obj.get("size") if isinstance(obj, dict) else None
    if not isinstance(oid, str) or not _SHA256.match(oid) or not isinstance(size, int) or size < 0:
        return {
            "oid": str(oid),
            "size": size if isinstance(size, int) else 0,
            "error": {"code": 422, "message": "Invalid object: oid must be a sha256 hex digest, size >= 0."},
        }
    if size > hub.settings.max_file_size:
        return {
            "oid": oid,
            "size": size,
            "error": {"code": 413, "message": f"File too large: the limit is {hub.settings.max_file_size} bytes."},
        }
    known = has_object(session, repo, oid)
    item: dict[str, Any] = {"oid": oid, "size": size, "authenticated": True}
    ttl = hub.settings.upload_url_ttl
    if operation == "download":
        if known is None:
            item["error"] = {"code": 404, "message": "Object does not exist in this repository."}
            return item
        token = signing.sign(hub.secret, {"r": repo.id, "o": oid, "s": known, "op": "download"}, ttl)
        item["size"] = known
        item["actions"] = {"download": {"href": f"{root}/objects/{token}", "expires_in": ttl}}
        return item
    if known == size:
        return item  # already there: the client skips the upload
    token = signing.sign(hub.secret, {"r": repo.id, "o": oid, "s": size, "op": "upload"}, ttl)
    item["actions"] = {
        "upload": {"href": f"{root}/objects/{token}", "expires_in": ttl},
        "verify": {"href": f"{root}/verify/{token}", "expires_in": ttl},
    }
    return item


def check_locks_access(hub: Hub, actor: Actor | None, repo_type: str, repo_id: str) -> None:
    """The locking API answers "not implemented" (the hub keeps no locks), but only to those who may read."""
    with hub.db.read() as session:
        repos.get_repo_for(session, actor, repo_type, repo_id)


def transfer_from_token(hub: Hub, token: str, op: str) -> Transfer:
    payload = signing.verify(hub.secret, token)
    if payload.get("op") != op:
        raise Forbidden("This URL does not allow that operation.")
    return Transfer(int(payload["r"]), str(payload["o"]), int(payload["s"]), op)


def receive(hub: Hub, transfer: Transfer, chunks: Iterator[bytes] | Iterator[bytearray]) -> None:
    """Stream an upload into the blob store, check it, publish it, and record the repo's claim."""
    writer = hub.blobs.begin()
    try:
        for chunk in chunks:
            writer.write(chunk)
            if writer.size > transfer.size:
                raise SizeMismatch("more bytes than announced")
        writer.finish(expected_sha256=transfer.oid, expected_size=transfer.size)
        writer.publish()
    except DigestMismatch:
        writer.abort()
        raise BadRequest(f"The uploaded content does not hash to {transfer.oid}.") from None
    except SizeMismatch:
        writer.abort()
        raise BadRequest(f"The uploaded content is not {transfer.size} bytes long.") from None
    except BaseException:
        writer.abort()
        raise
    with hub.db.write() as session:
        repo = session.get(Repo, transfer.repo_pk)
        if repo is None:
            raise NotFound("The repository no longer exists.")
        claim_uploaded(session, repo, transfer.oid, transfer.size)


def verify(hub: Hub, transfer: Transfer, body: dict[str, Any]) -> None:
    if body.get("oid") not in (None, transfer.oid) or body.get("size") not in (None, transfer.size):
        raise BadRequest("The object does not match this verify URL.")
    with hub.db.read() as session:
        repo = session.get(Repo, transfer.repo_pk)
        if repo is None or has_object(session, repo, transfer.oid) != transfer.size:
            raise NotFound(f"Object {transfer.oid} has not been uploaded.")
