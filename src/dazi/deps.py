"""Request-level helpers shared by every protocol: the hub, the actor, the public base URL."""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from fastapi import Request

from dazi.accounts.services import Actor, actor_for_token, record_token_use
from dazi.errors import BadRequest, Unauthorized
from dazi.hub import Hub
from dazi.mscompat.errors import is_modelscope_path
from dazi.web import sessions as web_sessions


def get_hub(request: Request) -> Hub:
    hub: Hub = request.app.state.hub
    return hub


# The ModelScope SDKs authenticate with the token in the ``m_session_id`` cookie (the old SDK sends nothing
# else). The cookie is honoured only in their URL spaces, so that a cookie can never authenticate a request to
# the Hugging Face or git routes (which a browser could be tricked into sending: CSRF).
SESSION_COOKIE = "m_session_id"


def credentials(request: Request) -> str | None:
    """The token from ``Authorization: Bearer <t>``, HTTP Basic (any user, token as password), or, in the
    ModelScope URL spaces only, the ``m_session_id`` cookie. The header wins when both are sent."""
    header = request.headers.get("authorization")
    if not header:
        return session_cookie(request)
    scheme, _, value = header.partition(" ")
    value = value.strip()
    if scheme.lower() == "bearer" and value:
        return value
    if scheme.lower() == "basic" and value:
        try:
            decoded = base64.b64decode(value, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            raise Unauthorized("Invalid credentials in Authorization header") from None
        return decoded.partition(":")[2] or None
    raise Unauthorized("Invalid credentials in Authorization header")


def session_cookie(request: Request) -> str | None:
    if not is_modelscope_path(request.url.path):
        return None
    return request.cookies.get(SESSION_COOKIE) or None


def get_actor(request: Request) -> Actor | None:
    """The authenticated actor, or None for an anonymous request; bad tokens raise Unauthorized."""
    if hasattr(request.state, "actor"):
        actor: Actor | None = request.state.actor
        return actor
    secret = credentials(request)
    actor = None
    if secret:
        hub = get_hub(request)
        with hub.db.read() as session:
            actor, stale_token = actor_for_token(session, secret)
        if stale_token is not None:
            with hub.db.write() as session:
                record_token_use(session, stale_token)
    elif "authorization" not in request.headers:
        actor = web_session_actor(request)
    request.state.actor = actor
    return actor


def web_session_actor(request: Request) -> Actor | None:
    """The web session, for ``/v1/…`` only and only with the page's CSRF token in ``X-CSRF-Token``
    (``dazi.web.sessions.api_actor``): the site's "Try it" boxes call the OpenAI-compatible API as the
    logged-in user. Nowhere else does the session cookie authenticate an API request."""
    header = request.headers.get(web_sessions.CSRF_HEADER)
    if not header or not request.url.path.startswith(web_sessions.SESSION_API_PREFIX):
        return None
    hub = get_hub(request)
    with hub.db.read() as session:
        return web_sessions.api_actor(session, hub.secret, request.url.path, request.cookies, header)


def base_url(request: Request) -> str:
    """The URL clients use to reach the hub, without a trailing slash."""
    configured = get_hub(request).settings.public_url
    if configured:
        return configured.rstrip("/")
    return str(request.base_url).rstrip("/")


async def json_body(request: Request) -> dict[str, Any]:
    """The request body as a JSON object (``{}`` when empty); anything else is a BadRequest."""
    raw = await request.body()
    return parse_json_object(raw) if raw else {}


def parse_json_object(raw: bytes) -> dict[str, Any]:
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise BadRequest("The request body is not valid JSON.") from None
    if not isinstance(body, dict):
        raise BadRequest("The request body must be a JSON object.")
    return body
