"""The quota page (``/settings/quota``): the logged-in user's inference limits, use and resets."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from tests.maas.conftest import ExtraServer, PushedModel, start_extra_server
from tests.support.network import missing_ml_extra
from tests.web.conftest import Browser, section

try:
    import torch  # noqa: F401 - the tiny Llama is made with it
except ImportError as exc:  # pragma: no cover - depends on the installed extras
    missing_ml_extra(exc, "torch")

pytestmark = pytest.mark.ml


def cells(html: str, policy: str) -> dict[str, str]:
    """The text of each cell of one policy's row, by class (quota, used, remaining, reset)."""
    row = section(html, f'<tr data-policy="{policy}">', "</tr>")
    found = re.findall(r'<td class="(?:num )?(\w+)">(.*?)</td>', row, re.S)
    return {name: re.sub(r"<[^>]+>", "", text).strip() for name, text in found}


@pytest.fixture(scope="module")
def unlimited(hub_server: Any) -> Iterator[ExtraServer]:
    extra = start_extra_server(hub_server, inference_request_limits="", inference_token_limits="")
    yield extra
    extra.server.stop()


def test_the_quota_page_needs_a_login(browser: Browser) -> None:
    response = browser.get("/settings/quota")
    assert response.status_code == 303 and response.headers["location"] == "/login?next=/settings/quota"


def test_used_moves_with_calls_from_the_try_it_box(hub_server: Any, new_browser: Any, tiny_llama: PushedModel) -> None:
    user = hub_server.new_user("quota")
    b: Browser = new_browser("en")
    b.log_in(user.name, user.password)
    before = b.get("/settings/quota")
    assert before.status_code == 200 and before.headers["cache-control"] == "no-store"
    html = before.text
    assert '<a href="/settings/quota" aria-current="page">Inference quota</a>' in html
    assert cells(html, "requests_minute") == {
        "quota": "600",
        "used": "0",
        "remaining": "600",
        "reset": "starts with your next call",
    }
    assert cells(html, "tokens_hour")["quota"] == "2,000,000"  # Babel's grouping
    assert "Requests per minute" in html and "Tokens per hour" in html and "Retry-After" in html

    token = re.search(r'data-csrf="([0-9a-f]+)"', b.get(f"/{tiny_llama.repo_id}").text).group(1)  # type: ignore[union-attr]
    used_tokens = 0
    for _ in range(2):
        answer = b.client.post(
            "/v1/completions",
            headers={"X-CSRF-Token": token},
            json={"model": tiny_llama.repo_id, "prompt": "the", "max_tokens": 3},
        )
        assert answer.status_code == 200, answer.text
        used_tokens += answer.json()["usage"]["total_tokens"]

    after = b.get("/settings/quota").text
    minute = cells(after, "requests_minute")
    assert (minute["used"], minute["remaining"]) == ("2", "598")
    assert re.fullmatch(r"in (\d\d? seconds|1 minute)", minute["reset"]), minute["reset"]
    assert cells(after, "requests_day")["used"] == "2"
    assert cells(after, "tokens_hour")["used"] == str(used_tokens)  # charged before the answer was sent
    assert '<meter min="0" max="600" value="2"' in after

    chinese = Browser(hub_server.url, "zh-CN")
    try:
        chinese.log_in(user.name, user.password)
        zh = chinese.get("/settings/quota").text
        assert "推理配额" in zh and "每分钟请求数" in zh and "每小时 token 数" in zh
        assert cells(zh, "requests_minute")["used"] == "2"
        assert re.fullmatch(r"(\d\d?秒钟|1分钟)后", cells(zh, "requests_minute")["reset"])
    finally:
        chinese.close()


def test_no_limits_configured(hub_server: Any, unlimited: ExtraServer) -> None:
    user = hub_server.new_user("free")
    b = Browser(unlimited.url)
    try:
        b.log_in(user.name, user.password)
        html = b.get("/settings/quota").text
        assert "data-no-limits" in html and "No limits" in html and "data-policy" not in html
    finally:
        b.close()
