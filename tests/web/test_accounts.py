"""People pages over HTTP: sign-up, log-in, log-out, access tokens (created, shown once, revoked), profiles."""

from __future__ import annotations

import re
from typing import Any

import httpx
from huggingface_hub import HfApi

from tests.web.conftest import Browser, unique


def test_sign_up_logs_in_and_shows_the_profile(browser: Browser) -> None:
    name = unique("newcomer")
    response = browser.post_form("/join", {"name": name, "email": f"{name}@example.org", "password": "long-enough-pw"})
    assert response.status_code == 303 and response.headers["location"] == f"/{name}"
    cookie = next(c for c in response.headers.get_list("set-cookie") if c.startswith("dazi_session="))
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Path=/" in cookie
    assert "Secure" not in cookie  # plain http on loopback
    profile = browser.get(f"/{name}")
    assert profile.status_code == 200
    assert f'<a class="me" href="/{name}">{name}</a>' in profile.text
    assert "/logout" in profile.text


def test_sign_up_errors_are_shown_in_the_form(browser: Browser, alice: Any) -> None:
    taken = browser.post_form("/join", {"name": alice.name, "email": "x@example.org", "password": "long-enough"})
    assert taken.status_code == 400 and "already taken" in taken.text
    short = browser.post_form("/join", {"name": unique("pw"), "email": "y@example.org", "password": "short"})
    assert short.status_code == 400 and "at least 8 characters" in short.text
    bad = browser.post_form("/join", {"name": "api", "email": "z@example.org", "password": "long-enough"})
    assert bad.status_code == 400 and "cannot be used" in bad.text


def test_log_in_and_log_out(browser: Browser, alice: Any) -> None:
    wrong = browser.post_form("/login", {"name": alice.name, "password": "not-the-password"})
    assert wrong.status_code == 401 and "Wrong user name or password" in wrong.text
    ok = browser.post_form("/login", {"name": alice.name, "password": alice.password, "next": "/settings/tokens"})
    assert ok.status_code == 303 and ok.headers["location"] == "/settings/tokens"
    assert browser.get("/settings/tokens").status_code == 200
    out = browser.post_form("/logout", {})
    assert out.status_code == 303
    assert any(c.startswith('dazi_session=""') or "Max-Age=0" in c for c in out.headers.get_list("set-cookie"))
    again = browser.get("/settings/tokens")
    assert again.status_code == 303 and again.headers["location"].startswith("/login?next=")


def test_log_out_ends_the_session_on_the_server(hub_server: Any, new_browser: Any, alice: Any) -> None:
    first = new_browser()
    first.log_in(alice.name, alice.password)
    stolen = first.client.cookies.get("dazi_session")
    first.post_form("/logout", {})
    thief = new_browser()
    thief.client.cookies.set("dazi_session", stolen)
    assert thief.get("/settings/tokens").status_code == 303  # the old cookie is worth nothing now


def test_next_only_goes_to_this_site(browser: Browser, alice: Any) -> None:
    for target in ("//evil.example/x", "https://evil.example/", "/\\evil.example"):
        response = browser.post_form("/login", {"name": alice.name, "password": alice.password, "next": target})
        assert response.headers["location"] == "/"


def test_tokens_are_created_shown_once_listed_and_revoked(hub_server: Any, browser: Browser, alice: Any) -> None:
    browser.log_in(alice.name, alice.password)
    created = browser.post_form("/settings/tokens", {"label": "laptop", "role": "write"})
    assert created.status_code == 200 and created.headers["cache-control"] == "no-store"
    secret = re.search(r'<code id="new-token">(dazi_[A-Za-z0-9_-]+)</code>', created.text).group(1)  # type: ignore[union-attr]
    assert "Copy it now" in created.text
    api = HfApi(endpoint=hub_server.url, token=secret)
    assert api.whoami()["name"] == alice.name
    repo_id = f"{alice.name}/{unique('from-web-token')}"
    api.create_repo(repo_id)  # a write token
    listing = browser.get("/settings/tokens").text
    assert secret not in listing and secret[:12] in listing and "laptop" in listing
    token_id = hub_server_token_id(hub_server, alice.name, "laptop")
    revoked = browser.post_form(f"/settings/tokens/{token_id}/revoke", {})
    assert revoked.status_code == 303
    assert "revoked" in browser.get("/settings/tokens").text
    status = httpx.get(f"{hub_server.url}/api/whoami-v2", headers={"Authorization": f"Bearer {secret}"}).status_code
    assert status == 401


def test_read_tokens_cannot_write(hub_server: Any, browser: Browser, alice: Any) -> None:
    browser.log_in(alice.name, alice.password)
    page = browser.post_form("/settings/tokens", {"label": "reader", "role": "read"}).text
    secret = re.search(r'<code id="new-token">([^<]+)</code>', page).group(1)  # type: ignore[union-attr]
    response = httpx.post(f"{hub_server.url}/api/repos/create", json={"name": unique("nope"), "type": "model"},
                          headers={"Authorization": f"Bearer {secret}"})
    assert response.status_code == 403
    bad_role = browser.post_form("/settings/tokens", {"label": "x", "role": "admin"})
    assert bad_role.status_code == 400


def test_someone_elses_token_cannot_be_revoked(hub_server: Any, new_browser: Any, alice: Any, bob: Any) -> None:
    token_id = hub_server_token_id(hub_server, alice.name, "tests")
    b = new_browser()
    b.log_in(bob.name, bob.password)
    assert b.post_form(f"/settings/tokens/{token_id}/revoke", {}).status_code == 303
    ok = httpx.get(f"{hub_server.url}/api/whoami-v2", headers={"Authorization": f"Bearer {alice.write_token}"})
    assert ok.status_code == 200


def test_org_page_lists_members_with_roles(hub_server: Any, browser: Browser, alice: Any, bob: Any) -> None:
    org = hub_server.new_org(alice, "lab")
    hub_server.add_member(org, bob, "write")
    page = browser.get(f"/{org}").text
    assert "Organization" in page
    assert re.search(rf'href="/{alice.name}">{alice.name}</a> <span class="badge role-admin">admin', page)
    assert re.search(rf'href="/{bob.name}">{bob.name}</a> <span class="badge role-write">write', page)
    user_page = browser.get(f"/{bob.name}").text
    assert f'href="/{org}"' in user_page


def test_closed_sign_up(hub_server: Any, browser: Browser) -> None:
    hub_server.hub.settings.signup_enabled = False
    try:
        assert "Sign-up is closed" in browser.get("/join").text
        name = unique("late")
        denied = browser.post_form("/join", {"name": name, "email": f"{name}@example.org", "password": "long-enough"})
        assert denied.status_code == 403
    finally:
        hub_server.hub.settings.signup_enabled = True


def hub_server_token_id(hub_server: Any, user: str, label: str) -> int:
    from dazi.accounts.services import get_user, list_tokens

    with hub_server.hub.db.read() as session:
        return next(t.id for t in list_tokens(session, get_user(session, user)) if t.label == label)
