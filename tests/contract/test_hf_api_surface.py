"""The wider ``HfApi`` surface with the stock 2.4.0 client: repo CRUD, refs, history, trees, revisions,
visibility, moves, folder uploads with patterns, datasets, organisations and revoked tokens."""

from __future__ import annotations

import hashlib
import re
import secrets
from pathlib import Path
from typing import Any

import httpx
import pytest
from huggingface_hub import CommitOperationAdd, HfApi, hf_hub_download, snapshot_download
from huggingface_hub.errors import (
    EntryNotFoundError,
    HfHubHTTPError,
    RepositoryNotFoundError,
    RevisionNotFoundError,
)
from huggingface_hub.hf_api import RepoFile, RepoFolder

pytestmark = pytest.mark.contract

HEX40 = re.compile(r"^[0-9a-f]{40}$")
TIMEOUT = 60.0


# -- helpers ---------------------------------------------------------------------------------------


def unique(prefix: str) -> str:
    return f"{prefix}-{secrets.token_hex(3)}"


def git_blob_sha1(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data, usedforsecurity=False).hexdigest()


def api_for(hub_server: Any, token: str | None) -> HfApi:
    return HfApi(endpoint=hub_server.url, token=token if token else False)


def refs_by_name(items: list[Any]) -> dict[str, str]:
    return {r.name: r.target_commit for r in items}


def download(repo_id: str, filename: str, cache: Path, token: str | None, **kwargs: Any) -> str:
    return Path(hf_hub_download(repo_id, filename, cache_dir=cache, token=token or False, **kwargs)).read_text()


# -- create_repo -----------------------------------------------------------------------------------


def test_create_model_and_dataset_repos(hf_api: HfApi, alice: Any, hub_server: Any) -> None:
    name = unique("both")
    repo_id = f"{alice.name}/{name}"
    model_url = hf_api.create_repo(repo_id)
    assert model_url.repo_id == repo_id
    assert model_url.repo_type == "model"
    assert model_url.endpoint == hub_server.url
    assert str(model_url) == f"{hub_server.url}/{repo_id}"

    dataset_url = hf_api.create_repo(repo_id, repo_type="dataset")
    assert dataset_url.repo_id == repo_id
    assert dataset_url.repo_type == "dataset"
    assert str(dataset_url) == f"{hub_server.url}/datasets/{repo_id}"

    # exist_ok: the 409 carries the url, the client swallows it
    assert hf_api.create_repo(repo_id, exist_ok=True).repo_id == repo_id
    again = hf_api.create_repo(repo_id, repo_type="dataset", exist_ok=True)
    assert (again.repo_id, again.repo_type) == (repo_id, "dataset")
    with pytest.raises(HfHubHTTPError) as err:
        hf_api.create_repo(repo_id)
    assert err.value.response.status_code == 409
    assert err.value.response.json()["url"] == f"{hub_server.url}/{repo_id}"
    with pytest.raises(HfHubHTTPError) as err:
        hf_api.create_repo(repo_id, repo_type="dataset")
    assert err.value.response.status_code == 409

    # the model and the dataset are two different repos, each with an initial commit on main
    model = hf_api.model_info(repo_id)
    dataset = hf_api.dataset_info(repo_id)
    assert model.id == dataset.id == repo_id
    assert HEX40.match(model.sha or "") and HEX40.match(dataset.sha or "")
    assert model.private is False and dataset.private is False
    assert [s.rfilename for s in model.siblings or []] == [".gitattributes"]
    hf_api.upload_file(path_or_fileobj=b"only in the model", path_in_repo="m.txt", repo_id=repo_id)
    assert hf_api.file_exists(repo_id, "m.txt")
    assert not hf_api.file_exists(repo_id, "m.txt", repo_type="dataset")
    assert hf_api.repo_exists(repo_id, repo_type="dataset")
    assert not hf_api.repo_exists(f"{alice.name}/{name}-nope", repo_type="dataset")


def test_create_private_repo(hf_api: HfApi, alice: Any, bob: Any, hub_server: Any) -> None:
    repo_id = f"{alice.name}/{unique('priv')}"
    hf_api.create_repo(repo_id, private=True)
    assert hf_api.model_info(repo_id).private is True
    for other in (api_for(hub_server, None), api_for(hub_server, bob.write_token)):
        with pytest.raises(RepositoryNotFoundError):
            other.model_info(repo_id)
        # exist_ok from someone without access must not pretend the repo is theirs
        with pytest.raises(HfHubHTTPError):
            other.create_repo(repo_id, exist_ok=True)


# -- refs, branches, tags, commits -------------------------------------------------------------------


