"""The "Try it" boxes of model pages, and the web session on ``/v1`` (with the page's CSRF token in a header).

Server side: which box a model page shows to whom, and the authentication rule (session + ``X-CSRF-Token``,
only under ``/v1/``, never with an ``Authorization`` header). In real Chromium: a streamed chat with the
tiny Llama and the similarity box of the real all-MiniLM-L6-v2.
"""

from __future__ import annotations

import json
import re
from typing import Any

import httpx
import pytest
from huggingface_hub import CommitOperationAdd, HfApi

from tests.maas.conftest import PushedModel
from tests.support.network import missing_ml_extra
from tests.web.conftest import CHROMIUM, Browser, Watched, elements, unique
from tests.web.seed import safetensors_bytes

try:
    import torch  # noqa: F401 - the models are made with it
except ImportError as exc:  # pragma: no cover - depends on the installed extras
    missing_ml_extra(exc, "torch")

pytestmark = pytest.mark.ml

_BOX = re.compile(r'<section class="box tryit" id="try-it"[^>]*>')


def box(html: str) -> dict[str, str] | None:
    """The attributes of the page's "Try it" box, or None when there is none."""
    found = _BOX.search(html)
    return elements(found.group(0))[0][1] if found else None


def logged_in(new_browser: Any, account: Any, lang: str = "en") -> Browser:
    b: Browser = new_browser(lang)
    b.log_in(account.name, account.password)
    return b


def page_token(b: Browser, url: str) -> str:
    attrs = box(b.get(url).text)
    assert attrs is not None and attrs.get("data-csrf"), f"no Try-it box with a token on {url}"
    return attrs["data-csrf"]


def chat(b: Browser, model: str, **extra: Any) -> httpx.Response:
    body = {"model": model, "messages": [{"role": "user", "content": "hi"}], "max_tokens": 2, "temperature": 0}
    return b.client.post("/v1/chat/completions", json=body, headers={"Accept": "application/json", **extra})


# -- which box, for whom -----------------------------------------------------------------------------


def test_chat_box_for_a_logged_in_reader_login_prompt_for_anonymous(
    hub_server: Any, new_browser: Any, tiny_llama: PushedModel
) -> None:
    url = f"/{tiny_llama.repo_id}"
    anonymous = new_browser("en").get(url).text
    attrs = box(anonymous)
    assert attrs is not None and "data-tryit" not in attrs and "data-csrf" not in attrs
    assert "Log in to try this model" in anonymous
    assert f'href="/login?next=/{tiny_llama.repo_id}"' in anonymous
    assert "tryit.js" not in anonymous

    reader = logged_in(new_browser, hub_server.new_user("reader"))
    html = reader.get(url).text
    attrs = box(html)
    assert attrs is not None
    assert attrs["data-tryit"] == "chat"
    assert attrs["data-model"] == tiny_llama.repo_id
    assert attrs["data-endpoint"] == "/v1/chat/completions"
    assert attrs["data-csrf"] == reader.csrf(url)  # the same token as the page's forms
    assert 'id="tryit-message"' in html and 'href="/settings/quota"' in html
    assert [a["src"] for t, a in elements(html) if t == "script"][-1].startswith("/static/tryit.js?v=")
    assert "Log in to try this model" not in html

    chinese = logged_in(new_browser, hub_server.new_user("duzhe"), lang="zh-CN").get(url).text
    assert "试用" in chinese and "发送" in chinese and "你的限额" in chinese


def test_similarity_box_for_the_owner_of_a_private_embedding_model(
    hub_server: Any, new_browser: Any, minilm: PushedModel
) -> None:
    url = f"/{minilm.repo_id}"
    attrs = box(logged_in(new_browser, minilm.owner).get(url).text)
    assert attrs is not None
    assert (attrs["data-tryit"], attrs["data-endpoint"]) == ("similarity", "/v1/embeddings")
    assert attrs["data-model"] == minilm.repo_id
    assert logged_in(new_browser, hub_server.new_user("other")).get(url).status_code == 404  # private


