"""``create_app(settings)``: the ASGI application. Nothing happens at import time."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.requests import ClientDisconnect

from dazi import __version__
from dazi.config import Settings
from dazi.errors import BadRequest, DaziError
from dazi.hfcompat import errors as hf_errors
from dazi.hub import Hub
from dazi.inference import errors as openai_errors
from dazi.mscompat import errors as ms_errors

log = logging.getLogger("dazi")


def error_response(request: Request, exc: DaziError) -> Response:
    """One mapper per wire protocol, chosen by the URL space the request is in."""
    if ms_errors.is_modelscope_path(request.url.path):
        return ms_errors.error_response(request, exc)
    if openai_errors.is_openai_path(request.url.path):
        return openai_errors.error_response(request, exc)
    return hf_errors.error_response(request, exc)


def create_app(settings: Settings, hub: Hub | None = None) -> FastAPI:
    """Build the hub's app. ``hub`` may be given (tests); otherwise it is opened from ``settings`` on start."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        owned = app.state.hub is None
        if owned:
            app.state.hub = Hub.open(settings)
        yield
        if owned:
            app.state.hub.close()

    app = FastAPI(
        title="dazi",
        version=__version__,
        lifespan=lifespan,
        docs_url="/api/docs",
        redoc_url=None,
        openapi_url="/api/openapi.json",
    )
    app.state.hub = hub
    app.state.settings = settings

    @app.exception_handler(DaziError)
    async def _dazi_error(request: Request, exc: DaziError) -> Response:
        return error_response(request, exc)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, exc: RequestValidationError) -> Response:
        return error_response(request, BadRequest(f"Invalid request: {exc.errors()[:3]}"))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        message = "Internal error: the hub could not complete this request (see the server log)."
        return JSONResponse({"error": message}, status_code=500, headers={"X-Error-Message": message})

    @app.exception_handler(ClientDisconnect)
    async def _disconnect(request: Request, exc: ClientDisconnect) -> Response:
        return JSONResponse({"error": "client disconnected"}, status_code=400)

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> dict[str, str]:
        return {"status": "ok", "version": __version__}

    from dazi.gitserver.routes import router as git_router
    from dazi.hfcompat.routes import router as hf_router
    from dazi.lfs.routes import router as lfs_router
    from dazi.mscompat.routes import router as ms_router
    from dazi.web.routes import router as web_router

    # Order matters only where patterns overlap: protocol routes first, web pages last.
    app.include_router(lfs_router)
    app.include_router(git_router)
    app.include_router(ms_router)
    from dazi.deployments.routes import router as deployments_router
    from dazi.inference.routes import router as inference_router
    from dazi.jobs.routes import router as jobs_router
    from dazi.quotas.routes import router as quota_router

    app.include_router(inference_router)
    app.include_router(jobs_router)
    app.include_router(quota_router)
    app.include_router(deployments_router)
    app.include_router(hf_router)
    app.include_router(web_router)
    return app
