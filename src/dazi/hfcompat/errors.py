"""The one error mapper of the Hugging Face routes: status, ``X-Error-Code``, ``X-Error-Message``, JSON."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import JSONResponse, Response

from dazi.errors import DaziError, RepoNotFound


def header_safe(message: str) -> str:
    """HTTP headers are latin-1: keep the message readable, replace what cannot be sent."""
    text = " ".join(message.split())[:1000]
    return text.encode("latin-1", "replace").decode("latin-1")


def error_response(request: Request, exc: DaziError) -> Response:
    status = exc.status_code
    if isinstance(exc, RepoNotFound) and request.headers.get("authorization") is None:
        status = 401  # anonymous: "log in to see it", exactly as the Hub answers
    headers = {"X-Error-Message": header_safe(exc.message), **exc.headers}
    if exc.error_code:
        headers["X-Error-Code"] = exc.error_code
    body = {"error": exc.message, **exc.extra}
    if request.method == "HEAD":
        return Response(status_code=status, headers=headers)
    return JSONResponse(body, status_code=status, headers=headers)
