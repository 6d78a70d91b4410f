"""Deployments on the local backend (replica worker processes), through ``/api/deployments`` and the stock
``openai`` client on ``/v1``: answers equal to the model served in the API process, counters, scaling,
stop/start/delete, permissions, bad input, a crashing replica, and a restarted server bringing its
deployments back."""

from __future__ import annotations

import json
import os
import secrets
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.maas.conftest import PushedModel, client_for, isolated_hub
from tests.support.network import missing_ml_extra

try:
    import openai
    import torch  # noqa: F401 - the tiny model is made with it; replicas run it
except ImportError as exc:  # pragma: no cover - depends on the installed extras
    missing_ml_extra(exc, "torch, openai")

pytestmark = [pytest.mark.contract, pytest.mark.ml]

MESSAGES = [{"role": "user", "content": "the model hub stores tiny model number 7"}]


def unique(prefix: str) -> str:
    return f"{prefix}-{secrets.token_hex(3)}"


class Api:
    """A small client of ``/api/deployments`` for one token."""

    def __init__(self, url: str, token: str | None):
        self.url = url
        self.headers = {"Authorization": f"Bearer {token}"} if token else {}

    def call(self, method: str, path: str = "", headers: dict[str, str] | None = None, **kwargs: Any) -> httpx.Response:
        url = f"{self.url}/api/deployments{path}"
        return httpx.request(method, url, headers={**self.headers, **(headers or {})}, timeout=60, **kwargs)

    def create(self, **body: Any) -> httpx.Response:
        return self.call("POST", json=body)

    def get(self, name: str) -> httpx.Response:
        return self.call("GET", f"/{name}")

    def wait(self, name: str, until: Any = lambda d: d["status"] == "running") -> dict[str, Any]:
        dep: dict[str, Any] = {}
        for _ in range(1200):
            answer = self.get(name)
            assert answer.status_code == 200, answer.text
            dep = answer.json()
            if until(dep):
                return dep
            time.sleep(0.1)
        raise AssertionError(f"the deployment never reached the state: {dep}")


def deploy(api: Api, name: str, model: str, **body: Any) -> dict[str, Any]:
    answer = api.create(name=name, model=model, **body)
    assert answer.status_code == 201, answer.text
    return api.wait(name)


@pytest.fixture(scope="module")
def chat_dep(hub_server: Any, tiny_llama: PushedModel) -> Iterator[str]:
    api = Api(hub_server.url, tiny_llama.owner.write_token)
    name = unique("tiny-chat")
    deploy(api, name, tiny_llama.repo_id)
    yield name
    api.call("DELETE", f"/{name}")


@pytest.fixture(scope="module")
def embed_dep(hub_server: Any, minilm: PushedModel) -> Iterator[str]:
    api = Api(hub_server.url, minilm.owner.write_token)
    name = unique("minilm")
    deploy(api, name, minilm.repo_id)
    yield name
    api.call("DELETE", f"/{name}")


def test_chat_equals_the_model_served_by_the_api(hub_server: Any, tiny_llama: PushedModel, chat_dep: str) -> None:
    client = client_for(hub_server.url, tiny_llama.owner.read_token)
    kwargs: dict[str, Any] = {"messages": MESSAGES, "max_tokens": 12, "temperature": 0}
    direct = client.chat.completions.create(model=tiny_llama.repo_id, **kwargs)
    deployed = client.chat.completions.create(model=chat_dep, **kwargs)
    assert deployed.model == chat_dep
    assert deployed.choices[0].message.content == direct.choices[0].message.content
    assert deployed.usage.prompt_tokens == direct.usage.prompt_tokens
    assert deployed.usage.completion_tokens == direct.usage.completion_tokens
    assert deployed.choices[0].finish_reason == direct.choices[0].finish_reason

    chunks = list(client.chat.completions.create(model=chat_dep, stream=True, **kwargs))
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == direct.choices[0].message.content
    assert all(c.usage is None for c in chunks)  # the usage chunk the hub asked for is not passed on
    chunks = list(
        client.chat.completions.create(model=chat_dep, stream=True, stream_options={"include_usage": True}, **kwargs)
    )
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens == direct.usage.completion_tokens

    text = client.completions.create(model=chat_dep, prompt="the model", max_tokens=5, temperature=0)
    same = client.completions.create(model=tiny_llama.repo_id, prompt="the model", max_tokens=5, temperature=0)
    assert text.choices[0].text == same.choices[0].text and text.model == chat_dep
    # the replica applies the same checks as /v1
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(model=chat_dep, messages=MESSAGES, n=2)
    assert caught.value.code == "unsupported_value"
    with pytest.raises(openai.BadRequestError) as caught:
        client.embeddings.create(model=chat_dep, input="x")
    assert caught.value.code == "model_not_supported"


