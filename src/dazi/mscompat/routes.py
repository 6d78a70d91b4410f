"""Routes of the ModelScope SDK protocol (legacy ``/api/v1``, OpenAPI ``/openapi/v1``). Thin: parse → call
``info``/``writes`` → wrap in the envelope. Every other path under the two prefixes is a 404 in the
protocol's shape: the SDKs fall back to other calls on a 404 (see docs/reference/modelscope.md).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from dazi.deps import SESSION_COOKIE, base_url, get_actor, get_hub, json_body, parse_json_object
from dazi.errors import BadRequest, NotFound, PayloadTooLarge
from dazi.lfs import services as lfs
from dazi.mscompat import info, wire, writes
from dazi.mscompat.vocab import repo_type_of
from dazi.repos.names import split_repo_id
from dazi.serving import resolve_file
from dazi.transfer import consume_body

router = APIRouter(include_in_schema=False)
SESSION_MAX_AGE = 30 * 24 * 3600  # "log in once every 30 days", as on modelscope.cn


async def _call(request: Request, fn: Any, *args: Any) -> Any:
    """Run a service call in a worker thread with the request's actor as its second argument."""
    actor = await run_in_threadpool(get_actor, request)
    return await run_in_threadpool(fn, get_hub(request), actor, *args)


def _repo(plural: str, owner: str, name: str) -> tuple[str, str]:
    """``(repo type, repo id)`` of a ``/{models|datasets}/{owner}/{name}`` path."""
    return repo_type_of(plural), f"{owner}/{name}"


# -- account ----------------------------------------------------------------------------------


@router.post("/api/v1/login")
async def login(request: Request) -> Response:
    body = await json_body(request)
    token = body.get("AccessToken")
    data = await run_in_threadpool(writes.login, get_hub(request), token if isinstance(token, str) else "")
    response = wire.legacy(request, data)
    secure = request.url.scheme == "https"
    response.set_cookie(
        SESSION_COOKIE,
        data["AccessToken"],
        max_age=SESSION_MAX_AGE,
        path="/",
        httponly=True,
        samesite="lax",
        secure=secure,
    )
    return response


@router.get("/openapi/v1/users/me")
async def users_me(request: Request) -> Response:
    return wire.openapi(request, await _call(request, info.current_user))


# -- repo collections ---------------------------------------------------------------------------


def _list_query(request: Request, repo_type: str) -> info.ListQuery:
    params = request.query_params
    tags = [params[k] for k in ("filter.task", "filter.library", "filter.custom_tag") if params.get(k)]
    if params.get("filter.license"):
        tags.append(f"license:{params['filter.license'].lower()}")
    return info.ListQuery(
        repo_type=repo_type,
        owner=params.get("owner") or params.get("Owner") or None,
        search=params.get("search") or params.get("Search") or None,
        sort=params.get("sort") or None,
        tags=tags,
        page=wire.number(request, ("page_number", "PageNumber"), 1),
        size=wire.number(request, ("page_size", "PageSize"), 10, high=1000),
    )


@router.get("/openapi/v1/{plural}")
async def openapi_list(request: Request, plural: str) -> Response:
    q = _list_query(request, repo_type_of(plural))
    items, total = await _call(request, info.list_repos, q, True)
    return wire.openapi(request, {plural: items, "total_count": total, "page_number": q.page, "page_size": q.size})


@router.get("/api/v1/datasets")
async def legacy_dataset_list(request: Request) -> Response:
    q = _list_query(request, "dataset")
    items, total = await _call(request, info.list_repos, q, False)
    return wire.legacy(request, items, TotalCount=total, PageNumber=q.page, PageSize=q.size)


