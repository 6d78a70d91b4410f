"""Model cards, listings and counters through the stock client and raw HTTP: README front matter →
``cardData``/tags, ``list_models``/``list_datasets`` search, filter, sort and ``Link`` pagination,
``/api/validate-yaml``, broken cards, download counting, date formats and ``/revision/main``."""

from __future__ import annotations

import base64
import datetime as dt
import json
import re
import secrets
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from huggingface_hub import HfApi, hf_hub_download
from sqlalchemy import update

pytestmark = pytest.mark.contract

HEX40 = re.compile(r"^[0-9a-f]{40}$")
HF_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$")
LINK_NEXT = re.compile(r'<([^>]+)>;\s*rel="next"')
TIMEOUT = 60.0

CARD = """---
license: mit
pipeline_tag: text-classification
tags:
- sentiment
- demo
language:
- en
- fr
datasets:
- someone/imdb-reviews
base_model: base-org/base-model
library_name: transformers
---

# Sentiment demo

A small model that classifies reviews.
"""


# -- helpers ---------------------------------------------------------------------------------------


def unique(prefix: str) -> str:
    return f"{prefix}-{secrets.token_hex(3)}"


def bearer(token: str | None) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"} if token else {}


def api_for(hub_server: Any, token: str | None) -> HfApi:
    return HfApi(endpoint=hub_server.url, token=token if token else False)


def next_link(response: httpx.Response) -> str | None:
    header = response.headers.get("link")
    if not header:
        return None
    match = LINK_NEXT.search(header)
    return match.group(1) if match else None


def set_likes(hub_server: Any, repo_id: str, likes: int) -> None:
    from dazi.repos.models import Repo

    with hub_server.hub.db.write() as session:
        session.execute(update(Repo).where(Repo.repo_id_lower == repo_id.lower()).values(likes=likes))


def ndjson_commit(hub_server: Any, token: str, repo_id: str, files: dict[str, bytes], summary: str) -> httpx.Response:
    lines = [{"key": "header", "value": {"summary": summary, "description": ""}}]
    lines += [
        {"key": "file", "value": {"path": p, "content": base64.b64encode(c).decode(), "encoding": "base64"}}
        for p, c in files.items()
    ]
    body = b"".join(json.dumps(line).encode() + b"\n" for line in lines)
    return httpx.post(
        f"{hub_server.url}/api/models/{repo_id}/commit/main",
        content=body,
        timeout=TIMEOUT,
        headers={**bearer(token), "Content-Type": "application/x-ndjson"},
    )


def model_with_card(hf_api: HfApi, repo_id: str, card: str = CARD, **files: bytes) -> str:
    hf_api.create_repo(repo_id, exist_ok=True)
    from huggingface_hub import CommitOperationAdd

    ops = [CommitOperationAdd("README.md", card.encode())]
    ops += [CommitOperationAdd(name.replace("__", "."), data) for name, data in files.items()]
    return hf_api.create_commit(repo_id, ops, commit_message="card").oid


# -- cards ------------------------------------------------------------------------------------------


def test_card_front_matter_becomes_card_data_and_tags(hf_api: HfApi, alice: Any, hub_server: Any) -> None:
    repo_id = f"{alice.name}/{unique('card')}"
    model_with_card(hf_api, repo_id, config__json=b'{"model_type": "bert"}')
    info = hf_api.model_info(repo_id)
    card = info.card_data
    assert card is not None
    assert card.license == "mit"
    assert card.pipeline_tag == "text-classification"
    assert card.tags == ["sentiment", "demo"]
    assert card.language == ["en", "fr"]
    assert card.datasets == ["someone/imdb-reviews"]
    assert card.base_model == "base-org/base-model"
    assert card.library_name == "transformers"
    assert info.pipeline_tag == "text-classification"
    assert info.library_name == "transformers"
    tags = set(info.tags or [])
    for expected in (
        "license:mit",
        "sentiment",
        "demo",
        "en",
        "fr",
        "transformers",
        "text-classification",
        "dataset:someone/imdb-reviews",
        "base_model:base-org/base-model",
    ):
        assert expected in tags, expected

    # the card follows the default branch: a new README replaces the metadata
    hf_api.upload_file(
        path_or_fileobj=b"---\nlicense: apache-2.0\n---\nplain\n", path_in_repo="README.md", repo_id=repo_id
    )
    info = hf_api.model_info(repo_id)
    assert info.card_data is not None and info.card_data.license == "apache-2.0"
    assert info.card_data.tags is None
    assert info.pipeline_tag is None
    assert "license:apache-2.0" in (info.tags or []) and "license:mit" not in (info.tags or [])

    # and removing the README clears it
    hf_api.delete_file("README.md", repo_id)
    info = hf_api.model_info(repo_id)
    assert not [t for t in info.tags or [] if t.startswith("license:")]
    raw = httpx.get(f"{hub_server.url}/api/models/{repo_id}", timeout=TIMEOUT).json()
    assert raw["cardData"] == {}