def test_embeddings_equal_the_model_served_by_the_api(hub_server: Any, minilm: PushedModel, embed_dep: str) -> None:
    client = client_for(hub_server.url, minilm.owner.read_token)
    direct = client.embeddings.create(model=minilm.repo_id, input=["a hub of models", "tiny"])
    deployed = client.embeddings.create(model=embed_dep, input=["a hub of models", "tiny"])
    assert deployed.model == embed_dep and deployed.usage.prompt_tokens == direct.usage.prompt_tokens
    for a, b in zip(direct.data, deployed.data, strict=True):
        assert a.embedding == pytest.approx(b.embedding, abs=1e-5)
    with pytest.raises(openai.BadRequestError):
        client.chat.completions.create(model=embed_dep, messages=MESSAGES)


def test_counters_latency_and_models_list(hub_server: Any, tiny_llama: PushedModel, chat_dep: str) -> None:
    api = Api(hub_server.url, tiny_llama.owner.write_token)
    before = api.get(chat_dep).json()
    client = client_for(hub_server.url, tiny_llama.owner.read_token)
    answer = client.chat.completions.create(model=chat_dep, messages=MESSAGES, max_tokens=4)
    list(client.chat.completions.create(model=chat_dep, messages=MESSAGES, max_tokens=3, stream=True))
    after = api.wait(chat_dep, lambda d: d["requests"]["total"] >= before["requests"]["total"] + 2)
    assert after["requests"]["prompt_tokens"] >= before["requests"]["prompt_tokens"] + 2 * answer.usage.prompt_tokens
    assert after["requests"]["completion_tokens"] > before["requests"]["completion_tokens"]
    assert after["latency_ms"]["avg"] > 0 and after["latency_ms"]["p50"] > 0 and after["latency_ms"]["p95"] > 0
    assert after["endpoint"] == {"base_url": f"{hub_server.url}/v1", "model": chat_dep}
    assert after["model"] == tiny_llama.repo_id and after["owner"] == tiny_llama.owner.name
    assert after["backend"] == "local" and after["engine"] == "text-generation" and len(after["commit"]) == 40
    item = after["replicas"]["items"][0]
    assert item["status"] == "ready" and "url" not in item and "pid" not in item and "secret" not in json.dumps(after)

    ids = {m.id: m for m in client.models.list()}
    assert ids[chat_dep].owned_by == tiny_llama.owner.name
    assert ids[chat_dep].model_extra["dazi"]["deployment"] is True
    assert ids[chat_dep].model_extra["dazi"]["model"] == tiny_llama.repo_id
    one = client.models.retrieve(chat_dep)
    assert one.id == chat_dep and one.model_extra["dazi"]["status"] == "running"
    listed = api.call("GET", params={"model": tiny_llama.repo_id}).json()
    assert chat_dep in [d["name"] for d in listed]


