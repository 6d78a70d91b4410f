"""Untrusted content stays inert, private repos stay invisible, forms need CSRF tokens, log-in is rate limited."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from huggingface_hub import CommitOperationAdd, HfApi

from tests.web.conftest import Browser, elements, section, unique
from tests.web.seed import card

EVIL_CARD = """---
license: mit
chinese_name: "<script>alert('name')</script>"
tags: ["<img src=x onerror=alert('tag')>"]
---
# Innocent <script>alert('h1')</script>

[click](javascript:alert('md-link')) <a href="JaVaScRiPt:alert('html-link')">x</a>
<a href="data:text/html,<script>alert(1)</script>">data</a>
<img src="x" onerror="alert('img')"> <svg onload="alert('svg')"><script>alert('svg-script')</script></svg>
<iframe src="https://evil.example/"></iframe> <div style="position:fixed;inset:0" class="topbar">cover</div>
<form action="https://evil.example/"><input name="password"></form>
<details open ontoggle="alert('toggle')"><summary>more</summary>text</details>
"""
EVIL_SVG = b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"><script>alert(2)</script></svg>'
EVIL_NAME = "<img src=x onerror=alert('file')>.txt"


def assert_inert(html: str) -> None:
    """Nothing a browser would run: only our own scripts, no event handlers, no script URLs, no frames."""
    for tag, attrs in elements(html):
        if tag == "script":
            assert attrs.get("src", "").startswith("/static/"), attrs
        assert tag not in ("iframe", "object", "embed", "form") or attrs.get("action", "/").startswith("/"), tag
        for name, value in attrs.items():
            assert not name.startswith("on"), (tag, name, value)
            assert "javascript:" not in value.lower().replace(" ", ""), (tag, name, value)
            assert not value.lower().startswith("data:text"), (tag, name, value)
            assert name != "style", (tag, name, value)


@pytest.fixture(scope="module")
def evil_repo(hub_server: Any) -> str:
    owner = hub_server.new_user("mallory")
    api = HfApi(endpoint=hub_server.url, token=owner.write_token)
    repo_id = f"{owner.name}/{unique('evil')}"
    api.create_repo(repo_id)
    api.create_commit(repo_id, [
        CommitOperationAdd("README.md", EVIL_CARD.encode()),
        CommitOperationAdd("drawing.svg", EVIL_SVG),
        CommitOperationAdd(EVIL_NAME, b"hello"),
        CommitOperationAdd("notes.md", b"# Notes\n\n<script>alert('notes')</script>[x](javascript:alert(1))\n"),
    ], commit_message="<script>alert('commit')</script>")
    return repo_id


def test_cards_cannot_run_scripts(browser: Browser, evil_repo: str) -> None:
    page = browser.get(f"/{evil_repo}")
    assert page.status_code == 200
    assert_inert(page.text)
    body = section(page.text, '<div class="markdown">', "</article>")
    assert "Innocent" in body and "<svg" not in body and "<iframe" not in body and "<form" not in body
    assert "&lt;script&gt;alert(&#39;name&#39;)&lt;/script&gt;" in page.text  # the display name, escaped
    assert 'class="topbar"' not in body  # a card cannot borrow the site's classes


def test_file_names_commit_messages_and_files_are_escaped(browser: Browser, evil_repo: str) -> None:
    for url in (f"/{evil_repo}/tree/main", f"/{evil_repo}/commits/main", f"/{evil_repo}/blob/main/drawing.svg",
                f"/{evil_repo}/blob/main/notes.md"):
        page = browser.get(url)
        assert page.status_code == 200, url
        assert_inert(page.text)
    tree = browser.get(f"/{evil_repo}/tree/main").text
    assert "&lt;img src=x onerror=alert(&#39;file&#39;)&gt;.txt" in tree
    svg = browser.get(f"/{evil_repo}/blob/main/drawing.svg").text
    assert "&lt;</span><span class=\"hl-nt\">script</span>" in svg or "&lt;script&gt;" in svg
    commits = browser.get(f"/{evil_repo}/commits/main").text
    assert "&lt;script&gt;alert(&#39;commit&#39;)&lt;/script&gt;" in commits


def test_raw_svg_is_never_served_as_an_image(hub_server: Any, evil_repo: str) -> None:
    raw = httpx.get(f"{hub_server.url}/{evil_repo}/resolve/main/drawing.svg")
    assert raw.status_code == 200
    assert "svg" not in raw.headers["content-type"]
    assert raw.headers["x-content-type-options"] == "nosniff" and "sandbox" in raw.headers["content-security-policy"]


def test_security_headers_on_html_pages(browser: Browser, evil_repo: str) -> None:
    for url in ("/", "/models", f"/{evil_repo}", "/login", "/no-such-user-here", f"/{evil_repo}/tree/nope"):
        response = browser.get(url)
        assert response.headers["content-type"].startswith("text/html"), url
        csp = response.headers["content-security-policy"]
        assert "script-src 'self'" in csp and "unsafe-inline" not in csp and "frame-ancestors 'none'" in csp
        assert "object-src 'none'" in csp and "base-uri 'none'" in csp and "form-action 'self'" in csp
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["x-frame-options"] == "DENY"
        assert response.headers["referrer-policy"] == "strict-origin-when-cross-origin"
        assert_inert(response.text)  # also: no inline scripts or style attributes that CSP would block


def test_forms_without_a_valid_csrf_token_are_refused(hub_server: Any, new_browser: Any, alice: Any) -> None:
    b = new_browser()
    assert b.client.post("/login", data={"name": alice.name, "password": alice.password}).status_code == 403
    b.get("/login")  # now the browser has a CSRF cookie, but sends a forged token
    forged = b.client.post("/login", data={"name": alice.name, "password": alice.password, "csrf_token": "0" * 64})
    assert forged.status_code == 403 and "dazi_session" not in forged.headers.get("set-cookie", "")
    b.log_in(alice.name, alice.password)
    before = _token_count(hub_server, alice.name)
    assert b.client.post("/settings/tokens", data={"label": "csrf", "role": "write"}).status_code == 403
    anonymous_token = new_browser().csrf("/login")  # a token minted for another visitor
    stolen = b.client.post("/settings/tokens", data={"label": "csrf", "role": "write", "csrf_token": anonymous_token})
    assert stolen.status_code == 403
    assert _token_count(hub_server, alice.name) == before
    assert b.client.post("/logout").status_code == 403
    assert b.get("/settings/tokens").status_code == 200  # still logged in


def test_login_is_rate_limited_per_ip_and_name(hub_server: Any, new_browser: Any) -> None:
    victim = hub_server.new_user("victim")
    b = new_browser()
    settings = hub_server.hub.settings
    saved, settings.login_max_failures = settings.login_max_failures, 3  # read on every attempt
    try:
        for _ in range(3):
            assert b.post_form("/login", {"name": victim.name, "password": "guess"}).status_code == 401
        blocked = b.post_form("/login", {"name": victim.name.upper(), "password": victim.password})
        assert blocked.status_code == 429 and 0 < int(blocked.headers["retry-after"]) <= settings.login_window_seconds
        assert "Too many failed log-ins" in blocked.text
        other = hub_server.new_user("bystander")
        b.log_in(other.name, other.password)  # another name from the same address is not blocked
    finally:
        settings.login_max_failures = saved


def test_the_session_cookie_never_authenticates_the_api(hub_server: Any, browser: Browser, alice: Any) -> None:
    browser.log_in(alice.name, alice.password)
    cookies = {"dazi_session": browser.client.cookies["dazi_session"]}
    assert httpx.get(f"{hub_server.url}/api/whoami-v2", cookies=cookies).status_code == 401
    name = unique("x")
    create = httpx.post(f"{hub_server.url}/api/repos/create", json={"name": name, "type": "model"}, cookies=cookies)
    assert create.status_code in (401, 403)  # anonymous, as far as the API is concerned
    assert httpx.get(f"{hub_server.url}/api/models/{alice.name}/{name}").status_code in (401, 404)


def test_secure_cookies_behind_https(hub_server: Any, alice: Any) -> None:
    b = Browser(hub_server.url)
    b.client.headers["X-Forwarded-Proto"] = "https"  # as a TLS proxy on loopback sends it
    token = b.csrf("/login")
    csrf_cookie = b.client.cookies["dazi_csrf"]  # a Secure cookie: httpx keeps it but sends it over https only
    headers = {"X-Forwarded-Proto": "https", "Cookie": f"dazi_csrf={csrf_cookie}"}
    response = httpx.post(f"{hub_server.url}/login", headers=headers,
                          data={"csrf_token": token, "name": alice.name, "password": alice.password})
    cookie = next(c for c in response.headers.get_list("set-cookie") if c.startswith("dazi_session="))
    assert "Secure" in cookie and "HttpOnly" in cookie
    b.close()


def test_error_pages_are_html_for_browsers_and_json_for_clients(hub_server: Any, browser: Browser) -> None:
    page = browser.get("/no-such-user-here")
    assert page.status_code == 404 and "Page not found" in page.text
    deep = browser.get("/a/b/c/d/e")
    assert deep.status_code == 404 and "<!doctype html>" in deep.text
    api = httpx.get(f"{hub_server.url}/api/no-such-route")
    assert api.status_code == 404 and api.headers["content-type"].startswith("application/json")
    client = httpx.get(f"{hub_server.url}/a/b/c/d/e")
    assert client.status_code == 404 and client.headers["content-type"].startswith("application/json")


# -- private repos ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def private_world(hub_server: Any) -> dict[str, Any]:
    owner = hub_server.new_user("secretive")
    api = HfApi(endpoint=hub_server.url, token=owner.write_token)
    marker = unique("xq")
    base = f"{owner.name}/{marker}-base"
    secret = f"{owner.name}/{marker}-secret"
    api.create_repo(base)
    api.upload_file(path_or_fileobj=card({"license": "mit"}, f"公开的基础模型 {marker}"), path_in_repo="README.md",
                    repo_id=base)
    api.create_repo(secret, private=True)
    meta = {"base_model": base, "base_model_relation": "adapter", "license": "secret-license",
            "chinese_name": "绝密模型"}
    api.upload_file(path_or_fileobj=card(meta, f"机密适配器 {marker} 不应被看到"), path_in_repo="README.md",
                    repo_id=secret)
    return {"owner": owner, "marker": marker, "base": base, "secret": secret}


def _visible_views(b: Browser, world: dict[str, Any]) -> dict[str, str]:
    marker, owner = world["marker"], world["owner"].name
    return {
        "list": b.get(f"/models?search={marker}").text,
        "search": b.get("/search", params={"q": "机密适配器"}).text,
        "facets": b.get("/models", params={"license": "secret-license"}).text,
        "profile": b.get(f"/{owner}").text,
        "base": b.get(f"/{world['base']}").text,
        "lineage": b.get(f"/{world['base']}/lineage").text,
    }


def test_private_repos_are_invisible_to_others(new_browser: Any, bob: Any, private_world: dict[str, Any]) -> None:
    anonymous, other = new_browser(), new_browser()
    other.log_in(bob.name, bob.password)
    secret_name = private_world["secret"].split("/")[1]
    for b in (anonymous, other):
        views = _visible_views(b, private_world)
        for where, html in views.items():
            assert secret_name not in html and "绝密模型" not in html, where
            if where != "facets":  # (that page echoes the filter the visitor typed)
                assert "secret-license" not in html, where
        assert "Adapters" not in views["base"]  # no derivative counted
        assert ">1</span></h1>" in views["list"].replace('<span class="total">', ">")  # only the base is counted
        assert "No models match." in views["facets"]
        assert b.get(f"/{private_world['secret']}").status_code == 404
        assert b.get(f"/{private_world['secret']}/tree/main").status_code == 404
        api = httpx.get(f"{b.client.base_url}/api/models", params={"search": "机密适配器"}).json()
        assert api == []


def test_private_repos_are_visible_to_their_owner(new_browser: Any, private_world: dict[str, Any]) -> None:
    b = new_browser()
    b.log_in(private_world["owner"].name, private_world["owner"].password)
    views = _visible_views(b, private_world)
    secret_name = private_world["secret"].split("/")[1]
    for where in ("list", "search", "facets", "profile", "lineage"):
        assert secret_name in views[where], where
    assert "Adapters" in views["base"] and "绝密模型" in views["list"]
    assert b.get(f"/{private_world['secret']}").status_code == 200


def _token_count(hub_server: Any, user: str) -> int:
    from dazi.accounts.services import get_user, list_tokens

    with hub_server.hub.db.read() as session:
        return len(list_tokens(session, get_user(session, user)))
