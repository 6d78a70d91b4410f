"""Quota counters shared by several API workers through Redis (``DAZI_RATELIMIT_STORAGE_URL=redis://…``).

Two app instances on the same hub stand for two API workers; a real redis-server on loopback holds the
counters. What one worker counts, the other sees; and when Redis goes away, requests are still served
(quotas fail open, as documented).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.maas.conftest import ExtraServer, PushedModel, client_for, start_extra_server
from tests.maas.test_limits import ratelimit
from tests.support.network import missing_ml_extra
from tests.support.services import Redis

try:
    import openai
    import redis  # noqa: F401 - the limits library's Redis storage needs it
except ImportError as exc:  # pragma: no cover - depends on the installed extras
    missing_ml_extra(exc, "openai, redis")

pytestmark = [pytest.mark.contract, pytest.mark.ml]


@pytest.fixture(scope="module")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Redis]:
    server = Redis(tmp_path_factory.mktemp("redis"))
    yield server
    server.stop()


@pytest.fixture(scope="module")
def workers(hub_server: Any, redis_server: Redis, extra_servers: list[ExtraServer]) -> list[ExtraServer]:
    started = [
        start_extra_server(hub_server, ratelimit_storage_url=redis_server.url,
                           inference_request_limits="4/minute", inference_token_limits="100000/hour")  # noqa: S106
        for _ in range(2)
    ]
    extra_servers.extend(started)
    return started


def test_two_workers_share_the_counters(workers: list[ExtraServer], tiny_llama: PushedModel, fresh_user: Any) -> None:
    first, second = (client_for(w.url, fresh_user.read_token, max_retries=0) for w in workers)
    raw = first.completions.with_raw_response.create(model=tiny_llama.repo_id, prompt="the", max_tokens=2)
    assert ratelimit(raw.headers)["requests_minute"]["r"] == 3
    spent = raw.parse().usage.total_tokens
    raw = second.completions.with_raw_response.create(model=tiny_llama.repo_id, prompt="the", max_tokens=2)
    assert ratelimit(raw.headers)["requests_minute"]["r"] == 2  # the first worker's request counted here
    spent += raw.parse().usage.total_tokens  # each answer is charged before it leaves
    assert ratelimit(raw.headers)["tokens_hour"]["r"] == 100000 - spent
    first.completions.create(model=tiny_llama.repo_id, prompt="the", max_tokens=1)
    second.completions.create(model=tiny_llama.repo_id, prompt="the", max_tokens=1)
    for client in (first, second):
        with pytest.raises(openai.RateLimitError):
            client.completions.create(model=tiny_llama.repo_id, prompt="the", max_tokens=1)
    quota = httpx.get(f"{workers[1].url}/api/quota", headers={"Authorization": f"Bearer {fresh_user.read_token}"})
    policies = {p["name"]: p for p in quota.json()["policies"]}
    assert policies["requests_minute"]["used"] == 4


def test_requests_are_served_when_redis_is_down(hub_server: Any, tiny_llama: PushedModel, fresh_user: Any,
                                                tmp_path_factory: pytest.TempPathFactory,
                                                extra_servers: list[ExtraServer]) -> None:
    gone = Redis(tmp_path_factory.mktemp("redis-gone"))
    worker = start_extra_server(hub_server, ratelimit_storage_url=gone.url, inference_request_limits="1/minute")
    extra_servers.append(worker)
    gone.stop()
    client = client_for(worker.url, fresh_user.read_token, max_retries=0)
    for _ in range(2):  # over the quota, but the counters cannot be reached: served (fail open)
        raw = client.completions.with_raw_response.create(model=tiny_llama.repo_id, prompt="the", max_tokens=1)
        assert raw.status_code == 200 and "RateLimit" not in raw.headers