def test_who_may_see_and_call(
    hub_server: Any, tiny_llama: PushedModel, minilm: PushedModel, chat_dep: str, embed_dep: str
) -> None:
    other = hub_server.new_user("other")
    outsider = client_for(hub_server.url, other.read_token, max_retries=0)
    with pytest.raises(openai.NotFoundError) as caught:
        outsider.chat.completions.create(model=chat_dep, messages=MESSAGES, max_tokens=2)
    assert caught.value.code == "model_not_found"
    with pytest.raises(openai.NotFoundError):
        outsider.models.retrieve(chat_dep)
    assert chat_dep not in {m.id for m in outsider.models.list()}
    assert Api(hub_server.url, other.write_token).get(chat_dep).status_code == 404
    assert chat_dep not in [d["name"] for d in Api(hub_server.url, other.write_token).call("GET").json()]
    assert Api(hub_server.url, other.write_token).call("POST", f"/{chat_dep}/stop").status_code == 404
    # public: any user who can read the model may call it (the tiny model is public; MiniLM is private)
    owner_api = Api(hub_server.url, tiny_llama.owner.write_token)
    assert owner_api.call("PATCH", f"/{chat_dep}", json={"public": True}).json()["public"] is True
    try:
        assert outsider.chat.completions.create(model=chat_dep, messages=MESSAGES, max_tokens=2).model == chat_dep
        assert chat_dep in {m.id for m in outsider.models.list()}
        assert Api(hub_server.url, other.write_token).get(chat_dep).status_code == 404  # not theirs to manage
    finally:
        owner_api.call("PATCH", f"/{chat_dep}", json={"public": False})
    embed_api = Api(hub_server.url, minilm.owner.write_token)
    assert embed_api.call("PATCH", f"/{embed_dep}", json={"public": True}).status_code == 200
    try:
        with pytest.raises(openai.NotFoundError):
            outsider.embeddings.create(model=embed_dep, input="x")
    finally:
        embed_api.call("PATCH", f"/{embed_dep}", json={"public": False})
    # a read token cannot create or manage; an administrator sees everything, process ids included
    reader = Api(hub_server.url, tiny_llama.owner.read_token)
    assert reader.create(name=unique("nope"), model=tiny_llama.repo_id).status_code == 403
    assert reader.call("POST", f"/{chat_dep}/stop").status_code == 403
    assert Api(hub_server.url, None).create(name=unique("anon"), model=tiny_llama.repo_id).status_code == 401
    admin = Api(hub_server.url, hub_server.new_user("root", admin=True).write_token)
    assert isinstance(admin.get(chat_dep).json()["replicas"]["items"][0]["pid"], int)


def test_org_deployments(hub_server: Any, tiny_llama: PushedModel) -> None:
    owner = tiny_llama.owner
    org = hub_server.new_org(owner)
    member, outsider = hub_server.new_user("member"), hub_server.new_user("outsider")
    hub_server.add_member(org, member, "read")
    name = unique("org-chat")
    created = Api(hub_server.url, owner.write_token).create(name=name, model=tiny_llama.repo_id, owner=org)
    assert created.status_code == 201, created.text
    assert created.json()["owner"] == org and created.json()["status"] == "starting"
    try:
        assert Api(hub_server.url, member.read_token).get(name).json()["owner"] == org
        assert Api(hub_server.url, member.write_token).call("POST", f"/{name}/stop").status_code == 403
        assert Api(hub_server.url, outsider.write_token).get(name).status_code == 404
        listed = Api(hub_server.url, member.read_token).call("GET", params={"owner": org}).json()
        assert [d["name"] for d in listed] == [name]
        assert (
            Api(hub_server.url, outsider.write_token)
            .create(name=unique("x"), model=tiny_llama.repo_id, owner=org)
            .status_code
            == 403
        )
    finally:
        assert Api(hub_server.url, owner.write_token).call("DELETE", f"/{name}").status_code == 204