def test_card_with_crlf_line_endings(hf_api: HfApi, alice: Any, hub_server: Any) -> None:
    """A README saved on Windows: the stock client's own parser (``ModelCard``) reads this front matter."""
    from huggingface_hub import ModelCard

    readme = "---\r\nlicense: mit\r\ntags:\r\n- crlf\r\n---\r\n# Title\r\n\r\nBody.\r\n"
    assert ModelCard(readme).data.to_dict() == {"license": "mit", "tags": ["crlf"]}  # type: ignore[no-untyped-call]
    repo_id = f"{alice.name}/{unique('crlf')}"
    hf_api.create_repo(repo_id)
    hf_api.upload_file(path_or_fileobj=readme.encode(), path_in_repo="README.md", repo_id=repo_id)
    raw = httpx.get(f"{hub_server.url}/api/models/{repo_id}", timeout=TIMEOUT).json()
    assert raw["cardData"] == {"license": "mit", "tags": ["crlf"]}
    assert {"license:mit", "crlf"} <= set(raw["tags"])
    bad = httpx.post(
        f"{hub_server.url}/api/validate-yaml",
        timeout=TIMEOUT,
        json={"content": "---\r\nlicense: [mit\r\n---\r\n", "repoType": "model"},
    )
    assert bad.status_code == 400


def test_card_values_stay_json(hf_api: HfApi, alice: Any, hub_server: Any) -> None:
    repo_id = f"{alice.name}/{unique('cardtypes')}"
    hf_api.create_repo(repo_id)
    readme = (
        "---\nlicense: mit\ndate: 2024-01-02\nnumbers: [1, 2.5, true, null]\nnested: {a: {b: [x]}}\n"
        "model-index:\n- name: demo\n  results: []\n---\n# x\n"
    )
    hf_api.upload_file(path_or_fileobj=readme.encode(), path_in_repo="README.md", repo_id=repo_id)
    raw = httpx.get(f"{hub_server.url}/api/models/{repo_id}", timeout=TIMEOUT)
    assert raw.status_code == 200
    card = raw.json()["cardData"]
    assert card["date"] == "2024-01-02"
    assert card["numbers"] == [1, 2.5, True, None]
    assert card["nested"] == {"a": {"b": ["x"]}}
    info = hf_api.model_info(repo_id)
    assert info.card_data is not None and info.card_data.license == "mit"
    assert next(iter(hf_api.list_models(author=alice.name, cardData=True))).card_data.license == "mit"  # type: ignore[union-attr]


def test_card_on_a_branch_does_not_change_main_metadata(hf_api: HfApi, alice: Any) -> None:
    repo_id = f"{alice.name}/{unique('cardbranch')}"
    model_with_card(hf_api, repo_id)
    hf_api.create_branch(repo_id, branch="dev")
    hf_api.upload_file(
        path_or_fileobj=b"---\nlicense: gpl-3.0\n---\n", path_in_repo="README.md", repo_id=repo_id, revision="dev"
    )
    info = hf_api.model_info(repo_id)
    assert info.card_data is not None and info.card_data.license == "mit"
    assert repo_id in {m.id for m in hf_api.list_models(author=alice.name, filter="license:mit")}
    assert repo_id not in {m.id for m in hf_api.list_models(author=alice.name, filter="license:gpl-3.0")}


