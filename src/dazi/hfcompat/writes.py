"""Write-side answers for the Hugging Face routes: repos, refs, settings, preupload, validate-yaml."""

from __future__ import annotations

from typing import Any

from dulwich.ignore import IgnoreFilter

from dazi.accounts.services import Actor
from dazi.errors import BadRequest, Conflict, Forbidden
from dazi.hfcompat.serialize import PLURAL, repo_url
from dazi.hub import Hub
from dazi.repos import services as repos
from dazi.repos.cards import parse_card
from dazi.repos.gitattributes import LfsRules
from dazi.repos.names import check_path, split_repo_id
from dazi.uploads.services import compute_git_id, known_git_ids, remember_git_ids, should_be_lfs

GIT_ID_BUDGET = 4 << 30  # bytes re-read per preupload call to compute git ids of LFS files


def _visibility(body: dict[str, Any]) -> bool | None:
    visibility = body.get("visibility")
    if visibility is not None:
        if visibility not in ("public", "private"):
            raise BadRequest(f"Unsupported visibility {visibility!r}: use public or private.")
        return bool(visibility == "private")
    private: bool | None = body.get("private")
    if private is not None and not isinstance(private, bool):
        raise BadRequest("'private' must be a boolean.")
    return private


def _opt_str(body: dict[str, Any], key: str) -> str | None:
    value = body.get(key)
    if value is not None and not isinstance(value, str):
        raise BadRequest(f"'{key}' must be a string.")
    return value or None


def _repo_type(body: dict[str, Any], key: str = "type") -> str:
    value = _opt_str(body, key) or "model"
    if value in PLURAL:
        value = PLURAL[value]
    return repos.check_type(value)


def create_repo(hub: Hub, actor: Actor | None, body: dict[str, Any], base: str) -> dict[str, Any]:
    if actor is None:
        raise Forbidden("You must be logged in (send a write token) to create a repo.")
    name = body.get("name")
    if not isinstance(name, str):
        raise BadRequest("Missing repo 'name'.")
    namespace = _opt_str(body, "organization") or actor.name
    if "/" in name:
        namespace, name = split_repo_id(name)
    repo_type = _repo_type(body)
    with hub.db.write() as session:
        repo, created = repos.create_repo(session, actor, repo_type, namespace, name, private=bool(_visibility(body)))
        url = repo_url(base, repo)
        if not created:
            raise Conflict(f"You already created this {repo_type} repo", extra={"url": url})
        return {"url": url, "name": repo.repo_id, "id": f"{repo.id:024x}"}


def delete_repo(hub: Hub, actor: Actor | None, body: dict[str, Any]) -> None:
    name = body.get("name")
    if not isinstance(name, str):
        raise BadRequest("Missing repo 'name'.")
    org = _opt_str(body, "organization")
    repo_id = f"{org}/{name}" if org else name
    with hub.db.write() as session:
        repo = repos.get_admin_repo(session, actor, _repo_type(body), repo_id)
        repos.delete_repo(session, repo)


def move_repo(hub: Hub, actor: Actor | None, body: dict[str, Any]) -> None:
    src, dst = body.get("fromRepo"), body.get("toRepo")
    if not isinstance(src, str) or not isinstance(dst, str):
        raise BadRequest("'fromRepo' and 'toRepo' are required.")
    split_repo_id(src)
    ns, name = split_repo_id(dst)
    with hub.db.write() as session:
        repo = repos.get_admin_repo(session, actor, _repo_type(body), src)
        repos.move_repo(session, actor, repo, ns, name)  # type: ignore[arg-type]


def update_settings(
    hub: Hub, actor: Actor | None, repo_type: str, repo_id: str, body: dict[str, Any]
) -> dict[str, Any]:
    gated = body.get("gated")
    if gated not in (None, False):
        raise BadRequest("Gated repos are not supported by this hub yet.")
    private = _visibility(body)
    with hub.db.write() as session:
        repo = repos.get_admin_repo(session, actor, repo_type, repo_id)
        if private is not None:
            repos.set_private(session, repo, private)
        return {"private": repo.private, "gated": False}


def create_branch(
    hub: Hub, actor: Actor | None, repo_type: str, repo_id: str, branch: str, body: dict[str, Any]
) -> None:
    start = body.get("startingPoint")
    if start is not None and not isinstance(start, str):
        raise BadRequest("'startingPoint' must be a revision.")
    with hub.db.write() as session:
        repo = repos.get_writable_repo(session, actor, repo_type, repo_id)
        repos.create_branch(session, repo, branch, start)


