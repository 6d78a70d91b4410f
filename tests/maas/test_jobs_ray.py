"""Jobs on a real local Ray instance: a hub with ``ray_address`` set runs its jobs as Ray tasks.

Ray starts once for the module (``ray.init`` on loopback, token auth off, its files in a temp folder) and
the hub under test gets its own database and blob store, so that no other job service takes its jobs.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from typing import Any

import pytest

from tests.maas.conftest import Jobs, isolated_hub

ray = pytest.importorskip("ray")

pytestmark = [pytest.mark.contract]


@pytest.fixture(scope="module")
def ray_hub(ray_address: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    with isolated_hub(tmp_path_factory.mktemp("ray-hub"), ray_address=ray_address, jobs_poll_seconds=0.2) as hub:
        yield hub


@pytest.fixture(scope="module")
def ray_repo(ray_hub: Any) -> tuple[Any, str, dict[str, bytes]]:
    from huggingface_hub import HfApi

    owner = ray_hub.new_user("ray")
    repo_id = f"{owner.name}/files"
    files = {"README.md": b"# files\n", "weights.txt": secrets.token_bytes(1_000_000)}
    api = HfApi(endpoint=ray_hub.url, token=owner.write_token)
    api.create_repo(repo_id)
    for path, data in files.items():
        api.upload_file(path_or_fileobj=data, path_in_repo=path, repo_id=repo_id)
    return owner, repo_id, files


def test_a_job_runs_as_a_ray_task(ray_hub: Any, ray_repo: Any) -> None:
    import hashlib

    owner, repo_id, files = ray_repo
    jobs = Jobs(ray_hub.url, owner.write_token)
    done = jobs.wait(jobs.start("repo.verify", repo_id=repo_id)["id"])
    assert done["status"] == "succeeded", done
    assert done["executor"] == "ray"
    for path, data in files.items():
        assert done["result"]["sha256"][path] == hashlib.sha256(data).hexdigest()
    log = jobs.get(done["id"]).json()
    assert log["progress"] == 1.0
    import httpx

    text = httpx.get(f"{ray_hub.url}/api/jobs/{done['id']}/log", headers=jobs.headers).text
    assert "attempt 1 of 3" in text and f"(pid {os.getpid()})" not in text


def test_a_ray_job_is_cancelled(ray_hub: Any, ray_repo: Any) -> None:
    owner, repo_id, _files = ray_repo
    jobs = Jobs(ray_hub.url, owner.write_token)
    job = jobs.start("repo.verify", repo_id=repo_id, max_bytes_per_second=65536)  # ~15 s if left alone
    jobs.wait(job["id"], lambda j: j["status"] == "running" and j["progress"] > 0)
    assert jobs.cancel(job["id"]).json()["cancel_requested"] is True
    done = jobs.wait(job["id"])
    assert done["status"] == "cancelled" and done["executor"] == "ray"


def test_a_failing_ray_job_reports_why(ray_hub: Any, ray_repo: Any) -> None:
    owner, repo_id, _files = ray_repo
    jobs = Jobs(ray_hub.url, owner.write_token)
    done = jobs.wait(jobs.start("model.prepare", repo_id=repo_id)["id"])
    assert done["status"] == "failed" and done["executor"] == "ray"
    assert "cannot be served by /v1: it has no config.json" in done["error"]
