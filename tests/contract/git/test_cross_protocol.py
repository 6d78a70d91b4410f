"""What git pushes, huggingface_hub and the modelscope SDK read; ModelScope's own git client works too."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest
from huggingface_hub import HfApi, snapshot_download

from tests.contract.git.conftest import Git, sha256

pytestmark = pytest.mark.contract


def tree(root: Path) -> dict[str, str]:
    return {
        p.relative_to(root).as_posix(): sha256(p)
        for p in sorted(root.rglob("*"))
        if p.is_file() and ".git" not in p.relative_to(root).parts and not p.name.startswith(".")
    }


@pytest.fixture
def pushed(git: Git, hf_api: HfApi, alice) -> tuple[str, dict[str, str]]:  # type: ignore[no-untyped-def]
    """A public model whose files all came in through ``git push`` (one of them through git-lfs)."""
    repo_id = f"{alice.name}/from-git"
    hf_api.create_repo(repo_id)
    work = git.clone(git.url(repo_id, alice.write_token), "work")
    git.run("lfs", "track", "*.bin", cwd=work)
    (work / "tokenizer").mkdir()
    (work / "tokenizer" / "vocab.txt").write_text("a\nb\nc\n")
    (work / "config.json").write_text('{"model_type": "llama"}\n')
    (work / "pytorch_model.bin").write_bytes(os.urandom(1_200_000))
    git.commit_all(work, "files from git")
    git.run("push", "-q", "origin", "main", cwd=work)
    return repo_id, tree(work)


def test_huggingface_hub_reads_what_git_pushed(pushed, tmp_path: Path, alice) -> None:  # type: ignore[no-untyped-def]
    repo_id, files = pushed
    path = snapshot_download(repo_id, cache_dir=tmp_path / "hf", token=alice.read_token)
    assert tree(Path(path)) == files


def test_modelscope_reads_what_git_pushed(pushed, hub_server, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from modelscope import snapshot_download as ms_snapshot_download

    repo_id, files = pushed
    path = ms_snapshot_download(repo_id, cache_dir=str(tmp_path / "ms"), endpoint=hub_server.url)
    got = tree(Path(path))
    assert {k: got.get(k) for k in files} == files


def test_modelscope_repository_clones_and_pushes_master(  # type: ignore[no-untyped-def]
    git: Git, hf_api: HfApi, alice, hub_server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """ModelScope's git client clones ``{endpoint}/{owner}/{name}.git`` with ``oauth2:<token>`` and uses the
    branch ``master``, which is another name for ``main`` while a repo has no real ``master``."""
    from modelscope.hub.repository import Repository

    repo_id = f"{alice.name}/ms-git"
    hf_api.create_repo(repo_id)
    hf_api.upload_file(path_or_fileobj=b"# card\n", path_in_repo="README.md", repo_id=repo_id)
    for name, value in git.env().items():
        monkeypatch.setenv(name, value)
    local = tmp_path / "ms" / "checkout"
    repo = Repository(str(local), clone_from=repo_id, git_token=alice.write_token, endpoint=hub_server.url)
    assert (local / "README.md").read_text() == "# card\n"
    remote = git.run("config", "--get", "remote.origin.url", cwd=local).stdout.strip()
    assert remote.startswith("http://oauth2:") and remote.endswith(f"/{repo_id}.git")
    (local / "added.txt").write_text("pushed by modelscope's Repository\n")
    with pytest.warns(DeprecationWarning):
        repo.push("push from modelscope")
    commits = hf_api.list_repo_commits(repo_id)
    assert commits[0].commit_id == git.head(local)
    assert "push from modelscope" in commits[0].title
    refs = git.remote_refs(local)
    assert refs["refs/heads/master"] == refs["refs/heads/main"] == git.head(local)
    assert {b.name for b in hf_api.list_repo_refs(repo_id).branches} == {"main"}  # an alias, not a branch
    (local / "again.txt").write_text("again\n")
    git.commit_all(local, "again")
    both = git.run("push", "origin", "HEAD:main", "HEAD:master", cwd=local, check=False)
    assert both.returncode != 0 and "another name for refs/heads/main" in both.stderr
    hf_api.create_branch(repo_id, branch="master")  # a real master ends the alias
    hf_api.upload_file(path_or_fileobj=b"only on main\n", path_in_repo="main.txt", repo_id=repo_id)
    refs = git.remote_refs(local)
    assert refs["refs/heads/master"] != refs["refs/heads/main"] == hf_api.list_repo_commits(repo_id)[0].commit_id
    digest = hashlib.sha256(b"# card\n").hexdigest()
    assert sha256(local / "README.md") == digest