def test_branches(hf_api: HfApi, alice: Any, tmp_path: Path) -> None:
    repo_id = f"{alice.name}/{unique('branches')}"
    hf_api.create_repo(repo_id)
    first = hf_api.upload_file(path_or_fileobj=b"v1", path_in_repo="file.txt", repo_id=repo_id, commit_message="v1")
    second = hf_api.upload_file(path_or_fileobj=b"v2", path_in_repo="file.txt", repo_id=repo_id, commit_message="v2")
    refs = hf_api.list_repo_refs(repo_id)
    assert refs_by_name(refs.branches) == {"main": second.oid}
    assert refs.tags == []
    assert refs.converts == []
    assert refs.branches[0].ref == "refs/heads/main"

    hf_api.create_branch(repo_id, branch="dev")  # from main
    hf_api.create_branch(repo_id, branch="old", revision=first.oid)  # from a commit
    hf_api.create_branch(repo_id, branch="feature/x", revision="dev")  # from a branch, with a slash
    branches = refs_by_name(hf_api.list_repo_refs(repo_id).branches)
    assert branches == {"main": second.oid, "dev": second.oid, "old": first.oid, "feature/x": second.oid}
    assert {b.ref for b in hf_api.list_repo_refs(repo_id).branches} >= {"refs/heads/feature/x"}

    # existing branch: 409, unless exist_ok
    with pytest.raises(HfHubHTTPError) as err:
        hf_api.create_branch(repo_id, branch="dev")
    assert err.value.response.status_code == 409
    hf_api.create_branch(repo_id, branch="dev", exist_ok=True)
    assert refs_by_name(hf_api.list_repo_refs(repo_id).branches)["dev"] == second.oid  # not moved
    with pytest.raises(RevisionNotFoundError):
        hf_api.create_branch(repo_id, branch="bad-start", revision="no-such-rev")

    # commit on a branch: main is untouched
    third = hf_api.upload_file(
        path_or_fileobj=b"dev content",
        path_in_repo="file.txt",
        repo_id=repo_id,
        revision="dev",
        commit_message="on dev",
    )
    assert [c.title for c in hf_api.list_repo_commits(repo_id, revision="dev")] == [
        "on dev",
        "v2",
        "v1",
        "initial commit",
    ]
    assert [c.title for c in hf_api.list_repo_commits(repo_id, revision="old")] == ["v1", "initial commit"]
    dev_commits = hf_api.list_repo_commits(repo_id, revision="dev")
    assert dev_commits[0].commit_id == third.oid
    assert all(HEX40.match(c.commit_id) for c in dev_commits)
    assert dev_commits[0].authors == [alice.name]
    assert hf_api.model_info(repo_id).sha == second.oid
    assert download(repo_id, "file.txt", tmp_path, alice.read_token, revision="dev") == "dev content"
    assert download(repo_id, "file.txt", tmp_path, alice.read_token, revision="feature/x") == "v2"
    assert download(repo_id, "file.txt", tmp_path, alice.read_token) == "v2"

    hf_api.delete_branch(repo_id, branch="dev")
    hf_api.delete_branch(repo_id, branch="feature/x")
    assert set(refs_by_name(hf_api.list_repo_refs(repo_id).branches)) == {"main", "old"}
    assert not hf_api.revision_exists(repo_id, "dev")
    with pytest.raises(HfHubHTTPError) as err:
        hf_api.delete_branch(repo_id, branch="main")
    assert err.value.response.status_code == 403
    assert refs_by_name(hf_api.list_repo_refs(repo_id).branches)["main"] == second.oid
    with pytest.raises(HfHubHTTPError) as err:
        hf_api.delete_branch(repo_id, branch="never-existed")
    assert err.value.response.status_code == 404


def test_tags(hf_api: HfApi, alice: Any, hub_server: Any, tmp_path: Path) -> None:
    repo_id = f"{alice.name}/{unique('tags')}"
    hf_api.create_repo(repo_id)
    first = hf_api.upload_file(path_or_fileobj=b"release one", path_in_repo="notes.txt", repo_id=repo_id)
    second = hf_api.upload_file(path_or_fileobj=b"release two", path_in_repo="notes.txt", repo_id=repo_id)

    hf_api.create_tag(repo_id, tag="v1", revision=first.oid)  # lightweight, at a commit
    hf_api.create_tag(repo_id, tag="v2", tag_message="Second release\n\nwith notes")  # annotated, at main
    hf_api.create_branch(repo_id, branch="stable", revision=first.oid)
    hf_api.create_tag(repo_id, tag="stable-tag", revision="stable")  # at a branch
    refs = hf_api.list_repo_refs(repo_id)
    tags = refs_by_name(refs.tags)
    # the annotated tag is peeled: its target is the commit, not the tag object
    assert tags == {"v1": first.oid, "v2": second.oid, "stable-tag": first.oid}
    assert {t.ref for t in refs.tags} == {"refs/tags/v1", "refs/tags/v2", "refs/tags/stable-tag"}

    with pytest.raises(HfHubHTTPError) as err:
        hf_api.create_tag(repo_id, tag="v1")
    assert err.value.response.status_code == 409
    hf_api.create_tag(repo_id, tag="v1", exist_ok=True)
    assert refs_by_name(hf_api.list_repo_refs(repo_id).tags)["v1"] == first.oid
    with pytest.raises(RevisionNotFoundError):
        hf_api.create_tag(repo_id, tag="nowhere", revision="no-such-branch")

    # downloading and reading info at a tag, annotated or not
    assert download(repo_id, "notes.txt", tmp_path / "c1", None, revision="v1") == "release one"
    assert download(repo_id, "notes.txt", tmp_path / "c2", None, revision="v2") == "release two"
    assert hf_api.model_info(repo_id, revision="v2").sha == second.oid
    assert hf_api.model_info(repo_id, revision="v1").sha == first.oid
    head = httpx.head(f"{hub_server.url}/{repo_id}/resolve/v2/notes.txt", timeout=TIMEOUT)
    assert head.status_code == 200
    assert head.headers["x-repo-commit"] == second.oid
    assert next(c.commit_id for c in hf_api.list_repo_commits(repo_id, revision="v2")) == second.oid
    snap = snapshot_download(repo_id, revision="v1", cache_dir=tmp_path / "snap", token=False)
    assert (Path(snap) / "notes.txt").read_text() == "release one"
    assert Path(snap).name == first.oid

    hf_api.delete_tag(repo_id, tag="v2")
    hf_api.delete_tag(repo_id, tag="v1")
    assert refs_by_name(hf_api.list_repo_refs(repo_id).tags) == {"stable-tag": first.oid}
    assert not hf_api.revision_exists(repo_id, "v2")
    with pytest.raises(RevisionNotFoundError):
        hf_api.delete_tag(repo_id, tag="v2")
    # deleting a tag leaves the commits and branches alone
    assert hf_api.model_info(repo_id).sha == second.oid
    assert hf_api.revision_exists(repo_id, first.oid)


