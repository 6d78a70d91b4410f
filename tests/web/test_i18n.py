"""Both languages render every page; the language comes from ?lang=, then the cookie, then Accept-Language.
Numbers and dates follow the locale; Chinese display names are shown; the catalogs are complete."""

from __future__ import annotations

import re
from typing import Any

import pytest
from huggingface_hub import HfApi

from tests.web.conftest import unique
from tests.web.seed import add_downloads, card


def lang_of(html: str) -> str:
    match = re.search(r'<html lang="([^"]+)">', html)
    assert match
    return match.group(1)


@pytest.mark.parametrize(
    ("query", "cookie", "accept", "expected"),
    [
        (None, None, None, "en"),  # the hub's default
        (None, None, "zh-CN,zh;q=0.9,en;q=0.8", "zh-CN"),
        (None, None, "en-US;q=0.5, zh-TW;q=0.8", "zh-CN"),  # by quality; any Chinese → zh_CN
        (None, None, "fr-FR, de;q=0.9", "en"),  # nothing supported → default
        (None, "en", "zh-CN", "en"),  # the cookie beats Accept-Language
        (None, "zh_CN", "en", "zh-CN"),
        ("zh_CN", "en", "en", "zh-CN"),  # ?lang= beats both
        ("zh-Hans", None, None, "zh-CN"),
        ("en", "zh_CN", "zh", "en"),
        ("klingon", "zh_CN", "en", "zh-CN"),  # an unknown ?lang= is ignored
    ],
)
def test_language_precedence(new_browser: Any, query: str | None, cookie: str | None, accept: str | None,
                             expected: str) -> None:
    b = new_browser(lang=accept)
    if cookie:
        b.client.cookies.set("dazi_lang", cookie)
    response = b.get("/", params={"lang": query} if query else None)
    assert lang_of(response.text) == expected
    nav = re.search(r'<a href="/models"[^>]*>([^<]+)</a>', response.text).group(1)  # type: ignore[union-attr]
    assert nav == ("模型" if expected == "zh-CN" else "Models")


def test_lang_parameter_sets_the_cookie_and_the_switcher_keeps_the_page(new_browser: Any) -> None:
    b = new_browser(lang="en")
    response = b.get("/models", params={"sort": "created", "lang": "zh_CN"})
    assert "dazi_lang=zh_CN" in response.headers["set-cookie"]
    assert lang_of(b.get("/models").text) == "zh-CN"  # remembered
    assert 'href="/models?sort=created&amp;lang=en"' in response.text  # the switcher: same page, other language
    assert '<strong aria-current="true" lang="zh-CN">中文</strong>' in response.text


def test_every_page_renders_in_both_languages(hub_server: Any, new_browser: Any, alice: Any) -> None:
    api = HfApi(endpoint=hub_server.url, token=alice.write_token)
    repo_id = f"{alice.name}/{unique('bilingual')}"
    api.create_repo(repo_id)
    api.upload_file(path_or_fileobj=card({"license": "mit", "pipeline_tag": "text-generation"}, "# Hi\n"),
                    path_in_repo="README.md", repo_id=repo_id)
    commit = api.list_repo_commits(repo_id)[0].commit_id
    pages = ["/", "/models", "/datasets", "/search?q=hi", f"/{repo_id}", f"/{repo_id}/tree/main",
             f"/{repo_id}/blob/main/README.md", f"/{repo_id}/commits/main", f"/{repo_id}/commit/{commit}",
             f"/{repo_id}/lineage", f"/{alice.name}", "/login", "/join", "/settings/tokens", "/nowhere/at/all"]
    expected = {"en": ("Models", "Text Generation", "Files and versions"), "zh_CN": ("模型", "文本生成", "文件和版本")}
    for lang, words in expected.items():
        b = new_browser(lang=None)
        b.log_in(alice.name, alice.password)
        for url in pages:
            response = b.get(url, params={"lang": lang})
            assert response.status_code in (200, 404), (url, response.status_code)
            assert lang_of(response.text) == ("zh-CN" if lang == "zh_CN" else "en"), url
            assert words[0] in response.text, url
        repo_page = b.get(f"/{repo_id}").text
        assert words[1] in repo_page and words[2] in repo_page


def test_numbers_dates_and_display_names_follow_the_locale(hub_server: Any, new_browser: Any, alice: Any) -> None:
    api = HfApi(endpoint=hub_server.url, token=alice.write_token)
    repo_id = f"{alice.name}/{unique('popular')}"
    api.create_repo(repo_id)
    api.upload_file(path_or_fileobj=card({"chinese_name": "热门小模型"}, "# popular\n"), path_in_repo="README.md",
                    repo_id=repo_id)
    add_downloads(hub_server.hub, repo_id, [12345])
    en = new_browser(lang="en").get("/models", params={"search": repo_id.split("/")[1]}).text
    zh = new_browser(lang="zh-CN").get("/models", params={"search": repo_id.split("/")[1]}).text
    assert "12.3K" in en and "1.2万" in zh  # compact counts
    assert "热门小模型" in en and "热门小模型" in zh  # the Chinese display name, in both languages
    page_en = new_browser(lang="en").get(f"/{repo_id}").text
    page_zh = new_browser(lang="zh-CN").get(f"/{repo_id}").text
    assert "12,345" in page_en and "12,345" in page_zh
    assert re.search(r"<dd>[A-Z][a-z]{2} \d{1,2}, \d{4}</dd>", page_en)  # Nov 24, 2026
    assert re.search(r"<dd>\d{4}年\d{1,2}月\d{1,2}日</dd>", page_zh)  # 2026年11月24日
    assert "ago" in page_en and "前" in page_zh


def test_the_catalogs_are_complete_and_compiled() -> None:
    from dazi.web import catalogs

    assert catalogs.check() == []
