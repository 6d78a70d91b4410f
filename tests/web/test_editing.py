"""Creating and changing repos in the browser: new repo, upload, README edit, settings, CSRF on every form."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Any

import pytest
from huggingface_hub import HfApi

from tests.web.conftest import Browser, unique


@pytest.fixture
def signed_in(new_browser: Any, alice: Any) -> Browser:
    b: Browser = new_browser()
    b.log_in(alice.name, alice.password)
    return b


def create(b: Browser, owner: str, name: str, **extra: str) -> Any:
    return b.post_form("/new", {"type": "model", "owner": owner, "name": name, **extra})


def test_new_repo_form(signed_in: Browser, browser: Browser, alice: Any, hf_api: HfApi) -> None:
    assert browser.get("/new").headers["location"].startswith("/login?next=/new")
    form = signed_in.get("/new").text
    assert f"<option>{alice.name}</option>" in form and 'name="csrf_token"' in form
    name = unique("made")
    created = signed_in.post_form("/new", {"type": "dataset", "owner": alice.name, "name": name,
                                           "license": "mit", "visibility": "private"})
    assert created.status_code == 303 and created.headers["location"] == f"/datasets/{alice.name}/{name}"
    info = hf_api.repo_info(f"{alice.name}/{name}", repo_type="dataset")
    assert info.private and info.card_data is not None and info.card_data.get("license") == "mit"
    assert browser.get(f"/datasets/{alice.name}/{name}").status_code == 404
    again = signed_in.post_form("/new", {"type": "dataset", "owner": alice.name, "name": name})
    assert again.status_code == 409 and "already exists" in again.text
    bad = create(signed_in, alice.name, "bad name!")
    assert bad.status_code == 400 and "cannot be used" in bad.text
    assert create(signed_in, "someone-else", unique("x")).status_code in (403, 404)


def test_upload_through_the_form(signed_in: Browser, alice: Any, hf_api: HfApi, hub_server: Any) -> None:
    repo_id = f"{alice.name}/{unique('up')}"
    assert create(signed_in, alice.name, repo_id.split("/")[1]).status_code == 303
    assert f'href="/{repo_id}/upload"' in signed_in.get(f"/{repo_id}").text
    small, big = "你好，世界\n".encode(), bytes(range(256)) * 4096 * 11  # 11 MiB: over the LFS threshold
    files = [("files", ("notes/hello.txt", small, "text/plain")), ("files", ("weights.bin", big, "application/x"))]
    data = {"csrf_token": signed_in.csrf(f"/{repo_id}/upload"), "folder": "sub", "message": "两个文件 / two files"}
    done = signed_in.client.post(f"/{repo_id}/upload", data=data, files=files)
    assert done.status_code == 303 and done.headers["location"] == f"/{repo_id}/tree/main/sub"
    commit = hf_api.list_repo_commits(repo_id)[0]
    assert commit.title == "两个文件 / two files"
    entries = {e.path: e for e in hf_api.list_repo_tree(repo_id, recursive=True, expand=True) if hasattr(e, "lfs")}
    assert entries["sub/weights.bin"].lfs is not None
    assert entries["sub/weights.bin"].lfs.sha256 == hashlib.sha256(big).hexdigest()
    local = hf_api.hf_hub_download(repo_id, "sub/notes/hello.txt", cache_dir=str(hub_server.settings.data_dir / "c"))
    assert Path(local).read_bytes() == small
    refused = signed_in.client.post(f"/{repo_id}/upload", data={"csrf_token": "0" * 64}, files=files[:1])
    assert refused.status_code == 403


def test_upload_is_refused_to_others(new_browser: Any, bob: Any, alice: Any, hf_api: HfApi) -> None:
    repo_id = f"{alice.name}/{unique('mine')}"
    hf_api.create_repo(repo_id)
    b: Browser = new_browser()
    b.log_in(bob.name, bob.password)
    assert f'href="/{repo_id}/upload"' not in b.get(f"/{repo_id}").text
    assert b.get(f"/{repo_id}/upload").status_code == 403
    data = {"csrf_token": b.csrf("/login")}
    assert b.client.post(f"/{repo_id}/upload", data=data, files=[("files", ("x.txt", b"x"))]).status_code == 403
    assert b.post_form(f"/{repo_id}/settings/delete", {"confirm": repo_id}).status_code == 403
    assert hf_api.repo_exists(repo_id)


def test_readme_preview_and_commit(signed_in: Browser, alice: Any, hf_api: HfApi) -> None:
    repo_id = f"{alice.name}/{unique('card')}"
    hf_api.create_repo(repo_id)
    assert "<textarea" in signed_in.get(f"/{repo_id}/edit-readme").text
    text = "---\nlicense: mit\n---\n# 标题\n\n<script>alert(1)</script>\n\nsome **bold**\n"
    preview = signed_in.post_form(f"/{repo_id}/edit-readme", {"text": text, "action": "preview"})
    assert preview.status_code == 200 and "<strong>bold</strong>" in preview.text
    assert "<script>alert" not in preview.text and "license: mit</" not in preview.text.split("Preview")[-1]
    assert hf_api.list_repo_commits(repo_id)[0].title == "initial commit"  # a preview commits nothing
    saved = signed_in.post_form(f"/{repo_id}/edit-readme", {"text": text, "message": "新的说明"})
    assert saved.status_code == 303 and saved.headers["location"] == f"/{repo_id}"
    assert hf_api.list_repo_commits(repo_id)[0].title == "新的说明"
    page = signed_in.get(f"/{repo_id}").text
    assert "<h1>标题</h1>" in page and "License: mit" in page


def test_settings_visibility_rename_delete(signed_in: Browser, browser: Browser, alice: Any, hf_api: HfApi) -> None:
    name = unique("set")
    repo_id = f"{alice.name}/{name}"
    hf_api.create_repo(repo_id)
    assert browser.get(f"/{repo_id}/settings").headers["location"].startswith("/login")
    assert "Make private" in signed_in.get(f"/{repo_id}/settings").text
    assert signed_in.post_form(f"/{repo_id}/settings/visibility", {"private": "on"}).status_code == 303
    assert browser.get(f"/{repo_id}").status_code == 404 and hf_api.repo_info(repo_id).private
    assert repo_id not in browser.get("/models", params={"search": name}).text
    moved = signed_in.post_form(f"/{repo_id}/settings/move", {"owner": alice.name, "name": name + "-new"})
    assert moved.status_code == 303 and moved.headers["location"] == f"/{repo_id}-new"
    repo_id += "-new"
    wrong = signed_in.post_form(f"/{repo_id}/settings/delete", {"confirm": name})
    assert wrong.status_code == 400 and "does not match" in wrong.text and hf_api.repo_exists(repo_id)
    gone = signed_in.post_form(f"/{repo_id}/settings/delete", {"confirm": repo_id})
    assert gone.status_code == 303 and not hf_api.repo_exists(repo_id)


def test_every_new_form_checks_csrf(signed_in: Browser, alice: Any, hf_api: HfApi) -> None:
    repo_id = f"{alice.name}/{unique('csrf')}"
    hf_api.create_repo(repo_id)
    forms = {"/new": {"name": unique("n"), "owner": alice.name}, f"/{repo_id}/edit-readme": {"text": "x"},
             f"/{repo_id}/settings/visibility": {"private": "on"}, f"/{repo_id}/settings/move": {"name": "zz"},
             f"/{repo_id}/settings/delete": {"confirm": repo_id}}
    for url, data in forms.items():
        for token in ({}, {"csrf_token": "f" * 64}):
            assert signed_in.client.post(url, data={**data, **token}).status_code == 403, url
    assert hf_api.repo_exists(repo_id) and not hf_api.repo_info(repo_id).private
    assert re.search(r'name="csrf_token" value="[0-9a-f]+"', signed_in.get(f"/{repo_id}/settings").text)