def test_refs_with_slashes_and_other_starting_points(
    hf_api: HfApi, alice: Any, hub_server: Any, tmp_path: Path
) -> None:
    repo_id = f"{alice.name}/{unique('slashes')}"
    hf_api.create_repo(repo_id)
    first = hf_api.upload_file(path_or_fileobj=b"one", path_in_repo="d/f.txt", repo_id=repo_id).oid
    hf_api.create_tag(repo_id, tag="release/1.0", tag_message="annotated, with a slash")
    second = hf_api.upload_file(path_or_fileobj=b"two", path_in_repo="d/f.txt", repo_id=repo_id).oid
    assert refs_by_name(hf_api.list_repo_refs(repo_id).tags) == {"release/1.0": first}

    # an annotated tag whose name holds a slash (sent as release%2F1.0) works everywhere a revision does
    assert download(repo_id, "d/f.txt", tmp_path / "a", None, revision="release/1.0") == "one"
    snap = Path(snapshot_download(repo_id, revision="release/1.0", cache_dir=tmp_path / "s", token=False))
    assert snap.name == first and (snap / "d/f.txt").read_text() == "one"
    assert [e.path for e in hf_api.list_repo_tree(repo_id, "d", revision="release/1.0")] == ["d/f.txt"]
    assert next(c.commit_id for c in hf_api.list_repo_commits(repo_id, revision="release/1.0")) == first
    infos = hf_api.get_paths_info(repo_id, ["d/f.txt"], revision="release/1.0")
    assert [(e.path, getattr(e, "blob_id", None)) for e in infos] == [("d/f.txt", git_blob_sha1(b"one"))]

    # branches from a tag and from a short commit id
    hf_api.create_branch(repo_id, branch="from-tag", revision="release/1.0")
    hf_api.create_branch(repo_id, branch="from-short", revision=first[:7])
    branches = refs_by_name(hf_api.list_repo_refs(repo_id).branches)
    assert branches == {"main": second, "from-tag": first, "from-short": first}

    # full ref names are revisions too
    assert hf_api.model_info(repo_id, revision="refs/heads/main").sha == second
    assert hf_api.model_info(repo_id, revision="refs/tags/release/1.0").sha == first
    head = httpx.head(f"{hub_server.url}/{repo_id}/resolve/refs%2Fheads%2Ffrom-tag/d/f.txt", timeout=TIMEOUT)
    assert head.status_code == 200 and head.headers["x-repo-commit"] == first

    hf_api.delete_tag(repo_id, tag="release/1.0")
    assert hf_api.list_repo_refs(repo_id).tags == []
    assert refs_by_name(hf_api.list_repo_refs(repo_id).branches)["from-tag"] == first  # branches unaffected


def test_list_repo_commits_and_refs_are_paged_and_dated(hf_api: HfApi, alice: Any, hub_server: Any) -> None:
    repo_id = f"{alice.name}/{unique('history')}"
    hf_api.create_repo(repo_id)
    oids = [
        hf_api.create_commit(
            repo_id,
            [CommitOperationAdd(f"f{i}.txt", str(i).encode())],
            commit_message=f"commit {i}",
            commit_description=f"body {i}",
        ).oid
        for i in range(3)
    ]
    commits = hf_api.list_repo_commits(repo_id)
    assert [c.commit_id for c in commits[:3]] == oids[::-1]
    assert [c.title for c in commits] == ["commit 2", "commit 1", "commit 0", "initial commit"]
    assert commits[0].message == "body 2"
    assert commits[0].created_at is not None and commits[0].created_at.tzinfo is not None
    formatted = hf_api.list_repo_commits(repo_id, formatted=True)
    assert formatted[0].formatted_title is not None
    raw = httpx.get(
        f"{hub_server.url}/api/models/{repo_id}/commits/main",
        timeout=TIMEOUT,
        headers={"Authorization": f"Bearer {alice.read_token}"},
    )
    assert raw.status_code == 200
    assert all(item["date"].endswith("Z") for item in raw.json())
    with pytest.raises(RevisionNotFoundError):
        hf_api.list_repo_commits(repo_id, revision="no-such-branch")


# -- trees and paths-info ---------------------------------------------------------------------------


@pytest.fixture
def tree_repo(hf_api: HfApi, alice: Any, tmp_path: Path) -> str:
    repo_id = f"{alice.name}/{unique('tree')}"
    hf_api.create_repo(repo_id)
    folder = tmp_path / "tree-src"
    (folder / "sub" / "deep").mkdir(parents=True)
    (folder / "config.json").write_text('{"model_type": "bert"}')
    (folder / "sub" / "a.txt").write_text("aaa")
    (folder / "sub" / "deep" / "b.txt").write_text("bbbb")
    (folder / "weights.safetensors").write_bytes(b"S" * 2048)  # LFS by the default .gitattributes
    hf_api.upload_folder(folder_path=folder, repo_id=repo_id, commit_message="tree content")
    return repo_id


