"""Settings pages over HTTP: profile and password, organizations, and an organization's members."""

from __future__ import annotations

import re
from typing import Any

import pytest
from huggingface_hub import HfApi

from tests.web.conftest import Browser, unique


def role_badge(name: str, role: str) -> str:
    return rf'href="/{re.escape(name)}">{re.escape(name)}</a> <span class="badge role-{role}">{role}'


def test_settings_need_a_log_in(browser: Browser) -> None:
    for path in ("/settings/profile", "/settings/organizations", "/organizations/someone/settings"):
        response = browser.get(path)
        assert response.status_code == 303 and response.headers["location"].startswith("/login?next=")


def test_profile_edit_shows_on_the_profile(browser: Browser, alice: Any) -> None:
    browser.log_in(alice.name, alice.password)
    page = browser.get("/settings/profile")
    assert page.status_code == 200 and page.headers["cache-control"] == "no-store"
    assert f'value="{alice.email}"' in page.text and 'aria-current="page">Profile' in page.text
    new_email = f"{unique('renamed')}@example.org"
    saved = browser.post_form("/settings/profile", {"fullname": "Alice Liddell 爱丽丝", "email": new_email})
    assert saved.status_code == 200 and "Your profile has been saved." in saved.text
    profile = browser.get(f"/{alice.name}").text
    assert "<h1>Alice Liddell 爱丽丝</h1>" in profile and 'href="/settings/profile"' in profile
    assert new_email in browser.get("/settings/profile").text
    bad = browser.post_form("/settings/profile", {"fullname": "x", "email": "not-an-email"})
    assert bad.status_code == 400 and "Check the email address" in bad.text


def test_profile_email_must_be_free(browser: Browser, alice: Any, bob: Any) -> None:
    browser.log_in(alice.name, alice.password)
    taken = browser.post_form("/settings/profile", {"fullname": "", "email": bob.email.upper()})
    assert taken.status_code == 400 and "already registered" in taken.text


def test_password_change(new_browser: Any, alice: Any) -> None:
    b = new_browser()
    b.log_in(alice.name, alice.password)
    wrong = b.post_form("/settings/password", {"current_password": "not-it-at-all", "new_password": "brand-new-pw"})
    assert wrong.status_code == 400 and "The current password is wrong." in wrong.text
    short = b.post_form("/settings/password", {"current_password": alice.password, "new_password": "short"})
    assert short.status_code == 400 and "at least 8 characters" in short.text
    ok = b.post_form("/settings/password", {"current_password": alice.password, "new_password": "brand-new-pw"})
    assert ok.status_code == 200 and "Your password has been changed." in ok.text
    other = new_browser()
    refused = other.post_form("/login", {"name": alice.name, "password": alice.password})
    assert refused.status_code == 401
    other.log_in(alice.name, "brand-new-pw")
    assert other.get("/settings/profile").status_code == 200


def test_chinese_settings_pages(new_browser: Any, alice: Any) -> None:
    b = new_browser("zh-CN")
    b.log_in(alice.name, alice.password)
    assert "修改密码" in b.get("/settings/profile").text
    assert "创建组织" in b.get("/settings/organizations").text


def test_create_organization(browser: Browser, alice: Any) -> None:
    browser.log_in(alice.name, alice.password)
    empty = browser.get("/settings/organizations")
    assert empty.status_code == 200 and "You are not a member of any organization yet." in empty.text
    org = unique("lab")
    created = browser.post_form("/settings/organizations", {"name": org, "fullname": "The Lab"})
    assert created.status_code == 303 and created.headers["location"] == f"/{org}"
    page = browser.get(f"/{org}").text
    assert re.search(role_badge(alice.name, "admin"), page) and "<h1>The Lab</h1>" in page
    assert f'href="/organizations/{org}/settings"' in page
    listing = browser.get("/settings/organizations").text
    assert f'href="/{org}"' in listing and "role-admin" in listing
    taken = browser.post_form("/settings/organizations", {"name": org.upper(), "fullname": ""})
    assert taken.status_code == 400 and "already taken" in taken.text
    reserved = browser.post_form("/settings/organizations", {"name": "settings", "fullname": ""})
    assert reserved.status_code == 400 and "cannot be used" in reserved.text