def delete_branch(hub: Hub, actor: Actor | None, repo_type: str, repo_id: str, branch: str) -> None:
    with hub.db.write() as session:
        repo = repos.get_writable_repo(session, actor, repo_type, repo_id)
        repos.delete_branch(session, repo, branch)


def create_tag(hub: Hub, actor: Actor | None, repo_type: str, repo_id: str, rev: str, body: dict[str, Any]) -> None:
    tag, message = body.get("tag"), body.get("message")
    if not isinstance(tag, str) or (message is not None and not isinstance(message, str)):
        raise BadRequest("'tag' (and an optional 'message') are required.")
    with hub.db.write() as session:
        repo = repos.get_writable_repo(session, actor, repo_type, repo_id)
        repos.create_tag(session, actor, repo, rev, tag, message)  # type: ignore[arg-type]


def delete_tag(hub: Hub, actor: Actor | None, repo_type: str, repo_id: str, tag: str) -> None:
    with hub.db.write() as session:
        repo = repos.get_writable_repo(session, actor, repo_type, repo_id)
        repos.delete_tag(session, repo, tag)


def preupload(
    hub: Hub, actor: Actor | None, repo_type: str, repo_id: str, rev: str, body: dict[str, Any], negotiates_lfs: bool
) -> dict[str, Any]:
    files = body.get("files")
    if not isinstance(files, list) or not all(isinstance(f, dict) for f in files):
        raise BadRequest("'files' must be a list of {path, size, sample}.")
    with hub.db.read() as session:
        repo = repos.get_writable_repo(session, actor, repo_type, repo_id)
        sha = repos.resolve_revision(session, repo, rev)
        rules = LfsRules(repos.read_small_file(session, repo, sha, ".gitattributes"))
        gitignore = body.get("gitIgnore")
        if not isinstance(gitignore, str):
            raw = repos.read_small_file(session, repo, sha, ".gitignore")
            gitignore = raw.decode("utf-8", "replace") if raw else ""
        ignore = IgnoreFilter([line.encode() for line in gitignore.splitlines()])
        paths = [check_path(f.get("path")) for f in files]
        existing = {e.path: e for e in repos.paths_info(session, repo, sha, paths)}
        git_ids = known_git_ids(session, [e.lfs_oid for e in existing.values() if e.lfs_oid])
    if not negotiates_lfs:
        git_ids.update(_missing_git_ids(hub, files, paths, existing, git_ids))
    out = []
    for f, path in zip(files, paths, strict=True):
        size = f.get("size")
        if not isinstance(size, int) or size < 0:
            raise BadRequest(f"Invalid size for {path!r}.")
        lfs = negotiates_lfs and size > 0 and should_be_lfs(hub, rules, path, size)
        item: dict[str, Any] = {
            "path": path,
            "uploadMode": "lfs" if lfs else "regular",
            "shouldIgnore": bool(ignore.is_ignored(path)),
        }
        entry = existing.get(path)
        if entry is not None and entry.type == "file":
            if entry.lfs_oid and lfs:
                item["oid"] = entry.lfs_oid
            elif not lfs:
                oid = git_ids.get(entry.lfs_oid) if entry.lfs_oid else entry.oid
                if oid:
                    item["oid"] = oid
        out.append(item)
    return {"files": out, "commitOid": sha}


def _missing_git_ids(
    hub: Hub, files: list[dict[str, Any]], paths: list[str], existing: dict[str, Any], known: dict[str, str]
) -> dict[str, str]:
    """Compute (and remember) git ids of same-size LFS files a "regular"-mode client may be re-sending.

    Bounded per request so that preupload stays fast; what is left is computed on a later call.
    """
    found: dict[str, str] = {}
    budget = GIT_ID_BUDGET
    for f, path in zip(files, paths, strict=True):
        entry = existing.get(path)
        if entry is None or not entry.lfs_oid or entry.lfs_oid in known or entry.lfs_oid in found:
            continue
        if f.get("size") != entry.size or entry.size > budget:
            continue
        budget -= entry.size
        found[entry.lfs_oid] = compute_git_id(hub, entry.lfs_oid, entry.size)
    if found:
        with hub.db.write() as session:
            remember_git_ids(session, found)
    return found


def validate_yaml(body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    content = body.get("content")
    if not isinstance(content, str):
        return 400, {"errors": [{"message": "'content' (the README text) is required."}], "warnings": []}
    card = parse_card(content)
    if card.error:
        return 400, {"errors": [{"message": card.error}], "warnings": []}
    return 200, {"errors": [], "warnings": [{"message": w} for w in card.warnings]}