def test_list_repo_tree(hf_api: HfApi, tree_repo: str) -> None:
    root = list(hf_api.list_repo_tree(tree_repo))
    assert {e.path for e in root} == {".gitattributes", "config.json", "sub", "weights.safetensors"}
    by_path = {e.path: e for e in root}
    assert isinstance(by_path["sub"], RepoFolder)
    config = by_path["config.json"]
    assert isinstance(config, RepoFile)
    assert config.size == len('{"model_type": "bert"}')
    assert config.blob_id == git_blob_sha1(b'{"model_type": "bert"}')
    assert config.lfs is None
    weights = by_path["weights.safetensors"]
    assert isinstance(weights, RepoFile)
    assert weights.size == 2048
    assert weights.lfs is not None
    assert weights.lfs.sha256 == hashlib.sha256(b"S" * 2048).hexdigest()
    assert weights.lfs.size == 2048

    sub = list(hf_api.list_repo_tree(tree_repo, path_in_repo="sub"))
    assert {(e.path, type(e).__name__) for e in sub} == {("sub/a.txt", "RepoFile"), ("sub/deep", "RepoFolder")}
    deep = list(hf_api.list_repo_tree(tree_repo, path_in_repo="sub/deep"))
    assert [e.path for e in deep] == ["sub/deep/b.txt"]

    everything = list(hf_api.list_repo_tree(tree_repo, recursive=True))
    files = {e.path for e in everything if isinstance(e, RepoFile)}
    folders = {e.path for e in everything if isinstance(e, RepoFolder)}
    assert files == {".gitattributes", "config.json", "sub/a.txt", "sub/deep/b.txt", "weights.safetensors"}
    assert folders == {"sub", "sub/deep"}
    assert {e.path for e in hf_api.list_repo_tree(tree_repo, path_in_repo="sub", recursive=True)} == {
        "sub/a.txt",
        "sub/deep",
        "sub/deep/b.txt",
    }

    expanded = list(hf_api.list_repo_tree(tree_repo, recursive=True, expand=True))
    assert {e.path for e in expanded} == files | folders
    assert sorted(hf_api.list_repo_files(tree_repo)) == sorted(files)

    with pytest.raises(EntryNotFoundError):
        list(hf_api.list_repo_tree(tree_repo, path_in_repo="no/such/folder"))
    with pytest.raises(RevisionNotFoundError):
        list(hf_api.list_repo_tree(tree_repo, revision="no-such-rev"))


def test_get_paths_info(hf_api: HfApi, tree_repo: str) -> None:
    infos = hf_api.get_paths_info(
        tree_repo, ["config.json", "sub", "sub/deep/b.txt", "weights.safetensors", "missing.txt", "sub/missing"]
    )
    by_path = {e.path: e for e in infos}
    assert set(by_path) == {"config.json", "sub", "sub/deep/b.txt", "weights.safetensors"}
    assert isinstance(by_path["config.json"], RepoFile)
    assert isinstance(by_path["sub"], RepoFolder)
    b = by_path["sub/deep/b.txt"]
    assert isinstance(b, RepoFile) and b.size == 4 and b.blob_id == git_blob_sha1(b"bbbb")
    weights = by_path["weights.safetensors"]
    assert isinstance(weights, RepoFile) and weights.lfs is not None and weights.lfs.size == 2048
    assert hf_api.get_paths_info(tree_repo, "missing.txt") == []
    assert [e.path for e in hf_api.get_paths_info(tree_repo, "sub/a.txt", expand=True)] == ["sub/a.txt"]


# -- revisions for downloads and existence checks ----------------------------------------------------


def test_download_at_every_kind_of_revision(hf_api: HfApi, alice: Any, hub_server: Any, tmp_path: Path) -> None:
    repo_id = f"{alice.name}/{unique('revs')}"
    hf_api.create_repo(repo_id)
    first = hf_api.upload_file(path_or_fileobj=b"first", path_in_repo="data.txt", repo_id=repo_id).oid
    hf_api.create_branch(repo_id, branch="frozen")
    hf_api.create_tag(repo_id, tag="t-first")
    second = hf_api.upload_file(path_or_fileobj=b"second", path_in_repo="data.txt", repo_id=repo_id).oid
    assert first != second
    cases = {
        "main": ("second", second),
        "frozen": ("first", first),
        "t-first": ("first", first),
        first: ("first", first),
        second: ("second", second),
        first[:7]: ("first", first),
        second[:12]: ("second", second),
    }
    for i, (rev, (content, commit)) in enumerate(cases.items()):
        path = Path(hf_hub_download(repo_id, "data.txt", revision=rev, cache_dir=tmp_path / f"c{i}", token=False))
        assert path.read_text() == content, rev
        assert path.parent.name == commit, rev  # snapshots/<X-Repo-Commit>/data.txt
        head = httpx.head(f"{hub_server.url}/{repo_id}/resolve/{rev}/data.txt", timeout=TIMEOUT)
        assert head.status_code == 200, rev
        assert head.headers["x-repo-commit"] == commit, rev
        assert hf_api.model_info(repo_id, revision=rev).sha == commit, rev
    with pytest.raises(RevisionNotFoundError):
        hf_hub_download(repo_id, "data.txt", revision="nope", cache_dir=tmp_path / "x", token=False)
    with pytest.raises(RevisionNotFoundError):
        hf_hub_download(repo_id, "data.txt", revision="f" * 40, cache_dir=tmp_path / "y", token=False)