async def legacy_model_list(request: Request) -> Response:
    """The ≤1.37 SDK's ``list_models``: ``PUT /api/v1/models/`` with ``{"Path", "PageNumber", "PageSize"}``."""
    body = await json_body(request)
    owner = body.get("Path")
    if owner is not None and not isinstance(owner, str):
        raise BadRequest("Path must be the owner's name.")
    q = info.ListQuery(repo_type="model", owner=owner or None)
    q.page, q.size = _page_of(body)
    items, total = await _call(request, info.list_repos, q, False)
    return wire.legacy(request, {"Models": items, "TotalCount": total})


def _page_of(body: dict[str, Any]) -> tuple[int, int]:
    try:
        return max(1, int(body.get("PageNumber") or 1)), max(1, min(1000, int(body.get("PageSize") or 10)))
    except (TypeError, ValueError):
        raise BadRequest("PageNumber and PageSize must be integers.") from None


for _path in ("/api/v1/models", "/api/v1/models/"):
    router.add_api_route(_path, legacy_model_list, methods=["PUT"])


@router.post("/api/v1/models")
async def create_model(request: Request) -> Response:
    return wire.legacy(request, await _call(request, writes.create_repo, "model", await json_body(request)))


@router.post("/api/v1/datasets")
async def create_dataset(request: Request) -> Response:
    if request.headers.get("content-type", "").startswith("application/json"):
        body: dict[str, Any] = await json_body(request)
    else:
        body = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
    return wire.legacy(request, await _call(request, writes.create_repo, "dataset", body))


# -- one repo --------------------------------------------------------------------------------------


@router.get("/openapi/v1/{plural}/{owner}/{name}")
async def openapi_detail(request: Request, plural: str, owner: str, name: str) -> Response:
    data = await _call(request, info.repo_detail, *_repo(plural, owner, name), None, True)
    return wire.openapi(request, data)


@router.get("/api/v1/{plural}/{owner}/{name}")
async def legacy_detail(request: Request, plural: str, owner: str, name: str) -> Response:
    revision = wire.text(request, "Revision")
    data = await _call(request, info.repo_detail, *_repo(plural, owner, name), revision, False)
    return wire.legacy(request, data)


@router.delete("/api/v1/{plural}/{owner}/{name}")
async def delete_repo(request: Request, plural: str, owner: str, name: str) -> Response:
    await _call(request, writes.delete_repo, *_repo(plural, owner, name))
    return wire.legacy(request, None)


@router.get("/api/v1/{plural}/{owner}/{name}/revisions")
async def revisions(request: Request, plural: str, owner: str, name: str) -> Response:
    end = wire.number(request, ("EndTime",), 0, low=0, high=2**62) or None
    return wire.legacy(request, await _call(request, info.revisions, *_repo(plural, owner, name), end))


@router.post("/api/v1/{plural}/{owner}/{name}/repo/tag")
async def create_tag(request: Request, plural: str, owner: str, name: str) -> Response:
    body = await json_body(request)
    return wire.legacy(request, await _call(request, writes.create_tag, *_repo(plural, owner, name), body))


@router.get("/api/v1/{plural}/{owner}/{name}/commits")
async def commits(request: Request, plural: str, owner: str, name: str) -> Response:
    page = wire.number(request, ("PageNumber",), 1)
    size = wire.number(request, ("PageSize",), 50, high=1000)
    ref = wire.text(request, "Ref") or wire.text(request, "Revision")
    items, total = await _call(request, info.commits, *_repo(plural, owner, name), ref, page, size)
    return wire.legacy(request, {"Commit": items, "TotalCount": total}, TotalCount=total)


async def list_files(request: Request, plural: str, ref: str) -> Response:
    """``…/repo/files`` (models: every entry, no cap) and ``…/repo/tree`` (datasets: paged when asked)."""
    page = None
    if request.query_params.get("PageNumber") or request.query_params.get("PageSize"):
        page = (wire.number(request, ("PageNumber",), 1), wire.number(request, ("PageSize",), 100))
    args = (wire.text(request, "Revision"), wire.text(request, "Root") or "", wire.flag(request, "Recursive"), page)
    files = await _call(request, info.list_files, repo_type_of(plural), ref, *args)
    return wire.legacy(request, {"Files": files})


