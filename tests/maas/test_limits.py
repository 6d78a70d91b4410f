"""Honest limits: quota headers on every response, 429 with Retry-After, ``GET /api/quota``; and a client
that goes away mid-request frees its slot at once.

Each test uses a second app on the same hub with its own settings (low quotas; one request per model at
a time), so the main server's generous defaults stay untouched.
"""

from __future__ import annotations

import re
import time
from typing import Any

import httpx
import pytest

from tests.maas.conftest import ExtraServer, PushedModel, client_for, start_extra_server
from tests.support.network import missing_ml_extra

try:
    import openai
    import torch  # noqa: F401 - the models are made with it
except ImportError as exc:  # pragma: no cover - depends on the installed extras
    missing_ml_extra(exc, "torch, openai")

pytestmark = [pytest.mark.contract, pytest.mark.ml]

LONG_PROMPT = "the model hub stores tiny model number 7 with a card and weights " * 12


@pytest.fixture(scope="module")
def limited(hub_server: Any, extra_servers: list[ExtraServer]) -> ExtraServer:
    extra = start_extra_server(hub_server, inference_request_limits="3/minute;1000/day",
                               inference_token_limits="300/hour")  # noqa: S106 - not a password
    extra_servers.append(extra)
    return extra


@pytest.fixture(scope="module")
def narrow(hub_server: Any, extra_servers: list[ExtraServer]) -> ExtraServer:
    """One request per model at a time, none waiting: a slot that is not freed shows as a 503."""
    extra = start_extra_server(hub_server, inference_max_batch_size=1, inference_max_queue=0)
    extra_servers.append(extra)
    return extra


def ratelimit(headers: Any) -> dict[str, dict[str, int]]:
    """``RateLimit`` / ``RateLimit-Policy`` items by policy name."""
    out: dict[str, dict[str, int]] = {}
    for field in ("RateLimit-Policy", "RateLimit"):
        for name, params in re.findall(r'"([^"]+)"((?:;\w+=\d+)+)', headers[field]):
            out.setdefault(name, {}).update({k: int(v) for k, v in re.findall(r";(\w+)=(\d+)", params)})
    return out


def test_request_quota_counts_down_then_429(limited: ExtraServer, tiny_llama: PushedModel, fresh_user: Any) -> None:
    client = client_for(limited.url, fresh_user.read_token, max_retries=0)
    listed = client.models.with_raw_response.list()  # reading costs nothing, and shows the headers
    assert ratelimit(listed.headers)["requests_minute"] == {"q": 3, "w": 60, "r": 3, "t": 60}
    for left in (2, 1, 0):
        raw = client.completions.with_raw_response.create(model=tiny_llama.repo_id, prompt="the", max_tokens=1)
        items = ratelimit(raw.headers)
        assert items["requests_minute"]["r"] == left and 1 <= items["requests_minute"]["t"] <= 60
        assert items["requests_day"]["r"] == left + 997
    with pytest.raises(openai.RateLimitError) as caught:
        client.completions.create(model=tiny_llama.repo_id, prompt="the", max_tokens=1)
    response = caught.value.response
    assert response.status_code == 429
    assert 1 <= int(response.headers["Retry-After"]) <= 60
    error = response.json()["error"]
    assert error["type"] == "requests" and error["code"] == "rate_limit_exceeded"
    assert "3 requests per 60 s" in error["message"]
    assert ratelimit(response.headers)["requests_minute"]["r"] == 0

    from huggingface_hub.utils import parse_ratelimit_headers

    info = parse_ratelimit_headers(response.headers)  # the most exhausted policy comes first
    assert info is not None and (info.remaining, info.limit, info.window_seconds) == (0, 3, 60)

    quota = httpx.get(f"{limited.url}/api/quota", headers={"Authorization": f"Bearer {fresh_user.read_token}"})
    policies = {p["name"]: p for p in quota.json()["policies"]}
    assert policies["requests_minute"]["used"] == 3 and policies["requests_minute"]["remaining"] == 0
    assert policies["tokens_hour"]["quota"] == 300
    assert "RateLimit" in quota.headers


def test_quotas_are_per_user(limited: ExtraServer, tiny_llama: PushedModel, hub_server: Any) -> None:
    first, second = hub_server.new_user("q1"), hub_server.new_user("q2")
    for _ in range(3):
        client_for(limited.url, first.read_token).completions.create(model=tiny_llama.repo_id, prompt="a", max_tokens=1)
    with pytest.raises(openai.RateLimitError):
        client_for(limited.url, first.read_token, max_retries=0).completions.create(
            model=tiny_llama.repo_id, prompt="a", max_tokens=1)
    assert client_for(limited.url, second.read_token, max_retries=0).completions.create(
        model=tiny_llama.repo_id, prompt="a", max_tokens=1)


