"""Query-string and pagination helpers for the Hugging Face routes."""

from __future__ import annotations

import re
from urllib.parse import urlencode

from fastapi import Request

from dazi.deps import base_url
from dazi.errors import BadRequest

_HF_HUB_VERSION = re.compile(r"hf_hub/(\d+)\.(\d+)")


def flag(request: Request, name: str, default: bool = False) -> bool:
    """Booleans arrive as true/false (httpx), True/False (requests) or 1/0."""
    value = request.query_params.get(name)
    if value is None:
        return default
    return value.strip().lower() in ("1", "true", "yes", "on")


def offset_and_limit(request: Request, page_size: int) -> tuple[int, int]:
    try:
        offset = int(request.query_params.get("cursor") or 0)
        limit = int(request.query_params.get("limit") or page_size)
    except ValueError:
        raise BadRequest("cursor and limit must be integers.") from None
    if offset < 0 or limit < 1:
        raise BadRequest("cursor and limit must be positive.")
    return offset, min(limit, page_size)


def next_link(request: Request, offset: int) -> str:
    """An absolute ``Link: <...>; rel="next"`` value that keeps every other parameter."""
    raw: bytes = request.scope.get("raw_path") or request.url.path.encode()
    path = raw.split(b"?", 1)[0].decode("latin-1")
    params = [(k, v) for k, v in request.query_params.multi_items() if k != "cursor"]
    params.append(("cursor", str(offset)))
    return f'<{base_url(request)}{path}?{urlencode(params)}>; rel="next"'


def client_negotiates_lfs(request: Request) -> bool:
    """huggingface_hub before 1.20 negotiates LFS; 1.20+ would force Xet on any ``lfs`` answer."""
    match = _HF_HUB_VERSION.search(request.headers.get("user-agent", ""))
    if match is None:
        return True  # other LFS-speaking clients
    return (int(match.group(1)), int(match.group(2))) < (1, 20)
