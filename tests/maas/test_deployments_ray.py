"""Deployments on a real local Ray instance: replicas as a Ray Serve application.

Ray starts once for the module (``ray.init`` on loopback, token auth off, its files in a short temp folder)
and Serve's proxy listens on a free loopback port. First the backend on its own (``RayServeReplicas``
with the session hub's settings: its replicas load the tiny Llama from that hub's database and blob
store), then a hub started with ``ray_address`` set, driven through ``/api/deployments`` and ``/v1``.
"""

from __future__ import annotations

import json
import secrets
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import pytest

from dazi.deployments.replica import KEY_HEADER
from tests.maas.conftest import PushedModel, client_for, isolated_hub
from tests.support.services import free_port

ray = pytest.importorskip("ray")
pytest.importorskip("ray.serve")

pytestmark = [pytest.mark.contract, pytest.mark.ml]

MESSAGES = [{"role": "user", "content": "the model hub stores tiny model number 7"}]


@pytest.fixture(scope="module")
def serve_port(ray_address: str) -> int:
    return free_port()


@pytest.fixture(scope="module")
def backend_settings(hub_server: Any, ray_address: str, serve_port: int) -> Any:
    """The session hub's settings (its database and blob store), on this Ray."""
    update = {"ray_address": ray_address, "deployments_ray_http_port": serve_port}
    return hub_server.settings.model_copy(update=update)


@pytest.fixture(scope="module")
def backend(backend_settings: Any) -> Iterator[Any]:
    from dazi.deployments.ray_serve import RayServeReplicas

    replicas = RayServeReplicas(backend_settings)
    yield replicas
    replicas.shutdown()


def tiny_spec(hub: Any, model: PushedModel, replicas: int) -> Any:
    from sqlalchemy import select

    from dazi.deployments.backends import ReplicaSpec
    from dazi.repos.models import Repo

    with hub.db.read() as session:
        pk = session.scalars(select(Repo.id).where(Repo.repo_id_lower == model.repo_id.lower())).one()
    return ReplicaSpec(
        deployment_id=uuid.uuid4().hex,
        name=f"tiny-{secrets.token_hex(2)}",
        repo_pk=pk,
        repo_id=model.repo_id,
        commit=model.first_commit,
        engine="text-generation",
        replicas=replicas,
        secret=secrets.token_urlsafe(16),
    )


def wait_for(what: str, look: Callable[[], Any], until: Callable[[Any], bool], seconds: float = 120.0) -> Any:
    """``look()`` again until ``until`` holds for what it returns; returns that."""
    deadline = time.monotonic() + seconds
    seen = look()
    while not until(seen):
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not reached; last seen {seen!r}")
        time.sleep(0.2)
        seen = look()
    return seen


def ready(states: list[Any], count: int) -> bool:
    return len(states) == count and all(s.status == "ready" for s in states)


def chat(url: str, secret: str | None) -> httpx.Response:
    body = {"model": "tiny", "messages": MESSAGES, "max_tokens": 8, "temperature": 0}
    headers = {KEY_HEADER: secret} if secret else {}
    return httpx.post(f"{url}/v1/chat/completions", json=body, headers=headers, timeout=60)


def app_status(deployment_id: str) -> str:
    from ray import serve

    return str(serve.status().applications[f"dazi-{deployment_id}"].status.value)


def replica_ids(states: list[Any]) -> set[str]:
    return {s.extra["replica_id"] for s in states}