def test_dataset_card(hf_api: HfApi, alice: Any) -> None:
    repo_id = f"{alice.name}/{unique('dscard')}"
    hf_api.create_repo(repo_id, repo_type="dataset")
    readme = (
        "---\nlicense: cc-by-sa-4.0\nlanguage: [de]\ntask_categories: [text-classification]\n"
        "pretty_name: Reviews\n---\n# Reviews\n\nGerman reviews.\n"
    )
    hf_api.upload_file(path_or_fileobj=readme.encode(), path_in_repo="README.md", repo_id=repo_id, repo_type="dataset")
    info = hf_api.dataset_info(repo_id)
    assert info.card_data is not None
    assert info.card_data.license == "cc-by-sa-4.0"
    assert info.card_data.pretty_name == "Reviews"
    tags = set(info.tags or [])
    assert {"license:cc-by-sa-4.0", "language:de", "task_categories:text-classification"} <= tags
    found = list(hf_api.list_datasets(author=alice.name, filter="license:cc-by-sa-4.0"))
    assert [d.id for d in found] == [repo_id]


# -- validate-yaml and broken cards -------------------------------------------------------------------


def test_validate_yaml(hub_server: Any, alice: Any) -> None:
    url = f"{hub_server.url}/api/validate-yaml"
    ok = httpx.post(
        url, json={"content": CARD, "repoType": "model"}, headers=bearer(alice.write_token), timeout=TIMEOUT
    )
    assert ok.status_code == 200
    assert ok.json()["errors"] == []
    assert isinstance(ok.json().get("warnings", []), list)
    no_front = httpx.post(url, json={"content": "# just markdown\n", "repoType": "model"}, timeout=TIMEOUT)
    assert no_front.status_code == 200 and no_front.json()["errors"] == []

    for broken in (
        "---\nlicense: [mit\n---\n# x\n",
        "---\nkey: : value: [\n\tbad\n---\n",
        "---\n- just\n- a list\n---\n",
    ):
        bad = httpx.post(
            url, json={"content": broken, "repoType": "model"}, headers=bearer(alice.write_token), timeout=TIMEOUT
        )
        assert bad.status_code == 400, broken
        errors = bad.json()["errors"]
        assert errors and isinstance(errors[0]["message"], str) and errors[0]["message"], broken

    typed = httpx.post(
        url, json={"content": "---\nlicense: 5\npipeline_tag: [a, b]\n---\n", "repoType": "model"}, timeout=TIMEOUT
    )
    assert typed.status_code == 200  # wrong types are warnings, not errors
    assert typed.json()["errors"] == []
    assert len(typed.json()["warnings"]) == 2
    assert all(isinstance(w["message"], str) and w["message"] for w in typed.json()["warnings"])
    dataset = httpx.post(url, json={"content": "---\nlicense: mit\n---\n", "repoType": "dataset"}, timeout=TIMEOUT)
    assert dataset.status_code == 200 and dataset.json()["errors"] == []

    missing = httpx.post(url, json={"repoType": "model"}, timeout=TIMEOUT)
    assert missing.status_code == 400
    assert missing.json()["errors"][0]["message"]


