"""Web routes answer errors with HTML pages (404, 403, 500…) in the visitor's language.

``WebRoute`` wraps each web handler: domain errors (``dazi.errors``) become an error page with the
matching status; anything unexpected is logged and becomes a 500 page. The protocol routes keep their
own JSON error mapper (``dazi.app``); this affects web pages only.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request
from fastapi.exceptions import HTTPException, RequestValidationError
from fastapi.responses import Response
from fastapi.routing import APIRoute
from starlette.concurrency import run_in_threadpool
from starlette.routing import Match
from starlette.types import Scope

from dazi.errors import DaziError, NotFound, Unauthorized
from dazi.web.page import get_page

log = logging.getLogger("dazi.web")


class WebRoute(APIRoute):
    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def route(request: Request) -> Response:
            try:
                return await handler(request)
            except DaziError as exc:
                status = 404 if isinstance(exc, NotFound) else 403 if isinstance(exc, Unauthorized) else exc.status_code
                return await run_in_threadpool(error_page, request, status)
            except RequestValidationError:
                return await run_in_threadpool(error_page, request, 400)
            except HTTPException:
                raise  # a deliberate plain answer (e.g. the catch-all's 404 for API clients)
            except Exception:
                log.exception("web page failed: %s %s", request.method, request.url.path)
                return await run_in_threadpool(error_page, request, 500)

        return route


def error_page(request: Request, status: int) -> Response:
    try:
        page = get_page(request)
    except Exception:
        log.exception("the error page itself failed for %s", request.url.path)
        return Response("Internal error", status_code=500, media_type="text/plain")
    shown = status if status in (400, 403, 404, 429, 500) else (500 if status >= 500 else 400)
    return page.render("error.html", status=status, error_status=shown)


class BrowserOnlyRoute(WebRoute):
    """A route that exists for browsers only (``Accept: text/html``, outside ``/api/``).

    For every other request it does not match, so the router answers as it would without it (404 or
    405 in the protocols' shape): the HTML 404 catch-all must not change what API clients see.
    """

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        headers = dict(scope.get("headers") or [])
        accept = headers.get(b"accept", b"").decode("latin-1")
        path = str(scope.get("path", ""))
        if "text/html" not in accept or path.startswith(("/api/", "/openapi/")):
            return Match.NONE, {}
        return super().matches(scope)
