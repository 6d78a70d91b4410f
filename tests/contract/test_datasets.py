"""Stock ``datasets.load_dataset`` against the hub on loopback: CSV, JSON Lines and Parquet repos, privacy.

Repos are built with ``HfApi`` (repo_type="dataset"), each with a README carrying YAML front matter, and read
back with ``load_dataset(f"{ns}/{name}")``; ``HF_ENDPOINT`` was set by conftest before ``datasets`` was imported.
"""

from __future__ import annotations

import csv
import io
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.network import loopback_lookups, missing_ml_extra

os.environ.pop("HF_DATASETS_OFFLINE", None)  # datasets reads it on import

try:
    import datasets
    import pyarrow as pa
    import pyarrow.parquet as pq
except ImportError as exc:  # pragma: no cover - depends on the installed extras
    missing_ml_extra(exc, "datasets, pyarrow")

from huggingface_hub import CommitOperationAdd, HfApi
from huggingface_hub.errors import RepositoryNotFoundError

pytestmark = [pytest.mark.contract, pytest.mark.ml]

# Look-ups that stock datasets 5.x makes on its own, whatever the hub: both are best-effort, their errors are
# swallowed, and the guard below refuses them so nothing leaves the machine.
#  - load.increase_load_count(): HEAD https://s3.amazonaws.com/datasets.huggingface.co/... (a download counter,
#    hard-wired; only HF_UPDATE_DOWNLOAD_COUNTS=0 before import turns it off);
#  - _dataset_viewer.get_exported_dataset_infos(): GET <HF_ENDPOINT with "datasets-server." prefixed to the
#    host>/info?dataset=..., i.e. http://datasets-server.127.0.0.1:PORT here, a name that cannot resolve.
CLIENT_SIDE_LOOKUPS = {"s3.amazonaws.com", "datasets-server.127.0.0.1"}

TRAIN = [{"id": i, "text": f"row number {i}, with a comma", "label": i % 3, "score": i / 4} for i in range(25)]
TEST = [{"id": 100 + i, "text": f"held-out row {i}", "label": (i + 1) % 3, "score": -i / 2} for i in range(7)]


