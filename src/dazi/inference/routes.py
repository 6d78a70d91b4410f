"""``/v1``: the OpenAI-compatible API (models, chat completions, completions, embeddings).

Authenticated with hub tokens (``Authorization: Bearer <token>``, what ``OpenAI(api_key=…)`` sends).
Every response carries the caller's quota headers; errors take the OpenAI shape (``errors.py``). Each
route is thin: parse, admit (quota), call ``InferenceService`` off the event loop, shape the answer.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from typing import Any

import anyio
from fastapi import APIRouter, FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response, StreamingResponse
from fastapi.routing import APIRoute
from starlette.types import Receive, Scope, Send

from dazi.accounts.services import Actor
from dazi.deps import get_actor, json_body
from dazi.errors import DaziError, NotFound, Unauthorized
from dazi.inference.engines import Delta, Failed, Finished, Generation
from dazi.inference.errors import InternalError, ModelNotFound, error_body
from dazi.inference.schemas import ChatRequest, CompletionRequest, EmbeddingRequest, parse
from dazi.inference.services import InferenceService, Prepared
from dazi.inference.wire import DONE, Shape, model_object, sse
from dazi.quotas.routes import get_quotas
from dazi.quotas.services import QuotaService, headers, key_for

log = logging.getLogger("dazi.inference")
_create = threading.Lock()


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    yield
    service: InferenceService | None = getattr(app.state, "inference", None)
    if service is not None:
        app.state.inference = None
        await asyncio.to_thread(service.close)


class OpenAIRoute(APIRoute):
    """Adds the quota headers to every answer, and turns unexpected errors into OpenAI-shaped 500s."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def route(request: Request) -> Response:
            try:
                response = await handler(request)
            except (DaziError, HTTPException, RequestValidationError):
                raise
            except Exception as exc:
                log.exception("unhandled error on %s %s", request.method, request.url.path)
                raise InternalError("The server had an error while processing your request.") from exc
            response.headers.update(getattr(request.state, "ratelimit_headers", {}))
            return response

        return route


router = APIRouter(prefix="/v1", route_class=OpenAIRoute, lifespan=lifespan)


def get_inference(request: Request) -> InferenceService:
    state = request.app.state
    with _create:
        service: InferenceService | None = getattr(state, "inference", None)
        if service is None:
            service = state.inference = InferenceService(state.hub, state.settings)
    return service


def _caller(request: Request) -> Actor:
    actor = get_actor(request)
    if actor is None:
        raise Unauthorized("You didn't provide an API key: send your hub token as 'Authorization: Bearer <token>'.")
    return actor


def _admit(request: Request, actor: Actor) -> QuotaService:
    quotas = get_quotas(request)
    request.state.ratelimit_headers = headers(quotas.admit(key_for(actor)))
    return quotas


def _peek(request: Request, actor: Actor) -> None:
    request.state.ratelimit_headers = headers(get_quotas(request).usage(key_for(actor)))


# -- models -------------------------------------------------------------------------------------------


@router.get("/models")
async def list_models(request: Request) -> Response:
    actor = _caller(request)
    _peek(request, actor)
    refs = await asyncio.to_thread(get_inference(request).catalog.servable, actor)
    return JSONResponse({"object": "list", "data": [model_object(r) for r in refs]})


@router.get("/models/{model:path}")
async def retrieve_model(request: Request, model: str) -> Response:
    actor = _caller(request)
    _peek(request, actor)
    service = get_inference(request)
    ref = await asyncio.to_thread(service.catalog.resolve, actor, model)
    if ref.detection.engine is None:
        raise ModelNotFound(model, f"The model '{model}' cannot be served: {ref.detection.reason}.")
    return JSONResponse(model_object(ref, service.status(ref)))


# -- generation ---------------------------------------------------------------------------------------


@router.post("/chat/completions")
async def chat_completions(request: Request) -> Response:
    return await _generate(request, chat=True)


@router.post("/completions")
async def completions(request: Request) -> Response:
    return await _generate(request, chat=False)


async def _generate(request: Request, chat: bool) -> Response:
    actor = _caller(request)
    quotas = _admit(request, actor)
    service = get_inference(request)
    body = await json_body(request)
    if chat:
        chat_req = parse(ChatRequest, body)
        req: ChatRequest | CompletionRequest = chat_req
        prepared = await asyncio.to_thread(service.prepare_chat, actor, chat_req)
    else:
        req = parse(CompletionRequest, body)
        prepared = await asyncio.to_thread(service.prepare_completion, actor, req)
    shape = Shape(chat=chat, model=req.model, fingerprint=f"fp_{prepared.ref.commit[:12]}")
    return await _respond(request, actor, quotas, prepared, shape, req.stream, req.include_usage)


