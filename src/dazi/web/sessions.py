"""Web log-in sessions and CSRF tokens.

- The ``dazi_session`` cookie holds a random secret; ``web_sessions`` keeps only its sha256, the user
  and the expiry, so a log-out (or an expiry) ends the session on the server, and a database leak
  reveals no usable cookie. The cookie is HttpOnly, SameSite=Lax, and Secure over https.
- The session authenticates web pages, and ``/v1/…`` (the OpenAI-compatible API, for the model pages'
  "Try it" box) only when the request also carries the page's CSRF token in an ``X-CSRF-Token`` header
  and no ``Authorization`` header (``api_actor``). Every other API (``/api/…``, git, the ModelScope
  routes) reads credentials only and never this cookie.
- CSRF: every visitor gets a random ``dazi_csrf`` cookie; each form carries
  ``HMAC(hub secret, csrf cookie | session)`` and every POST must send it back. A cross-site page can
  neither read the cookie nor compute the HMAC, and the token of an anonymous visitor is no good once
  a session exists (log-in CSRF and session fixation get nothing).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
from collections.abc import Mapping

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from dazi.accounts.models import User
from dazi.accounts.services import Actor, actor_for_user
from dazi.web.models import WebSession

SESSION_COOKIE = "dazi_session"
CSRF_COOKIE = "dazi_csrf"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
SESSION_API_PREFIX = "/v1/"  # the only API URL space a web session may call (with CSRF_HEADER)


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def start(session: Session, user: User, days: int) -> str:
    """Create a session for ``user``; returns the cookie's secret (shown to nobody else)."""
    now = dt.datetime.now(dt.UTC)
    session.execute(delete(WebSession).where(WebSession.expires_at < now))
    secret = secrets.token_urlsafe(32)
    session.add(WebSession(id=_digest(secret), user_id=user.id, expires_at=now + dt.timedelta(days=days)))
    session.flush()
    return secret


def end(session: Session, secret: str) -> None:
    session.execute(delete(WebSession).where(WebSession.id == _digest(secret)))


def actor_for(session: Session, secret: str | None) -> tuple[Actor | None, str]:
    """The actor of a session cookie (None when missing, unknown or expired) and the session's key."""
    if not secret or len(secret) > 200:
        return None, ""
    key = _digest(secret)
    row = session.execute(select(WebSession).where(WebSession.id == key)).scalar_one_or_none()
    if row is None or row.expires_at <= dt.datetime.now(dt.UTC):
        return None, ""
    return actor_for_user(session, row.user, "write", "web session"), key


def new_csrf_cookie() -> str:
    return secrets.token_urlsafe(24)


def csrf_token(hub_secret: bytes, csrf_cookie: str, session_key: str) -> str:
    message = f"csrf|{csrf_cookie}|{session_key}".encode()
    return hmac.new(hub_secret, message, hashlib.sha256).hexdigest()


def csrf_valid(hub_secret: bytes, csrf_cookie: str | None, session_key: str, sent: str | None) -> bool:
    if not csrf_cookie or not sent:
        return False
    return hmac.compare_digest(csrf_token(hub_secret, csrf_cookie, session_key), sent)


def api_actor(
    session: Session, hub_secret: bytes, path: str, cookies: Mapping[str, str], csrf_header: str | None
) -> Actor | None:
    """The web session's actor for a ``/v1/…`` request that proves it comes from one of our pages.

    The proof is the page's CSRF token in a custom header: a cross-site page cannot send a custom header
    without a CORS preflight (the hub answers none), and cannot read or compute the token. The caller
    checks that no ``Authorization`` header was sent (that one always wins). Anywhere outside ``/v1/``,
    without the header, or with a wrong one: None (anonymous, so the API answers 401).
    """
    if not path.startswith(SESSION_API_PREFIX) or not csrf_header:
        return None
    actor, key = actor_for(session, cookies.get(SESSION_COOKIE))
    if actor is None or not csrf_valid(hub_secret, cookies.get(CSRF_COOKIE), key, csrf_header):
        return None
    return actor
