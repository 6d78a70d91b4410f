"""The site in real headless Chromium (Debian's, driven by Playwright through its executable path).

A visitor signs up, logs out and in, creates a token in the settings, uses it with huggingface_hub to
create a repo with a Chinese card, sees the card, switches to Chinese, finds the repo by a Chinese word,
and browses its files and a commit. No page may log a console error (a CSP violation would) or open a
dialog (an injected script would).

Screenshots: ``DAZI_SCREENSHOTS=docs/screenshots pytest tests/web/test_browser.py -k screenshots`` writes
the main pages in both languages there (seeded with demo content); without it that test is skipped.
"""

from __future__ import annotations

import os
import re
import secrets
from pathlib import Path
from typing import Any

import pytest
from huggingface_hub import CommitOperationAdd, HfApi

from tests.web.conftest import CHROMIUM, Watched
from tests.web.seed import card, safetensors_bytes

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is not installed (make system-deps)")


def test_visitor_journey(chromium: Any, hub_server: Any) -> None:
    w = Watched(chromium, hub_server.url)
    page = w.page
    name = f"visitor-{secrets.token_hex(3)}"
    password = secrets.token_urlsafe(12)

    page.goto("/join?lang=en")
    page.fill("#join-name", name)
    page.fill("#join-email", f"{name}@example.org")
    page.fill("#join-password", password)
    page.click("form.form button[type=submit]")
    page.wait_for_url(f"**/{name}")
    assert page.locator("a.me").inner_text() == name

    page.click("text=Log out")
    page.wait_for_url(f"{hub_server.url}/")
    page.click("text=Log in")
    page.fill("#login-name", name)
    page.fill("#login-password", password)
    page.click("form.form button[type=submit]")
    page.wait_for_url(f"{hub_server.url}/")

    page.goto("/settings/tokens")
    page.fill("#token-label", "browser")
    page.select_option("#token-role", "write")
    page.click("text=Create token")
    token = page.locator("#new-token").inner_text().strip()
    assert token.startswith("dazi_")

    repo_id = f"{name}/qingxu-{secrets.token_hex(2)}"
    word = f"情感分析{secrets.token_hex(2)}"
    api = HfApi(endpoint=hub_server.url, token=token)
    api.create_repo(repo_id)
    body = f"# 情绪模型\n\n这是一个中文{word}模型。\n\n<script>alert('card')</script>\n"
    meta = {"license": "mit", "pipeline_tag": "text-classification", "chinese_name": "情绪模型", "language": ["zh"]}
    api.create_commit(repo_id, [CommitOperationAdd("README.md", card(meta, body)),
                                CommitOperationAdd("config.json", b'{"model_type": "bert"}\n'),
                                CommitOperationAdd("model.safetensors", safetensors_bytes({"w": ("F16", [8, 8])}))],
                      commit_message="第一次提交")

    page.goto(f"/{repo_id}")
    assert page.locator(".markdown h1").inner_text() == "情绪模型"
    assert word in page.locator(".markdown").inner_text()
    assert page.locator(".facts").first.inner_text().startswith("Parameters")
    page.click("button[role=tab]:has-text('modelscope')")  # the snippets became tabs
    assert "MODELSCOPE_ENDPOINT" in page.locator(".snippet.shown").inner_text()

    page.click(".langs a[lang=zh-CN]")
    page.wait_for_load_state()
    assert page.locator("html").get_attribute("lang") == "zh-CN"
    assert page.locator(".tabs a[aria-current=page]").inner_text() == "模型卡片"

    page.fill("#topsearch-q", word)
    page.press("#topsearch-q", "Enter")
    page.wait_for_url(re.compile(r".*/search\?q=.*"))
    page.click(f"a[href='/{repo_id}']")
    page.wait_for_url(f"**/{repo_id}")

    page.click("text=文件和版本")
    page.click("text=config.json")
    assert page.locator(".source .code").inner_text().strip() == '{"model_type": "bert"}'
    page.click(".tabs >> text=提交记录")
    page.click("text=第一次提交")
    changed = " ".join(page.locator(".diff-name").all_inner_texts())
    assert "config.json" in changed and "README.md" in changed and "model.safetensors" in changed
    assert page.locator("html").get_attribute("lang") == "zh-CN"  # the cookie kept the language

    assert w.problems == []
    w.close()


