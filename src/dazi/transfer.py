"""Serving bytes: big-chunk file responses and ``Range`` handling for every storage backend."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path

from starlette.background import BackgroundTask
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
