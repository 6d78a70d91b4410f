"""``GET /api/quota``: the caller's use and limits, the same figures as the ``RateLimit`` headers."""

from __future__ import annotations

import threading
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from dazi.deps import get_actor
from dazi.errors import Unauthorized
from dazi.quotas.services import QuotaService, headers, key_for

router = APIRouter()
_create = threading.Lock()


def get_quotas(request: Request) -> QuotaService:
    """The app's one quota service (made on first use; every route must count in the same place)."""
    state = request.app.state
    with _create:
        service: QuotaService | None = getattr(state, "quotas", None)
        if service is None:
            service = state.quotas = QuotaService(state.settings)
    return service


@router.get("/api/quota")
def quota(request: Request) -> JSONResponse:
    actor = get_actor(request)
    if actor is None:
        raise Unauthorized("Log in (send a token) to see your quota.")
    service = get_quotas(request)
    usages = service.usage(key_for(actor))
    body: dict[str, Any] = {
        "user": actor.name,
        "counts_what": "requests: /v1 inference calls (chat, completions, embeddings); tokens: prompt plus "
        "generated tokens of those calls",
        "shared_between_workers": not service.storage_url.startswith("memory"),
        "policies": [u.as_json() for u in usages],
    }
    return JSONResponse(body, headers=headers(usages))
