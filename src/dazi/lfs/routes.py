"""git-LFS HTTP routes. Errors use LFS's own shape: ``{"message": ...}`` as ``application/vnd.git-lfs+json``."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from dazi.deps import base_url, get_actor, get_hub
from dazi.errors import DaziError, RepoNotFound, Unauthorized
from dazi.hfcompat.serialize import PLURAL
from dazi.lfs import services
from dazi.transfer import consume_body, file_response, stream_response

LFS_JSON = "application/vnd.git-lfs+json"
router = APIRouter()


def lfs_error(exc: DaziError, anonymous: bool) -> Response:
    status = exc.status_code
    headers = {}
    if isinstance(exc, RepoNotFound | Unauthorized) and anonymous:
        status = 401
    if status == 401:
        headers["LFS-Authenticate"] = 'Basic realm="dazi"'
    return JSONResponse({"message": exc.message}, status_code=status, headers=headers, media_type=LFS_JSON)


async def _guard(request: Request, work: Callable[[], Awaitable[Response]]) -> Response:
    try:
        return await work()
    except DaziError as exc:
        return lfs_error(exc, request.headers.get("authorization") is None)


def _batch_route(prefix: str) -> None:
    repo_type = PLURAL.get(prefix.strip("/"), "model") if prefix else "model"

    async def batch(request: Request, ns: str, name: str) -> Response:

        async def work() -> Response:
            try:
                body = json.loads(await request.body())
            except (ValueError, UnicodeDecodeError):
                body = None
            if not isinstance(body, dict):
                return JSONResponse({"message": "Invalid JSON body."}, status_code=422, media_type=LFS_JSON)
            actor = await run_in_threadpool(get_actor, request)
            answer = await run_in_threadpool(
                services.batch, get_hub(request), actor, repo_type, f"{ns}/{name}", body, base_url(request)
            )
            return JSONResponse(answer, media_type=LFS_JSON)

        return await _guard(request, work)

    async def verify_locks(request: Request, ns: str, name: str) -> Response:
        """``locks/verify``, which git-lfs asks before a push: 501 makes it stop checking locks, without a warning."""

        async def work() -> Response:
            actor = await run_in_threadpool(get_actor, request)
            await run_in_threadpool(services.check_locks_access, get_hub(request), actor, repo_type, f"{ns}/{name}")
            message = "This hub does not support the Git LFS locking API."
            return JSONResponse({"message": message}, status_code=501, media_type=LFS_JSON)

        return await _guard(request, work)

    for path, endpoint, what in (("objects/batch", batch, "batch"), ("locks/verify", verify_locks, "locks-verify")):
        router.add_api_route(
            f"{prefix}/{{ns}}/{{name}}.git/info/lfs/{path}",
            endpoint,
            methods=["POST"],
            include_in_schema=False,
            name=f"lfs-{what}{prefix.replace('/', '-')}",
        )


for _prefix in ("", "/models", "/datasets", "/spaces"):
    _batch_route(_prefix)


@router.put("/api/lfs/objects/{token}", include_in_schema=False)
async def upload(request: Request, token: str) -> Response:
    async def work() -> Response:
        hub = get_hub(request)
        transfer = services.transfer_from_token(hub, token, "upload")
        await consume_body(request, lambda chunks: services.receive(hub, transfer, chunks))
        return Response(status_code=200)

    return await _guard(request, work)


@router.get("/api/lfs/objects/{token}", include_in_schema=False)
async def download(request: Request, token: str) -> Response:
    async def work() -> Response:
        hub = get_hub(request)
        transfer = services.transfer_from_token(hub, token, "download")
        headers = {"ETag": f'"{transfer.oid}"'}
        local = hub.blobs.local_path(transfer.oid)
        if local is not None:
            return file_response(local, headers, hub.settings.download_chunk_size, "application/octet-stream")
        chunk = hub.settings.download_chunk_size
        return stream_response(
            lambda s, e: hub.blobs.iter_range(transfer.oid, s, e, chunk),
            transfer.size,
            headers,
            request.headers.get("range"),
            False,
            "application/octet-stream",
        )

    return await _guard(request, work)


@router.post("/api/lfs/verify/{token}", include_in_schema=False)
async def verify(request: Request, token: str) -> Response:
    async def work() -> Response:
        hub = get_hub(request)
        transfer = services.transfer_from_token(hub, token, "upload")
        try:
            body = json.loads(await request.body() or b"{}")
        except ValueError:
            body = {}
        await run_in_threadpool(services.verify, hub, transfer, body if isinstance(body, dict) else {})
        return JSONResponse({}, media_type=LFS_JSON)

    return await _guard(request, work)
