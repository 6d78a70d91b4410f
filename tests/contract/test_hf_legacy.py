"""The older, requests-based huggingface_hub (0.36.2) against the hub on loopback.

0.36 predates the forced-Xet uploads of 1.20+: when the hub answers ``uploadMode: "lfs"`` in
preupload it negotiates the git-LFS batch API (offering ``xet`` too, since hf_xet is installed),
and the hub must answer ``transfer: "basic"``. Each test runs small scripts with the legacy venv's
Python (see tests/support/legacy.py) and checks the results, and the server's state, from here.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import httpx
import pytest

from tests.support.legacy import legacy_env, require_legacy, run_legacy_json

pytestmark = [pytest.mark.contract, pytest.mark.legacy]

MiB = 1024 * 1024

Legacy = Callable[..., Any]


# -- helpers ---------------------------------------------------------------------------------


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: str | Path) -> str:
    digest = hashlib.sha256()
    with Path(path).open("rb") as f:
        while chunk := f.read(4 * MiB):
            digest.update(chunk)
    return digest.hexdigest()


def git_blob_sha1(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data, usedforsecurity=False).hexdigest()


def write_files(root: Path, files: dict[str, bytes]) -> Path:
    for rel, data in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return root


def lfs_rows(hub_server: Any, repo_type: str, repo_id: str) -> dict[str, tuple[int, bool]]:
    """The repo's LFS claims on the server: ``{sha256: (size, committed)}``."""
    from sqlalchemy import select

    from dazi.repos.models import LfsObject, Repo

    with hub_server.hub.db.read() as session:
        repo = session.execute(
            select(Repo).where(Repo.type == repo_type, Repo.repo_id_lower == repo_id.lower())
        ).scalar_one()
        rows = session.execute(select(LfsObject).where(LfsObject.repo_id == repo.id)).scalars()
        return {row.oid: (int(row.size), bool(row.committed)) for row in rows}


def paths(requests: list[dict[str, Any]], method: str, needle: str) -> list[dict[str, Any]]:
    """The logged exchanges with this method whose (decoded) URL path contains ``needle``."""
    return [r for r in requests if r["method"] == method and needle in unquote(urlsplit(r["url"]).path)]


@pytest.fixture
def legacy(hub_server: Any, tmp_path: Path) -> Legacy:
    """``legacy(script, token=..., **params)``: run a script with the 0.36 client; its JSON result."""
    require_legacy()
    home = tmp_path / "legacy-home"

    def run(script: str, token: str | None = None, timeout: float = 300, **params: Any) -> Any:
        return run_legacy_json(script, legacy_env(hub_server.url, token, home), params=params, timeout=timeout)

    return run


# -- a repo uploaded once by the legacy client, read by several tests ---------------------------


@dataclass
class SharedRepo:
    repo_id: str
    owner: Any
    files: dict[str, bytes]
    commit: str


SHARED_FILES_SMALL = {
    "config.json": b'{"model_type": "llama", "hidden_size": 8}',
    "README.md": b"---\nlicense: mit\ntags:\n- legacy-contract\n---\n# Uploaded by huggingface_hub 0.36\n",
    "sub/notes.txt": b"nested\n",
}


@pytest.fixture(scope="module")
def shared_repo(hub_server: Any, tmp_path_factory: pytest.TempPathFactory) -> SharedRepo:
    require_legacy()
    owner = hub_server.new_user("carol")
    repo_id = f"{owner.name}/legacy-shared"
    files = dict(SHARED_FILES_SMALL)
    files["sub/deep/data.csv"] = b"".join(b"%d,%s\n" % (i, secrets.token_hex(8).encode()) for i in range(8000))
    files["weights.safetensors"] = os.urandom(64 * 1024)  # LFS by the default .gitattributes pattern
    files["big.dat"] = os.urandom(11 * MiB)  # LFS by size (no pattern matches .dat)
    tmp = tmp_path_factory.mktemp("legacy-shared")
    folder = write_files(tmp / "folder", files)
    out = run_legacy_json(
        """
        from huggingface_hub import HfApi
        api = HfApi()
        api.create_repo(P["repo"])
        info = api.upload_folder(folder_path=P["folder"], repo_id=P["repo"], commit_message="shared upload")
        emit({"commit": info.oid})
        """,
        legacy_env(hub_server.url, owner.write_token, tmp / "home"),
        params={"repo": repo_id, "folder": str(folder)},
    )
    return SharedRepo(repo_id, owner, files, out["commit"])


# -- account ----------------------------------------------------------------------------------


def test_legacy_whoami(legacy: Legacy, alice: Any) -> None:
    out = legacy(
        """
        import huggingface_hub, requests
        from huggingface_hub import HfApi
        api = HfApi()
        me = api.whoami()
        ro = api.whoami(token=P["read"])
        emit({"version": huggingface_hub.__version__,
              "session": type(huggingface_hub.utils.get_session()).__module__,
              "name": me["name"], "type": me["type"], "role": me["auth"]["accessToken"]["role"],
              "ro_name": ro["name"], "ro_role": ro["auth"]["accessToken"]["role"],
              "bad": attempt(api.whoami, token="hf_not_a_real_token"),
              "statuses": [r["status"] for r in REQUESTS]})
        """,
        token=alice.write_token,
        read=alice.read_token,
    )
    assert out["version"].startswith("0.36."), out["version"]
    assert out["session"].startswith("requests")
    assert (out["name"], out["type"], out["role"]) == (alice.name, "user", "write")
    assert (out["ro_name"], out["ro_role"]) == (alice.name, "read")
    assert out["bad"].endswith(":401"), out["bad"]  # 0.36 turns the 401 into "Invalid user token"
    assert out["statuses"] == [200, 200, 401]


# -- repo CRUD ----------------------------------------------------------------------------------


def test_legacy_create_repo_private_exist_ok(legacy: Legacy, hub_server: Any, alice: Any, bob: Any) -> None:
    repo_id = f"{alice.name}/private-things"
    out = legacy(
        """
        from huggingface_hub import HfApi
        api, other, anon = HfApi(), HfApi(token=P["bob"]), HfApi(token=False)
        out = {}
        for t in ("model", "dataset"):  # the same name under both types: two distinct repos
            url = api.create_repo(P["repo"], repo_type=t, private=True)
            again = api.create_repo(P["repo"], repo_type=t, private=True, exist_ok=True)
            info = api.repo_info(P["repo"], repo_type=t)
            out[t] = {
                "url": str(url), "url_repo_id": url.repo_id, "url_type": url.repo_type, "again": str(again),
                "conflict": attempt(api.create_repo, P["repo"], repo_type=t),
                "private": info.private, "sha": info.sha, "siblings": [s.rfilename for s in info.siblings],
                "exists": api.repo_exists(P["repo"], repo_type=t),
                "bob_exists": other.repo_exists(P["repo"], repo_type=t),
                "anon_exists": anon.repo_exists(P["repo"], repo_type=t),
                "bob_info": attempt(other.repo_info, P["repo"], repo_type=t),
                "anon_info": attempt(anon.repo_info, P["repo"], repo_type=t),
            }
        out["space"] = attempt(api.create_repo, P["repo"] + "-space", repo_type="space", space_sdk="gradio")
        emit(out)
        """,
        token=alice.write_token,
        repo=repo_id,
        bob=bob.write_token,
    )
    for repo_type, prefix in (("model", ""), ("dataset", "datasets/")):
        got = out[repo_type]
        assert got["url"] == got["again"] == f"{hub_server.url}/{prefix}{repo_id}"
        assert got["url_repo_id"] == repo_id
        assert got["url_type"] == repo_type
        assert got["conflict"] == "HfHubHTTPError:409"
        assert got["private"] is True
        assert len(got["sha"]) == 40 and all(c in "0123456789abcdef" for c in got["sha"])
        assert got["siblings"] == [".gitattributes"]
        assert (got["exists"], got["bob_exists"], got["anon_exists"]) == (True, False, False)
        assert got["bob_info"].startswith("RepositoryNotFoundError:")
        assert got["anon_info"].startswith("RepositoryNotFoundError:")
    assert not out["space"].startswith("ok")  # spaces are not supported: a clear error, not a crash


