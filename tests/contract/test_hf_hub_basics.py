"""The stock huggingface_hub client against the hub on loopback: accounts, repos, files."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest
from huggingface_hub import HfApi, hf_hub_download, snapshot_download
from huggingface_hub.errors import EntryNotFoundError, HfHubHTTPError, RepositoryNotFoundError, RevisionNotFoundError

pytestmark = pytest.mark.contract


def sha256(path: str | Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def test_whoami(hf_api: HfApi, alice) -> None:  # type: ignore[no-untyped-def]
    me = hf_api.whoami()
    assert me["name"] == alice.name
    assert me["type"] == "user"
    assert me["auth"]["accessToken"]["role"] == "write"


def test_upload_download_roundtrip(hf_api: HfApi, alice, hub_server, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    repo_id = f"{alice.name}/roundtrip"
    url = hf_api.create_repo(repo_id)
    assert url.repo_id == repo_id
    assert hf_api.create_repo(repo_id, exist_ok=True).repo_id == repo_id
    folder = tmp_path / "folder"
    (folder / "sub").mkdir(parents=True)
    (folder / "config.json").write_text('{"model_type": "llama"}')
    (folder / "sub" / "notes.txt").write_text("nested\n")
    (folder / "model.safetensors").write_bytes(os.urandom(4096))
    (folder / "big.bin.part").write_bytes(os.urandom(11 * 1024 * 1024))  # over the 10 MB LFS threshold
    hf_api.upload_folder(folder_path=folder, repo_id=repo_id, commit_message="first upload")
    info = hf_api.model_info(repo_id, files_metadata=True)
    files = {s.rfilename: s for s in info.siblings}
    assert set(files) == {".gitattributes", "config.json", "sub/notes.txt", "model.safetensors", "big.bin.part"}
    assert files["model.safetensors"].lfs is not None  # matched by .gitattributes
    assert files["big.bin.part"].lfs is not None  # large
    assert files["config.json"].lfs is None
    cache = tmp_path / "cache"
    snap = snapshot_download(repo_id, cache_dir=cache, token=alice.read_token)
    for rel in ("config.json", "sub/notes.txt", "model.safetensors", "big.bin.part"):
        assert sha256(Path(snap) / rel) == sha256(folder / rel)
    path = hf_hub_download(repo_id, "sub/notes.txt", cache_dir=cache, token=alice.read_token)
    assert Path(path).read_text() == "nested\n"
    commits = hf_api.list_repo_commits(repo_id)
    assert [c.title for c in commits] == ["first upload", "initial commit"]
    assert commits[0].commit_id == info.sha


def test_create_commit_with_deletions_and_parent(hf_api: HfApi, alice) -> None:  # type: ignore[no-untyped-def]
    from huggingface_hub import CommitOperationAdd, CommitOperationDelete

    repo_id = f"{alice.name}/ops"
    hf_api.create_repo(repo_id)
    first = hf_api.create_commit(repo_id, [CommitOperationAdd("a/1.txt", b"1"), CommitOperationAdd("a/2.txt", b"2"),
                                           CommitOperationAdd("b.txt", b"b")], commit_message="add")
    second = hf_api.create_commit(repo_id, [CommitOperationDelete("a/"), CommitOperationDelete("b.txt")],
                                  commit_message="delete", parent_commit=first.oid)
    assert hf_api.list_repo_files(repo_id) == [".gitattributes"]
    with pytest.raises(HfHubHTTPError) as err:
        hf_api.create_commit(repo_id, [CommitOperationAdd("c.txt", b"c")], commit_message="stale",
                             parent_commit=first.oid)
    assert err.value.response.status_code == 412
    with pytest.raises(EntryNotFoundError):
        hf_api.delete_file("missing.txt", repo_id)
    assert hf_api.model_info(repo_id).sha == second.oid


def test_errors_have_codes(hf_api: HfApi, alice, bob, hub_server, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    repo_id = f"{alice.name}/secret"
    hf_api.create_repo(repo_id, private=True)
    hf_api.upload_file(path_or_fileobj=b"x", path_in_repo="x.txt", repo_id=repo_id)
    for token in (None, bob.write_token):
        other = HfApi(endpoint=hub_server.url, token=token or False)
        with pytest.raises(RepositoryNotFoundError):
            other.model_info(repo_id)
        with pytest.raises(RepositoryNotFoundError):
            hf_hub_download(repo_id, "x.txt", cache_dir=tmp_path, token=token or False)
        assert not other.repo_exists(repo_id)
    assert hf_api.repo_exists(repo_id)
    assert hf_api.file_exists(repo_id, "x.txt")
    assert not hf_api.file_exists(repo_id, "y.txt")
    with pytest.raises(EntryNotFoundError):
        hf_hub_download(repo_id, "y.txt", cache_dir=tmp_path, token=alice.read_token)
    with pytest.raises(RevisionNotFoundError):
        hf_api.model_info(repo_id, revision="nope")


def test_read_token_cannot_write(hub_server, alice) -> None:  # type: ignore[no-untyped-def]
    api = HfApi(endpoint=hub_server.url, token=alice.read_token)
    with pytest.raises(HfHubHTTPError) as err:
        api.create_repo(f"{alice.name}/nope")
    assert err.value.response.status_code == 403


def test_unchanged_large_files_are_not_resent(hf_api: HfApi, alice, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """2.x clients upload inline ("regular"); the hub still tells them which LFS files they already have."""
    repo_id = f"{alice.name}/reupload"
    hf_api.create_repo(repo_id)
    folder = tmp_path / "f"
    folder.mkdir()
    (folder / "big.dat").write_bytes(os.urandom(17 * 1024 * 1024))  # streamed inline, stored as LFS
    (folder / "model.safetensors").write_bytes(os.urandom(2048))  # LFS by pattern
    hf_api.upload_folder(folder_path=folder, repo_id=repo_id, commit_message="one")
    hf_api.upload_folder(folder_path=folder, repo_id=repo_id, commit_message="two")
    assert [c.title for c in hf_api.list_repo_commits(repo_id)] == ["one", "initial commit"]
    (folder / "model.safetensors").write_bytes(os.urandom(2048))
    hf_api.upload_folder(folder_path=folder, repo_id=repo_id, commit_message="three")
    assert next(c.title for c in hf_api.list_repo_commits(repo_id)) == "three"


@pytest.mark.slow
def test_200mb_upload_folder_and_download(hf_api: HfApi, alice, hub_server, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """2.x sends it base64 inline (no Xet, no LFS); the hub streams it to the blob store and serves it back."""
    from dazi.repos.models import LfsObject

    repo_id = f"{alice.name}/big"
    hf_api.create_repo(repo_id)
    folder = tmp_path / "big"
    folder.mkdir()
    digest = hashlib.sha256()
    with (folder / "weights.bin").open("wb") as f:
        for _ in range(200):
            chunk = os.urandom(1 << 20)
            digest.update(chunk)
            f.write(chunk)
    hf_api.upload_folder(folder_path=folder, repo_id=repo_id)
    (folder / "weights.bin").unlink()
    info = hf_api.model_info(repo_id, files_metadata=True)
    sibling = next(s for s in info.siblings if s.rfilename == "weights.bin")
    assert sibling.lfs is not None and sibling.lfs.sha256 == digest.hexdigest() and sibling.size == 200 << 20
    with hub_server.hub.db.read() as session:
        assert session.get(LfsObject, (_repo_pk(hub_server, repo_id), digest.hexdigest())).committed
    path = hf_hub_download(repo_id, "weights.bin", cache_dir=tmp_path / "cache", token=alice.read_token)
    assert sha256(path) == digest.hexdigest()


def _repo_pk(hub_server, repo_id: str) -> int:  # type: ignore[no-untyped-def]
    from dazi.repos import services as repos

    with hub_server.hub.db.read() as session:
        return repos.get_repo_for(session, None, "model", repo_id).id