def test_client_refuses_broken_card_but_server_commit_still_works(
    hf_api: HfApi, alice: Any, hub_server: Any, tmp_path: Path
) -> None:
    repo_id = f"{alice.name}/{unique('broken')}"
    model_with_card(hf_api, repo_id)
    broken = b"---\nlicense: [mit\npipeline_tag: x\n---\n# Broken card\n"
    with pytest.raises(ValueError, match=r"Invalid metadata in README\.md"):
        hf_api.upload_file(path_or_fileobj=broken, path_in_repo="README.md", repo_id=repo_id)

    # the stock client validates first; another client may skip it: the commit must still succeed
    r = ndjson_commit(
        hub_server, alice.write_token, repo_id, {"README.md": broken, "config.json": b"{}"}, "broken card"
    )
    assert r.status_code == 200, r.text
    commit = r.json()["commitOid"]
    assert HEX40.match(commit)
    info = hf_api.model_info(repo_id)
    assert info.sha == commit
    assert {s.rfilename for s in info.siblings or []} == {".gitattributes", "README.md", "config.json"}
    assert info.card_data is None or info.card_data.to_dict() == {}  # type: ignore[no-untyped-call]
    assert not [t for t in info.tags or [] if t.startswith("license:")]
    raw = httpx.get(f"{hub_server.url}/api/models/{repo_id}", timeout=TIMEOUT).json()
    assert raw["cardData"] == {}
    path = hf_hub_download(repo_id, "README.md", cache_dir=tmp_path, token=False)
    assert Path(path).read_bytes() == broken
    assert repo_id in {m.id for m in hf_api.list_models(author=alice.name, cardData=True)}
    assert hf_api.list_repo_commits(repo_id)[0].title == "broken card"
    # and a later valid card repairs the metadata
    hf_api.upload_file(path_or_fileobj=b"---\nlicense: mit\n---\n", path_in_repo="README.md", repo_id=repo_id)
    assert hf_api.model_info(repo_id).card_data.license == "mit"  # type: ignore[union-attr]


# -- list_models ------------------------------------------------------------------------------------


def test_list_models_search_author_filter_and_sort(hf_api: HfApi, alice: Any, bob: Any, hub_server: Any) -> None:
    marker = secrets.token_hex(4)
    ids = [f"{alice.name}/m{i}-{marker}" for i in range(4)]
    mit = "---\nlicense: mit\n---\n"
    apache = "---\nlicense: apache-2.0\n---\n"
    model_with_card(hf_api, ids[0], mit, config__json=b"{}")
    model_with_card(hf_api, ids[1], apache, config__json=b"{}")
    model_with_card(hf_api, ids[2], mit, config__json=b"{}")
    hf_api.create_repo(ids[3])
    bob_id = f"{bob.name}/other-{marker}"
    api_for(hub_server, bob.write_token).create_repo(bob_id)
    anonymous = api_for(hub_server, None)

    # search is a case-insensitive substring of the id; author is exact
    assert {m.id for m in anonymous.list_models(search=marker)} == {*ids, bob_id}
    assert {m.id for m in anonymous.list_models(search=marker.upper())} == {*ids, bob_id}
    assert {m.id for m in anonymous.list_models(search=f"m1-{marker}")} == {ids[1]}
    assert {m.id for m in anonymous.list_models(author=alice.name)} == set(ids)
    assert {m.id for m in anonymous.list_models(author=bob.name)} == {bob_id}
    assert {m.id for m in anonymous.list_models(author=alice.name, search="m2")} == {ids[2]}
    assert list(anonymous.list_models(author=f"{alice.name}-nobody")) == []
    # filter by tag, several filters are ANDed
    assert {m.id for m in anonymous.list_models(author=alice.name, filter=["license:mit"])} == {ids[0], ids[2]}
    assert {m.id for m in anonymous.list_models(author=alice.name, filter="license:apache-2.0")} == {ids[1]}
    assert list(anonymous.list_models(author=alice.name, filter=["license:mit", "license:apache-2.0"])) == []
    assert list(anonymous.list_models(search=marker, filter="license:nope")) == []

    # sort (descending); created_at: newest first
    by_created = [m.id for m in anonymous.list_models(author=alice.name, sort="created_at")]
    assert by_created == ids[::-1]
    # last_modified: a new commit moves a repo to the front
    hf_api.upload_file(path_or_fileobj=b"touch", path_in_repo="touch.txt", repo_id=ids[0])
    assert next(m.id for m in anonymous.list_models(author=alice.name, sort="last_modified")) == ids[0]
    # downloads: counted by config.json fetches
    for _ in range(3):
        assert httpx.get(f"{hub_server.url}/{ids[1]}/resolve/main/config.json", timeout=TIMEOUT).status_code == 200
    assert httpx.get(f"{hub_server.url}/{ids[2]}/resolve/main/config.json", timeout=TIMEOUT).status_code == 200
    by_downloads = list(anonymous.list_models(author=alice.name, sort="downloads"))
    assert [m.id for m in by_downloads][:2] == [ids[1], ids[2]]
    assert [m.downloads for m in by_downloads][:2] == [3, 1]
    # likes
    set_likes(hub_server, ids[3], 7)
    set_likes(hub_server, ids[0], 2)
    by_likes = list(anonymous.list_models(author=alice.name, sort="likes"))
    assert [m.id for m in by_likes][:2] == [ids[3], ids[0]]
    assert [m.likes for m in by_likes][:2] == [7, 2]
    assert next(m.id for m in anonymous.list_models(author=alice.name, sort="trending_score")) == ids[3]

    # limit caps the number of items the client yields
    limited = list(anonymous.list_models(author=alice.name, sort="created_at", limit=2))
    assert [m.id for m in limited] == ids[::-1][:2]
    assert len(list(anonymous.list_models(search=marker, limit=1))) == 1

    # items are shaped like repo info
    item = next(iter(anonymous.list_models(search=f"m0-{marker}")))
    assert item.id == ids[0]
    assert item.author == alice.name
    assert item.private is False
    assert item.created_at is not None and item.last_modified is not None
    assert "license:mit" in (item.tags or [])
    assert item.siblings is None and item.card_data is None  # only with full / cardData


