"""The stock modelscope 1.30 SDK (the generation before modelscope-hub) against the hub, from its own venv.

modelscope ≤1.37 builds every URL as ``https://`` + ``MODELSCOPE_DOMAIN`` (``snapshot_download`` takes no
endpoint), so these scripts talk to the TLS twin of the hub the way its users would configure it; one test
shows that an explicit ``HubApi(endpoint="http://…")`` works over plain HTTP too. The old SDK sends only
the ``m_session_id`` cookie (no Authorization header) and ``Range`` on every download.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from huggingface_hub import hf_hub_download

from tests.contract.modelscope.conftest import MiB, TlsHub, old_sdk_env, random_file, tree_hashes, write_files
from tests.support.ms_legacy import ms_env, run_old

pytestmark = [pytest.mark.contract, pytest.mark.legacy]


@pytest.fixture(scope="module")
def owner(hub_server: Any) -> Any:
    return hub_server.new_user("old")


def test_login_persists_the_session_cookie(tls_hub: TlsHub, owner: Any, bob: Any, hf_api: Any,
                                           tmp_path: Path) -> None:
    hf = type(hf_api)(endpoint=hf_api.endpoint, token=owner.write_token)
    hf.create_repo(f"{owner.name}/hidden", private=True)
    env = old_sdk_env(tls_hub, tmp_path / "home")
    login = run_old("""
        from modelscope.hub.api import HubApi, ModelScopeConfig
        git_token, cookies = HubApi().login(P["token"])
        emit({"git_token": git_token, "cookie": cookies.get("m_session_id"), "user": ModelScopeConfig.get_user_info()})
    """, env, {"token": owner.write_token})
    assert login == {"git_token": owner.write_token, "cookie": owner.write_token,
                     "user": [owner.name, owner.email]}
    later = """
        from modelscope.hub.api import HubApi
        api = HubApi()
        emit({"exists": attempt(api.get_model, P["repo"]), "check": api.repo_exists(P["repo"])})
    """
    params = {"repo": f"{owner.name}/hidden"}
    assert run_old(later, env, params) == {"exists": "ok", "check": True}  # a later process, by the cookie
    assert run_old(later, old_sdk_env(tls_hub, tmp_path / "anon"), params) == {"exists": "HTTPError", "check": False}
    other = old_sdk_env(tls_hub, tmp_path / "bob")
    run_old("from modelscope.hub.api import HubApi\nHubApi().login(P['token'])\nemit(1)", other,
            {"token": bob.write_token})
    assert run_old(later, other, params) == {"exists": "HTTPError", "check": False}
    bad = run_old("from modelscope.hub.api import HubApi\nemit(attempt(HubApi().login, 'not-a-token'))",
                  old_sdk_env(tls_hub, tmp_path / "bad"))
    assert bad == "HTTPError"


UPLOAD_AND_DOWNLOAD = """
    from modelscope.hub.api import HubApi
    from modelscope.hub.snapshot_download import snapshot_download
    from modelscope.hub.file_download import model_file_download
    api = HubApi()
    api.login(P["token"])
    repo = P["repo"]
    first = api.upload_folder(repo_id=repo, folder_path=P["folder"], commit_message="old upload")
    api.create_model_tag(repo, "v1")
    api.upload_file(path_or_fileobj=b'{"v": 2}', path_in_repo="config.json", repo_id=repo)
    out = {"commit": first.oid}
    out["full"] = snapshot_download(repo, cache_dir="c-full")
    out["tagged"] = snapshot_download(repo, revision="v1", allow_patterns=["*.json", "sub/*"], cache_dir="c-tag")
    out["single"] = model_file_download(repo, "config.json", cache_dir="c-one")
    out["files"] = sorted(f["Path"] for f in api.get_model_files(repo, recursive=True))
    out["revisions"] = api.get_model_branches_and_tags(repo)
    out["listed"] = [m["Name"] for m in api.list_models(P["owner"])["Models"]]
    out["info"] = {k: api.get_model(repo)[k] for k in ("Path", "Name", "Visibility", "License")}
    emit(out)