def test_no_box_on_datasets_or_models_without_an_engine(hub_server: Any, new_browser: Any) -> None:
    owner = hub_server.new_user("plain")
    api = HfApi(endpoint=hub_server.url, token=owner.write_token)
    readme_only = f"{owner.name}/{unique('card-only')}"
    api.create_repo(readme_only)
    api.upload_file(path_or_fileobj=b"# Just a card\n", path_in_repo="README.md", repo_id=readme_only)
    classifier = f"{owner.name}/{unique('bert')}"  # weights, but not a causal LM nor sentence-transformers
    api.create_repo(classifier)
    api.create_commit(
        classifier,
        [
            CommitOperationAdd("config.json", b'{"architectures": ["BertForSequenceClassification"]}'),
            CommitOperationAdd("model.safetensors", safetensors_bytes({"w": ("F16", [4, 4])})),
        ],
        commit_message="weights",
    )
    dataset = f"{owner.name}/{unique('data')}"
    api.create_repo(dataset, repo_type="dataset")
    b = logged_in(new_browser, owner)
    for url in (f"/{readme_only}", f"/{classifier}", f"/datasets/{dataset}"):
        html = b.get(url).text
        assert box(html) is None and "tryit.js" not in html, url


def test_widget_follows_the_engine_detection() -> None:
    from dazi.inference.catalog import Detection
    from dazi.web.tryit import widget_for

    def detection(engine: str | None, chat: bool = False) -> Detection:
        return Detection(engine, "", chat, 0, ())

    assert widget_for(detection("text-generation", chat=True)) == "chat"
    assert widget_for(detection("text-generation")) == "completion"
    assert widget_for(detection("embedding")) == "similarity"
    assert widget_for(detection(None)) is None


# -- the web session on /v1 --------------------------------------------------------------------------


def test_v1_accepts_the_session_only_with_the_pages_csrf_header(
    hub_server: Any, new_browser: Any, tiny_llama: PushedModel
) -> None:
    user = hub_server.new_user("webcaller")
    b = logged_in(new_browser, user)
    token = page_token(b, f"/{tiny_llama.repo_id}")

    ok = chat(b, tiny_llama.repo_id, **{"X-CSRF-Token": token})
    assert ok.status_code == 200, ok.text
    assert ok.json()["object"] == "chat.completion"
    assert "RateLimit" in ok.headers and "RateLimit-Policy" in ok.headers  # the user's quota, as for tokens

    for headers in ({}, {"X-CSRF-Token": "0" * 64}, {"X-CSRF-Token": ""}):
        refused = chat(b, tiny_llama.repo_id, **headers)
        assert refused.status_code == 401, headers
        assert refused.json()["error"]["code"] == "invalid_api_key"

    other = logged_in(new_browser, hub_server.new_user("someone"))
    other_token = page_token(other, f"/{tiny_llama.repo_id}")
    assert chat(b, tiny_llama.repo_id, **{"X-CSRF-Token": other_token}).status_code == 401  # bound to the session

    # An Authorization header always wins: a bad one is a 401 even with a good session and header.
    bad = chat(b, tiny_llama.repo_id, **{"X-CSRF-Token": token, "Authorization": "Bearer dazi_nope"})
    assert bad.status_code == 401
    basic_empty = chat(b, tiny_llama.repo_id, **{"X-CSRF-Token": token, "Authorization": "Basic Og=="})
    assert basic_empty.status_code == 401  # "user:" with no password is no credential, and no fallback


def test_the_session_never_authenticates_other_api_url_spaces(
    hub_server: Any, new_browser: Any, tiny_llama: PushedModel, minilm: PushedModel
) -> None:
    b = logged_in(new_browser, minilm.owner)
    token = page_token(b, f"/{minilm.repo_id}")
    headers = {"X-CSRF-Token": token, "Accept": "application/json"}
    assert b.client.get("/v1/models", headers=headers).status_code == 200
    assert b.client.get("/api/quota", headers=headers).status_code == 401
    assert b.client.get("/api/whoami-v2", headers=headers).status_code == 401
    assert b.client.get(f"/api/models/{minilm.repo_id}", headers=headers).status_code in (401, 404)  # private

    b.post_form("/logout", {})
    assert chat(b, tiny_llama.repo_id, **{"X-CSRF-Token": token}).status_code == 401  # the session has ended