def test_exists_helpers(hf_api: HfApi, alice: Any, hub_server: Any) -> None:
    repo_id = f"{alice.name}/{unique('exists')}"
    assert not hf_api.repo_exists(repo_id)
    hf_api.create_repo(repo_id)
    commit = hf_api.upload_file(path_or_fileobj=b"x", path_in_repo="dir/x.txt", repo_id=repo_id).oid
    hf_api.create_branch(repo_id, branch="side")
    hf_api.upload_file(path_or_fileobj=b"y", path_in_repo="y.txt", repo_id=repo_id, revision="side")
    hf_api.create_tag(repo_id, tag="tagged")
    anonymous = api_for(hub_server, None)
    assert anonymous.repo_exists(repo_id)
    assert not anonymous.repo_exists(f"{alice.name}/{unique('none')}")
    assert anonymous.file_exists(repo_id, "dir/x.txt")
    assert not anonymous.file_exists(repo_id, "dir")  # a folder is not a file
    assert not anonymous.file_exists(repo_id, "y.txt")
    assert anonymous.file_exists(repo_id, "y.txt", revision="side")
    assert not anonymous.file_exists(repo_id, "dir/x.txt", revision=hf_api.list_repo_commits(repo_id)[-1].commit_id)
    for rev in ("main", "side", "tagged", commit, commit[:8]):
        assert anonymous.revision_exists(repo_id, rev), rev
    for rev in ("nope", "0" * 40, "refs/heads/nope"):
        assert not anonymous.revision_exists(repo_id, rev), rev
    assert not anonymous.revision_exists(f"{alice.name}/{unique('none')}", "main")  # 2.4.0: False, no raise


# -- settings, move, delete ----------------------------------------------------------------------------


def test_update_repo_settings_private_hides_repo(
    hf_api: HfApi, alice: Any, bob: Any, hub_server: Any, tmp_path: Path
) -> None:
    repo_id = f"{alice.name}/{unique('vis')}"
    hf_api.create_repo(repo_id)
    hf_api.upload_file(path_or_fileobj=b"content", path_in_repo="c.txt", repo_id=repo_id)
    anonymous = api_for(hub_server, None)
    assert repo_id in {m.id for m in anonymous.list_models(author=alice.name)}
    assert anonymous.model_info(repo_id).private is False

    hf_api.update_repo_settings(repo_id, private=True)
    assert hf_api.model_info(repo_id).private is True
    assert repo_id not in {m.id for m in anonymous.list_models(author=alice.name)}
    assert repo_id not in {m.id for m in anonymous.list_models(search=repo_id.split("/")[1])}
    assert repo_id in {m.id for m in hf_api.list_models(author=alice.name)}
    for other in (anonymous, api_for(hub_server, bob.write_token)):
        with pytest.raises(RepositoryNotFoundError):
            other.model_info(repo_id)
        assert not other.repo_exists(repo_id)
    with pytest.raises(RepositoryNotFoundError):
        hf_hub_download(repo_id, "c.txt", cache_dir=tmp_path, token=False)
    # a non-admin cannot change it back
    with pytest.raises(HfHubHTTPError):
        api_for(hub_server, bob.write_token).update_repo_settings(repo_id, private=False)
    assert hf_api.model_info(repo_id).private is True

    hf_api.update_repo_settings(repo_id, visibility="public")
    assert anonymous.model_info(repo_id).private is False
    assert repo_id in {m.id for m in anonymous.list_models(author=alice.name)}


def test_private_dataset_settings_and_every_read_route_hidden(
    hf_api: HfApi, alice: Any, bob: Any, hub_server: Any
) -> None:
    repo_id = f"{alice.name}/{unique('pds')}"
    hf_api.create_repo(repo_id, repo_type="dataset")
    hf_api.upload_file(path_or_fileobj=b"a,b\n", path_in_repo="x.csv", repo_id=repo_id, repo_type="dataset")
    hf_api.update_repo_settings(repo_id, private=True, repo_type="dataset")
    assert hf_api.dataset_info(repo_id).private is True
    for other in (api_for(hub_server, None), api_for(hub_server, bob.write_token)):
        with pytest.raises(RepositoryNotFoundError):
            other.dataset_info(repo_id)
        with pytest.raises(RepositoryNotFoundError):
            other.list_repo_refs(repo_id, repo_type="dataset")
        with pytest.raises(RepositoryNotFoundError):
            list(other.list_repo_tree(repo_id, repo_type="dataset"))
        with pytest.raises(RepositoryNotFoundError):
            other.get_paths_info(repo_id, ["x.csv"], repo_type="dataset")
        with pytest.raises(RepositoryNotFoundError):
            other.list_repo_commits(repo_id, repo_type="dataset")
        assert repo_id not in {d.id for d in other.list_datasets(author=alice.name)}
    assert repo_id in {d.id for d in hf_api.list_datasets(author=alice.name)}


def test_move_repo(hf_api: HfApi, alice: Any, hub_server: Any, tmp_path: Path) -> None:
    old_id = f"{alice.name}/{unique('before')}"
    new_id = f"{alice.name}/{unique('after')}"
    hf_api.create_repo(old_id)
    commit = hf_api.upload_file(path_or_fileobj=b"moved content", path_in_repo="dir/m.txt", repo_id=old_id).oid
    hf_api.create_tag(old_id, tag="v1")
    hf_api.move_repo(old_id, new_id)

    with pytest.raises(RepositoryNotFoundError):
        hf_api.model_info(old_id)
    assert not hf_api.repo_exists(old_id)
    info = hf_api.model_info(new_id)
    assert info.id == new_id
    assert info.sha == commit
    assert {s.rfilename for s in info.siblings or []} == {".gitattributes", "dir/m.txt"}
    assert refs_by_name(hf_api.list_repo_refs(new_id).tags) == {"v1": commit}
    assert download(new_id, "dir/m.txt", tmp_path, None) == "moved content"
    assert download(new_id, "dir/m.txt", tmp_path / "t", None, revision="v1") == "moved content"
    ids = {m.id for m in hf_api.list_models(author=alice.name)}
    assert new_id in ids and old_id not in ids
    # the freed name can be reused
    hf_api.create_repo(old_id)
    assert hf_api.list_repo_files(old_id) == [".gitattributes"]
    # moving onto an existing repo is refused
    with pytest.raises(HfHubHTTPError) as err:
        hf_api.move_repo(new_id, old_id)
    assert err.value.response.status_code == 409
    assert hf_api.model_info(new_id).sha == commit