def test_replicas_on_ray_serve(backend: Any, backend_settings: Any, hub_server: Any, tiny_llama: PushedModel) -> None:
    from dazi.deployments.ray_serve import RayServeReplicas

    def replicas_of(deployment_id: str) -> Callable[[], list[Any]]:
        return lambda: backend.observe(deployment_id)

    spec = tiny_spec(hub_server.hub, tiny_llama, replicas=1)
    broken = replace(tiny_spec(hub_server.hub, tiny_llama, replicas=1), commit="0" * 40)  # no such revision
    backend.apply(spec)
    backend.apply(spec)  # unchanged: nothing to do
    backend.apply(broken)  # (loads at the same time, to keep the module short)
    assert backend.deployment_ids() == sorted([spec.deployment_id, broken.deployment_id])
    states = wait_for("one ready replica", replicas_of(spec.deployment_id), lambda s: ready(s, 1))
    url = states[0].url
    assert url == f"{backend.base_url}/dazi/{spec.deployment_id}" and backend.base_url.startswith("http://127.0.0.1:")

    # The replica app behind Serve's proxy: the secret is required, answers and streams pass through.
    assert chat(url, None).status_code == 401
    answer = chat(url, spec.secret)
    assert answer.status_code == 200, answer.text
    content = answer.json()["choices"][0]["message"]["content"]
    body = {"model": "tiny", "messages": MESSAGES, "max_tokens": 8, "temperature": 0, "stream": True}
    with httpx.stream("POST", f"{url}/v1/chat/completions", headers={KEY_HEADER: spec.secret}, json=body) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        assert response.headers.get("transfer-encoding") == "chunked"  # passed on as it comes, not buffered
        events = [line for line in response.iter_lines() if line.startswith("data: ")]
    assert events[-1] == "data: [DONE]"
    assert "".join(json.loads(e[6:])["choices"][0]["delta"].get("content") or "" for e in events[:-1]) == content

    # A model that cannot be loaded: Serve gives up after MAX_START_ATTEMPTS and says why.
    failed = wait_for("a failed deployment", replicas_of(broken.deployment_id), lambda s: s and s[0].status == "failed")
    assert failed[0].error and f"revision {broken.commit} of" in failed[0].error, failed[0].error
    assert "is no longer in the hub" in failed[0].error
    backend.remove(broken.deployment_id)
    assert backend.observe(broken.deployment_id) == []

    # Another API process taking the deployment over adopts the running replicas.
    first = replica_ids(states)
    other = RayServeReplicas(backend_settings)
    other.apply(spec)
    assert other.deployment_ids() == [spec.deployment_id]
    wait_for("the application running", lambda: app_status(spec.deployment_id), lambda status: status == "RUNNING")
    assert replica_ids(other.observe(spec.deployment_id)) == first  # (a restart would have replaced it by now)

    # Scale to 2 and kill the first replica's actor at once: Serve starts the new one and a replacement.
    backend.apply(replace(spec, replicas=2))
    ray.kill(ray.get_actor(states[0].extra["actor_name"], namespace="serve"), no_restart=True)
    states = wait_for(
        "two ready replicas, the killed one replaced",
        replicas_of(spec.deployment_id),
        lambda s: ready(s, 2) and not replica_ids(s) & first,
    )
    assert chat(url, spec.secret).status_code == 200

    # Scaling down stops one replica and keeps the other: a change of replicas restarts nothing.
    two = replica_ids(states)
    backend.apply(spec)
    states = wait_for("one replica left", replicas_of(spec.deployment_id), lambda s: ready(s, 1))
    assert replica_ids(states) < two

    # An application whose deployment has no row (deleted while no server ran; these specs never had one)
    # is removed when a supervisor of the same hub starts; another hub's supervisor does not see it.
    from dazi.deployments.supervisor import Supervisor

    elsewhere = RayServeReplicas(backend_settings.model_copy(update={"secret_key": "another hub's key"}))
    assert elsewhere.hub_deployment_ids() == [] and spec.deployment_id in elsewhere.cluster_deployment_ids()
    assert Supervisor(hub_server.hub, backend_settings, backend=elsewhere).sweep_orphans() == []
    assert other.hub_deployment_ids() == [spec.deployment_id]
    assert Supervisor(hub_server.hub, backend_settings, backend=other).sweep_orphans() == [spec.deployment_id]
    assert backend.observe(spec.deployment_id) == []
    backend.remove(spec.deployment_id)
    assert backend.deployment_ids() == []
    assert chat(url, spec.secret).status_code == 404  # Serve's proxy: no application at that route