def test_pages_work_at_phone_width(chromium: Any, hub_server: Any) -> None:
    w = Watched(chromium, hub_server.url, width=390)
    for url in ("/", "/models", "/login"):
        w.page.goto(url)
        overflow = w.page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
        assert overflow <= 0, url
    assert w.problems == []
    w.close()


def test_create_upload_and_preview_in_the_browser(chromium: Any, hub_server: Any, tmp_path: Path) -> None:
    """Log in, create a dataset with the form, upload a folder through the page's JavaScript, read the preview."""
    import hashlib

    user = hub_server.new_user("maker")
    w = Watched(chromium, hub_server.url)
    page = w.page
    page.goto("/login")
    page.fill("#login-name", user.name)
    page.fill("#login-password", user.password)
    page.click("form.form button[type=submit]")
    page.click("text=+ New")
    name = f"reviews-{secrets.token_hex(3)}"
    page.check("input[name=type][value=dataset]")
    page.fill("#new-name", name)
    page.select_option("#new-license", "cc-by-4.0")
    page.click("text=Create repository")
    page.wait_for_url(f"**/datasets/{user.name}/{name}")
    page.click(".tabs >> text=Upload")
    folder = tmp_path / "data"
    folder.mkdir()
    (folder / "train.csv").write_text("text,stars\n好评,5\n差评,1\n", encoding="utf-8")
    (folder / "test.csv").write_text("text,stars\n一般,3\n", encoding="utf-8")
    page.set_input_files("#upload-folder", str(folder))
    assert page.locator("[data-chosen] li").count() == 2
    page.fill("#upload-message", "上传数据")
    page.click("text=Commit changes to main")
    page.wait_for_url(f"**/datasets/{user.name}/{name}/tree/main")
    page.click(".tabs >> text=Dataset viewer")
    assert "好评" in page.locator(".data-table").inner_text()
    assert page.locator(".col-type").all_inner_texts() == ["string", "int64"]
    api = HfApi(endpoint=hub_server.url, token=user.write_token)
    files = {f.path: f for f in api.list_repo_tree(f"{user.name}/{name}", repo_type="dataset", recursive=True)}
    repo_id = f"{user.name}/{name}"
    assert "data/train.csv" in files
    assert api.list_repo_commits(repo_id, repo_type="dataset")[0].title == "上传数据"
    path = api.hf_hub_download(repo_id, "data/train.csv", repo_type="dataset", cache_dir=str(tmp_path / "c"))
    expected = hashlib.sha256((folder / "train.csv").read_bytes()).hexdigest()
    assert hashlib.sha256(Path(path).read_bytes()).hexdigest() == expected
    assert w.problems == []
    w.close()


