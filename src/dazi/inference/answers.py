"""Turning a running ``Generation`` into an OpenAI answer: one JSON completion, or server-sent events.

Shared by ``/v1`` (``routes.py``) and deployment replicas (``dazi.deployments.replica``), so that a
deployment streams exactly like a model served in the API process: a role chunk (chat), text chunks, a
final chunk with the finish reason, the usage chunk when ``stream_options.include_usage`` asks for it,
``[DONE]``; a failure mid-stream is an ``{"error": …}`` event.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable

import anyio
from fastapi import Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from starlette.types import Receive, Scope, Send

from dazi.inference.engines import Delta, Failed, Finished, Generation
from dazi.inference.errors import InternalError, error_body
from dazi.inference.wire import DONE, Shape, sse


async def respond(
    request: Request,
    generation: Generation,
    shape: Shape,
    prompt_tokens: int,
    stream: bool,
    include_usage: bool,
    finish: Callable[[], None],
) -> Response:
    """The answer to a started generation; ``finish`` runs once when the request ends, however it ends."""
    if stream:
        return EventStream(events(generation, shape, prompt_tokens, include_usage), finish)
    try:
        text, reason = await collect(request, generation)
    finally:
        finish()
    return JSONResponse(shape.complete(text, reason, prompt_tokens, generation.completion_tokens))


async def collect(request: Request, generation: Generation) -> tuple[str, str]:
    parts: list[str] = []
    reason = "stop"
    watcher = asyncio.create_task(watch_disconnect(request, generation.cancelled.is_set, generation.cancel))
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


async def watch_disconnect(request: Request, done: Callable[[], bool], on_disconnect: Callable[[], object]) -> None:
    while not done():
        if await request.is_disconnected():
            on_disconnect()
            return
        await asyncio.sleep(0.25)


async def events(generation: Generation, shape: Shape, prompt_tokens: int, include_usage: bool) -> AsyncIterator[bytes]:
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
        super().__init__(
            content, media_type="text/event-stream", headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
        )
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
