"""Fixtures for Model as a Service: extra app instances (own Settings, same hub) for low limits, isolated
hubs, job helpers. The pushed models (``tiny_llama``, ``minilm``) and ``client_for`` live in
``tests/support/pushed_models.py`` (registered once by ``tests/conftest.py``) and are re-exported here.
"""

from __future__ import annotations

import os
import secrets
import shutil
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.pushed_models import PushedModel, client_for
from tests.support.services import LiveServer, free_port

__all__ = ["PushedModel", "client_for"]




@pytest.fixture(scope="session")
def local_tiny(tiny_llama: PushedModel) -> tuple[Any, Any]:
    """The ``main`` weights loaded directly with transformers (what the API must reproduce)."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_llama.folder)
    model = AutoModelForCausalLM.from_pretrained(tiny_llama.folder)
    model.eval()
    return model, tokenizer


class Jobs:
    """A small client of ``/api/jobs`` for one token."""

    def __init__(self, url: str, token: str | None):
        self.url = url
        self.headers = {"Authorization": f"Bearer {token}"} if token else {}

    def submit(self, kind: str, **payload: Any) -> httpx.Response:
        return httpx.post(f"{self.url}/api/jobs", json={"kind": kind, "payload": payload}, headers=self.headers)

    def start(self, kind: str, **payload: Any) -> dict[str, Any]:
        response = self.submit(kind, **payload)
        assert response.status_code == 201, response.text
        return response.json()  # type: ignore[no-any-return]

    def get(self, job_id: str) -> httpx.Response:
        return httpx.get(f"{self.url}/api/jobs/{job_id}", headers=self.headers)

    def cancel(self, job_id: str) -> httpx.Response:
        return httpx.post(f"{self.url}/api/jobs/{job_id}/cancel", headers=self.headers)

    def wait(self, job_id: str, until: Any = lambda j: j["status"] in ("succeeded", "failed", "cancelled")) -> Any:
        job: dict[str, Any] = {}
        for _ in range(1200):
            job = self.get(job_id).json()
            if until(job):
                return job
            time.sleep(0.1)
        raise AssertionError(f"job never reached the state: {job}")


@dataclass
class ExtraServer:
    url: str
    app: Any
    server: LiveServer


def start_extra_server(hub_server: Any, **overrides: Any) -> ExtraServer:
    """Another app on the same hub (database and blob store) with its own settings: no job service and no
    deployment supervisor (it would claim deployments with its narrower settings), and its own inference
    pool and quota counters. It still routes ``/v1`` calls to deployments."""
    from dazi.app import create_app

    settings = hub_server.settings.model_copy(update={"jobs_enabled": False, "deployments_enabled": False, **overrides})
    app = create_app(settings, hub_server.hub)
    server = LiveServer(app, free_port())
    return ExtraServer(server.url, app, server)


@contextmanager
def isolated_hub(tmp: Path, **overrides: Any) -> Iterator[Any]:
    """A hub of its own (own database and blob store on the selected backend) on loopback: for a job
    service that must not share its queue with the session hub's."""
    from dazi.app import create_app
    from dazi.config import Settings
    from dazi.hub import Hub
    from tests.conftest import BACKEND, HubUnderTest, backend_settings

    values, services = backend_settings(tmp)
    settings = Settings(data_dir=tmp / "data", secret_key="test-secret-" + secrets.token_hex(8), **values, **overrides)
    hub = Hub.open(settings)
    server = LiveServer(create_app(settings, hub), free_port())
    try:
        yield HubUnderTest(hub, server, settings, BACKEND)
    finally:
        server.stop()
        hub.close()
        for service in services:
            service.stop()  # type: ignore[attr-defined]


@pytest.fixture
def fresh_user(hub_server: Any) -> Any:
    return hub_server.new_user(f"u{secrets.token_hex(2)}")


@pytest.fixture(scope="module")
def extra_servers(hub_server: Any) -> Iterator[list[ExtraServer]]:
    servers: list[ExtraServer] = []
    yield servers
    for extra in servers:
        extra.server.stop()


@pytest.fixture(scope="package")
def ray_address() -> Iterator[str]:
    """One real local Ray instance for the Ray tests of this package (jobs as Ray tasks, deployments on Ray
    Serve): ``ray.init`` on loopback, token auth off, its files in a short temporary folder."""
    ray = pytest.importorskip("ray")
    previous = os.environ.get("RAY_AUTH_MODE")
    os.environ["RAY_AUTH_MODE"] = "disabled"  # otherwise Ray 2.60 writes ~/.ray/auth_token
    temp = Path(tempfile.mkdtemp(prefix="ray-"))  # short: Ray's socket paths must stay under 108 bytes
    context = ray.init(num_cpus=2, object_store_memory=100 * 1024 * 1024, include_dashboard=False,
                       _temp_dir=str(temp), log_to_driver=False, _node_ip_address="127.0.0.1")
    try:
        yield str(context.address_info["address"])
    finally:
        try:
            from ray import serve

            serve.shutdown()
        except ImportError:  # pragma: no cover - ray without the serve extra
            pass
        ray.shutdown()
        shutil.rmtree(temp, ignore_errors=True)
        if previous is None:
            os.environ.pop("RAY_AUTH_MODE", None)
        else:
            os.environ["RAY_AUTH_MODE"] = previous
