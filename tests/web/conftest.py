"""Fixtures of the web site tests: a browser-like HTTP client that keeps cookies and fills CSRF tokens,
real headless Chromium (``chromium``, ``Watched``). The pushed models of the "Try it" boxes (``tiny_llama``,
``minilm``) come from ``tests/support/pushed_models.py``, registered by ``tests/conftest.py``."""

from __future__ import annotations

import os
import re
import secrets
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import httpx
import pytest

TIMEOUT = 60.0
_CSRF = re.compile(r'name="csrf_token" value="([0-9a-f]+)"')
CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage"]

@pytest.fixture(scope="module")
def chromium(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    home = tmp_path_factory.mktemp("chromium-home")
    old_home = os.environ.get("HOME")
    os.environ["HOME"] = str(home)  # chromium writes ~/.config and ~/.cache
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
            yield browser
            browser.close()
    finally:
        if old_home is not None:
            os.environ["HOME"] = old_home


class Watched:
    """A page that records console errors, failed requests and dialogs."""

    def __init__(self, browser: Any, base_url: str, width: int = 1280):
        self.context = browser.new_context(base_url=base_url, viewport={"width": width, "height": 900},
                                           locale="en-US")
        self.page = self.context.new_page()
        self.page.set_default_timeout(20_000)
        self.problems: list[str] = []
        self.page.on("console", lambda m: m.type == "error" and self.problems.append(f"console: {m.text}"))
        self.page.on("pageerror", lambda e: self.problems.append(f"page error: {e}"))
        self.page.on("dialog", lambda d: (self.problems.append(f"dialog: {d.message}"), d.dismiss()))

    def close(self) -> None:
        self.context.close()


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