"""


def test_upload_folder_with_a_200_mb_file_and_download(tls_hub: TlsHub, owner: Any, hf_api: Any,
                                                       tmp_path: Path) -> None:
    folder = write_files(tmp_path / "src", {"README.md": b"# old sdk\n", "config.json": b'{"v": 1}',
                                            "sub/x.txt": b"y" * 70_000, "w.bin": os.urandom(5000)})
    big_sha = random_file(folder / "big.safetensors", 200 * MiB)
    env = old_sdk_env(tls_hub, tmp_path / "home")
    repo = f"{owner.name}/old-upload"
    out = run_old(UPLOAD_AND_DOWNLOAD, env, {"token": owner.write_token, "repo": repo, "folder": str(folder),
                                             "owner": owner.name}, timeout=600)
    home = Path(env["HOME"])
    full = tree_hashes(home / out["full"])
    assert full["big.safetensors"] == big_sha
    assert full == {**tree_hashes(folder), "config.json": full["config.json"]}
    assert (home / out["full"] / "config.json").read_bytes() == b'{"v": 2}'
    tagged = tree_hashes(home / out["tagged"])
    assert set(tagged) == {"config.json", "sub/x.txt"}
    assert (home / out["tagged"] / "config.json").read_bytes() == b'{"v": 1}'
    assert Path(home / out["single"]).read_bytes() == b'{"v": 2}'
    assert out["files"] == ["README.md", "big.safetensors", "config.json", "sub", "sub/x.txt", "w.bin"]
    assert out["revisions"] == [["master"], ["v1"]]
    assert "old-upload" in out["listed"]
    assert out["info"] == {"Path": owner.name, "Name": "old-upload", "Visibility": 5, "License": ""}
    # The same commits through the Hugging Face protocol.
    commits = hf_api.list_repo_commits(repo)
    assert out["commit"] in {c.commit_id for c in commits}
    assert [c.title for c in commits][-2:] == ["old upload (batch 1/1)", "initial commit"]
    x = hf_hub_download(repo, "sub/x.txt", revision=out["commit"], cache_dir=tmp_path / "hf", token=False)
    assert Path(x).read_bytes() == b"y" * 70_000


def test_plain_http_with_an_explicit_endpoint(hub_server: Any, owner: Any, tmp_path: Path) -> None:
    out = run_old("""
        from modelscope.hub.api import HubApi
        api = HubApi(endpoint=P["url"])
        api.login(P["token"])
        url = api.create_model(P["repo"], visibility=1, license="Apache License 2.0", chinese_name="旧模型")
        api.upload_file(path_or_fileobj=b"plain http", path_in_repo="p.txt", repo_id=P["repo"])
        info = api.get_model(P["repo"])
        emit({"url": url, "files": [f["Path"] for f in api.get_model_files(P["repo"])],
              "info": [info["Visibility"], info["License"], info["ChineseName"]],
              "again": attempt(api.create_model, P["repo"])})
    """, ms_env(tmp_path / "home"), {"url": hub_server.url, "token": owner.write_token, "repo": f"{owner.name}/plain"})
    assert out == {"url": f"{hub_server.url}/models/{owner.name}/plain", "files": ["README.md", "p.txt"],
                   "info": [1, "apache-2.0", "旧模型"], "again": "HTTPError"}


def test_huggingface_upload_then_old_sdk_download(tls_hub: TlsHub, hf_api: Any, alice: Any, tmp_path: Path) -> None:
    repo_id = f"{alice.name}/hf-to-old"
    hf_api.create_repo(repo_id)
    folder = write_files(tmp_path / "src", {"a.txt": b"from hf", "deep/w.safetensors": os.urandom(30_000)})
    hf_api.upload_folder(folder_path=folder, repo_id=repo_id)
    out = run_old("""
        from modelscope.hub.snapshot_download import snapshot_download
        emit(snapshot_download(P["repo"], cache_dir="c"))
    """, old_sdk_env(tls_hub, tmp_path / "home"), {"repo": repo_id})
    got = tree_hashes(tmp_path / "home" / out)
    assert got == tree_hashes(folder)  # the old SDK skips .gitattributes and .gitignore


def test_datasets_and_read_tokens(tls_hub: TlsHub, owner: Any, tmp_path: Path) -> None:
    folder = write_files(tmp_path / "d", {"train.csv": b"a,b\n1,2\n", "data/more.jsonl": b'{"a": 1}\n'})
    env = old_sdk_env(tls_hub, tmp_path / "home")
    out = run_old("""
        from modelscope.hub.api import HubApi
        api = HubApi()
        api.login(P["token"])
        url = api.create_dataset("tables", P["owner"], license="Apache License 2.0", description="Old tables.")
        api.upload_folder(repo_id=P["owner"] + "/tables", folder_path=P["folder"], repo_type="dataset")
        hub_id, kind = api.get_dataset_id_and_type("tables", P["owner"])
        out = {"url": url, "id": hub_id, "type": kind, "again": attempt(api.create_dataset, "tables", P["owner"])}
        try:
            import datasets  # the old SDK's dataset listing needs it (modelscope[datasets])
        except ImportError:
            out["download"] = None
        else:
            from modelscope.hub.snapshot_download import dataset_snapshot_download
            out["download"] = dataset_snapshot_download(P["owner"] + "/tables", cache_dir="c")
        api.login(P["read_token"])
        out["read_upload"] = attempt(api.upload_file, path_or_fileobj=b"x", path_in_repo="x.txt",
                                     repo_id=P["owner"] + "/tables", repo_type="dataset")
        emit(out)
    """, env, {"token": owner.write_token, "read_token": owner.read_token, "owner": owner.name,
               "folder": str(folder)})
    assert out["url"].endswith(f"/datasets/{owner.name}/tables")
    assert isinstance(out["id"], int) and out["type"] == 4
    assert out["again"] == "HTTPError"
    assert out["read_upload"] in ("HTTPError", "ValueError")
    if out["download"] is None:
        pytest.skip("dataset_snapshot_download of modelscope 1.30 needs the `datasets` package in .venv-ms130")
    assert tree_hashes(folder).items() <= tree_hashes(Path(env["HOME"]) / out["download"]).items()


def test_old_msdataset_load_reads_csv_and_jsonl(tls_hub: TlsHub, owner: Any, hf_api: Any, tmp_path: Path) -> None:
    """``MsDataset.load`` of modelscope 1.30 (with its ``datasets`` extra) reads hub CSV and JSONL datasets."""
    hf = type(hf_api)(endpoint=hf_api.endpoint, token=owner.write_token)
    for name, files in (
        ("ms-csv", {"train.csv": b"text,label\nhello,1\nworld,0\n"}),
        ("ms-jsonl", {"train.jsonl": '{"text": "你好", "label": 1}\n{"text": "bye", "label": 0}\n'.encode()}),
    ):
        hf.create_repo(f"{owner.name}/{name}", repo_type="dataset")
        hf.upload_folder(folder_path=write_files(tmp_path / name, files), repo_id=f"{owner.name}/{name}",
                         repo_type="dataset")
    out = run_old("""
        from modelscope.msdatasets import MsDataset
        emit({name: [dict(row) for row in MsDataset.load(name, namespace=P["owner"], split="train",
                                                        cache_dir="c")]
              for name in ("ms-csv", "ms-jsonl")})
    """, old_sdk_env(tls_hub, tmp_path / "home"), {"owner": owner.name})
    assert out["ms-csv"] == [{"text": "hello", "label": 1}, {"text": "world", "label": 0}]
    assert out["ms-jsonl"] == [{"text": "你好", "label": 1}, {"text": "bye", "label": 0}]