def test_legacy_visibility(legacy: Legacy, alice: Any, bob: Any, tmp_path: Path) -> None:
    repo_id = f"{alice.name}/flip"
    out = legacy(
        """
        from huggingface_hub import HfApi, hf_hub_download
        api, anon, other = HfApi(), HfApi(token=False), HfApi(token=P["bob"])
        r = P["repo"]
        out = {}
        api.create_repo(r, private=True)
        api.upload_file(path_or_fileobj=b"hello", path_in_repo="x.txt", repo_id=r)
        out["initial"] = [api.model_info(r).private, anon.repo_exists(r)]
        out["anon_download_private"] = attempt(hf_hub_download, r, "x.txt", token=False, cache_dir=P["cache"])
        out["visibility_answer"] = api.update_repo_visibility(r, private=False)  # 0.36 reads r.json()
        out["after_public"] = [api.model_info(r).private, anon.repo_exists(r), anon.model_info(r).private]
        out["anon_download"] = open(hf_hub_download(r, "x.txt", token=False, cache_dir=P["cache"])).read()
        out["bob_settings"] = attempt(other.update_repo_settings, r, private=True)
        out["settings_answer"] = api.update_repo_settings(r, private=True)
        out["after_private"] = [api.model_info(r).private, anon.repo_exists(r), other.repo_exists(r)]
        api.create_repo(r, repo_type="dataset")
        out["ds_initial"] = [api.dataset_info(r).private, anon.repo_exists(r, repo_type="dataset")]
        api.update_repo_settings(r, repo_type="dataset", private=True)
        out["ds_private"] = [api.dataset_info(r).private, anon.repo_exists(r, repo_type="dataset")]
        api.update_repo_visibility(r, private=False, repo_type="dataset")
        out["ds_public"] = [api.dataset_info(r).private, anon.repo_exists(r, repo_type="dataset")]
        out["model_still_private"] = api.model_info(r).private
        emit(out)
        """,
        token=alice.write_token,
        repo=repo_id,
        bob=bob.write_token,
        cache=str(tmp_path / "cache"),
    )
    assert out["initial"] == [True, False]
    assert out["anon_download_private"].startswith("RepositoryNotFoundError:"), out["anon_download_private"]
    assert isinstance(out["visibility_answer"], dict)
    assert out["visibility_answer"].get("private") is False
    assert out["after_public"] == [False, True, False]
    assert out["anon_download"] == "hello"
    assert out["bob_settings"] in ("HfHubHTTPError:403", "RepositoryNotFoundError:404"), out["bob_settings"]
    assert out["settings_answer"] is None  # 0.36's update_repo_settings returns nothing
    assert out["after_private"] == [True, False, False]
    assert out["ds_initial"] == [False, True]
    assert out["ds_private"] == [True, False]
    assert out["ds_public"] == [False, True]
    assert out["model_still_private"] is True


# -- uploads through the LFS batch API -------------------------------------------------------------


UPLOAD_SCRIPT = """
from huggingface_hub import HfApi, hf_hub_download
api = HfApi()
r = P["repo"]
logs = {}
api.create_repo(r)
mark = len(REQUESTS)
api.upload_file(path_or_fileobj=b"small bytes\\n", path_in_repo="small.txt", repo_id=r, commit_message="small")
logs["small"] = REQUESTS[mark:]
mark = len(REQUESTS)
c_big = api.upload_file(path_or_fileobj=P["big"], path_in_repo="weights/big.dat", repo_id=r, commit_message="big")
logs["big"] = REQUESTS[mark:]
mark = len(REQUESTS)
c_folder = api.upload_folder(folder_path=P["folder"], repo_id=r, commit_message="folder")
logs["folder"] = REQUESTS[mark:]
mark = len(REQUESTS)
api.upload_file(path_or_fileobj=P["big"], path_in_repo="copy/big-again.dat", repo_id=r, commit_message="same bytes")
logs["again"] = REQUESTS[mark:]
info = api.model_info(r, files_metadata=True)
siblings = {s.rfilename: {"size": s.size, "blob_id": s.blob_id,
                          "lfs": None if s.lfs is None else {"sha256": s.lfs.sha256, "size": s.lfs.size,
                                                             "pointer_size": s.lfs.pointer_size}}
            for s in info.siblings}
downloads = {name: hf_hub_download(r, name, cache_dir=P["cache"]) for name in siblings}
gitattributes = open(downloads[".gitattributes"]).read()

ds = P["repo"]
api.create_repo(ds, repo_type="dataset")
mark = len(REQUESTS)
api.upload_folder(folder_path=P["ds_folder"], repo_id=ds, repo_type="dataset", commit_message="data")
logs["dataset"] = REQUESTS[mark:]
ds_info = api.dataset_info(ds, files_metadata=True)
ds_siblings = {s.rfilename: None if s.lfs is None else {"sha256": s.lfs.sha256, "size": s.lfs.size}
               for s in ds_info.siblings}
ds_downloads = {name: hf_hub_download(ds, name, repo_type="dataset", cache_dir=P["cache"]) for name in ds_siblings}
emit({"logs": logs, "siblings": siblings, "downloads": downloads, "gitattributes": gitattributes,
      "ds_siblings": ds_siblings, "ds_downloads": ds_downloads, "big_commit": c_big.oid, "folder_commit": c_folder.oid})
"""


