"""``git clone``, ``fetch`` and ``pull`` (with git-lfs) of repos that huggingface_hub wrote."""

from __future__ import annotations

import gzip
import hashlib
import os

import httpx
import pytest
from huggingface_hub import HfApi

from tests.contract.git.conftest import Git, sha256

pytestmark = pytest.mark.contract

WEIGHTS = os.urandom(300_000)  # an LFS file (*.safetensors is tracked by the default .gitattributes)


@pytest.fixture(scope="module")
def published(hub_server):  # type: ignore[no-untyped-def]
    """A public model, a public dataset and a private model, written through huggingface_hub."""
    owner = hub_server.new_user("gitclone")
    api = HfApi(endpoint=hub_server.url, token=owner.write_token)
    repos = {}
    for kind, name, private in (("model", "pub", False), ("dataset", "data", False), ("model", "secret", True)):
        repo_id = f"{owner.name}/{name}"
        api.create_repo(repo_id, repo_type=kind, private=private)
        api.upload_file(path_or_fileobj=b"# card\n", path_in_repo="README.md", repo_id=repo_id, repo_type=kind)
        api.upload_file(
            path_or_fileobj=WEIGHTS, path_in_repo="weights/model.safetensors", repo_id=repo_id, repo_type=kind
        )
        repos[name] = (repo_id, kind)
    api.create_tag(repos["pub"][0], tag="v1", tag_message="first release")
    return owner, api, repos


@pytest.mark.parametrize(("name", "suffix"), [("pub", ""), ("pub", ".git"), ("data", ""), ("data", ".git")])
def test_anonymous_clone_of_a_public_repo(git: Git, published, name: str, suffix: str) -> None:  # type: ignore[no-untyped-def]
    _owner, api, repos = published
    repo_id, kind = repos[name]
    work = git.clone(git.url(repo_id, kind=kind, suffix=suffix), "work")
    assert (work / "README.md").read_bytes() == b"# card\n"
    lfs_file = work / "weights" / "model.safetensors"
    assert sha256(lfs_file) == hashlib.sha256(WEIGHTS).hexdigest()  # smudged by git-lfs, not a pointer
    assert "weights/model.safetensors" in git.run("lfs", "ls-files", "-n", cwd=work).stdout
    ids = [c.commit_id for c in api.list_repo_commits(repo_id, repo_type=kind)]
    assert git.log(work) == ids
    git.run("fsck", "--strict", "--no-dangling", cwd=work)


def test_clone_gets_annotated_tags(git: Git, published) -> None:  # type: ignore[no-untyped-def]
    _owner, api, repos = published
    repo_id, _kind = repos["pub"]
    work = git.clone(git.url(repo_id), "work", env={"GIT_LFS_SKIP_SMUDGE": "1"})
    assert git.run("cat-file", "-t", "v1", cwd=work).stdout.strip() == "tag"
    refs = api.list_repo_refs(repo_id)
    assert git.head(work, "v1^{commit}") == refs.tags[0].target_commit


def test_private_repo_needs_a_token(git: Git, published, hub_server, bob) -> None:  # type: ignore[no-untyped-def]
    owner, _api, repos = published
    repo_id, _kind = repos["secret"]
    for user, token in (("oauth2", owner.read_token), ("anything", owner.write_token)):
        work = git.clone(git.url(repo_id, token, user=user), f"work-{user}")
        assert sha256(work / "weights" / "model.safetensors") == hashlib.sha256(WEIGHTS).hexdigest()
    anonymous = git.run("clone", git.url(repo_id), "anon", check=False)
    assert anonymous.returncode != 0
    assert "could not read Username" in anonymous.stderr  # the hub asked for credentials (401)
    other = git.run("clone", git.url(repo_id, bob.write_token), "other", check=False)
    assert other.returncode != 0 and "not found" in other.stderr
    answer = httpx.get(f"{hub_server.url}/{repo_id}/info/refs", params={"service": "git-upload-pack"})
    assert answer.status_code == 401 and answer.headers["www-authenticate"] == 'Basic realm="dazi"'
    wrong = httpx.get(
        f"{hub_server.url}/{repo_id}/info/refs",
        params={"service": "git-upload-pack"},
        auth=("oauth2", "dazi_not-a-token"),
    )
    assert wrong.status_code == 401