def test_move_repo_into_an_org_and_move_a_dataset(hf_api: HfApi, alice: Any, hub_server: Any, tmp_path: Path) -> None:
    org = hub_server.new_org(alice)
    src = f"{alice.name}/{unique('tomove')}"
    hf_api.create_repo(src)
    commit = hf_api.upload_file(path_or_fileobj=b"org bound", path_in_repo="o.txt", repo_id=src).oid
    dst = f"{org}/{unique('moved')}"
    hf_api.move_repo(src, dst)
    assert hf_api.model_info(dst).sha == commit
    assert hf_api.model_info(dst).author == org
    assert [m.id for m in hf_api.list_models(author=org)] == [dst]
    assert download(dst, "o.txt", tmp_path, None) == "org bound"

    ds = f"{alice.name}/{unique('dsmove')}"
    hf_api.create_repo(ds, repo_type="dataset", private=True)
    hf_api.upload_file(path_or_fileobj=b"1,2\n", path_in_repo="d.csv", repo_id=ds, repo_type="dataset")
    ds_new = f"{alice.name}/{unique('dsmoved')}"
    hf_api.move_repo(ds, ds_new, repo_type="dataset")
    assert not hf_api.repo_exists(ds, repo_type="dataset")
    info = hf_api.dataset_info(ds_new)
    assert info.private is True  # visibility survives the move
    assert {s.rfilename for s in info.siblings or []} == {".gitattributes", "d.csv"}


def test_move_repo_needs_rights(hf_api: HfApi, alice: Any, bob: Any, hub_server: Any) -> None:
    repo_id = f"{alice.name}/{unique('mine')}"
    hf_api.create_repo(repo_id)
    bob_api = api_for(hub_server, bob.write_token)
    with pytest.raises(HfHubHTTPError) as err:
        bob_api.move_repo(repo_id, f"{bob.name}/stolen")
    assert err.value.response.status_code in (403, 404)
    with pytest.raises(HfHubHTTPError) as err:
        hf_api.move_repo(repo_id, f"{bob.name}/gift")  # alice cannot write into bob's namespace
    assert err.value.response.status_code == 403
    assert hf_api.repo_exists(repo_id)


def test_delete_repo(hf_api: HfApi, alice: Any, bob: Any, hub_server: Any) -> None:
    repo_id = f"{alice.name}/{unique('doomed')}"
    hf_api.create_repo(repo_id)
    hf_api.upload_file(path_or_fileobj=b"bye", path_in_repo="bye.txt", repo_id=repo_id)
    with pytest.raises(HfHubHTTPError):
        api_for(hub_server, bob.write_token).delete_repo(repo_id)
    with pytest.raises(HfHubHTTPError) as err:
        api_for(hub_server, alice.read_token).delete_repo(repo_id)
    assert err.value.response.status_code == 403
    assert hf_api.repo_exists(repo_id)

    hf_api.delete_repo(repo_id)
    assert not hf_api.repo_exists(repo_id)
    assert repo_id not in {m.id for m in hf_api.list_models(author=alice.name)}
    assert not hf_api.file_exists(repo_id, "bye.txt")
    with pytest.raises(RepositoryNotFoundError):
        hf_api.model_info(repo_id)
    with pytest.raises(RepositoryNotFoundError):
        hf_api.delete_repo(repo_id)
    hf_api.delete_repo(repo_id, missing_ok=True)
    hf_api.delete_repo(f"{alice.name}/{unique('never')}", missing_ok=True)

    # datasets are deleted by type; a same-named model survives
    hf_api.create_repo(repo_id)
    hf_api.create_repo(repo_id, repo_type="dataset")
    hf_api.delete_repo(repo_id, repo_type="dataset")
    assert not hf_api.repo_exists(repo_id, repo_type="dataset")
    assert hf_api.repo_exists(repo_id)
    assert hf_api.list_repo_files(repo_id) == [".gitattributes"]  # a fresh repo, not the deleted one


# -- upload_folder with patterns ----------------------------------------------------------------------


