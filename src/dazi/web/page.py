"""The per-request context of a web page: language, signed-in actor, CSRF, cookies, security headers."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from dazi.accounts.services import Actor
from dazi.deps import base_url, get_hub
from dazi.hub import Hub
from dazi.web import i18n, sessions, templating

YEAR = 365 * 24 * 3600
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' https: data:; "
    "font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "strict-origin-when-cross-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
}


@dataclass
class Page:
    request: Request
    hub: Hub
    locale: str
    actor: Actor | None
    session_key: str
    csrf_cookie: str
    cookies: dict[str, tuple[str, int]] = field(default_factory=dict)  # name -> (value, max-age)

    @property
    def csrf_token(self) -> str:
        return sessions.csrf_token(self.hub.secret, self.csrf_cookie, self.session_key)

    @property
    def secure(self) -> bool:
        public = self.hub.settings.public_url or ""
        return self.request.url.scheme == "https" or public.startswith("https:")

    @property
    def base_url(self) -> str:
        return base_url(self.request)

    def gettext(self, message: str) -> str:
        return i18n.translations(self.locale).gettext(message)

    def lang_url(self, locale: str) -> str:
        """This page in another language (the switcher's links)."""
        params = [(k, v) for k, v in self.request.query_params.multi_items() if k != "lang"]
        params.append(("lang", locale))
        return f"{self.request.url.path}?{urlencode(params)}"

    def render(
        self, template: str, *, status: int = 200, headers: dict[str, str] | None = None, **ctx: Any
    ) -> Response:
        header = ctx.get("header")
        nav = {"model": "models", "dataset": "datasets"}.get(header.repo.type, "") if header is not None else ""
        context = {"page": self, "actor": self.actor, "csrf_token": self.csrf_token, "nav": nav, "search_value": ""}
        context.update(ctx)
        body = templating.render(self.locale, template, context)
        response = HTMLResponse(body, status_code=status, headers=headers)
        return self.finish(response)

    def redirect(self, url: str) -> Response:
        return self.finish(RedirectResponse(url, status_code=303))

    def finish(self, response: Response) -> Response:
        """Security headers and the cookies this request decided to set."""
        response.headers.update(SECURITY_HEADERS)
        response.headers.setdefault("Cache-Control", "no-cache")
        response.headers["Vary"] = "Cookie, Accept-Language"
        for name, (value, max_age) in self.cookies.items():
            response.set_cookie(
                name, value, max_age=max_age, path="/", secure=self.secure, httponly=True, samesite="lax"
            )
        return response

    def set_cookie(self, name: str, value: str, max_age: int) -> None:
        self.cookies[name] = (value, max_age)


def get_page(request: Request) -> Page:
    """Resolve the web context once per request (the error pages reuse it)."""
    cached: Page | None = getattr(request.state, "web_page", None)
    if cached is not None:
        return cached
    hub = get_hub(request)
    actor, key = None, ""
    secret = request.cookies.get(sessions.SESSION_COOKIE)
    if secret:
        with hub.db.read() as session:
            actor, key = sessions.actor_for(session, secret)
    query_lang = i18n.normalize(request.query_params.get("lang"))
    locale = i18n.negotiate(
        query_lang,
        request.cookies.get(i18n.LANG_COOKIE),
        request.headers.get("accept-language"),
        hub.settings.default_language,
    )
    csrf = request.cookies.get(sessions.CSRF_COOKIE) or ""
    page = Page(request, hub, locale, actor, key, csrf or sessions.new_csrf_cookie())
    if secret and actor is None:
        page.set_cookie(sessions.SESSION_COOKIE, "", 0)  # expired or ended elsewhere: forget it
    if not csrf:
        page.set_cookie(sessions.CSRF_COOKIE, page.csrf_cookie, YEAR)
    if query_lang:
        page.set_cookie(i18n.LANG_COOKIE, query_lang, YEAR)
    request.state.web_page = page
    return page


PageDep = Annotated[Page, Depends(get_page)]
