"""git smart-HTTP routes (thin: parse, call services, answer).

``GET …/info/refs?service=git-upload-pack|git-receive-pack``, ``POST …/git-upload-pack`` and
``POST …/git-receive-pack`` under ``/{ns}/{name}``, ``/models/{ns}/{name}`` and ``/datasets/{ns}/{name}``,
each with or without ``.git``. Errors are plain text, which git prints as ``remote: …``; anonymous requests
that need an account get ``401`` with ``WWW-Authenticate: Basic`` so that git asks for credentials.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator

from fastapi import APIRouter, Request
from fastapi.responses import PlainTextResponse, Response, StreamingResponse
from starlette.concurrency import run_in_threadpool

from dazi.deps import get_actor, get_hub
from dazi.errors import BadRequest, DaziError, PayloadTooLarge
from dazi.gitserver import services
from dazi.transfer import consume_body

router = APIRouter()
PREFIXES = {"": "model", "/models": "model", "/datasets": "dataset"}
MAX_NEGOTIATION_BODY = 64 << 20  # wants and haves; a pack only ever comes with a push
NO_CACHE = {"Cache-Control": "no-cache, max-age=0, must-revalidate", "Pragma": "no-cache"}


def git_error(exc: DaziError) -> Response:
    headers = dict(NO_CACHE)
    if exc.status_code == 401:
        headers["WWW-Authenticate"] = 'Basic realm="dazi"'
    return PlainTextResponse(exc.message + "\n", status_code=exc.status_code, headers=headers)


def repo_id(ns: str, name: str) -> str:
    return f"{ns}/{name.removesuffix('.git')}"


async def info_refs(request: Request, repo_type: str, ns: str, name: str) -> Response:
    service = request.query_params.get("service", "")
    if service not in services.SERVICES:
        return PlainTextResponse(
            "This hub speaks git's smart HTTP protocol only (git 1.6.6 or newer).\n", status_code=403, headers=NO_CACHE
        )
    try:
        actor = await run_in_threadpool(get_actor, request)
        body = await run_in_threadpool(
            services.advertisement, get_hub(request), actor, repo_type, repo_id(ns, name), service
        )
    except DaziError as exc:
        return git_error(exc)
    return Response(body, media_type=f"application/x-{service}-advertisement", headers=NO_CACHE)


async def upload_pack(request: Request, repo_type: str, ns: str, name: str) -> Response:
    try:
        actor = await run_in_threadpool(get_actor, request)
        body = await _small_body(request)
        answer = await run_in_threadpool(
            services.upload_pack, get_hub(request), actor, repo_type, repo_id(ns, name), body
        )
    except DaziError as exc:
        return git_error(exc)
    media = "application/x-git-upload-pack-result"
    if answer.stream is not None:
        return StreamingResponse(answer.stream, media_type=media, headers=NO_CACHE)
    return Response(answer.body, media_type=media, headers=NO_CACHE)


async def receive_pack(request: Request, repo_type: str, ns: str, name: str) -> Response:
    hub = get_hub(request)
    rid = repo_id(ns, name)
    try:
        actor = await run_in_threadpool(get_actor, request)
        await run_in_threadpool(services.check_access, hub, actor, repo_type, rid, services.RECEIVE)
        assert actor is not None  # check_access refuses anonymous pushes
        gzipped = _is_gzip(request)
        body = await consume_body(
            request, lambda chunks: services.receive_pack(hub, actor, repo_type, rid, _decoded(chunks, gzipped))
        )
    except DaziError as exc:
        return git_error(exc)
    return Response(body, media_type="application/x-git-receive-pack-result", headers=NO_CACHE)


def _is_gzip(request: Request) -> bool:
    encoding = request.headers.get("content-encoding", "").strip().lower()
    if encoding in ("gzip", "x-gzip"):
        return True
    if encoding not in ("", "identity"):
        raise BadRequest(f"Unsupported Content-Encoding {encoding!r}.")
    return False


async def _small_body(request: Request) -> bytes:
    gzipped = _is_gzip(request)
    raw = bytearray()
    async for chunk in request.stream():
        raw += chunk
        if len(raw) > MAX_NEGOTIATION_BODY:
            raise PayloadTooLarge("The negotiation request is too large.")
    if not gzipped:
        return bytes(raw)
    return b"".join(_decoded(iter([bytes(raw)]), True, MAX_NEGOTIATION_BODY))


def _decoded(chunks: Iterator[bytes] | Iterator[bytearray], gzipped: bool, limit: int | None = None) -> Iterator[bytes]:
    """The request body, gunzipped when ``Content-Encoding: gzip`` (git compresses larger requests)."""
    if not gzipped:
        yield from (bytes(c) for c in chunks)
        return
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    total = 0
    try:
        for chunk in chunks:
            data = inflater.decompress(chunk, 4 << 20)
            while True:
                total += len(data)
                if limit is not None and total > limit:
                    raise PayloadTooLarge("The request is too large once decompressed.")
                yield data
                if not inflater.unconsumed_tail:
                    break
                data = inflater.decompress(inflater.unconsumed_tail, 4 << 20)
        yield inflater.flush()
    except zlib.error:
        raise BadRequest("The request body is not valid gzip.") from None


def _register(prefix: str, repo_type: str) -> None:
    base = f"{prefix}/{{ns}}/{{name}}"
    label = prefix.strip("/") or "root"

    async def _info_refs(request: Request, ns: str, name: str) -> Response:
        return await info_refs(request, repo_type, ns, name)

    async def _upload_pack(request: Request, ns: str, name: str) -> Response:
        return await upload_pack(request, repo_type, ns, name)

    async def _receive_pack(request: Request, ns: str, name: str) -> Response:
        return await receive_pack(request, repo_type, ns, name)

    for path, endpoint, method, what in (
        ("info/refs", _info_refs, "GET", "info-refs"),
        ("git-upload-pack", _upload_pack, "POST", "upload-pack"),
        ("git-receive-pack", _receive_pack, "POST", "receive-pack"),
    ):
        router.add_api_route(
            f"{base}/{path}", endpoint, methods=[method], name=f"git-{what}-{label}", include_in_schema=False
        )


for _prefix, _type in PREFIXES.items():
    _register(_prefix, _type)