@pytest.fixture(scope="module")
def ray_hub(ray_address: str, serve_port: int, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    tmp = tmp_path_factory.mktemp("ray-deployments")
    overrides = {"ray_address": ray_address, "deployments_ray_http_port": serve_port, "deployments_poll_seconds": 0.2}
    with isolated_hub(tmp, **overrides) as hub:
        yield hub


def test_a_deployment_on_ray_through_the_api(ray_hub: Any, tmp_path: Path) -> None:
    from huggingface_hub import HfApi
    from ray import serve

    from tests.support.tiny_model import make_tiny_llama

    owner = ray_hub.new_user("rayd")
    repo_id = f"{owner.name}/tiny-chat"
    api = HfApi(endpoint=ray_hub.url, token=owner.write_token)
    api.create_repo(repo_id)
    api.upload_folder(repo_id=repo_id, folder_path=make_tiny_llama(tmp_path / "tiny"))
    headers = {"Authorization": f"Bearer {owner.write_token}"}
    name = f"tiny-{secrets.token_hex(3)}"
    created = httpx.post(f"{ray_hub.url}/api/deployments", json={"name": name, "model": repo_id}, headers=headers)
    assert created.status_code == 201, created.text

    def deployment() -> Any:
        return httpx.get(f"{ray_hub.url}/api/deployments/{name}", headers=headers).json()

    dep = wait_for("a running deployment", deployment, lambda d: d["status"] in ("running", "failed"))
    assert dep["status"] == "running", dep
    assert dep["backend"] == "ray"
    client = client_for(ray_hub.url, owner.read_token)
    answer = client.chat.completions.create(model=name, messages=MESSAGES, max_tokens=8, temperature=0)
    assert answer.model == name and answer.choices[0].message.content
    chunks = client.chat.completions.create(model=name, messages=MESSAGES, max_tokens=8, temperature=0, stream=True)
    streamed = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert streamed == answer.choices[0].message.content
    assert [app.startswith("dazi-") for app in serve.status().applications] == [True]

    assert httpx.delete(f"{ray_hub.url}/api/deployments/{name}", headers=headers).status_code in (200, 204)
    wait_for("the Serve application deleted", lambda: list(serve.status().applications), lambda apps: not apps)


def test_health_check_versions_and_errors() -> None:
    """The parts that need no cluster: the replica's health check, what restarts replicas, Serve's errors."""
    import asyncio

    from fastapi import FastAPI
    from fastapi.responses import JSONResponse

    from dazi.deployments.backends import ReplicaSpec
    from dazi.deployments.ray_serve import ServeReplica, short_error, spec_version

    spec = ReplicaSpec("d1", "tiny", 1, "alice/tiny", "0" * 40, "text-generation", 1, "key")
    sick = FastAPI()
    sick.get("/healthz")(lambda: JSONResponse({"status": "broken"}, status_code=503))
    replica = object.__new__(ServeReplica)
    replica.spec, replica.asgi_app = spec, sick
    with pytest.raises(RuntimeError, match="503"):
        asyncio.run(replica.check_health())

    values = {"data_dir": "/srv/dazi"}
    assert spec_version(spec, values) == spec_version(replace(spec, replicas=4), values)
    assert spec_version(spec, values) != spec_version(replace(spec, commit="1" * 40), values)
    assert spec_version(spec, values) != spec_version(spec, {"data_dir": "/srv/other"})
    message = (
        "The deployment failed to start 3 times in a row. Error:\n\x1b[36mray::X\x1b[39m\n  File x\nKeyError: 'abc'"
    )
    assert short_error(message) == "The deployment failed to start 3 times in a row. Error: ... KeyError: 'abc'"