def test_bad_input(hub_server: Any, tiny_llama: PushedModel, chat_dep: str) -> None:
    owner = tiny_llama.owner
    api = Api(hub_server.url, owner.write_token)

    def refused(status: int, **body: Any) -> str:
        answer = api.create(**body)
        assert answer.status_code == status, answer.text
        return str(answer.json()["error"])

    model = tiny_llama.repo_id
    for bad in ("a", "Upper-case", "-dash", "dash-", "has/slash", "sp ace", "x" * 64, "under_score"):
        assert "3 to 63 characters" in refused(400, name=bad, model=model)
    assert "already exists" in refused(409, name=chat_dep, model=model)
    refused(404, name=unique("ghost"), model=f"{owner.name}/no-such-model")
    refused(404, name=unique("ghost"), model=model, revision="no-such-branch")
    from huggingface_hub import HfApi

    hf = HfApi(endpoint=hub_server.url, token=owner.write_token)
    dataset = f"{owner.name}/{unique('data')}"
    hf.create_repo(dataset, repo_type="dataset")
    refused(404, name=unique("data"), model=dataset)
    readme_only = f"{owner.name}/{unique('readme')}"
    hf.create_repo(readme_only)
    hf.upload_file(path_or_fileobj=b"# hello\n", path_in_repo="README.md", repo_id=readme_only)
    assert "cannot be deployed" in refused(400, name=unique("readme"), model=readme_only)
    for replicas in (0, 5, -1, "2", 1.5, True):
        refused(400, name=unique("rep"), model=model, replicas=replicas)
    refused(400, name=unique("pub"), model=model, public="yes")
    refused(400, model=model)
    refused(400, name=unique("nomodel"))
    for raw in (b"{not json", b"[1, 2]", b"\xff"):
        answer = api.call("POST", content=raw, headers={"Content-Type": "application/json"})
        assert answer.status_code == 400, answer.text
        assert api.call("PATCH", f"/{chat_dep}", content=raw).status_code == 400
        assert api.call("POST", f"/{chat_dep}/scale", content=raw).status_code == 400
    assert api.call("POST", f"/{chat_dep}/scale", json={"replicas": 99}).status_code == 400
    assert api.call("PATCH", f"/{chat_dep}", json={}).status_code == 400
    assert api.get("no-such-deployment").status_code == 404
    assert api.call("DELETE", "/no-such-deployment").status_code == 404
    client = client_for(hub_server.url, owner.read_token, max_retries=0)
    with pytest.raises(openai.NotFoundError) as caught:
        client.chat.completions.create(model="no-such-deployment", messages=MESSAGES)
    assert caught.value.code == "model_not_found"


def _pid(hub_server: Any, name: str, index: int = 0) -> int:
    admin = Api(hub_server.url, hub_server.new_user("root", admin=True).write_token)
    return int(admin.get(name).json()["replicas"]["items"][index]["pid"])


def _long_chat(name: str) -> dict[str, Any]:
    # EOS suppressed (logit_bias): decoding runs to max_tokens
    return {
        "model": name,
        "messages": [{"role": "user", "content": "hello"}],
        "max_tokens": 2000,
        "temperature": 0,
        "logit_bias": {"1": -100},
    }