async def _respond(
    request: Request, actor: Actor, quotas: QuotaService, prepared: Prepared, shape: Shape, stream: bool,
    include_usage: bool,
) -> Response:
    try:
        generation = get_inference(request).start(prepared, asyncio.get_running_loop())
    except BaseException:
        prepared.lease.release()
        raise
    done = False

    def finish() -> None:
        """Once, however the request ends: stop the generation, free the engine, charge the tokens."""
        nonlocal done
        if done:
            return
        done = True
        generation.cancel()
        prepared.lease.release()
        key = key_for(actor)
        quotas.charge_tokens(key, len(prepared.prompt_ids) + generation.completion_tokens)
        request.state.ratelimit_headers = headers(quotas.usage(key))

    if stream:
        events = _stream(generation, shape, len(prepared.prompt_ids), include_usage)
        return EventStream(events, finish)
    try:
        text, reason = await _collect(request, generation)
    finally:
        finish()
    body = shape.complete(text, reason, len(prepared.prompt_ids), generation.completion_tokens)
    return JSONResponse(body)


async def _collect(request: Request, generation: Generation) -> tuple[str, str]:
    parts: list[str] = []
    reason = "stop"
    watcher = asyncio.create_task(_watch_disconnect(request, generation))
    try:
        async for event in generation.events():
            if isinstance(event, Delta):
                parts.append(event.text)
            elif isinstance(event, Finished):
                reason = event.reason
            elif isinstance(event, Failed):
                raise InternalError(event.message)
    finally:
        watcher.cancel()
    return "".join(parts), reason


async def _watch_disconnect(request: Request, generation: Generation) -> None:
    while not generation.cancelled.is_set():
        if await request.is_disconnected():
            generation.cancel()
            return
        await asyncio.sleep(0.25)


async def _stream(
    generation: Generation, shape: Shape, prompt_tokens: int, include_usage: bool
) -> AsyncIterator[bytes]:
    if shape.chat:
        yield sse(shape.chunk(None, role=True))
    async for event in generation.events():
        if isinstance(event, Delta):
            yield sse(shape.chunk(event.text))
        elif isinstance(event, Finished):
            yield sse(shape.chunk(None if shape.chat else "", event.reason))
        elif isinstance(event, Failed):
            yield sse(error_body(InternalError(event.message)))
    if include_usage:
        yield sse(shape.usage_chunk(prompt_tokens, generation.completion_tokens))
    yield DONE


class EventStream(StreamingResponse):
    """Server-sent events that notice a client going away at once (not only at the next write), and
    always run ``on_close``: the slot of a disconnected client is freed immediately."""

    def __init__(self, content: AsyncIterator[bytes], on_close: Callable[[], None]):
        super().__init__(content, media_type="text/event-stream",
                         headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
        self._on_close = on_close

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            async with anyio.create_task_group() as group:

                async def stream() -> None:
                    with contextlib.suppress(OSError):
                        await self.stream_response(send)
                    group.cancel_scope.cancel()

                group.start_soon(stream)
                await self.listen_for_disconnect(receive)
                group.cancel_scope.cancel()
        finally:
            aclose = getattr(self.body_iterator, "aclose", None)
            if aclose is not None:
                with contextlib.suppress(Exception):
                    await aclose()
            self._on_close()


# -- embeddings ---------------------------------------------------------------------------------------


@router.post("/embeddings")
async def embeddings(request: Request) -> Response:
    actor = _caller(request)
    quotas = _admit(request, actor)
    req = parse(EmbeddingRequest, await json_body(request))
    result = await asyncio.to_thread(get_inference(request).embed, actor, req)
    key = key_for(actor)
    quotas.charge_tokens(key, result.prompt_tokens)
    request.state.ratelimit_headers = headers(quotas.usage(key))
    data = [{"object": "embedding", "index": i, "embedding": v} for i, v in enumerate(result.data)]
    usage = {"prompt_tokens": result.prompt_tokens, "total_tokens": result.prompt_tokens}
    return JSONResponse({"object": "list", "data": data, "model": req.model, "usage": usage})


@router.api_route("/{path:path}", methods=["GET", "POST", "PUT", "PATCH", "DELETE"], include_in_schema=False)
async def unknown(request: Request, path: str) -> Response:
    raise NotFound(f"Invalid URL ({request.method} /v1/{path}).", extra={"code": "unknown_url"})