def test_list_models_search_is_literal_and_client_filter_params(hf_api: HfApi, alice: Any) -> None:
    marker = secrets.token_hex(4)
    under, other = f"{alice.name}/x_y-{marker}", f"{alice.name}/xzy-{marker}"
    hf_api.create_repo(under)
    hf_api.create_repo(other)
    assert [m.id for m in hf_api.list_models(search=f"x_y-{marker}")] == [under]  # '_' is not a wildcard
    assert list(hf_api.list_models(search=f"x%-{marker}")) == []  # '%' neither
    assert {m.id for m in hf_api.list_models(search=f"-{marker}")} == {under, other}
    card = f"{alice.name}/{unique('params')}"
    model_with_card(hf_api, card)
    # the client turns these keyword arguments into query parameters / filters
    assert [m.id for m in hf_api.list_models(author=alice.name, pipeline_tag="text-classification")] == [card]
    assert [m.id for m in hf_api.list_models(author=alice.name, trained_dataset="someone/imdb-reviews")] == [card]
    assert [m.id for m in hf_api.list_models(author=alice.name, filter="base_model:base-org/base-model")] == [card]
    assert list(hf_api.list_models(author=alice.name, pipeline_tag="image-classification")) == []


def test_list_models_full_and_card_data(hf_api: HfApi, alice: Any) -> None:
    repo_id = f"{alice.name}/{unique('full')}"
    commit = model_with_card(hf_api, repo_id, config__json=b"{}")
    full = next(iter(hf_api.list_models(author=alice.name, full=True)))
    assert full.id == repo_id
    assert full.sha == commit
    assert {s.rfilename for s in full.siblings or []} == {".gitattributes", "README.md", "config.json"}
    assert full.card_data is not None and full.card_data.license == "mit"
    with_card = next(iter(hf_api.list_models(author=alice.name, cardData=True)))
    assert with_card.card_data is not None
    assert with_card.card_data.license == "mit"
    assert with_card.card_data.base_model == "base-org/base-model"
    assert with_card.card_data.tags == ["sentiment", "demo"]
    assert with_card.pipeline_tag == "text-classification"
    assert with_card.library_name == "transformers"


def test_list_datasets(hf_api: HfApi, alice: Any, hub_server: Any) -> None:
    marker = secrets.token_hex(4)
    ds = [f"{alice.name}/ds{i}-{marker}" for i in range(2)]
    for repo_id in ds:
        hf_api.create_repo(repo_id, repo_type="dataset")
    hf_api.upload_file(path_or_fileobj=b"a,b\n1,2\n", path_in_repo="data.csv", repo_id=ds[1], repo_type="dataset")
    model_id = f"{alice.name}/model-{marker}"
    hf_api.create_repo(model_id)
    anonymous = api_for(hub_server, None)
    assert {d.id for d in anonymous.list_datasets(author=alice.name)} == set(ds)
    assert {d.id for d in anonymous.list_datasets(search=marker)} == set(ds)
    assert {m.id for m in anonymous.list_models(search=marker)} == {model_id}
    assert [d.id for d in anonymous.list_datasets(author=alice.name, sort="created_at")] == ds[::-1]
    full = {d.id: d for d in anonymous.list_datasets(author=alice.name, full=True)}
    assert {s.rfilename for s in full[ds[1]].siblings or []} == {".gitattributes", "data.csv"}
    assert HEX40.match(full[ds[1]].sha or "")
    assert "format:csv" in (full[ds[1]].tags or [])
    assert {d.id for d in anonymous.list_datasets(author=alice.name, filter="format:csv")} == {ds[1]}
    raw = httpx.get(f"{hub_server.url}/api/datasets", params={"search": marker}, timeout=TIMEOUT)
    assert raw.status_code == 200
    assert {item["id"] for item in raw.json()} == set(ds)


