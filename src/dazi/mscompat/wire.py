"""The success envelopes of the two ModelScope API surfaces, and reading their request parameters.

Legacy ``/api/v1``: ``{"Code": 200, "Data": …, "Message": "success", "RequestId": …, "Success": true}``
(``Code`` is the integer 200: the old SDK compares it with ``HTTPStatus.OK``).
OpenAPI ``/openapi/v1``: ``{"success": true, "data": …, "request_id": …}``.
Errors are shaped by ``mscompat.errors``, the one mapper of these routes.
"""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse

from dazi.errors import BadRequest
from dazi.mscompat.errors import request_id


def legacy(request: Request, data: Any, **top: Any) -> JSONResponse:
    """A legacy success answer; ``top`` adds fields beside ``Data`` (``TotalCount`` of the lists)."""
    body = {"Code": 200, "Data": data, "Message": "success", "RequestId": request_id(request), "Success": True}
    return JSONResponse({**body, **top})


def openapi(request: Request, data: Any) -> JSONResponse:
    return JSONResponse({"success": True, "data": data, "request_id": request_id(request)})


def flag(request: Request, name: str, default: bool = False) -> bool:
    """A boolean query parameter as the SDKs write it (``True``/``False``, any case, or 1/0)."""
    value = request.query_params.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in ("true", "1", "yes")


def number(request: Request, names: tuple[str, ...], default: int, low: int = 1, high: int = 10_000) -> int:
    """A positive integer query parameter (first of ``names`` present), clamped to ``[low, high]``."""
    for name in names:
        value = request.query_params.get(name)
        if value is not None and value != "":
            try:
                return max(low, min(high, int(value)))
            except ValueError:
                raise BadRequest(f"{name} must be an integer, not {value[:50]!r}.") from None
    return default


def text(request: Request, name: str) -> str | None:
    value = request.query_params.get(name)
    return value if value else None
