"""Routes of the Hugging Face Hub protocol. Thin: parse → call ``info``/``writes``/services → answer."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from dazi.accounts.models import User
from dazi.deps import base_url, get_actor, get_hub, json_body
from dazi.errors import BadRequest, NotFound, Unauthorized
from dazi.hfcompat import info, writes
from dazi.hfcompat.paths import raw_segments, split_repo_path
from dazi.hfcompat.query import client_negotiates_lfs, flag, next_link, offset_and_limit
from dazi.hfcompat.serialize import PLURAL
from dazi.hfcompat.upload import receive_commit
from dazi.likes import services as likes
from dazi.orgs.services import orgs_of
from dazi.repos.listing import RepoQuery
from dazi.serving import resolve_file

router = APIRouter()


def paged(items: list[Any], more: bool, request: Request, next_offset: int) -> JSONResponse:
    headers = {"Link": next_link(request, next_offset)} if more else {}
    return JSONResponse(items, headers=headers)


# -- account ------------------------------------------------------------------------------


@router.get("/api/whoami-v2")
def whoami(request: Request) -> dict[str, Any]:
    actor = get_actor(request)
    if actor is None:
        raise Unauthorized("Invalid user token: send 'Authorization: Bearer <token>'.")
    hub = get_hub(request)
    with hub.db.read() as session:
        user = session.get(User, actor.user_id)
        if user is None:
            raise Unauthorized("Invalid user token: its user no longer exists.")
        orgs = [{"name": o.name, "fullname": o.namespace.fullname, "type": "org"} for o in orgs_of(session, user)]
        return {
            "type": "user",
            "id": f"{actor.user_id:024x}",
            "name": actor.name,
            "fullname": user.namespace.fullname if user else "",
            "email": user.email if user else None,
            "isAdmin": actor.is_admin,
            "orgs": orgs,
            "auth": {
                "type": "access_token",
                "accessToken": {"displayName": actor.token_label, "role": actor.token_role},
            },
        }


@router.get("/api/agent-harnesses")
def agent_harnesses() -> dict[str, Any]:
    return {"standardEnvVars": [], "harnesses": {}}


# -- repo collection -------------------------------------------------------------------


@router.post("/api/repos/create")
async def create_repo(request: Request) -> Any:
    body = await json_body(request)
    actor = await run_in_threadpool(get_actor, request)
    return await run_in_threadpool(writes.create_repo, get_hub(request), actor, body, base_url(request))


@router.delete("/api/repos/delete")
async def delete_repo(request: Request) -> Any:
    body = await json_body(request)
    actor = await run_in_threadpool(get_actor, request)
    await run_in_threadpool(writes.delete_repo, get_hub(request), actor, body)
    return {}


@router.post("/api/repos/move")
async def move_repo(request: Request) -> Any:
    body = await json_body(request)
    actor = await run_in_threadpool(get_actor, request)
    await run_in_threadpool(writes.move_repo, get_hub(request), actor, body)
    return {}


@router.post("/api/validate-yaml")
async def validate_yaml(request: Request) -> Response:
    status, body = writes.validate_yaml(await json_body(request))
    return JSONResponse(body, status_code=status)


@router.get("/api/{plural}")
def list_repos(request: Request, plural: str) -> Response:
    repo_type = PLURAL.get(plural)
    if repo_type is None:
        raise NotFound(f"Unknown route /api/{plural}.")
    hub = get_hub(request)
    offset, limit = offset_and_limit(request, hub.settings.page_size)
    params = request.query_params
    query = RepoQuery(
        repo_type=repo_type,
        search=params.getlist("search"),
        author=params.get("author"),
        filters=params.getlist("filter") + params.getlist("tags"),
        sort=params.get("sort"),
        ascending=params.get("direction") == "1",
        offset=offset,
        limit=limit,
    )
    for key in ("pipeline_tag", "library", "license", "language"):
        if params.get(key):
            query.filters.append(params[key] if key in ("pipeline_tag", "library") else f"{key}:{params[key]}")
    items, more = info.list_page(hub, get_actor(request), query, flag(request, "full"), flag(request, "cardData"))
    return paged(items, more, request, offset + limit)


@router.get("/api/users/{name}/likes")
def user_likes(request: Request, name: str) -> Response:
    hub = get_hub(request)
    offset, limit = offset_and_limit(request, hub.settings.page_size)
    items, more = info.user_likes_page(hub, get_actor(request), name, offset, limit)
    return paged(items, more, request, offset + limit)


# -- one repo --------------------------------------------------------------------------


@router.api_route("/api/{plural}/{rest:path}", methods=["GET", "POST", "PUT", "DELETE"])
async def repo_api(request: Request, plural: str) -> Any:
    repo_type = PLURAL.get(plural)
    if repo_type is None:
        raise NotFound(f"Unknown route /api/{plural}.")
    target = split_repo_path(raw_segments(request)[2:])
    hub = get_hub(request)
    actor = await run_in_threadpool(get_actor, request)
    method, marker, rest, rid = request.method, target.marker, target.rest, target.repo_id
    if marker == "commit" and method == "POST" and rest:
        if flag(request, "create_pr"):
            raise BadRequest("Pull requests are not supported by this hub yet; commit to a branch.")
        return await receive_commit(request, hub, actor, repo_type, rid, rest[0])
    body = await json_body(request) if method in ("POST", "PUT") and marker != "paths-info" else {}
    if marker == "paths-info" and method == "POST" and rest:
        form = await request.form()
        paths = [str(p) for p in form.getlist("paths")]
        return await run_in_threadpool(info.paths_info, hub, actor, repo_type, rid, rest[0], paths)
    return await run_in_threadpool(_repo_route, request, hub, actor, repo_type, rid, method, marker, rest, body)


def _repo_route(
    request: Request,
    hub: Any,
    actor: Any,
    repo_type: str,
    rid: str,
    method: str,
    marker: str | None,
    rest: list[str],
    body: dict[str, Any],
) -> Any:
    key = (method, marker)
    if marker in ("like", "likers"):
        return _likes_route(request, hub, actor, repo_type, rid, method, marker)
    if key == ("GET", None):
        return info.repo_info(hub, actor, repo_type, rid, None, flag(request, "blobs"))
    if key == ("GET", "revision") and rest:
        return info.repo_info(hub, actor, repo_type, rid, rest[0], flag(request, "blobs"))
    if key == ("GET", "tree") and rest:
        offset, limit = offset_and_limit(request, hub.settings.page_size)
        items, more = info.tree_page(
            hub,
            actor,
            repo_type,
            rid,
            rest[0],
            "/".join(rest[1:]).strip("/"),
            flag(request, "recursive"),
            offset,
            limit,
        )
        return paged(items, more, request, offset + limit)
    if key == ("GET", "refs"):
        return info.refs(hub, actor, repo_type, rid, flag(request, "include_prs"))
    if key == ("GET", "commits") and rest:
        offset, limit = offset_and_limit(request, hub.settings.page_size)
        formatted = "formatted" in request.query_params.getlist("expand[]")
        items, more = info.commits_page(hub, actor, repo_type, rid, rest[0], offset, limit, formatted)
        return paged(items, more, request, offset + limit)
    if key == ("GET", "auth-check"):
        info.auth_check(hub, actor, repo_type, rid)
        return {}
    if key == ("POST", "preupload") and rest:
        return writes.preupload(hub, actor, repo_type, rid, rest[0], body, client_negotiates_lfs(request))
    if key == ("PUT", "settings"):
        return writes.update_settings(hub, actor, repo_type, rid, body)
    if key == ("POST", "branch") and rest:
        writes.create_branch(hub, actor, repo_type, rid, "/".join(rest), body)
        return {}
    if key == ("DELETE", "branch") and rest:
        writes.delete_branch(hub, actor, repo_type, rid, "/".join(rest))
        return {}
    if key == ("POST", "tag") and rest:
        writes.create_tag(hub, actor, repo_type, rid, rest[0], body)
        return {}
    if key == ("DELETE", "tag") and rest:
        writes.delete_tag(hub, actor, repo_type, rid, "/".join(rest))
        return {}
    raise NotFound(f"Unknown route {method} {request.url.path}.")


def _likes_route(request: Request, hub: Any, actor: Any, repo_type: str, rid: str, method: str, marker: str) -> Any:
    if marker == "like" and method in ("POST", "DELETE"):
        with hub.db.write() as session:
            (likes.like if method == "POST" else likes.unlike)(session, actor, repo_type, rid)
        return {}
    if marker == "likers" and method == "GET":
        offset, limit = offset_and_limit(request, hub.settings.page_size)
        items, more = info.likers_page(hub, actor, repo_type, rid, offset, limit)
        return paged(items, more, request, offset + limit)
    raise NotFound(f"Unknown route {method} {request.url.path}.")


# -- files ---------------------------------------------------------------------------------


async def resolve(request: Request) -> Response:
    """``/{ns}/{name}/resolve/{rev}/{path}`` (and ``/datasets/…``, one-segment ids): a file at a revision."""
    segments = raw_segments(request)
    repo_type = "model"
    if segments[0] in ("datasets", "spaces", "models"):
        repo_type = PLURAL[segments[0]]
        segments = segments[1:]
    if len(segments) >= 4 and segments[2] == "resolve":
        rid, rev, path = f"{segments[0]}/{segments[1]}", segments[3], "/".join(segments[4:])
    elif len(segments) >= 3 and segments[1] == "resolve":
        rid, rev, path = segments[0], segments[2], "/".join(segments[3:])
    else:
        raise NotFound("Not found.")
    return await run_in_threadpool(resolve_file, request, repo_type, rid, rev, path)


# Explicit patterns (not a catch-all), so that git, ModelScope and web routes can share the URL space.
for _prefix in ("/datasets", "/spaces", "/models", ""):
    for _pattern in ("/{ns}/{name}/resolve/{rest:path}", "/{name}/resolve/{rest:path}"):
        router.add_api_route(
            f"{_prefix}{_pattern}", resolve, methods=["GET", "HEAD"], include_in_schema=False, name=None
        )