@pytest.mark.skipif(not os.environ.get("DAZI_SCREENSHOTS"), reason="set DAZI_SCREENSHOTS=<folder> to take them")
def test_screenshots(chromium: Any, hub_server: Any, tiny_llama: Any) -> None:
    from tests.web.seed import seed, seed_variety

    out = Path(os.environ["DAZI_SCREENSHOTS"])
    out.mkdir(parents=True, exist_ok=True)
    owner, token, org, password = _screenshot_accounts(hub_server)
    api = HfApi(endpoint=hub_server.url, token=token)
    demo = seed(api, owner, hub_server.hub)
    seed_variety(api, org, hub_server.hub)
    commit = api.list_repo_commits(demo.base)[1].commit_id  # the upload: a card, a config, LFS weights
    pages = {
        "home": "/",
        "models": "/models",
        "model": f"/{demo.base}",
        "files": f"/{demo.base}/tree/main",
        "commit": f"/{demo.base}/commit/{commit}",
        "profile": f"/{owner}",
        "dataset-viewer": f"/datasets/{demo.dataset}/viewer/main",
    }
    signed_in = {"new-repo": "/new", "upload": f"/{demo.base}/upload", "quota": "/settings/quota"}
    w = Watched(chromium, hub_server.url)
    for lang in ("en", "zh_CN"):
        for key, url in pages.items():
            w.page.goto(f"{url}{'&' if '?' in url else '?'}lang={lang}")
            w.page.screenshot(path=str(out / f"{key}-{lang}.png"), full_page=True)
    w.page.goto("/login")
    w.page.fill("#login-name", owner)
    w.page.fill("#login-password", password)
    w.page.click("form.form button[type=submit]")
    w.page.wait_for_url("**/")
    for lang, message in (("en", "Write a short poem about the sea."), ("zh_CN", "写一首关于大海的短诗。")):
        w.page.goto(f"/{tiny_llama.repo_id}?lang={lang}")  # the "Try it" chat box, after one streamed answer
        w.page.fill("#tryit-message", message)
        w.page.click(".tryit-options summary")
        w.page.fill("#tryit-max-tokens", "40")
        w.page.click("[data-send]")
        w.page.wait_for_selector("#try-it[data-state=done]")
        w.page.screenshot(path=str(out / f"try-it-{lang}.png"), full_page=True)
    for lang in ("en", "zh_CN"):
        for key, url in signed_in.items():
            w.page.goto(f"{url}?lang={lang}")
            w.page.screenshot(path=str(out / f"{key}-{lang}.png"), full_page=True)
    _deployment_screenshots(w, out, tiny_llama.repo_id)
    assert w.problems == []
    w.close()


def _deployment_screenshots(w: Watched, out: Path, model: str) -> None:
    """The "Deploy" form, then the page of a running deployment after one answer of its "Try it" box."""
    name = f"tiny-chat-{secrets.token_hex(2)}"
    w.page.goto(f"/deployments/new?model={model}&lang=en")
    w.page.fill("#dep-name", name)
    w.page.screenshot(path=str(out / "deploy-new-en.png"), full_page=True)
    w.page.goto(f"/deployments/new?model={model}&lang=zh_CN")
    w.page.fill("#dep-name", name)
    w.page.screenshot(path=str(out / "deploy-new-zh_CN.png"), full_page=True)
    w.page.click("form.form button[type=submit]")
    w.page.wait_for_url(f"**/deployments/{name}**")
    for _ in range(600):
        if w.page.locator("h1 [data-status=running]").count():
            break
        w.page.wait_for_timeout(100)
        w.page.goto(f"/deployments/{name}")
    for lang, message in (("en", "Hello!"), ("zh_CN", "你好！")):
        w.page.goto(f"/deployments/{name}?lang={lang}")
        w.page.fill("#tryit-message", message)
        w.page.click(".tryit-options summary")
        w.page.fill("#tryit-max-tokens", "24")
        w.page.click("[data-send]")
        w.page.wait_for_selector("#try-it[data-state=done]")
        w.page.screenshot(path=str(out / f"deployment-{lang}.png"), full_page=True)
    w.page.fill("#delete-confirm", name)
    w.page.click(".danger-zone button[type=submit]")
    w.page.wait_for_url("**/deployments?done=deleted")


def _screenshot_accounts(hub_server: Any) -> tuple[str, str, str, str]:
    """Readable names for the pictures: a user ``lanxin`` and an organization ``shanghai-ai-lab``."""
    from dazi.accounts.services import create_token, create_user
    from dazi.orgs.services import create_org

    with hub_server.hub.db.write() as session:
        password = secrets.token_urlsafe(12)
        user = create_user(session, "lanxin", "lanxin@example.org", password)
        _row, token = create_token(session, user, "write", "screenshots")
        create_org(session, "shanghai-ai-lab", user, "上海 AI 实验室")
    return "lanxin", token, "shanghai-ai-lab", password
