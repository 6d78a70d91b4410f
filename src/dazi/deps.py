"""Request-level helpers shared by every protocol: the hub, the actor, the public base URL."""

from __future__ import annotations

import base64
import binascii

from fastapi import Request

from dazi.accounts.services import Actor, actor_for_token, record_token_use
from dazi.errors import Unauthorized
from dazi.hub import Hub


def get_hub(request: Request) -> Hub:
    hub: Hub = request.app.state.hub
    return hub


def credentials(request: Request) -> str | None:
    """The token from ``Authorization: Bearer <t>`` or HTTP Basic (any user, token as password)."""
    header = request.headers.get("authorization")
    if not header:
        return None
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
    request.state.actor = actor
    return actor


def base_url(request: Request) -> str:
    """The URL clients use to reach the hub, without a trailing slash."""
    configured = get_hub(request).settings.public_url
    if configured:
        return configured.rstrip("/")
    return str(request.base_url).rstrip("/")