def test_token_quota_refuses_once_used_up(limited: ExtraServer, tiny_llama: PushedModel, fresh_user: Any) -> None:
    client = client_for(limited.url, fresh_user.read_token, max_retries=0)
    first = client.completions.with_raw_response.create(model=tiny_llama.repo_id, prompt=LONG_PROMPT, max_tokens=20)
    spent = first.parse().usage.total_tokens
    assert 150 < spent < 300
    assert ratelimit(first.headers)["tokens_hour"]["r"] == 300 - spent  # charged before the answer left
    client.completions.create(model=tiny_llama.repo_id, prompt=LONG_PROMPT, max_tokens=20)  # still admitted
    with pytest.raises(openai.RateLimitError) as caught:
        client.completions.create(model=tiny_llama.repo_id, prompt="the", max_tokens=1)
    response = caught.value.response
    assert response.json()["error"]["type"] == "tokens"
    assert 3000 < int(response.headers["Retry-After"]) <= 3600
    quota = httpx.get(f"{limited.url}/api/quota", headers={"Authorization": f"Bearer {fresh_user.read_token}"}).json()
    policies = {p["name"]: p for p in quota["policies"]}
    assert policies["tokens_hour"]["remaining"] == 0 and policies["requests_minute"]["used"] == 2


def test_quota_endpoint_needs_a_token(limited: ExtraServer) -> None:
    assert httpx.get(f"{limited.url}/api/quota").status_code == 401


def _wait_idle(server: ExtraServer, token: str, model: str) -> dict[str, Any]:
    """The model's status once no request holds it (polled: the server frees the slot asynchronously)."""
    status: dict[str, Any] = {}
    for _ in range(400):
        status = client_for(server.url, token).models.retrieve(model).model_extra["dazi"]["status"]
        if status["leases"] == 0 and status["running"] == 0:
            return status
        time.sleep(0.05)
    raise AssertionError(f"the slot was never freed: {status}")


def _long_chat(tiny_llama: PushedModel, stream: bool) -> dict[str, Any]:
    # EOS suppressed (logit_bias): greedy decoding would run to max_tokens
    return {"model": tiny_llama.repo_id, "messages": [{"role": "user", "content": "hello"}], "max_tokens": 2000,
            "temperature": 0, "stream": stream, "logit_bias": {"1": -100}}


def test_disconnect_mid_stream_frees_the_slot(narrow: ExtraServer, tiny_llama: PushedModel, fresh_user: Any) -> None:
    token, model = fresh_user.read_token, tiny_llama.repo_id
    client = client_for(narrow.url, token, max_retries=0)
    client.completions.create(model=model, prompt="warm", max_tokens=1)  # load it first
    before = _wait_idle(narrow, token, model)["tokens_total"]
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.stream("POST", f"{narrow.url}/v1/chat/completions", json=_long_chat(tiny_llama, True),
                      headers=headers, timeout=60) as response:
        assert response.status_code == 200
        lines = response.iter_lines()
        got = [next(lines) for _ in range(6)]
        assert any('"content"' in line for line in got)
        # a second request while the first streams: the only slot is taken
        with pytest.raises(openai.InternalServerError) as busy:
            client.completions.create(model=model, prompt="x", max_tokens=1)
        assert busy.value.status_code == 503 and busy.value.response.headers["Retry-After"]
    # leaving the block closed the connection mid-stream
    status = _wait_idle(narrow, token, model)
    assert status["tokens_total"] - before < 1900  # generation stopped early, not run to max_tokens
    answer = client.chat.completions.create(model=model, messages=[{"role": "user", "content": "hi"}], max_tokens=3)
    assert answer.choices[0].finish_reason in ("length", "stop")


def test_disconnect_while_waiting_for_a_whole_answer(
    narrow: ExtraServer, tiny_llama: PushedModel, fresh_user: Any
) -> None:
    token, model = fresh_user.read_token, tiny_llama.repo_id
    client = client_for(narrow.url, token, max_retries=0)
    client.completions.create(model=model, prompt="warm", max_tokens=1)
    before = _wait_idle(narrow, token, model)["tokens_total"]
    with pytest.raises(httpx.ReadTimeout):
        httpx.post(f"{narrow.url}/v1/chat/completions", json=_long_chat(tiny_llama, False),
                   headers={"Authorization": f"Bearer {token}"}, timeout=httpx.Timeout(60, read=0.3))
    status = _wait_idle(narrow, token, model)
    assert status["tokens_total"] - before < 1900
    assert client.completions.create(model=model, prompt="the", max_tokens=2).usage.completion_tokens == 2


def test_loaded_models_are_bounded_by_memory(
    hub_server: Any, extra_servers: list[ExtraServer], tiny_llama: PushedModel, fresh_user: Any
) -> None:
    """Room for one tiny model (4.1 MB) only: loading another unloads the least recently used idle one."""
    small = start_extra_server(hub_server, inference_max_memory=6_000_000)
    extra_servers.append(small)
    client = client_for(small.url, fresh_user.read_token, max_retries=0)
    old = f"{tiny_llama.repo_id}@{tiny_llama.first_commit}"

    def loaded(model: str) -> bool:
        return bool(client.models.retrieve(model).model_extra["dazi"]["status"]["loaded"])

    client.completions.create(model=tiny_llama.repo_id, prompt="the", max_tokens=2)
    assert loaded(tiny_llama.repo_id) and not loaded(old)
    client.completions.create(model=old, prompt="the", max_tokens=2)
    assert loaded(old) and not loaded(tiny_llama.repo_id)
    assert small.app.state.inference.pool.summary()["evictions"] == 1

    tiny = start_extra_server(hub_server, inference_max_memory=1_000_000)
    extra_servers.append(tiny)
    with pytest.raises(openai.BadRequestError) as caught:
        client_for(tiny.url, fresh_user.read_token, max_retries=0).completions.create(
            model=tiny_llama.repo_id, prompt="the", max_tokens=2)
    assert "inference memory budget" in caught.value.message