def test_legacy_upload_small_and_lfs(legacy: Legacy, hub_server: Any, alice: Any, tmp_path: Path) -> None:
    repo_id = f"{alice.name}/uploads"
    big = os.urandom(11 * MiB)
    (tmp_path / "big.dat").write_bytes(big)
    folder_files = {
        "config.json": b'{"model_type": "bert"}',
        "README.md": b"---\nlicense: apache-2.0\n---\n# Folder upload\n",
        "sub/notes.txt": b"nested\n",
        "tensors.safetensors": os.urandom(4096),  # LFS by pattern although small
        "large.dat": os.urandom(12 * MiB),  # LFS by size
    }
    ds_files = {
        "data/exact.dat": os.urandom(10 * MiB),  # exactly the 10 MiB threshold: LFS
        "data/almost.dat": os.urandom(10 * MiB - 1),  # one byte under: regular, inline in the commit
        "data/README.txt": b"about the data\n",
    }
    folder = write_files(tmp_path / "folder", folder_files)
    ds_folder = write_files(tmp_path / "ds", ds_files)
    out = legacy(UPLOAD_SCRIPT, token=alice.write_token, repo=repo_id, big=str(tmp_path / "big.dat"),
                 folder=str(folder), ds_folder=str(ds_folder), cache=str(tmp_path / "cache"))
    logs = out["logs"]
    batch = f"/{repo_id}.git/info/lfs/objects/batch"

    # A small file: preupload says regular, no LFS traffic, one commit.
    assert not paths(logs["small"], "POST", ".git/info/lfs")
    assert [r["status"] for r in paths(logs["small"], "POST", f"/api/models/{repo_id}/commit/main")] == [200]

    # The 11 MiB file: batch (200), one basic PUT to the signed URL (200), verify (200), then the commit.
    for key, n_objects in (("big", 1), ("folder", 2)):
        assert [r["status"] for r in paths(logs[key], "POST", batch)] == [200], logs[key]
        puts = paths(logs[key], "PUT", "/api/lfs/objects/")
        assert [r["status"] for r in puts] == [200] * n_objects, logs[key]
        assert [r["status"] for r in paths(logs[key], "POST", "/api/lfs/verify/")] == [200] * n_objects
        assert [r["status"] for r in paths(logs[key], "POST", f"/api/models/{repo_id}/commit/main")] == [200]
    # The same bytes again: the batch answers without actions, so nothing is PUT.
    assert [r["status"] for r in paths(logs["again"], "POST", batch)] == [200]
    assert not paths(logs["again"], "PUT", "/api/lfs/objects/")

    # The server holds committed claims for exactly the LFS objects.
    lfs_expected = {
        "weights/big.dat": big,
        "copy/big-again.dat": big,
        "tensors.safetensors": folder_files["tensors.safetensors"],
        "large.dat": folder_files["large.dat"],
    }
    rows = lfs_rows(hub_server, "model", repo_id)
    assert rows == {sha256_bytes(d): (len(d), True) for d in lfs_expected.values()}

    # model_info(files_metadata=True) lists them with lfs info; regular files without.
    siblings = out["siblings"]
    expected_content = {"small.txt": b"small bytes\n", **lfs_expected, **folder_files}
    assert set(siblings) == {".gitattributes", *expected_content}
    for name, data in expected_content.items():
        sib = siblings[name]
        assert sib["size"] == len(data), name
        if name in lfs_expected:
            assert sib["lfs"] is not None, name
            assert sib["lfs"]["sha256"] == sha256_bytes(data)
            assert sib["lfs"]["size"] == len(data)
            assert sib["lfs"]["pointer_size"] > 0
        else:
            assert sib["lfs"] is None, name
            assert sib["blob_id"] == git_blob_sha1(data)
        assert sha256_file(out["downloads"][name]) == sha256_bytes(data), name
    # Large files no pattern covers are tracked in .gitattributes, so a git clone smudges them.
    assert "large.dat filter=lfs" in out["gitattributes"]
    assert "weights/big.dat filter=lfs" in out["gitattributes"]

    # Dataset repos use the datasets/ prefix for the batch; the threshold is inclusive.
    ds_logs = out["logs"]["dataset"]
    assert [r["status"] for r in paths(ds_logs, "POST", f"/datasets/{repo_id}.git/info/lfs/objects/batch")] == [200]
    assert len(paths(ds_logs, "PUT", "/api/lfs/objects/")) == 1
    exact = ds_files["data/exact.dat"]
    assert lfs_rows(hub_server, "dataset", repo_id) == {sha256_bytes(exact): (len(exact), True)}
    assert out["ds_siblings"]["data/exact.dat"] == {"sha256": sha256_bytes(exact), "size": len(exact)}
    assert out["ds_siblings"]["data/almost.dat"] is None
    assert out["ds_siblings"]["data/README.txt"] is None
    for name, data in ds_files.items():
        assert sha256_file(out["ds_downloads"][name]) == sha256_bytes(data), name


