"""``/v1``: the OpenAI-compatible API (models, chat completions, completions, embeddings).

Authenticated with hub tokens (``Authorization: Bearer <token>``, what ``OpenAI(api_key=…)`` sends).
Every response carries the caller's quota headers; errors take the OpenAI shape (``errors.py``). Each
route is thin: parse, admit (quota), call ``InferenceService`` off the event loop, shape the answer.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from typing import Any

from fastapi import APIRouter, FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.routing import APIRoute

from dazi.accounts.services import Actor
from dazi.deployments import services as deployments
from dazi.deployments.routes import get_deployments
from dazi.deps import get_actor, get_hub, json_body
from dazi.errors import DaziError, NotFound, Unauthorized
from dazi.inference.answers import respond
from dazi.inference.errors import InternalError, ModelNotFound
from dazi.inference.schemas import ChatRequest, CompletionRequest, EmbeddingRequest, parse
from dazi.inference.services import InferenceService, Prepared
from dazi.inference.wire import Shape, model_object
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
    deployed = await asyncio.to_thread(_deployment_models, request, actor)
    return JSONResponse({"object": "list", "data": [*deployed, *(model_object(r) for r in refs)]})


def _deployment_models(request: Request, actor: Actor, name: str | None = None) -> list[dict[str, Any]]:
    with get_hub(request).db.read() as session:
        if name is None:
            return deployments.callable_models(session, actor)
        return [deployments.callable_model(session, actor, name)]


@router.get("/models/{model:path}")
async def retrieve_model(request: Request, model: str) -> Response:
    actor = _caller(request)
    _peek(request, actor)
    if deployments.is_deployment_name(model):
        return JSONResponse((await asyncio.to_thread(_deployment_models, request, actor, model))[0])
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
    body = await json_body(request)
    if deployments.is_deployment_name(body.get("model")):
        parse(ChatRequest if chat else CompletionRequest, body)  # refuse malformed calls before taking a replica
        return await _forward(request, actor, quotas, body, "/v1/chat/completions" if chat else "/v1/completions")
    service = get_inference(request)
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

    return await respond(request, generation, shape, len(prepared.prompt_ids), stream, include_usage, finish)


async def _forward(request: Request, actor: Actor, quotas: QuotaService, body: dict[str, Any], path: str) -> Response:
    """A call of a deployment (``model`` has no ``/``): proxied to one of its replicas."""
    key = key_for(actor)

    def charge(tokens: int) -> None:
        quotas.charge_tokens(key, tokens)
        request.state.ratelimit_headers = headers(quotas.usage(key))

    return await get_deployments(request).forward(request, actor, body, path, charge)


# -- embeddings ---------------------------------------------------------------------------------------


@router.post("/embeddings")
async def embeddings(request: Request) -> Response:
    actor = _caller(request)
    quotas = _admit(request, actor)
    body = await json_body(request)
    req = parse(EmbeddingRequest, body)
    if deployments.is_deployment_name(req.model):
        return await _forward(request, actor, quotas, body, "/v1/embeddings")
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