def test_private_repos_in_listings(hf_api: HfApi, alice: Any, bob: Any, hub_server: Any) -> None:
    marker = secrets.token_hex(4)
    public, private = f"{alice.name}/pub-{marker}", f"{alice.name}/priv-{marker}"
    hf_api.create_repo(public)
    hf_api.create_repo(private, private=True)
    assert {m.id for m in hf_api.list_models(search=marker)} == {public, private}
    assert {m.id for m in api_for(hub_server, None).list_models(search=marker)} == {public}
    assert {m.id for m in api_for(hub_server, bob.write_token).list_models(search=marker)} == {public}
    assert {m.id for m in api_for(hub_server, alice.read_token).list_models(search=marker)} == {public, private}
    assert next(iter(hf_api.list_models(search=f"priv-{marker}"))).private is True


# -- pagination ----------------------------------------------------------------------------------------


def test_link_pagination_raw(hf_api: HfApi, alice: Any, hub_server: Any) -> None:
    ids = [f"{alice.name}/{unique(f'page{i}')}" for i in range(5)]
    for repo_id in ids:
        hf_api.create_repo(repo_id)
    url: str | None = f"{hub_server.url}/api/models?author={alice.name}&limit=2&sort=createdAt"
    pages: list[list[str]] = []
    while url is not None:
        r = httpx.get(url, timeout=TIMEOUT)
        assert r.status_code == 200, r.text
        pages.append([item["id"] for item in r.json()])
        url = next_link(r)
        if url is not None:
            assert url.startswith(f"{hub_server.url}/api/models?"), url  # absolute, same endpoint
            query = parse_qs(urlsplit(url).query)
            assert query["author"] == [alice.name] and query["limit"] == ["2"] and query["sort"] == ["createdAt"]
        assert len(pages) <= 5, "pagination does not end"
    assert [len(p) for p in pages] == [2, 2, 1]
    seen = [i for p in pages for i in p]
    assert seen == ids[::-1]  # newest first, no duplicates, nothing missed

    # the stock client iterates everything (one page of up to page_size items)
    assert {m.id for m in hf_api.list_models(author=alice.name)} == set(ids)
    assert len(list(hf_api.list_models(author=alice.name))) == 5


def test_link_pagination_keeps_repeated_parameters(hf_api: HfApi, alice: Any, hub_server: Any) -> None:
    ids = []
    for i in range(3):
        repo_id = f"{alice.name}/{unique(f'rep{i}')}"
        model_with_card(hf_api, repo_id, "---\nlicense: mit\ntags: [a, b]\n---\n")
        ids.append(repo_id)
    model_with_card(hf_api, f"{alice.name}/{unique('repx')}", "---\nlicense: mit\ntags: [a]\n---\n")
    url: str | None = (
        f"{hub_server.url}/api/models?author={alice.name}&filter=license%3Amit&filter=b&limit=1&search=rep"
    )
    seen = []
    while url is not None:
        r = httpx.get(url, timeout=TIMEOUT)
        assert r.status_code == 200
        seen += [item["id"] for item in r.json()]
        url = next_link(r)
        if url is not None:
            assert parse_qs(urlsplit(url).query)["filter"] == ["license:mit", "b"]
        assert len(seen) <= 10
    assert seen == ids[::-1]


