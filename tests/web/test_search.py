"""Full-text search over names, descriptions and cards, Chinese included, on the selected backend.

The same search serves the web pages and ``GET /api/models?search=`` (``repos.listing``), and the index
follows the card on every commit to the default branch. The migration that creates it is reversible.
"""

from __future__ import annotations

import secrets
from typing import Any

import httpx
import pytest
from huggingface_hub import HfApi

from tests.support.migrations import migrated_database
from tests.web.conftest import Browser, unique
from tests.web.seed import card


def found(hub_server: Any, text: str, repo_type: str = "models") -> set[str]:
    items = httpx.get(f"{hub_server.url}/api/{repo_type}", params={"search": text}, timeout=60).json()
    return {item["id"] for item in items}


@pytest.fixture(scope="module")
def indexed(hub_server: Any) -> dict[str, str]:
    owner = hub_server.new_user("searcher")
    api = HfApi(endpoint=hub_server.url, token=owner.write_token)
    word = secrets.token_hex(4)  # keeps this module's matches apart from other tests' repos
    zh = f"{owner.name}/{unique('plain-name')}"
    api.create_repo(zh)
    body = f"# 模型\n\n这是一个用于中文情感分析的模型，代号{word}。It also mentions PhotoSynthesis{word}.\n"
    api.upload_file(path_or_fileobj=card({"chinese_name": f"情绪分析器{word}", "tags": [f"tag{word}"]}, body),
                    path_in_repo="README.md", repo_id=zh)
    dataset = f"{owner.name}/{unique('corpus')}"
    api.create_repo(dataset, repo_type="dataset")
    api.upload_file(path_or_fileobj=card({"pretty_name": "评论语料"}, f"十万条商品评论{word}\n"),
                    path_in_repo="README.md", repo_id=dataset, repo_type="dataset")
    return {"model": zh, "dataset": dataset, "word": word, "token": owner.write_token}


def test_chinese_substrings_find_the_card(hub_server: Any, indexed: dict[str, str]) -> None:
    word, model = indexed["word"], indexed["model"]
    assert model in found(hub_server, f"情感分析的模型，代号{word}")  # trigram index (3+ characters)
    assert model in found(hub_server, f"代号{word}")
    assert model in found(hub_server, f"情绪分析器{word}")  # the Chinese display name
    assert model in found(hub_server, f"tag{word}")  # tags
    assert model in found(hub_server, f"中文 {word}")  # a two-character word: scanned, still found
    assert indexed["dataset"] in found(hub_server, f"商品评论{word}", "datasets")
    assert model not in found(hub_server, f"商品评论{word}")  # datasets are not models


def test_english_is_case_insensitive_and_words_combine(hub_server: Any, indexed: dict[str, str]) -> None:
    word, model = indexed["word"], indexed["model"]
    assert model in found(hub_server, f"photosynthesis{word}")
    assert model in found(hub_server, f"PHOTOSYNTHESIS{word.upper()}")
    assert model in found(hub_server, f"情感 photosynthesis{word}")  # every word, anywhere
    assert model not in found(hub_server, f"情感 photosynthesis{word} nowhere-{word}")


def test_stock_client_and_web_pages_use_the_same_search(
    hub_server: Any, browser: Browser, indexed: dict[str, str]
) -> None:
    word, model = indexed["word"], indexed["model"]
    api = HfApi(endpoint=hub_server.url, token=False)
    assert [m.id for m in api.list_models(search=f"情感分析的模型，代号{word}")] == [model]
    listing = browser.get("/models", params={"search": f"代号{word}"}).text
    assert f'href="/{model}"' in listing and '<span class="total">1</span>' in listing
    results = browser.get("/search", params={"q": f"情感 {word}"}).text
    assert f'href="/{model}"' in results
    assert f'href="/datasets/{indexed["dataset"]}"' in browser.get("/search", params={"q": f"评论{word}"}).text


def test_odd_characters_are_literal(hub_server: Any, indexed: dict[str, str]) -> None:
    for text in ('"', '"unbalanced', "a\"b'c", "100%", "x_y", "*", "NEAR(a b)", "a OR b", "-", "^中"):
        response = httpx.get(f"{hub_server.url}/api/models", params={"search": text}, timeout=60)
        assert response.status_code == 200, text
    assert indexed["model"] not in found(hub_server, "%")


def test_the_index_follows_the_card(hub_server: Any, indexed: dict[str, str]) -> None:
    api = HfApi(endpoint=hub_server.url, token=indexed["token"])
    repo_id = f"{indexed['model'].split('/')[0]}/{unique('changing')}"
    api.create_repo(repo_id)
    old, new = f"旧内容{secrets.token_hex(3)}", f"新内容{secrets.token_hex(3)}"
    api.upload_file(path_or_fileobj=f"# x\n\n{old}\n".encode(), path_in_repo="README.md", repo_id=repo_id)
    assert repo_id in found(hub_server, old)
    api.upload_file(path_or_fileobj=f"# x\n\n{new}\n".encode(), path_in_repo="README.md", repo_id=repo_id)
    assert repo_id not in found(hub_server, old) and repo_id in found(hub_server, new)
    api.create_branch(repo_id, branch="draft")
    draft = f"草稿{secrets.token_hex(3)}"
    api.upload_file(path_or_fileobj=f"# x\n\n{draft}\n".encode(), path_in_repo="README.md", repo_id=repo_id,
                    revision="draft")
    assert repo_id not in found(hub_server, draft)  # only the default branch is indexed
    api.delete_repo(repo_id)
    assert repo_id not in found(hub_server, new)


def test_the_migration_is_reversible_and_indexes_existing_cards(hub_server: Any, tmp_path: Any) -> None:
    from alembic import command
    from sqlalchemy import text

    from dazi.repos.listing import RepoQuery, list_repos

    with migrated_database(hub_server, tmp_path, "migrator") as (cfg, db, actor):
        commit_via_service(hub_server, db, actor, "migrator/m1", "# m1\n\n迁移之前写的卡片\n")
        command.downgrade(cfg, "0002")
        with db.read() as session:
            tables = set(session.connection().dialect.get_table_names(session.connection()))
        assert "repo_search" not in tables and "web_sessions" not in tables
        command.upgrade(cfg, "head")
        with db.read() as session:
            document = session.execute(text("SELECT document FROM repo_search")).scalar_one()
        assert "迁移之前写的卡片" in document
        with db.read() as session:
            rows, _ = list_repos(session, None, RepoQuery(repo_type="model", search=["之前写的"]))
        assert [r.name for r in rows] == ["m1"]


def commit_via_service(hub_server: Any, db: Any, actor: Any, repo_id: str, readme: str) -> None:
    """A README commit through ``commit_changes`` (what every upload path ends with), on another database."""
    from dazi.hub import Hub
    from dazi.uploads.operations import AddBytes, CommitHeader
    from dazi.uploads.services import commit_changes

    hub = Hub(settings=hub_server.settings, db=db, blobs=hub_server.hub.blobs, secret=b"test")
    commit_changes(hub, actor, "model", repo_id, "main", CommitHeader("card"), [AddBytes("README.md", readme.encode())])
