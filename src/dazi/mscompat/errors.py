"""The one error mapper of the ModelScope routes.

Legacy ``/api/v1`` answers ``{"Code": <int>, "Message", "RequestId", "Success": false, "Data": null}``;
OpenAPI ``/openapi/v1`` answers ``{"success": false, "code": "<StringCode>", "message", "request_id"}``.
The HTTP status carries the class of error (the SDK maps 401/403/404/409 to its exceptions).
"""

from __future__ import annotations

import uuid

from fastapi import Request
from fastapi.responses import JSONResponse, Response

from dazi.errors import Conflict, DaziError, Forbidden, NotFound, PayloadTooLarge, Unauthorized

OPENAPI_PREFIX = "/openapi/v1/"
LEGACY_PREFIX = "/api/v1/"

_OPENAPI_CODES: list[tuple[type[DaziError], str]] = [
    (Unauthorized, "InvalidAuthentication"),
    (Forbidden, "OperationNotAllowed"),
    (NotFound, "ResourceNotFound"),
    (Conflict, "DuplicateEntity"),
    (PayloadTooLarge, "InputParameterError"),
]


def is_modelscope_path(path: str) -> bool:
    return path.startswith(OPENAPI_PREFIX) or path.startswith(LEGACY_PREFIX)


def request_id(request: Request) -> str:
    return request.headers.get("x-request-id") or uuid.uuid4().hex


def openapi_code(exc: DaziError) -> str:
    for cls, code in _OPENAPI_CODES:
        if isinstance(exc, cls):
            return code
    return "InputParameterError"


def error_response(request: Request, exc: DaziError) -> Response:
    status = exc.status_code
    rid = request_id(request)
    if request.url.path.startswith(OPENAPI_PREFIX):
        body: dict[str, object] = {
            "success": False,
            "code": openapi_code(exc),
            "message": exc.message,
            "request_id": rid,
        }
    else:
        body = {
            "Code": int(exc.extra.get("ms_code", status)),  # type: ignore[call-overload]
            "Data": None,
            "Message": exc.message,
            "RequestId": rid,
            "Success": False,
        }
    if request.method == "HEAD":
        return Response(status_code=status, headers=exc.headers)
    return JSONResponse(body, status_code=status, headers=exc.headers)
