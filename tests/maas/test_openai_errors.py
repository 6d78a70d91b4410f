"""Bad input and refusals under ``/v1``: the right status, always the OpenAI error shape, never a 500."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.maas.conftest import PushedModel, client_for
from tests.support.network import missing_ml_extra

try:
    import openai
    import torch  # noqa: F401 - the models are made with it
except ImportError as exc:  # pragma: no cover - depends on the installed extras
    missing_ml_extra(exc, "torch, openai")

pytestmark = [pytest.mark.contract, pytest.mark.ml]

HELLO = [{"role": "user", "content": "hello"}]


def post(url: str, path: str, token: str | None, **kwargs: Any) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.post(f"{url}/v1{path}", headers=headers, timeout=60, **kwargs)


def assert_openai_error(response: httpx.Response, status: int, code: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert error["message"] and error["type"]
    if code is not None:
        assert error["code"] == code
    return error


def test_unknown_model_is_404(hub_server: Any, alice: Any) -> None:
    client = client_for(hub_server.url, alice.read_token, max_retries=0)
    with pytest.raises(openai.NotFoundError) as caught:
        client.chat.completions.create(model=f"{alice.name}/no-such-model", messages=HELLO)
    assert caught.value.code == "model_not_found"
    response = post(hub_server.url, "/chat/completions", alice.read_token,
                    json={"model": "nobody/nothing@main", "messages": HELLO})
    error = assert_openai_error(response, 404, "model_not_found")
    assert error["param"] == "model"
    assert "RateLimit" in response.headers and "RateLimit-Policy" in response.headers  # on errors too


def test_unknown_revision_is_404(hub_server: Any, tiny_llama: PushedModel) -> None:
    response = post(hub_server.url, "/chat/completions", tiny_llama.owner.read_token,
                    json={"model": f"{tiny_llama.repo_id}@no-such-branch", "messages": HELLO})
    assert "no-such-branch" in assert_openai_error(response, 404, "model_not_found")["message"]


def test_embedding_model_asked_to_chat_is_400(hub_server: Any, minilm: PushedModel) -> None:
    client = client_for(hub_server.url, minilm.owner.read_token, max_retries=0)
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(model=minilm.repo_id, messages=HELLO)
    assert "embedding model" in caught.value.message and "/v1/embeddings" in caught.value.message
    with pytest.raises(openai.BadRequestError):
        client.completions.create(model=minilm.repo_id, prompt="hello")


def test_generative_model_asked_for_embeddings_is_400(hub_server: Any, tiny_llama: PushedModel) -> None:
    response = post(hub_server.url, "/embeddings", tiny_llama.owner.read_token,
                    json={"model": tiny_llama.repo_id, "input": "hello"})
    assert "text-generation model" in assert_openai_error(response, 400, "model_not_supported")["message"]


def test_repo_that_is_no_model_is_400(hub_server: Any, hf_api: Any, alice: Any) -> None:
    repo_id = f"{alice.name}/just-a-card"
    hf_api.create_repo(repo_id)
    hf_api.upload_file(path_or_fileobj=b"# hello\n", path_in_repo="README.md", repo_id=repo_id)
    response = post(hub_server.url, "/chat/completions", alice.read_token, json={"model": repo_id, "messages": HELLO})
    assert "config.json" in assert_openai_error(response, 400, "model_not_supported")["message"]


def test_prompt_longer_than_the_context_is_400(hub_server: Any, tiny_llama: PushedModel) -> None:
    client = client_for(hub_server.url, tiny_llama.owner.read_token, max_retries=0)
    long = [{"role": "user", "content": "the model hub stores tiny model number 12 " * 400}]
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(model=tiny_llama.repo_id, messages=long)
    assert caught.value.code == "context_length_exceeded"
    assert "maximum context length is 2048 tokens" in caught.value.message
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(model=tiny_llama.repo_id, messages=HELLO, max_tokens=5000)
    assert caught.value.code == "context_length_exceeded" and caught.value.param == "max_tokens"


def test_malformed_bodies_are_400(hub_server: Any, tiny_llama: PushedModel) -> None:
    token = tiny_llama.owner.read_token
    for path in ("/chat/completions", "/completions", "/embeddings"):
        assert_openai_error(post(hub_server.url, path, token, content=b'{"model": "x", '), 400)
        assert_openai_error(post(hub_server.url, path, token, content=b"[1, 2]"), 400)
        assert_openai_error(post(hub_server.url, path, token, content=b"\xff\xfe"), 400)
    bad_type = post(hub_server.url, "/chat/completions", token,
                    json={"model": tiny_llama.repo_id, "messages": HELLO, "temperature": "hot"})
    assert assert_openai_error(bad_type, 400)["param"] == "temperature"
    no_messages = post(hub_server.url, "/chat/completions", token, json={"model": tiny_llama.repo_id})
    assert assert_openai_error(no_messages, 400)["param"] == "messages"
    bad_role = post(hub_server.url, "/chat/completions", token,
                    json={"model": tiny_llama.repo_id, "messages": [{"role": "wizard", "content": "hi"}]})
    assert_openai_error(bad_role, 400)
    two = post(hub_server.url, "/chat/completions", token,
               json={"model": tiny_llama.repo_id, "messages": HELLO, "n": 2})
    assert assert_openai_error(two, 400, "unsupported_value")["param"] == "n"
    no_model = post(hub_server.url, "/chat/completions", token, json={"messages": HELLO})
    assert assert_openai_error(no_model, 400)["param"] == "model"
    bad_ids = post(hub_server.url, "/completions", token, json={"model": tiny_llama.repo_id, "prompt": [5, 10**6]})
    assert assert_openai_error(bad_ids, 400)["param"] == "prompt"


def test_private_model_is_not_found_for_others(hub_server: Any, minilm: PushedModel, bob: Any) -> None:
    stranger = client_for(hub_server.url, bob.read_token, max_retries=0)
    with pytest.raises(openai.NotFoundError):
        stranger.embeddings.create(model=minilm.repo_id, input="cat")
    with pytest.raises(openai.NotFoundError):
        stranger.models.retrieve(minilm.repo_id)
    assert client_for(hub_server.url, minilm.owner.read_token).embeddings.create(model=minilm.repo_id, input="cat")


def test_missing_or_bad_token_is_401(hub_server: Any, tiny_llama: PushedModel) -> None:
    body = {"model": tiny_llama.repo_id, "messages": HELLO}
    assert_openai_error(post(hub_server.url, "/chat/completions", None, json=body), 401)
    assert_openai_error(post(hub_server.url, "/chat/completions", "dazi_not-a-token", json=body), 401,
                        "invalid_api_key")
    with pytest.raises(openai.AuthenticationError):
        client_for(hub_server.url, "dazi_wrong", max_retries=0).models.list()


def test_unknown_endpoint_is_an_openai_404(hub_server: Any, alice: Any) -> None:
    assert_openai_error(post(hub_server.url, "/images/generations", alice.read_token, json={}), 404, "unknown_url")
    response = httpx.get(f"{hub_server.url}/v1/files", headers={"Authorization": f"Bearer {alice.read_token}"})
    assert_openai_error(response, 404)