@pytest.fixture(autouse=True)
def loopback_only(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Nothing may go to huggingface.co (the two best-effort look-ups above are refused and tolerated)."""
    with loopback_lookups(monkeypatch, frozenset(CLIENT_SIDE_LOOKUPS)) as attempts:
        yield attempts


def readme(title: str, extra: str = "") -> bytes:
    return (f"---\nlicense: mit\nlanguage:\n- en\npretty_name: {title}\n{extra}---\n\n# {title}\n\n"
            "A tiny dataset for the dazi contract tests.\n").encode()


def csv_bytes(rows: list[dict[str, Any]]) -> bytes:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue().encode()


def jsonl_bytes(rows: list[dict[str, Any]]) -> bytes:
    return "".join(json.dumps(row) + "\n" for row in rows).encode()


def parquet_bytes(rows: list[dict[str, Any]]) -> bytes:
    sink = io.BytesIO()
    pq.write_table(pa.Table.from_pylist(rows), sink)
    return sink.getvalue()


def make_dataset_repo(api: HfApi, repo_id: str, files: dict[str, bytes], *, private: bool = False) -> str:
    api.create_repo(repo_id, repo_type="dataset", private=private)
    ops = [CommitOperationAdd(path, data) for path, data in files.items()]
    return api.create_commit(repo_id, ops, commit_message="add data", repo_type="dataset").oid


def load(repo_id: str, token: str | bool | None, cache: Path, **kwargs: Any) -> Any:
    return datasets.load_dataset(repo_id, token=token, cache_dir=str(cache), **kwargs)


def test_datasets_reads_hf_endpoint(hub_server) -> None:  # type: ignore[no-untyped-def]
    endpoint = datasets.config.HF_ENDPOINT
    assert endpoint == hub_server.url
    assert not datasets.config.HF_HUB_OFFLINE


def test_csv_dataset_with_train_and_test(hub_server, alice, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    api = HfApi(endpoint=hub_server.url, token=alice.write_token)
    repo_id = f"{alice.name}/csv-data"
    make_dataset_repo(api, repo_id, {"README.md": readme("CSV data"), "train.csv": csv_bytes(TRAIN),
                                     "test.csv": csv_bytes(TEST)})

    ds = load(repo_id, alice.read_token, tmp_path / "cache")
    assert sorted(ds) == ["test", "train"]
    for split, rows in (("train", TRAIN), ("test", TEST)):
        assert ds[split].column_names == ["id", "text", "label", "score"]
        assert ds[split].num_rows == len(rows)
        assert ds[split].to_list() == rows
    assert ds["train"].features["id"].dtype == "int64"
    assert ds["train"].features["score"].dtype == "float64"
    assert ds["train"].features["text"].dtype in ("string", "large_string")


def test_jsonl_dataset_in_a_data_folder(hub_server, alice, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    rows = [{"id": i, "text": f"line {i} \u00e9\u4e2d", "tags": [f"t{j}" for j in range(i % 4)],
             "meta": {"ok": i % 2 == 0, "n": i * 10}} for i in range(30)]
    api = HfApi(endpoint=hub_server.url, token=alice.write_token)
    repo_id = f"{alice.name}/jsonl-data"
    make_dataset_repo(api, repo_id, {"README.md": readme("JSONL data"), "data/train.jsonl": jsonl_bytes(rows)})

    ds = load(repo_id, alice.read_token, tmp_path / "cache")
    assert list(ds) == ["train"]
    assert ds["train"].column_names == ["id", "text", "tags", "meta"]
    assert ds["train"].to_list() == rows
    # Split selection on the same repo.
    assert load(repo_id, alice.read_token, tmp_path / "cache", split="train[:5]").to_list() == rows[:5]


def test_parquet_dataset_with_configs(hub_server, alice, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    rows = [{"id": i, "text": f"parquet row {i}", "label": i % 2, "vector": [i * 0.5, -i * 0.25]}
            for i in range(40)]
    api = HfApi(endpoint=hub_server.url, token=alice.write_token)
    repo_id = f"{alice.name}/parquet-data"
    configs = ("configs:\n- config_name: default\n  data_files:\n  - split: train\n"
               "    path: data/train-*.parquet\n")
    make_dataset_repo(api, repo_id, {"README.md": readme("Parquet data", configs),
                                     "data/train-00000-of-00001.parquet": parquet_bytes(rows)})
    info = api.dataset_info(repo_id)
    assert info.card_data is not None and info.card_data.get("pretty_name") == "Parquet data"

    ds = load(repo_id, alice.read_token, tmp_path / "cache")
    assert list(ds) == ["train"]
    assert ds["train"].column_names == ["id", "text", "label", "vector"]
    assert ds["train"].to_list() == rows

    streamed = load(repo_id, alice.read_token, tmp_path / "stream", split="train", streaming=True)
    assert list(streamed) == rows


def test_dataset_at_a_revision(hub_server, alice, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    api = HfApi(endpoint=hub_server.url, token=alice.write_token)
    repo_id = f"{alice.name}/revised-data"
    first = make_dataset_repo(api, repo_id, {"README.md": readme("Revised"), "data/train.jsonl": jsonl_bytes(TRAIN)})
    api.create_tag(repo_id, tag="v1", repo_type="dataset")
    api.upload_file(path_or_fileobj=jsonl_bytes(TEST), path_in_repo="data/train.jsonl", repo_id=repo_id,
                    repo_type="dataset", commit_message="replace")

    assert load(repo_id, alice.read_token, tmp_path / "a", split="train").to_list() == TEST
    assert load(repo_id, alice.read_token, tmp_path / "b", split="train", revision="v1").to_list() == TRAIN
    assert load(repo_id, alice.read_token, tmp_path / "c", split="train", revision=first).to_list() == TRAIN


def test_private_dataset_needs_the_owners_token(hub_server, alice, bob, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    api = HfApi(endpoint=hub_server.url, token=alice.write_token)
    repo_id = f"{alice.name}/private-data"
    make_dataset_repo(api, repo_id, {"README.md": readme("Private"), "train.csv": csv_bytes(TRAIN)}, private=True)

    ds = load(repo_id, alice.read_token, tmp_path / "owner")
    assert ds["train"].to_list() == TRAIN

    for i, token in enumerate((bob.write_token, bob.read_token, False)):
        with pytest.raises((datasets.exceptions.DatasetNotFoundError, RepositoryNotFoundError)) as err:
            load(repo_id, token, tmp_path / f"other-{i}")
        assert "doesn't exist" in str(err.value) or "cannot be accessed" in str(err.value) or \
            isinstance(err.value, RepositoryNotFoundError)