async def list_files_by_name(request: Request, plural: str, owner: str, name: str) -> Response:
    return await list_files(request, plural, f"{owner}/{name}")


async def list_files_by_id(request: Request, plural: str, repo_pk: str) -> Response:
    if not repo_pk.isdigit():
        raise NotFound(f"Unknown route {request.url.path}.")
    return await list_files(request, plural, repo_pk)


for _suffix in ("files", "tree"):
    router.add_api_route(f"/api/v1/{{plural}}/{{owner}}/{{name}}/repo/{_suffix}", list_files_by_name, methods=["GET"])
    router.add_api_route(f"/api/v1/{{plural}}/{{repo_pk}}/repo/{_suffix}", list_files_by_id, methods=["GET"])


@router.api_route("/api/v1/{plural}/{owner}/{name}/repo", methods=["GET", "HEAD"])
async def download(request: Request, plural: str, owner: str, name: str) -> Response:
    """A file at a revision (``Revision`` defaults to ``master``), with Range and ``X-Linked-ETag``."""
    repo_type = repo_type_of(plural)
    path = (wire.text(request, "FilePath") or "").lstrip("/")
    if not path:
        raise BadRequest("FilePath is required.")
    rev = await _call(request, info.hub_revision, repo_type, f"{owner}/{name}", wire.text(request, "Revision"))
    return await run_in_threadpool(resolve_file, request, repo_type, f"{owner}/{name}", rev, path)


@router.post("/api/v1/{plural}/{owner}/{name}/download/increase")
async def download_increase(request: Request, plural: str, owner: str, name: str) -> Response:
    """Accepted for the SDKs; downloads are already counted per file fetched (like the HF routes)."""
    await _call(request, info.check_readable, *_repo(plural, owner, name))
    return wire.legacy(request, None)


# -- uploads ---------------------------------------------------------------------------------------


@router.post("/api/v1/repos/{plural}/{owner}/{name}/info/lfs/objects/batch")
async def lfs_batch(request: Request, plural: str, owner: str, name: str) -> Response:
    body = await json_body(request)
    args = (*_repo(plural, owner, name), body, base_url(request))
    return wire.legacy(request, await _call(request, writes.lfs_batch, *args))


@router.put(f"{writes.TRANSFER_ROOT}/objects/{{token}}")
async def lfs_upload(request: Request, token: str) -> Response:
    """The signed upload URL of the batch answer: self-authorising (the SDKs' extra credentials are ignored)."""
    hub = get_hub(request)
    transfer = lfs.transfer_from_token(hub, token, "upload")
    await consume_body(request, lambda chunks: lfs.receive(hub, transfer, chunks))
    return wire.legacy(request, None)


@router.post("/api/v1/repos/{plural}/{owner}/{name}/commit/{revision:path}")
async def commit(request: Request, plural: str, owner: str, name: str, revision: str) -> Response:
    repo_type = repo_type_of(plural)
    split_repo_id(f"{owner}/{name}")
    limit = get_hub(request).settings.max_inline_commit_bytes * 4 // 3 + (1 << 20)
    body = await run_in_threadpool(parse_json_object, await _bounded_body(request, limit))
    data = await _call(request, writes.commit, repo_type, f"{owner}/{name}", revision, body)
    return wire.legacy(request, data)


async def _bounded_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"The commit body is larger than {limit} bytes: upload big files as lfs.")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise PayloadTooLarge(f"The commit body is larger than {limit} bytes: upload big files as lfs.")
    return bytes(body)


# -- everything else under the two prefixes: 404 in the protocol's shape ------------------------------------


@router.api_route("/api/v1/{rest:path}", methods=["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"])
@router.api_route("/openapi/v1/{rest:path}", methods=["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"])
async def unknown(request: Request, rest: str) -> JSONResponse:
    raise NotFound(f"Unknown route {request.method} {request.url.path}.")
