"""Short-lived, self-authorising tokens for LFS transfer URLs (the clients send no auth there)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from typing import Any

from dazi.errors import Unauthorized


def sign(secret: bytes, payload: dict[str, Any], ttl: int) -> str:
    body = dict(payload, exp=int(time.time()) + ttl)
    raw = base64.urlsafe_b64encode(json.dumps(body, separators=(",", ":")).encode()).rstrip(b"=")
    mac = base64.urlsafe_b64encode(hmac.new(secret, raw, hashlib.sha256).digest()).rstrip(b"=")
    return f"{raw.decode()}.{mac.decode()}"


def verify(secret: bytes, token: str) -> dict[str, Any]:
    try:
        raw, mac = token.encode().split(b".", 1)
    except ValueError:
        raise Unauthorized("Invalid or expired transfer URL.") from None
    expected = base64.urlsafe_b64encode(hmac.new(secret, raw, hashlib.sha256).digest()).rstrip(b"=")
    if not hmac.compare_digest(expected, mac):
        raise Unauthorized("Invalid or expired transfer URL.")
    payload: dict[str, Any] = json.loads(base64.urlsafe_b64decode(raw + b"=" * (-len(raw) % 4)))
    if payload.get("exp", 0) < time.time():
        raise Unauthorized("Invalid or expired transfer URL.")
    return payload
