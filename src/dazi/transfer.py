"""Serving bytes: big-chunk file responses and ``Range`` handling for every storage backend."""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

import anyio
from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import FileResponse, Response, StreamingResponse

from dazi.errors import RangeNotSatisfiable

_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


def parse_range(header: str | None, size: int) -> tuple[int, int] | None:
    """One ``bytes=`` range → ``(start, end)`` with ``end`` exclusive; None means the whole body.

    Multiple ranges and malformed headers are ignored (a 200 with the whole body
    is a valid answer); a range that starts past the end raises RangeNotSatisfiable.
    """
    if not header:
        return None
    match = _RANGE.match(header.strip())
    if not match:
        return None
    first, last = match.groups()
    if first == "" and last == "":
        return None
    if size == 0:
        raise RangeNotSatisfiable(
            f"Range {header} is not satisfiable (the file is empty).", headers={"Content-Range": "bytes */0"}
        )
    if first == "":
        length = int(last)
        if length == 0:
            raise RangeNotSatisfiable(
                f"Range {header} is not satisfiable (size {size}).", headers={"Content-Range": f"bytes */{size}"}
            )
        return max(0, size - length), size
    start = int(first)
    end = min(int(last) + 1, size) if last else size
    if start >= size or start >= end:
        raise RangeNotSatisfiable(
            f"Range {header} is not satisfiable (size {size}).", headers={"Content-Range": f"bytes */{size}"}
        )
    return start, end


def bytes_response(
    data: bytes, headers: dict[str, str], range_header: str | None, head: bool, media_type: str
) -> Response:
    size = len(data)
    rng = parse_range(range_header, size)
    headers = dict(headers, **{"Accept-Ranges": "bytes"})
    if rng is None:
        headers["Content-Length"] = str(size)
        return Response(b"" if head else data, status_code=200, headers=headers, media_type=media_type)
    start, end = rng
    headers["Content-Range"] = f"bytes {start}-{end - 1}/{size}"
    headers["Content-Length"] = str(end - start)
    return Response(b"" if head else data[start:end], status_code=206, headers=headers, media_type=media_type)


def stream_response(
    make_iter: Callable[[int, int], Iterator[bytes]],
    size: int,
    headers: dict[str, str],
    range_header: str | None,
    head: bool,
    media_type: str,
) -> Response:
    """A streamed body from a remote store: ``make_iter(start, end)`` yields the bytes."""
    rng = parse_range(range_header, size)
    headers = dict(headers, **{"Accept-Ranges": "bytes"})
    start, end, status = 0, size, 200
    if rng is not None:
        start, end = rng
        status = 206
        headers["Content-Range"] = f"bytes {start}-{end - 1}/{size}"
    headers["Content-Length"] = str(end - start)
    if head:
        return Response(b"", status_code=status, headers=headers, media_type=media_type)
    return StreamingResponse(make_iter(start, end), status_code=status, headers=headers, media_type=media_type)


def file_response(
    path: Path, headers: dict[str, str], chunk_size: int, media_type: str, background: BackgroundTask | None = None
) -> Response:
    """Starlette's FileResponse (Range, If-Range, HEAD) with a large chunk size."""
    response = FileResponse(path, headers=headers, media_type=media_type, background=background)
    response.chunk_size = chunk_size
    return response


T = TypeVar("T")
READ_AHEAD = 4  # chunks received ahead of the thread that consumes them
BODY_CHUNK = 4 << 20


async def consume_body(request: Request, consume: Callable[[Iterator[bytearray]], T]) -> T:
    """Run ``consume(chunks)`` in a worker thread over the request body, in ~4 MiB chunks.

    The event loop keeps receiving (up to ``READ_AHEAD`` chunks ahead) while the thread hashes,
    decodes or writes earlier ones; an error on either side stops both.
    """
    queue: asyncio.Queue[bytearray | BaseException | None] = asyncio.Queue(maxsize=READ_AHEAD)
    pump = asyncio.create_task(_pump(request, queue))
    try:
        return await run_in_threadpool(consume, _drain(queue))
    finally:
        pump.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await pump


async def _pump(request: Request, queue: asyncio.Queue[bytearray | BaseException | None]) -> None:
    try:
        pending = bytearray()
        async for chunk in request.stream():
            pending += chunk
            if len(pending) >= BODY_CHUNK:
                full, pending = pending, bytearray()
                await queue.put(full)  # handed over whole: no copy
        if pending:
            await queue.put(pending)
        await queue.put(None)
    except Exception as exc:  # e.g. the client went away: the consumer re-raises it
        await queue.put(exc)


def _drain(queue: asyncio.Queue[bytearray | BaseException | None]) -> Iterator[bytearray]:
    while True:
        item = anyio.from_thread.run(queue.get)
        if item is None:
            return
        if isinstance(item, BaseException):
            raise item
        yield item
