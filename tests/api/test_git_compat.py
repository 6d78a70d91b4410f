"""The history is real git: export a repo's objects into a bare repository and let git itself check them."""

from __future__ import annotations

import hashlib
import os
import subprocess
from pathlib import Path

import pytest
from dulwich.objects import ShaFile
from dulwich.repo import Repo as GitRepo
from sqlalchemy import select

from dazi.repos import services as repos
from dazi.repos.models import GitObject


def export(hub_server, repo_type: str, repo_id: str, dest: Path) -> dict[str, str]:  # type: ignore[no-untyped-def]
    """Copy every git object and ref of a dazi repo into a bare git repository at ``dest``."""
    bare = GitRepo.init_bare(str(dest), mkdir=True)
    with hub_server.hub.db.read() as session:
        repo = repos.get_repo_for(session, None, repo_type, repo_id)
        rows = session.execute(
            select(GitObject.oid, GitObject.type_num, GitObject.data).where(GitObject.repo_id == repo.id)
        )
        for oid, type_num, data in rows:
            obj = ShaFile.from_raw_string(type_num, data)
            assert obj.id.decode() == oid  # the id is the sha1 git computes over the canonical bytes
            bare.object_store.add_object(obj)
        refs = {ref.name: ref.target for ref in repos.refs(session, repo)}
    for name, target in refs.items():
        bare.refs[name.encode()] = target.encode()
    bare.refs.set_symbolic_ref(b"HEAD", b"refs/heads/main")
    return refs


def git(*args: str, cwd: Path) -> str:
    # The export has no LFS server: check out pointers (git-lfs may be installed system-wide).
    env = {**os.environ, "GIT_LFS_SKIP_SMUDGE": "1"}
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True, env=env).stdout


def test_commit_ids_are_what_git_computes(hf_api, alice, hub_server, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    repo_id = f"{alice.name}/gitcheck"
    hf_api.create_repo(repo_id)
    hf_api.upload_file(path_or_fileobj=b"# hello\n", path_in_repo="README.md", repo_id=repo_id)
    hf_api.upload_file(path_or_fileobj=bytes(2048), path_in_repo="weights/model.safetensors", repo_id=repo_id)
    hf_api.create_tag(repo_id, tag="v1", tag_message="first release")
    hf_api.create_branch(repo_id, branch="dev")
    refs = export(hub_server, "model", repo_id, tmp_path / "bare.git")
    fsck = subprocess.run(["git", "fsck", "--strict", "--no-dangling"], cwd=tmp_path / "bare.git",
                          capture_output=True, text=True)
    assert fsck.returncode == 0, fsck.stderr + fsck.stdout
    log = git("log", "--format=%H %s", "main", cwd=tmp_path / "bare.git").split("\n")
    api_commits = [c.commit_id for c in hf_api.list_repo_commits(repo_id)]
    assert [line.split(" ", 1)[0] for line in log if line] == api_commits
    assert git("cat-file", "-t", refs["refs/tags/v1"], cwd=tmp_path / "bare.git").strip() == "tag"
    # A clone checks out the files; the LFS file is a pointer whose oid is the content's sha256.
    git("clone", "-q", str(tmp_path / "bare.git"), str(tmp_path / "work"), cwd=tmp_path)
    assert (tmp_path / "work" / "README.md").read_bytes() == b"# hello\n"
    pointer = (tmp_path / "work" / "weights" / "model.safetensors").read_text()
    digest = hashlib.sha256(bytes(2048)).hexdigest()
    assert f"oid sha256:{digest}" in pointer
    attrs = git("check-attr", "filter", "weights/model.safetensors", cwd=tmp_path / "work")
    assert attrs.strip().endswith("filter: lfs")


@pytest.mark.parametrize("name", ["big file [1].dat", "dir with space/x.dat"])
def test_large_untracked_files_are_added_to_gitattributes(hf_api, alice, hub_server, tmp_path: Path, name: str) -> None:  # type: ignore[no-untyped-def]
    repo_id = f"{alice.name}/attrs-{abs(hash(name)) % 10000}"
    hf_api.create_repo(repo_id)
    hf_api.upload_file(path_or_fileobj=b"x" * (10 * 1024 * 1024), path_in_repo=name, repo_id=repo_id)
    export(hub_server, "model", repo_id, tmp_path / "bare.git")
    git("clone", "-q", str(tmp_path / "bare.git"), str(tmp_path / "work"), cwd=tmp_path)
    attrs = git("check-attr", "filter", "--", name, cwd=tmp_path / "work")
    assert attrs.strip().endswith("filter: lfs"), attrs