def test_upload_folder_allow_and_delete_patterns(hf_api: HfApi, alice: Any, tmp_path: Path) -> None:
    repo_id = f"{alice.name}/{unique('patterns')}"
    hf_api.create_repo(repo_id)
    first = tmp_path / "first"
    (first / "logs").mkdir(parents=True)
    (first / "keep.txt").write_text("keep")
    (first / "notes.md").write_text("# notes")
    (first / "skip.bin").write_bytes(b"\0" * 10)
    (first / "logs" / "run.log").write_text("log line")
    (first / "logs" / "run.txt").write_text("log text")
    hf_api.upload_folder(folder_path=first, repo_id=repo_id, allow_patterns=["*.txt", "*.md"])
    assert sorted(hf_api.list_repo_files(repo_id)) == [".gitattributes", "keep.txt", "logs/run.txt", "notes.md"]

    hf_api.upload_folder(
        folder_path=first, repo_id=repo_id, allow_patterns="logs/*", ignore_patterns="*.txt", path_in_repo="copied"
    )
    assert sorted(hf_api.list_repo_files(repo_id)) == [
        ".gitattributes",
        "copied/logs/run.log",
        "keep.txt",
        "logs/run.txt",
        "notes.md",
    ]

    second = tmp_path / "second"
    second.mkdir()
    (second / "new.txt").write_text("new")
    (second / "keep.txt").write_text("keep v2")
    hf_api.upload_folder(
        folder_path=second, repo_id=repo_id, delete_patterns=["*.md", "logs/*"], commit_message="replace"
    )
    files = sorted(hf_api.list_repo_files(repo_id))
    assert files == [".gitattributes", "copied/logs/run.log", "keep.txt", "new.txt"]
    assert Path(hf_hub_download(repo_id, "keep.txt", cache_dir=tmp_path / "c", token=False)).read_text() == "keep v2"
    assert hf_api.list_repo_commits(repo_id)[0].title == "replace"

    # delete_patterns="*" keeps only what is uploaded (and .gitattributes)
    third = tmp_path / "third"
    third.mkdir()
    (third / "only.txt").write_text("only")
    hf_api.upload_folder(folder_path=third, repo_id=repo_id, delete_patterns="*")
    assert sorted(hf_api.list_repo_files(repo_id)) == [".gitattributes", "only.txt"]


# -- datasets -------------------------------------------------------------------------------------------


def test_dataset_upload_info_and_snapshot(hf_api: HfApi, alice: Any, hub_server: Any, tmp_path: Path) -> None:
    repo_id = f"{alice.name}/{unique('data')}"
    url = hf_api.create_repo(repo_id, repo_type="dataset")
    assert url.repo_type == "dataset"
    folder = tmp_path / "ds"
    (folder / "data").mkdir(parents=True)
    (folder / "README.md").write_text("---\nlicense: cc-by-4.0\npretty_name: Tiny\n---\n# Tiny\n\nA tiny set.\n")
    (folder / "data" / "train.csv").write_text("id,text\n1,a\n2,b\n")
    (folder / "data" / "test.csv").write_text("id,text\n3,c\n")
    (folder / "data" / "big.parquet").write_bytes(b"PAR1" + b"\1" * 3000)
    commit = hf_api.upload_folder(folder_path=folder, repo_id=repo_id, repo_type="dataset").oid

    info = hf_api.dataset_info(repo_id)
    assert info.id == repo_id
    assert info.sha == commit
    assert {s.rfilename for s in info.siblings or []} == {
        ".gitattributes",
        "README.md",
        "data/train.csv",
        "data/test.csv",
        "data/big.parquet",
    }
    assert info.card_data is not None and info.card_data.license == "cc-by-4.0"
    assert "license:cc-by-4.0" in (info.tags or [])
    detailed = hf_api.dataset_info(repo_id, files_metadata=True)
    sizes = {s.rfilename: s.size for s in detailed.siblings or []}
    assert sizes["data/train.csv"] == len("id,text\n1,a\n2,b\n")
    assert sizes["data/big.parquet"] == 3004
    with pytest.raises(RepositoryNotFoundError):
        hf_api.model_info(repo_id)  # it is a dataset, not a model

    snap = Path(snapshot_download(repo_id, repo_type="dataset", cache_dir=tmp_path / "cache", token=False))
    assert snap.name == commit
    assert "datasets--" in str(snap)
    for rel in ("README.md", "data/train.csv", "data/test.csv", "data/big.parquet"):
        assert (snap / rel).read_bytes() == (folder / rel).read_bytes(), rel
    only_csv = Path(
        snapshot_download(repo_id, repo_type="dataset", cache_dir=tmp_path / "c2", token=False, allow_patterns="*.csv")
    )
    assert sorted(p.relative_to(only_csv).as_posix() for p in only_csv.rglob("*") if p.is_file()) == [
        "data/test.csv",
        "data/train.csv",
    ]
    one = hf_hub_download(repo_id, "data/test.csv", repo_type="dataset", cache_dir=tmp_path / "c3", token=False)
    assert Path(one).read_text() == "id,text\n3,c\n"
    raw = httpx.get(f"{hub_server.url}/datasets/{repo_id}/resolve/main/data/test.csv", timeout=TIMEOUT)
    assert raw.status_code == 200 and raw.text == "id,text\n3,c\n"
    assert raw.headers["x-repo-commit"] == commit
    assert refs_by_name(hf_api.list_repo_refs(repo_id, repo_type="dataset").branches) == {"main": commit}
    assert {e.path for e in hf_api.list_repo_tree(repo_id, "data", repo_type="dataset")} == {
        "data/big.parquet",
        "data/test.csv",
        "data/train.csv",
    }
    assert repo_id in {d.id for d in hf_api.list_datasets(author=alice.name)}
    assert repo_id not in {m.id for m in hf_api.list_models(author=alice.name)}


# -- organisations ----------------------------------------------------------------------------------