def test_members_are_added_changed_and_removed(hub_server: Any, new_browser: Any, alice: Any, bob: Any) -> None:
    org = hub_server.new_org(alice, "team")
    admin = new_browser()
    admin.log_in(alice.name, alice.password)
    settings_url = f"/organizations/{org}/settings"
    assert admin.get(settings_url).status_code == 200
    repo_id = f"{org}/{unique('shared')}"
    HfApi(endpoint=hub_server.url, token=alice.write_token).create_repo(repo_id)
    as_bob = HfApi(endpoint=hub_server.url, token=bob.write_token)

    missing = admin.post_form(f"{settings_url}/members", {"user": "no-such-user-here", "role": "write"})
    assert missing.status_code == 400 and "There is no user of this name." in missing.text
    bad_role = admin.post_form(f"{settings_url}/members", {"user": bob.name, "role": "owner"})
    assert bad_role.status_code == 400

    added = admin.post_form(f"{settings_url}/members", {"user": bob.name, "role": "write"})
    assert added.status_code == 303 and added.headers["location"] == settings_url
    assert re.search(role_badge(bob.name, "write"), admin.get(f"/{org}").text)
    as_bob.upload_file(path_or_fileobj=b"hello from bob\n", path_in_repo="bob.txt", repo_id=repo_id)
    assert "bob.txt" in as_bob.list_repo_files(repo_id)

    changed = admin.post_form(f"{settings_url}/members", {"user": bob.name, "role": "read"})
    assert changed.status_code == 303
    assert re.search(role_badge(bob.name, "read"), admin.get(f"/{org}").text)
    with pytest.raises(Exception, match="403"):
        as_bob.upload_file(path_or_fileobj=b"again\n", path_in_repo="again.txt", repo_id=repo_id)

    removed = admin.post_form(f"{settings_url}/members/{bob.name}/remove", {})
    assert removed.status_code == 303
    assert bob.name not in admin.get(f"/{org}").text


def test_non_admins_are_refused(hub_server: Any, new_browser: Any, alice: Any, bob: Any) -> None:
    org = hub_server.new_org(alice, "closed")
    hub_server.add_member(org, bob, "write")
    b = new_browser()
    b.log_in(bob.name, bob.password)
    settings_url = f"/organizations/{org}/settings"
    assert b.get(settings_url).status_code == 403
    assert f'href="{settings_url}"' not in b.get(f"/{org}").text
    assert b.post_form(f"{settings_url}/members", {"user": bob.name, "role": "admin"}).status_code == 403
    assert b.post_form(f"{settings_url}/members/{alice.name}/remove", {}).status_code == 403
    assert re.search(role_badge(alice.name, "admin"), b.get(f"/{org}").text)
    assert re.search(role_badge(bob.name, "write"), b.get(f"/{org}").text)
    assert b.get("/organizations/no-such-org-anywhere/settings").status_code == 404


def test_the_last_admin_stays(hub_server: Any, new_browser: Any, alice: Any, bob: Any) -> None:
    org = hub_server.new_org(alice, "solo")
    b = new_browser()
    b.log_in(alice.name, alice.password)
    settings_url = f"/organizations/{org}/settings"
    removed = b.post_form(f"{settings_url}/members/{alice.name}/remove", {})
    assert removed.status_code == 409 and "at least one admin" in removed.text
    demoted = b.post_form(f"{settings_url}/members", {"user": alice.name, "role": "write"})
    assert demoted.status_code == 409 and "at least one admin" in demoted.text
    assert re.search(role_badge(alice.name, "admin"), b.get(f"/{org}").text)
    # with a second admin, the first may step down
    assert b.post_form(f"{settings_url}/members", {"user": bob.name, "role": "admin"}).status_code == 303
    left = b.post_form(f"{settings_url}/members/{alice.name}/remove", {})
    assert left.status_code == 303 and left.headers["location"] == f"/{org}"
    assert b.get(settings_url).status_code == 403
    assert not re.search(role_badge(alice.name, "(admin|write|read)"), b.get(f"/{org}").text)


def test_every_settings_form_needs_a_csrf_token(hub_server: Any, new_browser: Any, alice: Any, bob: Any) -> None:
    org = hub_server.new_org(alice, "guarded")
    hub_server.add_member(org, bob, "write")
    b = new_browser()
    b.log_in(alice.name, alice.password)
    forms = {
        "/settings/profile": {"fullname": "Forged", "email": f"{unique('forged')}@example.org"},
        "/settings/password": {"current_password": alice.password, "new_password": "forged-password"},
        "/settings/organizations": {"name": unique("forged"), "fullname": ""},
        f"/organizations/{org}/settings/members": {"user": bob.name, "role": "admin"},
        f"/organizations/{org}/settings/members/{bob.name}/remove": {},
    }
    anonymous_token = new_browser().csrf("/login")  # a token minted for another visitor
    for url, data in forms.items():
        assert b.client.post(url, data=data).status_code == 403, url
        assert b.client.post(url, data={**data, "csrf_token": "0" * 64}).status_code == 403, url
        assert b.client.post(url, data={**data, "csrf_token": anonymous_token}).status_code == 403, url
    assert "Forged" not in b.get(f"/{alice.name}").text
    assert re.search(role_badge(bob.name, "write"), b.get(f"/{org}").text)
    assert new_browser().post_form("/login", {"name": alice.name, "password": alice.password}).status_code == 303