def test_client_follows_link_pages(hf_api: HfApi, alice: Any, hub_server: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    ids = [f"{alice.name}/{unique(f'cp{i}')}" for i in range(5)]
    for repo_id in ids:
        hf_api.create_repo(repo_id, repo_type="dataset")
        hf_api.create_repo(repo_id)
    monkeypatch.setattr(hub_server.hub.settings, "page_size", 2)
    r = httpx.get(f"{hub_server.url}/api/models", params={"author": alice.name}, timeout=TIMEOUT)
    assert len(r.json()) == 2 and next_link(r) is not None
    models = [m.id for m in hf_api.list_models(author=alice.name, sort="created_at")]
    assert models == ids[::-1]
    datasets = [d.id for d in hf_api.list_datasets(author=alice.name)]
    assert sorted(datasets) == sorted(ids) and len(datasets) == 5
    # tree and commits page too
    hf_api.upload_file(path_or_fileobj=b"1", path_in_repo="a.txt", repo_id=ids[0])
    hf_api.upload_file(path_or_fileobj=b"2", path_in_repo="b.txt", repo_id=ids[0])
    hf_api.upload_file(path_or_fileobj=b"3", path_in_repo="c.txt", repo_id=ids[0])
    assert sorted(hf_api.list_repo_files(ids[0])) == [".gitattributes", "a.txt", "b.txt", "c.txt"]
    assert len(hf_api.list_repo_commits(ids[0])) == 4
    # ... also under a quoted sub-path on a branch whose name holds a slash
    from huggingface_hub import CommitOperationAdd

    hf_api.create_branch(ids[1], branch="feat/x")
    hf_api.create_commit(
        ids[1],
        [CommitOperationAdd(f"sub dir/deep/f{i}.txt", b"x") for i in range(5)],
        commit_message="five",
        revision="feat/x",
    )
    raw = httpx.get(f"{hub_server.url}/api/models/{ids[1]}/tree/feat%2Fx/sub%20dir%2Fdeep", timeout=TIMEOUT)
    link = next_link(raw)
    assert link is not None and link.startswith(f"{hub_server.url}/api/models/{ids[1]}/tree/feat%2Fx/sub%20dir%2Fdeep?")
    assert sorted(e.path for e in hf_api.list_repo_tree(ids[1], "sub dir/deep", revision="feat/x")) == [
        f"sub dir/deep/f{i}.txt" for i in range(5)
    ]
    assert len(list(hf_api.list_repo_tree(ids[1], "sub dir", recursive=True, revision="feat/x"))) == 6
    assert [c.title for c in hf_api.list_repo_commits(ids[1], revision="feat/x")] == ["five", "initial commit"]


# -- download counting ----------------------------------------------------------------------------------


def test_download_counting(hf_api: HfApi, alice: Any, hub_server: Any, tmp_path: Path) -> None:
    repo_id = f"{alice.name}/{unique('counted')}"
    hf_api.create_repo(repo_id)
    hf_api.upload_file(
        path_or_fileobj=b'{"model_type": "gpt2", "n_layer": 2}', path_in_repo="config.json", repo_id=repo_id
    )
    hf_api.upload_file(path_or_fileobj=b"# card\n", path_in_repo="README.md", repo_id=repo_id)
    info = hf_api.model_info(repo_id)
    assert info.downloads == 0
    assert info.downloads_all_time in (None, 0)

    hf_hub_download(repo_id, "config.json", cache_dir=tmp_path / "a", token=False)
    hf_hub_download(repo_id, "config.json", cache_dir=tmp_path / "b", token=False)
    info = hf_api.model_info(repo_id)
    assert info.downloads == 2
    if info.downloads_all_time is not None:
        assert info.downloads_all_time == 2

    url = f"{hub_server.url}/{repo_id}/resolve/main/config.json"
    assert httpx.head(url, timeout=TIMEOUT).status_code == 200  # metadata only
    partial = httpx.get(url, headers={"Range": "bytes=5-"}, timeout=TIMEOUT)  # a resumed read
    assert partial.status_code == 206
    assert partial.content == b'{"model_type": "gpt2", "n_layer": 2}'[5:]
    assert httpx.get(url, headers={"Range": "bytes=10-12"}, timeout=TIMEOUT).status_code == 206
    readme = httpx.get(f"{hub_server.url}/{repo_id}/resolve/main/README.md", timeout=TIMEOUT)  # not a download
    assert readme.status_code == 200
    assert hf_api.model_info(repo_id).downloads == 2

    assert httpx.get(url, timeout=TIMEOUT).status_code == 200
    info = hf_api.model_info(repo_id)
    assert info.downloads == 3
    if info.downloads_all_time is not None:
        assert info.downloads_all_time == 3
    listed = next(iter(hf_api.list_models(search=repo_id.split("/")[1])))
    assert listed.downloads == 3


def test_dataset_download_counting(hf_api: HfApi, alice: Any, hub_server: Any) -> None:
    repo_id = f"{alice.name}/{unique('dscount')}"
    hf_api.create_repo(repo_id, repo_type="dataset")
    hf_api.upload_file(path_or_fileobj=b"a,b\n1,2\n", path_in_repo="data/x.csv", repo_id=repo_id, repo_type="dataset")
    hf_api.upload_file(path_or_fileobj=b"# card\n", path_in_repo="README.md", repo_id=repo_id, repo_type="dataset")
    base = f"{hub_server.url}/datasets/{repo_id}/resolve/main"
    for path in ("README.md", ".gitattributes"):  # not data
        assert httpx.get(f"{base}/{path}", timeout=TIMEOUT).status_code == 200
    assert hf_api.dataset_info(repo_id).downloads == 0
    for _ in range(2):
        assert httpx.get(f"{base}/data/x.csv", timeout=TIMEOUT).status_code == 200
    assert httpx.get(f"{base}/data/x.csv", headers={"Range": "bytes=3-"}, timeout=TIMEOUT).status_code == 206
    assert hf_api.dataset_info(repo_id).downloads == 2


# -- dates and revision endpoint ------------------------------------------------------------------------


def test_dates_end_in_z_and_revision_main(hf_api: HfApi, alice: Any, hub_server: Any) -> None:
    repo_id = f"{alice.name}/{unique('dates')}"
    hf_api.create_repo(repo_id)
    commit = hf_api.upload_file(path_or_fileobj=b"{}", path_in_repo="config.json", repo_id=repo_id).oid
    for url in (f"{hub_server.url}/api/models/{repo_id}", f"{hub_server.url}/api/models/{repo_id}/revision/main"):
        raw = httpx.get(url, timeout=TIMEOUT)
        assert raw.status_code == 200
        body = raw.json()
        assert HF_DATE.match(body["lastModified"]), body["lastModified"]
        assert HF_DATE.match(body["createdAt"]), body["createdAt"]
        assert body["lastModified"] >= body["createdAt"]
        assert body["id"] == repo_id
        assert HEX40.match(body["sha"])
        assert body["sha"] == commit
        assert isinstance(body["siblings"], list)
        assert "xetEnabled" not in body or body["xetEnabled"] is False
    listed = httpx.get(f"{hub_server.url}/api/models", params={"author": alice.name}, timeout=TIMEOUT).json()
    assert listed and all(HF_DATE.match(i["lastModified"]) and HF_DATE.match(i["createdAt"]) for i in listed)
    refs = hf_api.list_repo_refs(repo_id)
    main = httpx.get(f"{hub_server.url}/api/models/{repo_id}/revision/main", timeout=TIMEOUT).json()
    assert main["sha"] == {b.name: b.target_commit for b in refs.branches}["main"]
    info = hf_api.model_info(repo_id)
    assert info.created_at is not None and info.last_modified is not None
    assert info.created_at.tzinfo is not None
    now = dt.datetime.now(dt.UTC)
    assert abs((now - info.created_at).total_seconds()) < 600  # really UTC, not local time labelled Z
    assert abs((now - info.last_modified).total_seconds()) < 600
    assert info.last_modified >= info.created_at
    missing = httpx.get(f"{hub_server.url}/api/models/{repo_id}/revision/nope", timeout=TIMEOUT)
    assert missing.status_code == 404
    assert missing.headers["x-error-code"] == "RevisionNotFound"
