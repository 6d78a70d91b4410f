"""Several API workers share one database and one blob store: no lost updates, same answers."""

from __future__ import annotations

import hashlib
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from huggingface_hub import CommitOperationAdd, HfApi, hf_hub_download

from tests.support.services import LiveServer, free_port


@pytest.fixture
def second_worker(hub_server):  # type: ignore[no-untyped-def]
    """Another app instance over the same settings: its own engine, pools and caches."""
    from dazi.app import create_app
    from dazi.hub import Hub

    hub = Hub.open(hub_server.settings)
    server = LiveServer(create_app(hub_server.settings, hub), free_port())
    yield server
    server.stop()
    hub.close()


def test_two_workers_commit_to_one_branch(hub_server, second_worker, alice, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    apis = [HfApi(endpoint=url, token=alice.write_token) for url in (hub_server.url, second_worker.url)]
    repo_id = f"{alice.name}/shared"
    apis[0].create_repo(repo_id)
    payloads = {f"f{i}.bin": os.urandom(1000 + i) for i in range(12)}

    def commit(item: tuple[int, tuple[str, bytes]]) -> str:
        i, (name, data) = item
        return apis[i % 2].create_commit(repo_id, [CommitOperationAdd(name, data)], commit_message=name).oid

    with ThreadPoolExecutor(6) as pool:
        oids = list(pool.map(commit, enumerate(payloads.items())))
    assert len(set(oids)) == len(payloads)
    files = set(apis[1].list_repo_files(repo_id))
    assert set(payloads) <= files
    assert len(apis[0].list_repo_commits(repo_id)) == len(payloads) + 1
    for name, data in payloads.items():
        path = hf_hub_download(repo_id, name, cache_dir=tmp_path, token=alice.read_token,
                               endpoint=second_worker.url)
        assert hashlib.sha256(Path(path).read_bytes()).digest() == hashlib.sha256(data).digest()