def test_fetch_and_pull_see_http_commits(git: Git, hf_api: HfApi, alice) -> None:  # type: ignore[no-untyped-def]
    repo_id = f"{alice.name}/pulled"
    hf_api.create_repo(repo_id)
    work = git.clone(git.url(repo_id, alice.write_token), "work")
    hf_api.upload_file(path_or_fileobj=b"added over HTTP\n", path_in_repo="notes/http.txt", repo_id=repo_id)
    git.run("fetch", "origin", cwd=work)
    ids = [c.commit_id for c in hf_api.list_repo_commits(repo_id)]
    assert git.log(work, "origin/main") == ids
    hf_api.upload_file(path_or_fileobj=b"second\n", path_in_repo="notes/second.txt", repo_id=repo_id)
    hf_api.create_tag(repo_id, tag="later", tag_message="a tag made over HTTP")
    git.run("pull", "-q", "--ff-only", cwd=work)
    assert (work / "notes" / "http.txt").read_text() == "added over HTTP\n"
    assert (work / "notes" / "second.txt").read_text() == "second\n"
    assert git.log(work) == [c.commit_id for c in hf_api.list_repo_commits(repo_id)]
    git.run("fetch", "--tags", cwd=work)
    assert git.run("cat-file", "-t", "later", cwd=work).stdout.strip() == "tag"


def test_shallow_clone_then_deepen(git: Git, hf_api: HfApi, alice) -> None:  # type: ignore[no-untyped-def]
    repo_id = f"{alice.name}/shallow"
    hf_api.create_repo(repo_id)
    for i in range(4):
        hf_api.upload_file(path_or_fileobj=f"v{i}\n".encode(), path_in_repo="version.txt", repo_id=repo_id)
    ids = [c.commit_id for c in hf_api.list_repo_commits(repo_id)]  # 5 commits, newest first
    work = git.clone(git.url(repo_id), "work", "--depth", "1")
    assert git.log(work) == ids[:1]
    assert (work / ".git" / "shallow").read_text().split() == ids[:1]
    git.run("fetch", "-q", "--depth", "3", cwd=work)
    assert git.log(work, "origin/main") == ids[:3]
    git.run("fetch", "-q", "--unshallow", cwd=work)
    assert git.log(work, "origin/main") == ids
    assert not (work / ".git" / "shallow").exists()
    git.run("fsck", "--no-dangling", cwd=work)


def test_wire_details(hub_server, hf_api: HfApi, alice) -> None:  # type: ignore[no-untyped-def]
    """Content types, the dumb-protocol refusal, and a gzip-encoded upload-pack request."""
    repo_id = f"{alice.name}/wire"
    hf_api.create_repo(repo_id)
    base = f"{hub_server.url}/{repo_id}.git"
    refs = httpx.get(f"{base}/info/refs", params={"service": "git-upload-pack"})
    assert refs.headers["content-type"] == "application/x-git-upload-pack-advertisement"
    assert refs.content.startswith(b"001e# service=git-upload-pack\n0000")
    head = refs.content.split(b"\n")[1][8:48].decode()
    assert head == hf_api.list_repo_commits(repo_id)[0].commit_id
    assert b"symref=HEAD:refs/heads/main" in refs.content
    assert httpx.get(f"{base}/info/refs").status_code == 403  # no dumb HTTP
    want = f"want {head} side-band-64k ofs-delta\n".encode()
    body = b"%04x" % (len(want) + 4) + want + b"0000" + b"0009done\n"
    answer = httpx.post(
        f"{base}/git-upload-pack",
        content=gzip.compress(body),
        headers={"Content-Encoding": "gzip", "Content-Type": "application/x-git-upload-pack-request"},
    )
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "application/x-git-upload-pack-result"
    assert answer.content.startswith(b"0008NAK\n") and b"PACK" in answer.content
    bogus = httpx.post(f"{base}/git-upload-pack", content=b"0032want " + b"f" * 40 + b"\n0000" + b"0009done\n")
    assert b"ERR upload-pack: not our ref" in bogus.content


def test_git_lfs_asks_nothing_odd(git: Git, published) -> None:  # type: ignore[no-untyped-def]
    """A clone prints no warnings from git or git-lfs."""
    _owner, _api, repos = published
    repo_id, _kind = repos["pub"]
    proc = git.run("clone", git.url(repo_id), "work")
    assert proc.stderr.strip().splitlines() == ["Cloning into 'work'..."], proc.stderr
