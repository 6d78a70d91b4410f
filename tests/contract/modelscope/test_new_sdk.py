"""The stock modelscope 1.40.2 SDK (over modelscope-hub 0.5.1), in-process, against the hub on loopback.

One repo is created and uploaded through ModelScope for the whole module (with one 200 MB file that
travels through the LFS batch + signed PUT path) and read back through both ModelScope and the Hugging
Face client; a second repo goes the other way.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.contract.modelscope.conftest import MiB, random_file, sha256_file, tree_hashes, write_files
from tests.support.network import loopback_lookups

pytestmark = pytest.mark.contract

BIG = 200 * MiB


@pytest.fixture(scope="module", autouse=True)
def endpoint(hub_server: Any) -> Iterator[None]:
    """How users point the SDK at a hub. Needed besides ``endpoint=``: 1.40.2's ``model_file_download``
    resolves its default revision with a bare ``HubApi()`` (the process-wide default configuration, which
    reads the environment once)."""
    from modelscope_hub.config import set_default_config

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MODELSCOPE_ENDPOINT", hub_server.url)
        set_default_config(None)
        yield
    set_default_config(None)


@pytest.fixture(scope="module")
def owner(hub_server: Any) -> Any:
    return hub_server.new_user("ms")


def hub_api(hub_server: Any, token: str | None) -> Any:
    from modelscope.hub.api import HubApi

    return HubApi(endpoint=hub_server.url, token=token)


@pytest.fixture(scope="module")
def published(hub_server: Any, owner: Any, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A model created with ModelScope metadata, then a folder upload (small files, one 200 MB file)."""
    api = hub_api(hub_server, owner.write_token)
    repo_id = f"{owner.name}/published"
    api.create_repo(repo_id, repo_type="model", license="Apache License 2.0", chinese_name="发布的模型",
                    description="A model published through ModelScope.", Tasks=["text-generation"])
    folder = tmp_path_factory.mktemp("published")
    write_files(folder, {
        "config.json": b'{"model_type": "llama"}',
        "sub/notes.txt": b"n" * 70_000,  # over 64 KiB: the new SDK sends it through LFS
        "model.safetensors": os.urandom(4096),
    })
    big_sha = random_file(folder / "weights/big.bin", BIG)
    result = api.upload_folder(repo_id=repo_id, folder_path=str(folder), commit_message="upload weights")
    return {"repo_id": repo_id, "folder": folder, "big_sha": big_sha, "commit": result["oid"], "api": api}


def test_created_repo_carries_the_modelscope_metadata(hub_server: Any, published: dict[str, Any], hf_api: Any) -> None:
    from modelscope_hub.errors import AlreadyExistsError

    api, repo_id = published["api"], published["repo_id"]
    info = api.get_model(repo_id)
    assert info["License"] == "apache-2.0"
    assert info["display_name"] == "发布的模型"
    assert info["Description"] == "A model published through ModelScope."
    assert info["tasks"] == ["text-generation"]
    assert info["Visibility"] == 5 and info["private"] is False
    with pytest.raises(AlreadyExistsError):
        api.create_repo(repo_id, repo_type="model")
    # The same repo through the Hugging Face protocol: the card is the initial README.md.
    card = hf_api.model_info(repo_id).card_data
    assert card["license"] == "apache-2.0" and card["tasks"] == ["text-generation"]
    assert card["chinese_name"] == "发布的模型"


