"""The one error mapper of the OpenAI-compatible routes (``/v1``), and the errors only they raise.

Every error under ``/v1`` answers ``{"error": {"message", "type", "param", "code"}}`` with the HTTP status
the OpenAI clients map to their exception classes, plus the quota headers of the request when it got
that far (``RateLimit``, ``RateLimit-Policy``; ``Retry-After`` on 429 and 503).
"""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import JSONResponse, Response

from dazi.errors import BadRequest, DaziError, Forbidden, NotFound, RepoNotFound, RevisionNotFound, Unauthorized

PREFIX = "/v1"


def is_openai_path(path: str) -> bool:
    return path == PREFIX or path.startswith(PREFIX + "/")


class ModelNotFound(NotFound):
    """Unknown model, unknown revision, or a private model the caller may not read (never revealed)."""

    def __init__(self, model: str, detail: str | None = None):
        message = detail or f"The model '{model[:200]}' does not exist or you do not have access to it."
        super().__init__(message, extra={"param": "model", "code": "model_not_found"})


class UnsupportedModel(BadRequest):
    """The model exists but cannot serve this endpoint (an embedding model asked to chat…)."""

    def __init__(self, message: str):
        super().__init__(message, extra={"param": "model", "code": "model_not_supported"})


class InvalidParameter(BadRequest):
    def __init__(self, message: str, param: str | None = None, code: str | None = "invalid_value"):
        super().__init__(message, extra={"param": param, "code": code})


class ContextLengthExceeded(BadRequest):
    def __init__(self, message: str, param: str = "messages"):
        super().__init__(message, extra={"param": param, "code": "context_length_exceeded"})


class ServiceBusy(DaziError):
    """Too many requests queued for a model, or no memory to load it now: retry shortly."""

    status_code = 503

    def __init__(self, message: str, retry_after: int = 1):
        super().__init__(message, headers={"Retry-After": str(retry_after)}, extra={"code": "server_busy"})


class InternalError(DaziError):
    status_code = 500


_TYPES: list[tuple[type[DaziError], str]] = [
    (Unauthorized, "authentication_error"),
    (Forbidden, "permission_error"),
    (NotFound, "invalid_request_error"),
    (ServiceBusy, "server_error"),
    (InternalError, "server_error"),
]


def error_body(exc: DaziError) -> dict[str, object]:
    kind = str(exc.extra.get("type") or next((t for cls, t in _TYPES if isinstance(exc, cls)), ""))
    if not kind:
        kind = "invalid_request_error" if exc.status_code < 500 else "server_error"
    code = exc.extra.get("code")
    if code is None and isinstance(exc, Unauthorized):
        code = "invalid_api_key"
    if code is None and isinstance(exc, (RepoNotFound, RevisionNotFound)):
        code = "model_not_found"
    return {"error": {"message": exc.message, "type": kind, "param": exc.extra.get("param"), "code": code}}


def error_response(request: Request, exc: DaziError) -> Response:
    headers = {**getattr(request.state, "ratelimit_headers", {}), **exc.headers}
    if request.method == "HEAD":
        return Response(status_code=exc.status_code, headers=headers)
    return JSONResponse(error_body(exc), status_code=exc.status_code, headers=headers)