def test_scale_stop_start_crash_and_delete(hub_server: Any, tiny_llama: PushedModel) -> None:
    owner = tiny_llama.owner
    api = Api(hub_server.url, owner.write_token)
    name = unique("life")
    deploy(api, name, tiny_llama.repo_id)
    client = client_for(hub_server.url, owner.read_token, max_retries=0)

    scaled = api.call("POST", f"/{name}/scale", json={"replicas": 2})
    assert scaled.status_code == 200 and scaled.json()["replicas"]["desired"] == 2
    two = api.wait(name, lambda d: d["replicas"]["ready"] == 2)
    assert two["status"] == "running" and [i["index"] for i in two["replicas"]["items"]] == [0, 1]
    for _ in range(4):
        assert client.completions.create(model=name, prompt="the", max_tokens=2).usage.completion_tokens == 2
    assert api.call("PATCH", f"/{name}", json={"replicas": 1}).status_code == 200
    api.wait(name, lambda d: len(d["replicas"]["items"]) == 1)

    # a replica killed while it answers a whole answer and a stream: both callers get clean errors, in the
    # OpenAI shape (a 502, or a final error event that the openai client raises), and the replica comes back
    pid = _pid(hub_server, name)
    whole: dict[str, httpx.Response] = {}
    headers = {"Authorization": f"Bearer {owner.read_token}"}
    waiting = threading.Thread(
        target=lambda: whole.update(
            answer=httpx.post(
                f"{hub_server.url}/v1/chat/completions", json=_long_chat(name), headers=headers, timeout=60
            )
        )
    )
    waiting.start()
    stream = client.chat.completions.create(stream=True, **_long_chat(name))
    with pytest.raises(openai.APIError) as caught:
        for i, _chunk in enumerate(stream):
            if i == 20:  # the replica is generating (and the whole answer, sent first, is in its batch)
                os.kill(pid, signal.SIGKILL)
    assert caught.value.body["code"] == "replica_failed" and "replica" in caught.value.message
    waiting.join()
    answer = whole["answer"]
    assert answer.status_code in (502, 503), answer.text
    assert answer.json()["error"]["type"] == "server_error"
    back = api.wait(name, lambda d: d["status"] == "running" and d["replicas"]["items"][0]["restarts"] == 1)
    assert back["requests"]["failed"] == (2 if answer.status_code == 502 else 1)
    assert client.chat.completions.create(model=name, messages=MESSAGES, max_tokens=2).model == name

    stopped = api.call("POST", f"/{name}/stop").json()
    assert stopped["status"] == "stopped"
    with pytest.raises(openai.InternalServerError) as unavailable:
        client.chat.completions.create(model=name, messages=MESSAGES, max_tokens=2)
    assert unavailable.value.status_code == 503 and unavailable.value.code == "deployment_unavailable"
    assert "stopped" in unavailable.value.message and unavailable.value.response.headers["Retry-After"]
    api.wait(name, lambda d: d["replicas"]["items"] == [])
    assert api.call("POST", f"/{name}/start").json()["status"] in ("starting", "running")
    api.wait(name)
    assert client.chat.completions.create(model=name, messages=MESSAGES, max_tokens=2).model == name

    assert api.call("DELETE", f"/{name}").status_code == 204
    assert api.get(name).status_code == 404
    with pytest.raises(openai.NotFoundError):
        client.chat.completions.create(model=name, messages=MESSAGES, max_tokens=2)


def test_a_restarted_server_brings_its_deployments_back(tmp_path: Path) -> None:
    """A hub of its own whose replicas take one request at a time (none waiting): a slot that a
    disconnected caller did not free shows as a 503."""
    from huggingface_hub import HfApi

    from dazi.app import create_app
    from tests.support.services import LiveServer, free_port
    from tests.support.tiny_model import make_tiny_llama

    with isolated_hub(tmp_path, inference_max_batch_size=1, inference_max_queue=0, deployments_max_restarts=2) as hub:
        owner = hub.new_user("persist")
        repo_id = f"{owner.name}/tiny"
        hf = HfApi(endpoint=hub.url, token=owner.write_token)
        hf.create_repo(repo_id)
        hf.upload_folder(repo_id=repo_id, folder_path=make_tiny_llama(tmp_path / "model"))
        name = unique("persist")
        deploy(Api(hub.url, owner.write_token), name, repo_id)
        _a_model_that_cannot_load_fails(hub, owner, tmp_path)
        hub.server.stop()  # the server stops: its replicas stop, its leases are released

        again = LiveServer(create_app(hub.settings, hub.hub), free_port())
        try:
            back = Api(again.url, owner.write_token).wait(name)
            assert back["replicas"]["ready"] == 1
            client = client_for(again.url, owner.read_token, max_retries=0)
            answer = client.chat.completions.create(model=name, messages=MESSAGES, max_tokens=3)
            assert answer.model == name and answer.usage.completion_tokens == 3
            _disconnect_frees_the_slot(again.url, owner.read_token, name)
        finally:
            again.stop()