def test_org_roles(hf_api: HfApi, alice: Any, hub_server: Any, tmp_path: Path) -> None:
    org = hub_server.new_org(alice)
    writer = hub_server.new_user("writer")
    reader = hub_server.new_user("reader")
    outsider = hub_server.new_user("outsider")
    hub_server.add_member(org, writer, "write")
    hub_server.add_member(org, reader, "read")
    repo_id = f"{org}/{unique('orgrepo')}"
    url = hf_api.create_repo(repo_id, private=True)
    assert url.repo_id == repo_id
    assert org in {o["name"] for o in hf_api.whoami()["orgs"]}

    writer_api = api_for(hub_server, writer.write_token)
    reader_api = api_for(hub_server, reader.write_token)
    outsider_api = api_for(hub_server, outsider.write_token)

    commit = writer_api.upload_file(path_or_fileobj=b"from the writer", path_in_repo="w.txt", repo_id=repo_id).oid
    assert hf_api.model_info(repo_id).sha == commit
    assert hf_api.list_repo_commits(repo_id)[0].authors == [writer.name]
    writer_api.create_branch(repo_id, branch="writer-branch")

    # the read member reads the private repo, but cannot write to it
    assert reader_api.model_info(repo_id).sha == commit
    assert reader_api.file_exists(repo_id, "w.txt")
    path = hf_hub_download(repo_id, "w.txt", cache_dir=tmp_path / "r", token=reader.read_token)
    assert Path(path).read_text() == "from the writer"
    assert repo_id in {m.id for m in reader_api.list_models(author=org)}
    with pytest.raises(HfHubHTTPError) as err:
        reader_api.upload_file(path_or_fileobj=b"nope", path_in_repo="r.txt", repo_id=repo_id)
    assert err.value.response.status_code == 403
    with pytest.raises(HfHubHTTPError) as err:
        reader_api.create_branch(repo_id, branch="reader-branch")
    assert err.value.response.status_code == 403
    with pytest.raises(HfHubHTTPError) as err:
        reader_api.delete_repo(repo_id)
    assert err.value.response.status_code == 403
    assert not hf_api.file_exists(repo_id, "r.txt")

    # a non-member does not even see that it exists
    with pytest.raises(RepositoryNotFoundError):
        outsider_api.model_info(repo_id)
    with pytest.raises(RepositoryNotFoundError):
        outsider_api.upload_file(path_or_fileobj=b"nope", path_in_repo="o.txt", repo_id=repo_id)
    with pytest.raises(RepositoryNotFoundError):
        hf_hub_download(repo_id, "w.txt", cache_dir=tmp_path / "o", token=outsider.read_token)
    assert not outsider_api.repo_exists(repo_id)
    assert repo_id not in {m.id for m in outsider_api.list_models(author=org)}

    # the org admin (its creator) manages it
    hf_api.update_repo_settings(repo_id, private=False)
    assert outsider_api.model_info(repo_id).private is False
    with pytest.raises(HfHubHTTPError) as err:
        outsider_api.upload_file(path_or_fileobj=b"nope", path_in_repo="o.txt", repo_id=repo_id)
    assert err.value.response.status_code == 403


def test_org_write_member_can_create_repos_read_member_cannot(alice: Any, hub_server: Any) -> None:
    org = hub_server.new_org(alice)
    writer = hub_server.new_user("writer")
    reader = hub_server.new_user("reader")
    hub_server.add_member(org, writer, "write")
    hub_server.add_member(org, reader, "read")
    repo_id = f"{org}/{unique('bywriter')}"
    api_for(hub_server, writer.write_token).create_repo(repo_id)
    assert api_for(hub_server, None).repo_exists(repo_id)
    with pytest.raises(HfHubHTTPError) as err:
        api_for(hub_server, reader.write_token).create_repo(f"{org}/{unique('byreader')}")
    assert err.value.response.status_code == 403


# -- tokens ----------------------------------------------------------------------------------------------


def test_revoked_token_is_rejected(hub_server: Any, tmp_path: Path) -> None:
    from dazi.accounts.services import get_user, revoke_token

    carol = hub_server.new_user("carol")
    api = api_for(hub_server, carol.write_token)
    repo_id = f"{carol.name}/{unique('tok')}"
    api.create_repo(repo_id)
    api.upload_file(path_or_fileobj=b"t", path_in_repo="t.txt", repo_id=repo_id)
    assert api.whoami()["name"] == carol.name

    with hub_server.hub.db.write() as session:
        revoke_token(session, get_user(session, carol.name), carol.write_token)

    with pytest.raises(HfHubHTTPError) as err:
        api.model_info(repo_id)  # even on a public repo: a bad token is an error, not anonymous
    assert err.value.response.status_code == 401
    assert err.value.response.headers["x-error-message"] == "Invalid credentials in Authorization header"
    assert not isinstance(err.value, RepositoryNotFoundError)
    with pytest.raises(HfHubHTTPError) as err:
        api.whoami()
    assert err.value.response.status_code == 401
    with pytest.raises(HfHubHTTPError) as err:
        api.upload_file(path_or_fileobj=b"u", path_in_repo="u.txt", repo_id=repo_id)
    assert err.value.response.status_code == 401
    with pytest.raises(HfHubHTTPError) as err:
        hf_hub_download(repo_id, "t.txt", cache_dir=tmp_path, token=carol.write_token)
    assert err.value.response.status_code == 401
    raw = httpx.get(
        f"{hub_server.url}/{repo_id}/resolve/main/t.txt",
        timeout=TIMEOUT,
        headers={"Authorization": f"Bearer {carol.write_token}"},
    )
    assert raw.status_code == 401
    assert raw.headers["x-error-message"] == "Invalid credentials in Authorization header"

    # the other token of the same user still works
    still = api_for(hub_server, carol.read_token)
    assert still.whoami()["name"] == carol.name
    assert still.file_exists(repo_id, "t.txt")
    assert not still.file_exists(repo_id, "u.txt")