def test_streaming_with_the_session(hub_server: Any, new_browser: Any, tiny_llama: PushedModel) -> None:
    b = logged_in(new_browser, hub_server.new_user("streamer"))
    token = page_token(b, f"/{tiny_llama.repo_id}")
    body = {"model": tiny_llama.repo_id, "prompt": "the", "max_tokens": 5, "temperature": 0, "stream": True}
    chunks: list[dict[str, Any]] = []
    with b.client.stream("POST", "/v1/completions", json=body, headers={"X-CSRF-Token": token}) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        lines = [line for line in response.iter_lines() if line.startswith("data: ")]
    assert lines[-1] == "data: [DONE]"
    chunks = [json.loads(line[6:]) for line in lines[:-1]]
    assert len(chunks) >= 2 and chunks[-1]["choices"][0]["finish_reason"] in ("stop", "length")


# -- real Chromium -----------------------------------------------------------------------------------


@pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is not installed (make system-deps)")
def test_try_it_in_chromium(chromium: Any, hub_server: Any, tiny_llama: PushedModel, minilm: PushedModel) -> None:
    """Stream a chat answer from the tiny Llama, then rank sentences with MiniLM (as its owner)."""
    w = Watched(chromium, hub_server.url)
    page = w.page
    page.goto("/login")
    page.fill("#login-name", minilm.owner.name)
    page.fill("#login-password", minilm.owner.password)
    page.click("form.form button[type=submit]")
    page.wait_for_url(f"{hub_server.url}/")

    page.goto(f"/{tiny_llama.repo_id}")
    assert page.locator("[data-nojs]").is_hidden()
    page.evaluate("""() => {
        window.tryitUpdates = 0;  // changes of the answer's text
        new MutationObserver((records) => {
            window.tryitUpdates += records.filter((r) => r.target.closest && r.target.closest(".assistant")).length;
        })
            .observe(document.querySelector("[data-log]"), {subtree: true, childList: true, characterData: true});
    }""")
    page.fill("#tryit-message", "Hello, who are you?")
    with page.expect_response("**/v1/chat/completions") as answer:
        page.click("[data-send]")
    assert answer.value.status == 200
    assert answer.value.headers["content-type"].startswith("text/event-stream")
    page.wait_for_selector("#try-it[data-state=done]")
    messages = page.locator(".chat-log .msg")
    assert messages.count() == 2
    assert messages.nth(0).locator(".content").inner_text() == "Hello, who are you?"
    assert messages.nth(1).locator(".content").inner_text().strip() != ""
    assert page.evaluate("window.tryitUpdates") > 1  # the answer grew piece by piece
    assert page.locator("[data-stop]").is_hidden() and page.locator("[data-error]").is_hidden()
    assert page.locator("#tryit-message").input_value() == ""

    page.click(".tryit-options summary")  # an OpenAI-shaped error is shown with its message
    page.fill("#tryit-max-tokens", "4000")
    page.fill("#tryit-message", "Too long an answer")
    page.click("[data-send]")
    page.wait_for_selector("#try-it[data-state=done] [data-error]:not([hidden])")
    assert "maximum context length" in page.locator("[data-error]").inner_text()
    assert messages.count() == 2 and page.locator("#tryit-message").input_value() == "Too long an answer"
    assert w.problems == ["console: Failed to load resource: the server responded with a status of 400 (Bad Request)"]
    w.problems.clear()

    page.goto(f"/{minilm.repo_id}")
    page.fill("#tryit-source", "cat")
    page.fill("#tryit-others", "stock market\nkitten\nthe weather today")
    page.click("[data-send]")
    page.wait_for_selector("#try-it[data-state=done] .similarity li")
    ranked = page.locator(".similarity .sentence").all_inner_texts()
    assert ranked[0] == "kitten" and ranked.index("kitten") < ranked.index("stock market")
    scores = [float(s) for s in page.locator(".similarity .score").all_inner_texts()]
    assert scores == sorted(scores, reverse=True) and len(scores) == 3
    assert page.locator(".similarity meter").count() == 3
    assert w.problems == []
    w.close()