def test_snapshot_download_matches_the_upload(hub_server: Any, published: dict[str, Any], tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    from modelscope import snapshot_download

    with loopback_lookups(monkeypatch):
        path = snapshot_download(published["repo_id"], cache_dir=str(tmp_path / "c"), endpoint=hub_server.url)
    got = tree_hashes(path)
    assert got["weights/big.bin"] == published["big_sha"]
    want = tree_hashes(published["folder"])
    assert {k: got[k] for k in want} == want
    assert {"README.md", ".gitattributes"} <= set(got)
    assert Path(path).parts[-2:] == ("snapshots", "master")


def test_files_revisions_tags_and_patterns(hub_server: Any, published: dict[str, Any], tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    with loopback_lookups(monkeypatch):
        _files_revisions_tags_and_patterns(hub_server, published, tmp_path)


def _files_revisions_tags_and_patterns(hub_server: Any, published: dict[str, Any], tmp_path: Path) -> None:
    from modelscope import snapshot_download
    from modelscope.hub.file_download import model_file_download

    api, repo_id = published["api"], published["repo_id"]
    files = {f["Path"]: f["Size"] for f in api.get_model_files(repo_id)}
    assert files["weights/big.bin"] == BIG and files["config.json"] == len(b'{"model_type": "llama"}')
    api.create_model_tag(repo_id, "v1.0")
    api.upload_file(repo_id=repo_id, path_or_fileobj=b'{"model_type": "qwen"}', path_in_repo="config.json",
                    commit_message="change config")
    branches, tags = api.get_model_branches_and_tags(repo_id)
    assert branches == ["master"] and tags == ["v1.0"]
    old = snapshot_download(repo_id, revision="v1.0", allow_patterns=["*.json"], cache_dir=str(tmp_path / "a"),
                            endpoint=hub_server.url)
    assert sorted(tree_hashes(old)) == ["config.json"]
    assert Path(old, "config.json").read_bytes() == b'{"model_type": "llama"}'
    new = model_file_download(repo_id, "config.json", cache_dir=str(tmp_path / "b"), endpoint=hub_server.url)
    assert Path(new).read_bytes() == b'{"model_type": "qwen"}'
    notes = model_file_download(repo_id, "sub/notes.txt", revision="v1.0", cache_dir=str(tmp_path / "b"),
                                endpoint=hub_server.url)
    assert sha256_file(notes) == sha256_file(published["folder"] / "sub/notes.txt")


def test_listings(hub_server: Any, published: dict[str, Any], owner: Any) -> None:
    api = published["api"]
    listed = api.list_models(owner.name)
    assert published["repo_id"] in {f"{m['Owner']}/{m['Name']}" for m in listed["Models"]}
    assert listed["TotalCount"] >= 1
    page = api.list_repos("model", owner=owner.name, search="publish")
    assert [r.repo_id for r in page.items] == [published["repo_id"]]


def test_uploads_are_hub_commits_seen_by_huggingface_hub(hub_server: Any, published: dict[str, Any],
                                                         owner: Any, tmp_path: Path) -> None:
    from huggingface_hub import HfApi, hf_hub_download

    hf = HfApi(endpoint=hub_server.url, token=owner.read_token)
    commits = hf.list_repo_commits(published["repo_id"])
    titles = [c.title for c in commits]
    assert "upload weights (batch 1/1)" in titles or "upload weights" in titles
    assert published["commit"] in {c.commit_id for c in commits}
    ms_commits = httpx.get(f"{hub_server.url}/api/v1/models/{published['repo_id']}/commits",
                           headers={"Authorization": f"Bearer {owner.read_token}"}).json()
    assert [c["Id"] for c in ms_commits["Data"]["Commit"]] == [c.commit_id for c in commits]
    for rel in ("sub/notes.txt", "model.safetensors"):
        path = hf_hub_download(published["repo_id"], rel, revision=published["commit"], cache_dir=tmp_path,
                               token=owner.read_token)
        assert sha256_file(path) == sha256_file(published["folder"] / rel)


def test_huggingface_upload_then_modelscope_download(hub_server: Any, hf_api: Any, alice: Any,
                                                     tmp_path: Path) -> None:
    from modelscope import snapshot_download

    repo_id = f"{alice.name}/from-hf"
    hf_api.create_repo(repo_id)
    folder = write_files(tmp_path / "src", {"a.txt": b"from hf", "w/model.safetensors": os.urandom(20_000)})
    commit = hf_api.upload_folder(folder_path=folder, repo_id=repo_id, commit_message="hf upload")
    path = snapshot_download(repo_id, cache_dir=str(tmp_path / "c"), endpoint=hub_server.url)
    assert tree_hashes(path) | tree_hashes(folder) == tree_hashes(path)
    files = hub_api(hub_server, None).get_model_files(repo_id)
    assert {f["Path"] for f in files} >= {"a.txt", "w/model.safetensors"}
    head = httpx.get(f"{hub_server.url}/api/v1/models/{repo_id}/repo/files?Revision=master&Recursive=True").json()
    assert {f["Revision"] for f in head["Data"]["Files"]} == {commit.oid}


def test_datasets(hub_server: Any, owner: Any, tmp_path: Path) -> None:
    from modelscope import dataset_snapshot_download
    from modelscope_hub.errors import AlreadyExistsError

    api = hub_api(hub_server, owner.write_token)
    repo_id = f"{owner.name}/table"
    api.create_repo(repo_id, repo_type="dataset", license="MIT", description="A table.")
    with pytest.raises(AlreadyExistsError):
        api.create_repo(repo_id, repo_type="dataset")
    folder = write_files(tmp_path / "d", {"train.csv": b"text,label\nhi,1\nho,0\n",
                                          "data/extra.jsonl": b'{"text": "x"}\n' * 3000})
    api.upload_folder(repo_id=repo_id, folder_path=str(folder), repo_type="dataset")
    path = dataset_snapshot_download(repo_id, cache_dir=str(tmp_path / "c"), endpoint=hub_server.url)
    assert tree_hashes(folder).items() <= tree_hashes(path).items()
    hub_id, kind = api.get_dataset_id_and_type(dataset_name="table", namespace=owner.name)
    assert isinstance(hub_id, int) and kind == 4
    listed = {f["Path"] for f in api.get_dataset_files(repo_id, dataset_hub_id=str(hub_id))}
    assert {"train.csv", "data", "data/extra.jsonl", "README.md"} <= listed
    assert api.get_repo(repo_id, "dataset").license == "mit"


def test_msdataset_load(hub_server: Any, owner: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``MsDataset.load`` reads a hub CSV dataset through the HF-``datasets`` bridge (type 4, "general").

    It needs modelscope's ``datasets`` extra (addict, oss2, … and ``datasets<=4.8.4``); the dev environment
    has ``datasets`` 5, whose ``as_dataset`` lost the ``verification_mode`` argument the bridge passes.
    """
    datasets = pytest.importorskip("datasets")
    pytest.importorskip("addict", reason="modelscope[datasets] extra not installed")
    if int(datasets.__version__.split(".")[0]) >= 5:
        pytest.skip("modelscope 1.40.2's datasets bridge needs datasets<=4.8.4")
    from modelscope.msdatasets import MsDataset

    api = hub_api(hub_server, owner.write_token)
    folder = write_files(tmp_path / "d", {"train.csv": b"text,label\nhello,1\nworld,0\n"})
    api.upload_folder(repo_id=f"{owner.name}/loadable", folder_path=str(folder), repo_type="dataset")
    monkeypatch.setenv("MODELSCOPE_ENDPOINT", hub_server.url)
    rows = list(MsDataset.load(f"{owner.name}/loadable", split="train", cache_dir=str(tmp_path / "c")))
    assert rows == [{"text": "hello", "label": 1}, {"text": "world", "label": 0}]


def test_private_and_internal_repos(hub_server: Any, owner: Any, bob: Any, tmp_path: Path) -> None:
    from modelscope import snapshot_download
    from modelscope_hub.errors import NotExistError
    from requests import HTTPError

    api = hub_api(hub_server, owner.write_token)
    for name, visibility in (("secret", "private"), ("inside", "internal")):
        api.create_repo(f"{owner.name}/{name}", repo_type="model", visibility=visibility)
        api.upload_file(repo_id=f"{owner.name}/{name}", path_or_fileobj=b"s3cret", path_in_repo="s.txt")
        assert api.get_model(f"{owner.name}/{name}")["Visibility"] == 1  # internal is stored as private
        for other in (hub_api(hub_server, None), hub_api(hub_server, bob.write_token)):
            with pytest.raises(NotExistError):
                other.get_model(f"{owner.name}/{name}")
    with pytest.raises(HTTPError):
        snapshot_download(f"{owner.name}/secret", cache_dir=str(tmp_path), endpoint=hub_server.url)
    got = snapshot_download(f"{owner.name}/secret", cache_dir=str(tmp_path), endpoint=hub_server.url,
                            token=owner.read_token)
    assert Path(got, "s.txt").read_bytes() == b"s3cret"
    anonymous = hub_api(hub_server, None).list_models(owner.name)["Models"]
    assert not {m["Name"] for m in anonymous} & {"secret", "inside"}


def test_read_token_cannot_write(hub_server: Any, owner: Any) -> None:
    from modelscope_hub.errors import PermissionDeniedError

    reader = hub_api(hub_server, owner.read_token)
    writer = hub_api(hub_server, owner.write_token)
    writer.create_repo(f"{owner.name}/guarded", repo_type="model")
    with pytest.raises(PermissionDeniedError):
        reader.upload_file(repo_id=f"{owner.name}/guarded", path_or_fileobj=b"x", path_in_repo="x.txt")
    with pytest.raises(PermissionDeniedError):
        reader.create_repo(f"{owner.name}/other", repo_type="model")
    assert [f["Path"] for f in reader.get_model_files(f"{owner.name}/guarded")] == [".gitattributes", "README.md"]


def test_upload_file_checksums(hub_server: Any, owner: Any, tmp_path: Path) -> None:
    """A file of 64 KiB + 1 goes the LFS way, a small one inline; both read back with their sha256."""
    api = hub_api(hub_server, owner.write_token)
    repo_id = f"{owner.name}/sums"
    data = os.urandom(64 * 1024 + 1)
    api.upload_file(repo_id=repo_id, path_or_fileobj=data, path_in_repo="blob.dat")
    api.upload_file(repo_id=repo_id, path_or_fileobj=b"tiny", path_in_repo="tiny.txt")
    files = httpx.get(f"{hub_server.url}/api/v1/models/{repo_id}/repo/files?Recursive=True").json()["Data"]["Files"]
    by_path = {f["Path"]: f for f in files}
    assert by_path["blob.dat"]["Sha256"] == hashlib.sha256(data).hexdigest() and by_path["blob.dat"]["IsLFS"]
    assert by_path["tiny.txt"]["Sha256"] == hashlib.sha256(b"tiny").hexdigest()