@pytest.mark.slow
def test_legacy_upload_and_download_200mb(legacy: Legacy, hub_server: Any, alice: Any, tmp_path: Path) -> None:
    repo_id = f"{alice.name}/two-hundred"
    size = 200 * MiB
    folder = tmp_path / "folder"
    folder.mkdir()
    digest = hashlib.sha256()
    with (folder / "model-200m.dat").open("wb") as f:
        for _ in range(size // (8 * MiB)):
            chunk = os.urandom(8 * MiB)
            digest.update(chunk)
            f.write(chunk)
    (folder / "config.json").write_bytes(b'{"model_type": "big"}')
    expected = digest.hexdigest()
    out = legacy(
        """
        from huggingface_hub import HfApi, hf_hub_download
        api = HfApi()
        api.create_repo(P["repo"], private=True)
        commit = api.upload_folder(folder_path=P["folder"], repo_id=P["repo"], commit_message="200 MB")
        info = api.model_info(P["repo"], files_metadata=True)
        lfs = {s.rfilename: None if s.lfs is None else {"sha256": s.lfs.sha256, "size": s.lfs.size}
               for s in info.siblings}
        mark = len(REQUESTS)
        path = hf_hub_download(P["repo"], "model-200m.dat", cache_dir=P["cache"], token=P["read"])
        emit({"commit": commit.oid, "lfs": lfs, "path": path, "upload": REQUESTS[:mark], "download": REQUESTS[mark:]})
        """,
        token=alice.write_token,
        timeout=600,
        repo=repo_id,
        folder=str(folder),
        cache=str(tmp_path / "cache"),
        read=alice.read_token,
    )
    assert [r["status"] for r in paths(out["upload"], "POST", f"/{repo_id}.git/info/lfs/objects/batch")] == [200]
    assert [r["status"] for r in paths(out["upload"], "PUT", "/api/lfs/objects/")] == [200]
    assert lfs_rows(hub_server, "model", repo_id) == {expected: (size, True)}
    assert out["lfs"]["model-200m.dat"] == {"sha256": expected, "size": size}
    assert out["lfs"]["config.json"] is None
    gets = paths(out["download"], "GET", "/resolve/")
    assert [(r["status"], r["range"]) for r in gets] == [(200, None)]
    assert Path(out["path"]).stat().st_size == size
    assert sha256_file(out["path"]) == expected
    assert Path(out["path"]).resolve().name == expected  # cached under blobs/<sha256> (the X-Linked-Etag)


# -- commits -----------------------------------------------------------------------------------


def test_legacy_create_commit_additions_deletions_copies(legacy: Legacy, hub_server: Any, alice: Any,
                                                         tmp_path: Path) -> None:
    repo_id = f"{alice.name}/ops"
    weights_v1, weights_v2 = os.urandom(2048), os.urandom(3000)
    from_path = b"from a path\n" * 100
    (tmp_path / "d.txt").write_bytes(from_path)
    out = legacy(
        """
        import base64
        from huggingface_hub import HfApi, hf_hub_download, CommitOperationAdd, CommitOperationDelete
        from huggingface_hub import CommitOperationCopy
        api = HfApi()
        r = P["repo"]
        b = lambda k: base64.b64decode(P[k])
        api.create_repo(r)
        first = api.create_commit(r, [
            CommitOperationAdd("a/1.txt", b"1"), CommitOperationAdd("a/2.txt", b"2"),
            CommitOperationAdd("a/deeper/3.txt", b"3"), CommitOperationAdd("b.txt", b"b"),
            CommitOperationAdd("w.safetensors", b("w1")), CommitOperationAdd("d.txt", P["d_path"]),
        ], commit_message="add", commit_description="several files")
        files_1 = api.list_repo_files(r)
        second = api.create_commit(r, [
            CommitOperationDelete("a/"), CommitOperationDelete("b.txt"),
            CommitOperationAdd("b2.txt", b"new b"), CommitOperationAdd("w.safetensors", b("w2")),
            CommitOperationCopy("w.safetensors", "copies/w-v1.safetensors", src_revision=first.oid),
            CommitOperationCopy("d.txt", "copies/d.txt"),
        ], commit_message="delete, replace and copy", parent_commit=first.oid)
        files_2 = api.list_repo_files(r)
        stale = attempt(api.create_commit, r, [CommitOperationAdd("c.txt", b"c")], commit_message="stale",
                        parent_commit=first.oid)
        missing = attempt(api.delete_file, "missing.txt", r)
        missing_folder = attempt(api.delete_folder, "nope", r)
        commits = api.list_repo_commits(r)
        downloads = {n: hf_hub_download(r, n, cache_dir=P["cache"]) for n in files_2}
        old = hf_hub_download(r, "a/deeper/3.txt", revision=first.oid, cache_dir=P["cache"])
        emit({"first": first.oid, "first_url": first.commit_url, "second": second.oid, "files_1": files_1,
              "files_2": files_2, "stale": stale, "missing": missing, "missing_folder": missing_folder,
              "commits": [[c.commit_id, c.title, c.message] for c in commits], "downloads": downloads,
              "old": open(old).read(), "head": api.model_info(r).sha})
        """,
        token=alice.write_token,
        repo=repo_id,
        w1=_b64(weights_v1),
        w2=_b64(weights_v2),
        d_path=str(tmp_path / "d.txt"),
        cache=str(tmp_path / "cache"),
    )
    assert sorted(out["files_1"]) == sorted([".gitattributes", "a/1.txt", "a/2.txt", "a/deeper/3.txt", "b.txt",
                                             "w.safetensors", "d.txt"])
    assert out["first_url"] == f"{hub_server.url}/{repo_id}/commit/{out['first']}"
    expected = {"b2.txt": b"new b", "w.safetensors": weights_v2, "copies/w-v1.safetensors": weights_v1,
                "d.txt": from_path, "copies/d.txt": from_path}
    assert sorted(out["files_2"]) == sorted([".gitattributes", *expected])
    for name, data in expected.items():
        assert sha256_file(out["downloads"][name]) == sha256_bytes(data), name
    assert out["old"] == "3"
    assert out["stale"] == "HfHubHTTPError:412"
    assert out["missing"] == "EntryNotFoundError:404"
    assert out["missing_folder"] == "EntryNotFoundError:404"
    assert [c[1] for c in out["commits"]] == ["delete, replace and copy", "add", "initial commit"]
    assert out["commits"][1][0] == out["first"]
    assert out["commits"][1][2].strip() == "several files"
    assert out["commits"][0][0] == out["second"] == out["head"]
    rows = lfs_rows(hub_server, "model", repo_id)
    assert rows == {
        sha256_bytes(weights_v1): (len(weights_v1), True),
        sha256_bytes(weights_v2): (len(weights_v2), True),
    }


def _b64(data: bytes) -> str:
    import base64

    return base64.b64encode(data).decode()


# -- downloads ---------------------------------------------------------------------------------


def test_legacy_snapshot_download_patterns(legacy: Legacy, shared_repo: SharedRepo, tmp_path: Path) -> None:
    out = legacy(
        """
        import os
        from huggingface_hub import snapshot_download
        def listing(root):
            found = {}
            for base, dirs, files in os.walk(root):
                dirs[:] = [d for d in dirs if d != ".cache"]
                for f in files:
                    full = os.path.join(base, f)
                    found[os.path.relpath(full, root).replace(os.sep, "/")] = full
            return found
        a = snapshot_download(P["repo"], allow_patterns=["*.json", "sub/*"], cache_dir=P["cache"])
        b = snapshot_download(P["repo"], allow_patterns=["*.dat", "*.safetensors"], ignore_patterns=["*.json"],
                              cache_dir=P["cache"], token=P["read"])
        c = snapshot_download(P["repo"], revision=P["commit"], allow_patterns="README.md", local_dir=P["local"])
        full = snapshot_download(P["repo"], cache_dir=P["cache2"])
        emit({"a": [a, listing(a)], "b": [b, listing(b)], "c": [c, listing(c)], "full": listing(full)})
        """,
        token=None,
        repo=shared_repo.repo_id,
        commit=shared_repo.commit,
        read=shared_repo.owner.read_token,
        cache=str(tmp_path / "cache"),
        cache2=str(tmp_path / "cache2"),
        local=str(tmp_path / "local"),
    )
    files = shared_repo.files
    # One cache: both snapshots are the same commit folder, filled in two passes.
    assert out["a"][0] == out["b"][0]
    assert Path(out["a"][0]).name == shared_repo.commit
    first_pass = {"config.json", "sub/notes.txt", "sub/deep/data.csv"}  # fnmatch's * crosses "/"
    second_pass = {"big.dat", "weights.safetensors"}
    assert set(out["b"][1]) == first_pass | second_pass
    assert Path(out["c"][0]) == tmp_path / "local"
    assert set(out["c"][1]) == {"README.md"}
    assert set(out["full"]) == {".gitattributes", *files}
    for listing in (out["b"][1], out["c"][1], out["full"]):
        for name, path in listing.items():
            if name in files:
                assert sha256_file(path) == sha256_bytes(files[name]), name


def test_legacy_branches_tags_and_revisions(legacy: Legacy, hub_server: Any, alice: Any, tmp_path: Path) -> None:
    repo_id = f"{alice.name}/revisions"
    weights = os.urandom(5000)
    out = legacy(
        """
        import base64
        from huggingface_hub import HfApi, hf_hub_download, CommitOperationAdd
        api = HfApi()
        r = P["repo"]
        api.create_repo(r)
        c1 = api.create_commit(r, [CommitOperationAdd("model.txt", b"v1"),
                                   CommitOperationAdd("w.safetensors", base64.b64decode(P["w"]))],
                               commit_message="v1").oid
        api.create_tag(r, tag="v1.0", tag_message="first release")  # annotated, at main
        api.create_tag(r, tag="light", revision=c1)
        api.create_branch(r, branch="dev")
        api.create_branch(r, branch="feature/x", revision="v1.0")
        out = {
            "dup_branch": attempt(api.create_branch, r, branch="dev"),
            "dup_branch_ok": attempt(api.create_branch, r, branch="dev", exist_ok=True),
            "dup_tag": attempt(api.create_tag, r, tag="light"),
            "dup_tag_ok": attempt(api.create_tag, r, tag="light", exist_ok=True),
            "bad_rev_branch": attempt(api.create_branch, r, branch="x2", revision="does-not-exist"),
        }
        c_dev = api.upload_file(path_or_fileobj=b"dev", path_in_repo="model.txt", repo_id=r, revision="dev").oid
        c_feat = api.upload_file(path_or_fileobj=b"feature", path_in_repo="model.txt", repo_id=r,
                                 revision="feature/x").oid
        c2 = api.upload_file(path_or_fileobj=b"v2", path_in_repo="model.txt", repo_id=r).oid
        dl = lambda rev, name="model.txt": open(hf_hub_download(r, name, revision=rev, cache_dir=P["cache"]),
                                                 "rb").read().decode("latin-1")
        out["content"] = {rev: dl(rev) for rev in ("main", "v1.0", "light", "dev", "feature/x", c1, c1[:7])}
        out["weights_at_tag"] = hf_hub_download(r, "w.safetensors", revision="v1.0", cache_dir=P["cache"])
        out["missing_rev"] = attempt(hf_hub_download, r, "model.txt", revision="nope", cache_dir=P["cache"])
        out["missing_file"] = attempt(hf_hub_download, r, "nope.txt", revision="dev", cache_dir=P["cache"])
        refs = api.list_repo_refs(r)
        out["branches"] = {b.name: [b.ref, b.target_commit] for b in refs.branches}
        out["tags"] = {t.name: [t.ref, t.target_commit] for t in refs.tags}
        out["converts"] = list(refs.converts)
        out["commits_dev"] = [[c.commit_id, c.title] for c in api.list_repo_commits(r, revision="dev")]
        out["commits_main"] = [[c.commit_id, c.title] for c in api.list_repo_commits(r)]
        out["commits_tag"] = [c.commit_id for c in api.list_repo_commits(r, revision="v1.0")]
        out["files_feature"] = api.list_repo_files(r, revision="feature/x")
        out["info_dev"] = api.model_info(r, revision="dev").sha
        api.delete_tag(r, tag="light")
        api.delete_branch(r, branch="feature/x")
        out["delete_main"] = attempt(api.delete_branch, r, branch="main")
        after = api.list_repo_refs(r)
        out["after"] = [sorted(b.name for b in after.branches), sorted(t.name for t in after.tags)]
        out["ids"] = {"c1": c1, "c2": c2, "dev": c_dev, "feat": c_feat}
        emit(out)
        """,
        token=alice.write_token,
        repo=repo_id,
        w=_b64(weights),
        cache=str(tmp_path / "cache"),
    )
    ids = out["ids"]
    c1 = ids["c1"]
    assert out["dup_branch"] == "HfHubHTTPError:409"
    assert out["dup_branch_ok"] == "ok"
    assert out["dup_tag"] == "HfHubHTTPError:409"
    assert out["dup_tag_ok"] == "ok"
    assert out["bad_rev_branch"].startswith("RevisionNotFoundError:") or out["bad_rev_branch"].endswith(":404")
    assert out["content"] == {"main": "v2", "v1.0": "v1", "light": "v1", "dev": "dev", "feature/x": "feature",
                              c1: "v1", c1[:7]: "v1"}
    assert sha256_file(out["weights_at_tag"]) == sha256_bytes(weights)
    assert out["missing_rev"].startswith("RevisionNotFoundError:")
    assert out["missing_file"].startswith("EntryNotFoundError:")
    assert out["branches"] == {"main": ["refs/heads/main", ids["c2"]], "dev": ["refs/heads/dev", ids["dev"]],
                               "feature/x": ["refs/heads/feature/x", ids["feat"]]}
    # Tags name the commit, also the annotated one (peeled).
    assert out["tags"] == {"v1.0": ["refs/tags/v1.0", c1], "light": ["refs/tags/light", c1]}
    assert out["converts"] == []
    assert [t for _, t in out["commits_dev"]] == ["Upload model.txt with huggingface_hub", "v1", "initial commit"]
    assert out["commits_dev"][0][0] == ids["dev"] == out["info_dev"]
    assert [t for _, t in out["commits_main"]][:2] == ["Upload model.txt with huggingface_hub", "v1"]
    assert out["commits_main"][0][0] == ids["c2"]
    assert out["commits_tag"][0] == c1 and len(out["commits_tag"]) == 2
    assert sorted(out["files_feature"]) == [".gitattributes", "model.txt", "w.safetensors"]
    assert out["delete_main"] != "ok"
    assert out["after"] == [["dev", "main"], ["v1.0"]]


def test_legacy_listing_and_paths(legacy: Legacy, shared_repo: SharedRepo) -> None:
    out = legacy(
        """
        from huggingface_hub import HfApi
        from huggingface_hub.hf_api import RepoFile, RepoFolder
        api = HfApi()
        r = P["repo"]
        def entry(e):
            if isinstance(e, RepoFolder):
                return {"type": "directory", "path": e.path}
            return {"type": "file", "path": e.path, "size": e.size, "blob_id": e.blob_id,
                    "lfs": None if e.lfs is None else {"sha256": e.lfs.sha256, "size": e.lfs.size}}
        emit({
            "files": api.list_repo_files(r),
            "root": [entry(e) for e in api.list_repo_tree(r)],
            "sub": [entry(e) for e in api.list_repo_tree(r, path_in_repo="sub", recursive=True)],
            "all": [entry(e) for e in api.list_repo_tree(r, recursive=True, revision=P["commit"])],
            "missing_dir": attempt(lambda: list(api.list_repo_tree(r, path_in_repo="nowhere"))),
            "paths": [entry(e) for e in api.get_paths_info(r, ["config.json", "big.dat", "sub", "missing.txt"])],
            "file_exists": [api.file_exists(r, "config.json"), api.file_exists(r, "sub/deep/data.csv"),
                            api.file_exists(r, "big.dat", revision=P["commit"]), api.file_exists(r, "nope.txt"),
                            api.file_exists(r, "sub"), api.file_exists(r, "config.json", repo_type="dataset")],
            "repo_exists": [api.repo_exists(r), api.repo_exists(r, repo_type="dataset"),
                            api.repo_exists(r + "-nope"), HfApi(token=False).repo_exists(r)],
            "commits": [[c.commit_id, c.title, [a for a in c.authors]] for c in api.list_repo_commits(r)],
            "refs": {b.name: b.target_commit for b in api.list_repo_refs(r).branches},
        })
        """,
        token=shared_repo.owner.read_token,
        repo=shared_repo.repo_id,
        commit=shared_repo.commit,
    )
    files = shared_repo.files
    lfs_names = {"big.dat", "weights.safetensors"}
    assert sorted(out["files"]) == sorted([".gitattributes", *files])

    def check_file(e: dict[str, Any]) -> None:
        data = files[e["path"]]
        assert e["size"] == len(data), e["path"]
        if e["path"] in lfs_names:
            assert e["lfs"] == {"sha256": sha256_bytes(data), "size": len(data)}, e["path"]
        else:
            assert e["lfs"] is None, e["path"]
            assert e["blob_id"] == git_blob_sha1(data), e["path"]

    root = {e["path"]: e for e in out["root"]}
    assert set(root) == {".gitattributes", "config.json", "README.md", "weights.safetensors", "big.dat", "sub"}
    assert root["sub"]["type"] == "directory"
    for e in out["root"]:
        if e["type"] == "file" and e["path"] in files:
            check_file(e)
    sub = {e["path"]: e["type"] for e in out["sub"]}
    assert sub == {"sub/notes.txt": "file", "sub/deep": "directory", "sub/deep/data.csv": "file"}
    every = {e["path"]: e for e in out["all"]}
    assert {p for p, e in every.items() if e["type"] == "file"} == {".gitattributes", *files}
    for e in out["all"]:
        if e["type"] == "file" and e["path"] in files:
            check_file(e)
    assert out["missing_dir"] in ("ok", "EntryNotFoundError:404"), out["missing_dir"]
    got = {e["path"]: e for e in out["paths"]}
    assert set(got) == {"config.json", "big.dat", "sub"}
    assert got["sub"]["type"] == "directory"
    check_file(got["config.json"])
    check_file(got["big.dat"])
    assert out["file_exists"] == [True, True, True, False, False, False]
    assert out["repo_exists"] == [True, False, False, True]
    assert [c[1] for c in out["commits"]] == ["shared upload", "initial commit"]
    assert out["commits"][0][0] == shared_repo.commit
    assert out["commits"][0][2] == [shared_repo.owner.name]
    assert out["refs"] == {"main": shared_repo.commit}


def test_legacy_list_models(legacy: Legacy, hub_server: Any, alice: Any, bob: Any) -> None:
    marker = f"zq{secrets.token_hex(3)}"
    names = {"a1": f"{alice.name}/{marker}-one", "a2": f"{alice.name}/{marker}-two",
             "secret": f"{alice.name}/{marker}-secret", "b1": f"{bob.name}/{marker}-bob",
             "ds": f"{alice.name}/{marker}-data"}
    out = legacy(
        """
        from huggingface_hub import HfApi
        alice, bob, anon = HfApi(), HfApi(token=P["bob"]), HfApi(token=False)
        n = P["names"]
        alice.create_repo(n["a1"])
        alice.create_repo(n["a2"])
        alice.create_repo(n["secret"], private=True)
        bob.create_repo(n["b1"])
        alice.create_repo(n["ds"], repo_type="dataset")
        alice.upload_file(path_or_fileobj=b"touch", path_in_repo="t.txt", repo_id=n["a1"])  # newest change
        ids = lambda it: [m.id for m in it]
        m = P["marker"]
        emit({
            "search_alice": ids(alice.list_models(search=m)),
            "search_bob": ids(bob.list_models(search=m)),
            "search_anon": ids(anon.list_models(search=m)),
            "author": ids(anon.list_models(author=P["alice"])),
            "author_own": ids(alice.list_models(author=P["alice"])),
            "search_author": ids(alice.list_models(search=m + "-t", author=P["alice"])),
            "author_bob": ids(anon.list_models(author=P["bob_name"], search=m)),
            "sorted": ids(anon.list_models(search=m, sort="lastModified")),
            "limited": ids(anon.list_models(search=m, limit=1)),
            "datasets": ids(anon.list_datasets(author=P["alice"])),
            "nothing": ids(anon.list_models(search=m + "-absent")),
            "full": [[x.id, x.sha, sorted(s.rfilename for s in x.siblings)]
                     for x in anon.list_models(search=m + "-one", full=True)],
        })
        """,
        token=alice.write_token,
        names=names,
        marker=marker,
        bob=bob.write_token,
        alice=alice.name,
        bob_name=bob.name,
    )
    public_models = {names["a1"], names["a2"], names["b1"]}
    assert set(out["search_alice"]) == public_models | {names["secret"]}
    assert set(out["search_bob"]) == public_models
    assert set(out["search_anon"]) == public_models
    assert set(out["author"]) == {names["a1"], names["a2"]}
    assert set(out["author_own"]) == {names["a1"], names["a2"], names["secret"]}
    assert set(out["search_author"]) == {names["a2"]}
    assert out["author_bob"] == [names["b1"]]
    assert out["sorted"][0] == names["a1"] and set(out["sorted"]) == public_models
    assert len(out["limited"]) == 1 and out["limited"][0] in public_models
    assert out["datasets"] == [names["ds"]]
    assert out["nothing"] == []
    assert len(out["full"]) == 1
    full_id, full_sha, full_files = out["full"][0]
    assert full_id == names["a1"] and len(full_sha) == 40
    assert full_files == [".gitattributes", "t.txt"]


def test_legacy_move_and_delete_repo(legacy: Legacy, alice: Any, bob: Any, tmp_path: Path) -> None:
    payload = os.urandom(20000)
    out = legacy(
        """
        import base64
        from huggingface_hub import HfApi, hf_hub_download
        api, other = HfApi(), HfApi(token=P["bob"])
        src, dst, ds = P["src"], P["dst"], P["ds"]
        api.create_repo(src)
        api.upload_file(path_or_fileobj=base64.b64decode(P["payload"]), path_in_repo="w.safetensors", repo_id=src)
        api.create_repo(ds, repo_type="dataset")
        out = {
            "bob_move": attempt(other.move_repo, src, P["bob_name"] + "/stolen"),
            "bob_delete": attempt(other.delete_repo, src),
            "move_into_bob": attempt(api.move_repo, src, P["bob_name"] + "/gift"),
        }
        api.move_repo(src, dst)
        out["after_move"] = [api.repo_exists(src), api.repo_exists(dst), api.model_info(dst).id]
        out["download"] = hf_hub_download(dst, "w.safetensors", cache_dir=P["cache"])
        out["old_download"] = attempt(hf_hub_download, src, "w.safetensors", cache_dir=P["cache2"])
        api.move_repo(ds, ds + "-moved", repo_type="dataset")
        out["ds_move"] = [api.repo_exists(ds, repo_type="dataset"), api.repo_exists(ds + "-moved", repo_type="dataset")]
        api.delete_repo(dst)
        out["after_delete"] = [api.repo_exists(dst), attempt(api.model_info, dst)]
        out["delete_again"] = attempt(api.delete_repo, dst)
        out["delete_missing_ok"] = attempt(api.delete_repo, dst, missing_ok=True)
        api.delete_repo(ds + "-moved", repo_type="dataset")
        out["ds_deleted"] = api.repo_exists(ds + "-moved", repo_type="dataset")
        api.create_repo(dst)  # the name is free again, with a fresh history
        out["recreated"] = api.list_repo_files(dst)
        emit(out)
        """,
        token=alice.write_token,
        src=f"{alice.name}/before",
        dst=f"{alice.name}/after",
        ds=f"{alice.name}/dataset",
        bob=bob.write_token,
        bob_name=bob.name,
        payload=_b64(payload),
        cache=str(tmp_path / "cache"),
        cache2=str(tmp_path / "cache2"),
    )
    for key in ("bob_move", "bob_delete", "move_into_bob"):
        assert out[key] != "ok", key
        assert out[key].split(":")[1] in ("401", "403", "404"), (key, out[key])
    assert out["after_move"] == [False, True, f"{alice.name}/after"]
    assert sha256_file(out["download"]) == sha256_bytes(payload)
    assert out["old_download"].startswith("RepositoryNotFoundError:")
    assert out["ds_move"] == [False, True]
    assert out["after_delete"][0] is False
    assert out["after_delete"][1].startswith("RepositoryNotFoundError:")
    assert out["delete_again"].startswith("RepositoryNotFoundError:")
    assert out["delete_missing_ok"] == "ok"
    assert out["ds_deleted"] is False
    assert out["recreated"] == [".gitattributes"]


# -- resumed downloads -------------------------------------------------------------------------


def _cache_folder(cache: Path, repo_id: str) -> Path:
    return cache / ("models--" + repo_id.replace("/", "--"))


@pytest.mark.parametrize("name", ["big.dat", "sub/deep/data.csv"])
def test_legacy_resumes_partial_download(legacy: Legacy, shared_repo: SharedRepo, tmp_path: Path,
                                         name: str) -> None:
    """A download killed half-way leaves ``blobs/<etag>.incomplete``; the next call resumes with Range."""
    data = shared_repo.files[name]
    etag = sha256_bytes(data) if name == "big.dat" else git_blob_sha1(data)
    cache = tmp_path / "cache"
    blobs = _cache_folder(cache, shared_repo.repo_id) / "blobs"
    blobs.mkdir(parents=True)
    already = len(data) // 3 + 7
    (blobs / f"{etag}.incomplete").write_bytes(data[:already])
    out = legacy(
        """
        from huggingface_hub import hf_hub_download
        path = hf_hub_download(P["repo"], P["name"], cache_dir=P["cache"])
        emit({"path": path, "requests": REQUESTS})
        """,
        token=shared_repo.owner.read_token,
        repo=shared_repo.repo_id,
        name=name,
        cache=str(cache),
    )
    gets = paths(out["requests"], "GET", f"/resolve/{shared_repo.commit}/{name}") or \
        paths(out["requests"], "GET", f"/resolve/main/{name}")
    assert [(r["status"], r["range"]) for r in gets] == [(206, f"bytes={already}-")]
    assert sha256_file(out["path"]) == sha256_bytes(data)
    assert Path(out["path"]).resolve() == (blobs / etag).resolve()
    assert not list(blobs.glob("*.incomplete"))


def test_legacy_resumes_after_network_cut(legacy: Legacy, shared_repo: SharedRepo, tmp_path: Path) -> None:
    """The connection drops mid-body; 0.36 retries the GET with ``Range: bytes=<received>-``."""
    data = shared_repo.files["big.dat"]
    cut = 3_333_333
    out = legacy(
        """
        import requests
        from huggingface_hub import hf_hub_download
        original = requests.models.Response.iter_content
        state = {"cut": False}

        def flaky(self, chunk_size=1, decode_unicode=False):
            chunks = original(self, chunk_size=chunk_size, decode_unicode=decode_unicode)
            if state["cut"] or self.request.method != "GET" or "/resolve/" not in self.url:
                yield from chunks
                return
            state["cut"] = True
            first = next(chunks)
            yield first[:P["cut"]]
            raise requests.ConnectionError("simulated network cut")

        requests.models.Response.iter_content = flaky
        path = hf_hub_download(P["repo"], "big.dat", cache_dir=P["cache"])
        emit({"path": path, "cut": state["cut"], "requests": REQUESTS})
        """,
        token=shared_repo.owner.read_token,
        repo=shared_repo.repo_id,
        cut=cut,
        cache=str(tmp_path / "cache"),
    )
    assert out["cut"] is True
    gets = paths(out["requests"], "GET", "/resolve/")
    assert [(r["status"], r["range"]) for r in gets] == [(200, None), (206, f"bytes={cut}-")]
    assert sha256_file(out["path"]) == sha256_bytes(data)


@pytest.mark.parametrize("name", ["big.dat", "sub/deep/data.csv"])
def test_range_requests_on_resolve(hub_server: Any, shared_repo: SharedRepo, name: str) -> None:
    """Plain HTTP (the main venv's httpx): ``Range`` on ``/resolve`` answers 206 with the right bytes."""
    data = shared_repo.files[name]
    size = len(data)
    headers = {"authorization": f"Bearer {shared_repo.owner.read_token}", "Accept-Encoding": "identity"}
    with httpx.Client(base_url=hub_server.url, headers=headers, timeout=60) as client:
        for rev in ("main", shared_repo.commit):
            url = f"/{shared_repo.repo_id}/resolve/{rev}/{name}"
            head = client.head(url)
            assert head.status_code == 200
            assert head.headers["accept-ranges"] == "bytes"
            assert int(head.headers["content-length"]) == size
            assert head.headers["x-repo-commit"] == shared_repo.commit
            for start in (0, 1, size // 2 + 3, size - 1):
                r = client.get(url, headers={"Range": f"bytes={start}-"})
                assert r.status_code == 206, (start, r.status_code)
                assert r.headers["content-range"] == f"bytes {start}-{size - 1}/{size}"
                assert int(r.headers["content-length"]) == size - start
                assert sha256_bytes(r.content) == sha256_bytes(data[start:])
                assert r.headers["x-repo-commit"] == shared_repo.commit
            r = client.get(url, headers={"Range": "bytes=10-19"})
            assert (r.status_code, r.content) == (206, data[10:20])
            assert r.headers["content-range"] == f"bytes 10-19/{size}"
            r = client.get(url, headers={"Range": "bytes=-100"})
            assert (r.status_code, r.content) == (206, data[-100:])
            r = client.get(url, headers={"Range": f"bytes={size - 5}-{size + 1000}"})  # end clamped
            assert (r.status_code, r.content) == (206, data[-5:])
            r = client.get(url, headers={"Range": f"bytes={size}-"})
            assert r.status_code == 416
            assert r.headers.get("content-range") == f"bytes */{size}"
            r = client.get(url)
            assert r.status_code == 200 and sha256_bytes(r.content) == sha256_bytes(data)


def test_legacy_get_hf_file_metadata(legacy: Legacy, shared_repo: SharedRepo) -> None:
    """What 0.36 reads from the HEAD: commit, etag (sha256 for LFS, git sha1 otherwise) and size."""
    out = legacy(
        """
        from huggingface_hub import get_hf_file_metadata, hf_hub_url
        meta = {}
        for name in ("big.dat", "weights.safetensors", "config.json", "sub/deep/data.csv"):
            m = get_hf_file_metadata(hf_hub_url(P["repo"], name))
            meta[name] = [m.commit_hash, m.etag, m.size, m.location]
        emit(meta)
        """,
        token=shared_repo.owner.read_token,
        repo=shared_repo.repo_id,
    )
    for name, (commit, etag, size, location) in out.items():
        data = shared_repo.files[name]
        assert commit == shared_repo.commit
        assert size == len(data)
        expected = sha256_bytes(data) if name in ("big.dat", "weights.safetensors") else git_blob_sha1(data)
        assert etag == expected, name
        assert location.endswith(f"/{shared_repo.repo_id}/resolve/main/{name}")


def test_legacy_negotiates_basic_not_xet(legacy: Legacy, alice: Any, tmp_path: Path) -> None:
    """0.36 offers ``xet`` in the batch (hf_xet is installed); the hub must answer ``basic``."""
    (tmp_path / "x.dat").write_bytes(os.urandom(10 * MiB + 1))
    out = legacy(
        """
        import hf_xet  # installed next to 0.36, so the client offers "xet"
        import huggingface_hub._commit_api as commit_api
        from huggingface_hub import HfApi
        from huggingface_hub.utils._runtime import is_xet_available
        seen = []
        original = commit_api.post_lfs_batch_info

        def spy(*args, **kwargs):
            result = original(*args, **kwargs)
            seen.append({"offered": kwargs.get("transfers"), "answer": result})
            return result

        commit_api.post_lfs_batch_info = spy
        api = HfApi()
        api.create_repo(P["repo"])
        api.upload_file(path_or_fileobj=P["file"], path_in_repo="x.dat", repo_id=P["repo"])
        emit({"xet_available": is_xet_available(), "batches": seen,
              "xet_requests": [r["url"] for r in REQUESTS if "/xet-" in r["url"]]})
        """,
        token=alice.write_token,
        repo=f"{alice.name}/negotiation",
        file=str(tmp_path / "x.dat"),
    )
    assert out["xet_available"] is True
    assert len(out["batches"]) == 1
    batch = out["batches"][0]
    assert batch["offered"] == ["basic", "multipart", "xet"]
    objects, errors, chosen = batch["answer"]
    assert chosen == "basic"
    assert errors == []
    assert len(objects) == 1 and set(objects[0]["actions"]) >= {"upload"}
    assert out["xet_requests"] == []


def _safetensors(tensor: bytes, metadata_padding: int) -> bytes:
    """A valid .safetensors file: one F32 tensor, and ``__metadata__`` padded to make the header large."""
    header = {"__metadata__": {"format": "pt", "padding": "x" * metadata_padding},
              "w": {"dtype": "F32", "shape": [len(tensor) // 4], "data_offsets": [0, len(tensor)]}}
    raw = json.dumps(header).encode()
    raw += b" " * (-len(raw) % 8)
    return len(raw).to_bytes(8, "little") + raw + tensor


def test_legacy_ranged_reads_filesystem_and_safetensors(legacy: Legacy, alice: Any, tmp_path: Path) -> None:
    """0.36 reads parts of files with Range: HfFileSystem, and the safetensors header parser."""
    repo_id = f"{alice.name}/ranged"
    small_header = _safetensors(os.urandom(4 * 40000), 10)  # header fits in the first 100 kB
    big_header = _safetensors(os.urandom(4 * 1000), 150_000)  # needs the second, exact Range request
    blob = os.urandom(3 * MiB + 17)
    folder = write_files(tmp_path / "folder", {"model.safetensors": small_header, "shards/big-header.safetensors":
                                               big_header, "blob.dat": blob, "notes/readme.txt": b"hello\n"})
    out = legacy(
        """
        from huggingface_hub import HfApi, HfFileSystem
        api = HfApi()
        r = P["repo"]
        api.create_repo(r)
        api.upload_folder(folder_path=P["folder"], repo_id=r)
        mark = len(REQUESTS)
        meta = api.get_safetensors_metadata(r)
        small = meta.files_metadata["model.safetensors"]
        big = api.parse_safetensors_file_metadata(r, "shards/big-header.safetensors")
        st_requests = REQUESTS[mark:]
        fs = HfFileSystem()
        mark = len(REQUESTS)
        reads = {}
        with fs.open(f"{r}/blob.dat", "rb", block_size=4096) as f:
            f.seek(P["offset"])
            reads["middle"] = f.read(1000).hex()
        with fs.open(f"{r}/blob.dat", "rb", block_size=256 * 1024) as f:
            f.seek(-50, 2)
            reads["tail"] = f.read().hex()
        fs_requests = REQUESTS[mark:]
        emit({
            "small": {"tensors": {k: [v.dtype, v.shape, v.data_offsets] for k, v in small.tensors.items()},
                      "metadata": small.metadata, "parameters": meta.parameter_count},
            "big": {"tensors": {k: [v.dtype, v.shape] for k, v in big.tensors.items()},
                    "padding": len(big.metadata.get("padding", ""))},
            "st_requests": st_requests, "fs_requests": fs_requests, "reads": reads,
            "ls": sorted(e["name"] for e in fs.ls(r, detail=True)),
            "glob": sorted(fs.glob(f"{r}/**/*.safetensors")),
            "info": {k: fs.info(f"{r}/blob.dat")[k] for k in ("size", "type")},
            "cat": fs.cat(f"{r}/notes/readme.txt").decode(),
            "exists": [fs.exists(f"{r}/blob.dat"), fs.exists(f"{r}/missing.dat")],
        })
        """,
        token=alice.write_token,
        repo=repo_id,
        folder=str(folder),
        offset=MiB + 3,
    )
    assert out["small"]["tensors"] == {"w": ["F32", [40000], [0, 160000]]}
    assert out["small"]["metadata"] == {"format": "pt", "padding": "x" * 10}
    assert out["small"]["parameters"] == {"F32": 40000}
    assert out["big"] == {"tensors": {"w": ["F32", [1000]]}, "padding": 150_000}
    ranged = [(r["status"], r["range"]) for r in out["st_requests"] if r["range"]]
    header_len = int.from_bytes(big_header[:8], "little")
    assert ranged == [(206, "bytes=0-100000"), (206, "bytes=0-100000"), (206, f"bytes=8-{header_len + 7}")]
    offset = MiB + 3
    assert bytes.fromhex(out["reads"]["middle"]) == blob[offset:offset + 1000]
    assert bytes.fromhex(out["reads"]["tail"]) == blob[-50:]
    fs_gets = paths(out["fs_requests"], "GET", "/resolve/")
    assert fs_gets and all(r["status"] == 206 and r["range"] for r in fs_gets), fs_gets
    assert out["ls"] == sorted(f"{repo_id}/{n}" for n in (".gitattributes", "blob.dat", "model.safetensors",
                                                          "notes", "shards"))
    assert out["glob"] == [f"{repo_id}/model.safetensors", f"{repo_id}/shards/big-header.safetensors"]
    assert out["info"] == {"size": len(blob), "type": "file"}
    assert out["cat"] == "hello\n"
    assert out["exists"] == [True, False]


def test_legacy_noop_reupload_delete_patterns_and_local_dir(legacy: Legacy, alice: Any, tmp_path: Path) -> None:
    """Unchanged files are dropped by preupload's ``oid``; local_dir downloads are not repeated."""
    repo_id = f"{alice.name}/noop"
    files = {"a.txt": b"aaa\n", "w.safetensors": os.urandom(3000), "big.dat": os.urandom(10 * MiB + 5),
             "logs/1.log": b"one", "logs/2.log": b"two"}
    folder = write_files(tmp_path / "folder", files)
    (tmp_path / "second").mkdir()
    (tmp_path / "second" / "b.txt").write_bytes(b"bbb")
    out = legacy(
        """
        from huggingface_hub import HfApi, hf_hub_download
        api = HfApi()
        r = P["repo"]
        api.create_repo(r)
        first = api.upload_folder(folder_path=P["folder"], repo_id=r, commit_message="first").oid
        mark = len(REQUESTS)
        again = api.upload_folder(folder_path=P["folder"], repo_id=r, commit_message="again")
        noop_requests = REQUESTS[mark:]
        third = api.upload_folder(folder_path=P["second"], repo_id=r, delete_patterns=["logs/*", "*.safetensors"],
                                  commit_message="replace").oid
        files = api.list_repo_files(r)
        mark = len(REQUESTS)
        p1 = hf_hub_download(r, "big.dat", local_dir=P["local"])
        p2 = hf_hub_download(r, "big.dat", local_dir=P["local"])
        local_requests = REQUESTS[mark:]
        emit({"first": first, "again": again.oid, "noop_requests": noop_requests, "third": third, "files": files,
              "paths": [p1, p2], "local_requests": local_requests})
        """,
        token=alice.write_token,
        repo=repo_id,
        folder=str(folder),
        second=str(tmp_path / "second"),
        local=str(tmp_path / "local"),
    )
    assert out["again"] == out["first"]  # nothing changed: no new commit
    assert not paths(out["noop_requests"], "POST", "/commit/")
    assert not paths(out["noop_requests"], "PUT", "/api/lfs/objects/")
    assert out["third"] != out["first"]
    assert sorted(out["files"]) == [".gitattributes", "a.txt", "b.txt", "big.dat"]
    p1, p2 = out["paths"]
    assert p1 == p2 == str(tmp_path / "local" / "big.dat")
    assert sha256_file(p1) == sha256_bytes(files["big.dat"])
    assert len(paths(out["local_requests"], "GET", "/resolve/")) == 1  # the second call only HEADs
    assert len(paths(out["local_requests"], "HEAD", "/resolve/")) == 2


def test_lfs_batch_rejects_wrong_bytes(hub_server: Any, alice: Any) -> None:
    """The basic-transfer PUT is checked against the announced sha256 and size before anything is claimed."""
    repo_id = f"{alice.name}/lfs-checks"
    auth = {"authorization": f"Bearer {alice.write_token}"}
    good = os.urandom(1000)
    oid = sha256_bytes(good)
    lfs_headers = {**auth, "Accept": "application/vnd.git-lfs+json", "Content-Type": "application/vnd.git-lfs+json"}
    with httpx.Client(base_url=hub_server.url, timeout=60) as client:
        assert client.post("/api/repos/create", json={"name": repo_id}, headers=auth).status_code == 200
        body = {"operation": "upload", "transfers": ["basic", "multipart", "xet"], "hash_algo": "sha256",
                "objects": [{"oid": oid, "size": len(good)}], "ref": {"name": "main"}}
        r = client.post(f"/{repo_id}.git/info/lfs/objects/batch", json=body, headers=lfs_headers)
        assert r.status_code == 200, r.text
        answer = r.json()
        assert answer.get("transfer", "basic") == "basic"
        actions = answer["objects"][0]["actions"]
        href, verify = actions["upload"]["href"], actions["verify"]["href"]
        # No auth on the PUT (like the clients): the URL authorises itself.
        assert client.put(href, content=os.urandom(1000)).status_code == 400  # wrong content
        assert client.put(href, content=good[:999]).status_code == 400  # short
        assert client.put(href, content=good + b"x").status_code == 400  # long
        assert client.post(verify, json={"oid": oid, "size": len(good)}, headers=auth).status_code == 404
        assert lfs_rows(hub_server, "model", repo_id) == {}
        commit = "\n".join(json.dumps(line) for line in [
            {"key": "header", "value": {"summary": "claims an object never uploaded"}},
            {"key": "lfsFile", "value": {"path": "w.bin", "algo": "sha256", "oid": oid, "size": len(good)}},
        ])
        ndjson = {**auth, "Content-Type": "application/x-ndjson"}
        r = client.post(f"/api/models/{repo_id}/commit/main", content=commit, headers=ndjson)
        assert r.status_code == 400, r.text
        assert client.put(href + "x", content=good).status_code in (401, 403)  # tampered token
        assert client.put(href, content=good).status_code == 200
        assert client.post(verify, json={"oid": oid, "size": len(good)}, headers=auth).status_code == 200
        assert lfs_rows(hub_server, "model", repo_id) == {oid: (len(good), False)}
        r = client.post(f"/api/models/{repo_id}/commit/main", content=commit, headers=ndjson)
        assert r.status_code == 200, r.text
        assert lfs_rows(hub_server, "model", repo_id) == {oid: (len(good), True)}
        got = client.get(f"/{repo_id}/resolve/main/w.bin", headers=auth)
        assert got.status_code == 200 and got.content == good
        assert got.headers["x-linked-etag"].strip('"') == oid