def _a_model_that_cannot_load_fails(hub: Any, owner: Any, tmp_path: Path) -> None:
    """A causal LM by its files whose weights are garbage: each start crashes; after 2 the replica is failed."""
    from huggingface_hub import HfApi

    folder = tmp_path / "broken"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps({"architectures": ["LlamaForCausalLM"], "model_type": "llama"}))
    (folder / "model.safetensors").write_bytes(b"not a safetensors file" * 10)
    repo_id = f"{owner.name}/broken"
    hf = HfApi(endpoint=hub.url, token=owner.write_token)
    hf.create_repo(repo_id)
    hf.upload_folder(repo_id=repo_id, folder_path=folder)
    api = Api(hub.url, owner.write_token)
    name = unique("broken")
    assert api.create(name=name, model=repo_id).status_code == 201
    failed = api.wait(name, lambda d: d["status"] == "failed")
    assert failed["error"] and failed["replicas"]["items"][0]["status"] == "failed"
    assert failed["replicas"]["items"][0]["restarts"] == 1
    with pytest.raises(openai.InternalServerError) as caught:
        client_for(hub.url, owner.read_token, max_retries=0).completions.create(model=name, prompt="x")
    assert caught.value.status_code == 503 and caught.value.code == "deployment_unavailable"
    assert "failed" in caught.value.message
    assert api.call("DELETE", f"/{name}").status_code == 204


def _disconnect_frees_the_slot(url: str, token: str, name: str) -> None:
    client = client_for(url, token, max_retries=0)
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.stream(
        "POST", f"{url}/v1/chat/completions", json={**_long_chat(name), "stream": True}, headers=headers, timeout=60
    ) as response:
        assert response.status_code == 200
        lines = response.iter_lines()
        assert any('"content"' in next(lines) for _ in range(6))
        with pytest.raises(openai.InternalServerError) as busy:  # the replica's only slot is taken
            client.completions.create(model=name, prompt="x", max_tokens=1)
        assert busy.value.status_code == 503 and busy.value.code == "server_busy"
    # leaving the block closed the connection mid-stream: the hub closes its stream to the replica
    for _ in range(200):
        try:
            assert client.completions.create(model=name, prompt="x", max_tokens=1).usage.completion_tokens == 1
            return
        except openai.InternalServerError:
            time.sleep(0.05)
    raise AssertionError("the replica's slot was never freed")


def test_a_missing_revision_is_named(hub_server: Any, tiny_llama: PushedModel) -> None:
    from sqlalchemy import select

    from dazi.deployments.backends import ReplicaSpec
    from dazi.deployments.replica import RevisionGone, load_replica_model
    from dazi.repos.models import Repo

    with hub_server.hub.db.read() as session:
        pk = session.scalars(select(Repo.id).where(Repo.repo_id_lower == tiny_llama.repo_id.lower())).one()
    gone = "0" * 40
    spec = ReplicaSpec("d-gone", "gone", pk, tiny_llama.repo_id, gone, "text-generation", 1, "key")
    with pytest.raises(RevisionGone) as caught:
        load_replica_model(hub_server.settings, spec)
    assert str(caught.value) == f"revision {gone} of {tiny_llama.repo_id} is no longer in the hub"


def test_routes_are_cached_until_a_replica_refuses(hub_server: Any, chat_dep: str) -> None:
    """A burst of calls reads the routing entry once; a refused connection drops it (read afresh next)."""
    import asyncio
    from dataclasses import replace

    from dazi.accounts.services import Actor
    from dazi.deployments.proxy import Deployments, NoReplicaAnswers
    from tests.support.services import free_port

    proxy = Deployments(hub_server.hub)
    proxy.route_ttl = 3600.0  # (what is cached, not for how long)
    admin = Actor(user_id=-1, name="root", namespace_id=-1, is_admin=True, token_role="read")  # noqa: S106
    first, cached = proxy.target(admin, chat_dep)
    assert not cached and first.urls
    assert proxy.target(admin, chat_dep) == (first, True)
    assert proxy.target(admin, chat_dep, fresh=True) == (first, False)
    stale = replace(first, urls=(f"http://127.0.0.1:{free_port()}",))  # a replica that is gone

    async def send() -> None:
        try:
            await proxy._send(stale, "/v1/completions", {"model": chat_dep, "prompt": "x", "max_tokens": 1})
        finally:
            await proxy.close()

    with pytest.raises(NoReplicaAnswers):
        asyncio.run(send())
    assert proxy.target(admin, chat_dep) == (first, False)  # forgotten: read again
    proxy.forget()
    assert proxy.target(admin, chat_dep)[1] is False
