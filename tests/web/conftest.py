"""Fixtures of the web site tests: a browser-like HTTP client that keeps cookies and fills CSRF tokens."""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterator
from html.parser import HTMLParser
from typing import Any

import httpx
import pytest

TIMEOUT = 60.0
_CSRF = re.compile(r'name="csrf_token" value="([0-9a-f]+)"')


class Browser:
    """An httpx client with cookies, as a browser without JavaScript would behave."""

    def __init__(self, base_url: str, lang: str | None = "en"):
        headers = {"Accept": "text/html,application/xhtml+xml"}
        if lang:
            headers["Accept-Language"] = lang
        self.client = httpx.Client(base_url=base_url, headers=headers, timeout=TIMEOUT, follow_redirects=False)

    def get(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.client.get(url, **kwargs)

    def csrf(self, url: str = "/login") -> str:
        match = _CSRF.search(self.get(url).text)
        assert match, f"no CSRF token on {url}"
        return match.group(1)

    def post_form(self, url: str, data: dict[str, str]) -> httpx.Response:
        """Submit a form the way a page would, with the CSRF token pages carry (the log-in form always has one)."""
        return self.client.post(url, data={"csrf_token": self.csrf("/login"), **data})

    def log_in(self, name: str, password: str) -> httpx.Response:
        response = self.post_form("/login", {"name": name, "password": password})
        assert response.status_code == 303, response.text[:500]
        return response

    def close(self) -> None:
        self.client.close()


@pytest.fixture
def browser(hub_server: Any) -> Iterator[Browser]:
    b = Browser(hub_server.url)
    yield b
    b.close()


@pytest.fixture
def new_browser(hub_server: Any) -> Iterator[Any]:
    made: list[Browser] = []

    def make(lang: str | None = "en") -> Browser:
        made.append(Browser(hub_server.url, lang))
        return made[-1]

    yield make
    for b in made:
        b.close()


def unique(prefix: str) -> str:
    return f"{prefix}-{secrets.token_hex(3)}"


class Elements(HTMLParser):
    """Every start tag of a page with its attributes (for checks on what a browser would run)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, {k: v or "" for k, v in attrs}))


def elements(html: str) -> list[tuple[str, dict[str, str]]]:
    parser = Elements()
    parser.feed(html)
    return parser.tags


def section(html: str, start_marker: str, end_marker: str) -> str:
    start = html.index(start_marker)
    return html[start : html.index(end_marker, start)]
