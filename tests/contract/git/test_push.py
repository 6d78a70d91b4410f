"""``git push`` (with git-lfs): new commits become hub commits with git's ids, all-or-nothing, or are refused."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import httpx
import pytest
from huggingface_hub import HfApi, hf_hub_download

from dazi.maintenance import fsck
from tests.contract.git.conftest import Git

pytestmark = pytest.mark.contract

CARD = b"---\nlicense: mit\npipeline_tag: text-generation\n---\n# Pushed with git\n"


def new_repo(hf_api: HfApi, repo_id: str, **kwargs: object) -> str:
    hf_api.create_repo(repo_id, **kwargs)  # type: ignore[arg-type]
    return repo_id


def test_push_becomes_hub_commits(git: Git, hf_api: HfApi, alice, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    repo_id = new_repo(hf_api, f"{alice.name}/pushed")
    work = git.clone(git.url(repo_id, alice.write_token), "work")
    weights = os.urandom(2_500_000)
    (work / "README.md").write_bytes(CARD)
    (work / "config.json").write_text('{"model_type": "gpt2"}\n')
    (work / "data").mkdir()
    (work / "data" / "weights.bin").write_bytes(weights)
    git.run("lfs", "track", "*.bin", cwd=work)
    first = git.commit_all(work, "add a model")
    (work / "config.json").write_text('{"model_type": "llama"}\n')
    second = git.commit_all(work, "change the config")
    push = git.run("push", "origin", "main", cwd=work)
    assert "Locking" not in push.stderr and "warning" not in push.stderr.lower(), push.stderr
    commits = hf_api.list_repo_commits(repo_id)
    assert [c.commit_id for c in commits] == git.log(work)
    assert [c.commit_id for c in commits][:2] == [second, first]
    assert commits[0].title == "change the config"
    cache = tmp_path / "cache"
    path = hf_hub_download(repo_id, "data/weights.bin", cache_dir=cache, token=alice.read_token)
    assert hashlib.sha256(Path(path).read_bytes()).hexdigest() == hashlib.sha256(weights).hexdigest()
    path = hf_hub_download(repo_id, "config.json", revision=first, cache_dir=cache, token=alice.read_token)
    assert Path(path).read_text() == '{"model_type": "gpt2"}\n'
    info = hf_api.model_info(repo_id, files_metadata=True)
    assert info.sha == second
    assert info.card_data is not None and info.card_data["license"] == "mit"
    assert info.pipeline_tag == "text-generation"
    lfs = {s.rfilename: s.lfs for s in info.siblings}
    assert lfs["data/weights.bin"] is not None and lfs["data/weights.bin"].sha256 == hashlib.sha256(weights).hexdigest()
    assert lfs["config.json"] is None


def test_push_branch_and_annotated_tag(git: Git, hf_api: HfApi, alice, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    repo_id = new_repo(hf_api, f"{alice.name}/branches")
    work = git.clone(git.url(repo_id, alice.write_token), "work")
    git.run("checkout", "-q", "-b", "dev", cwd=work)
    (work / "dev.txt").write_text("on dev\n")
    dev = git.commit_all(work, "dev work")
    git.run("tag", "-a", "v1.0", "-m", "release 1.0", cwd=work)
    git.run("push", "origin", "dev", "v1.0", cwd=work)
    refs = hf_api.list_repo_refs(repo_id)
    assert {b.name: b.target_commit for b in refs.branches}["dev"] == dev
    assert {t.name: t.target_commit for t in refs.tags}["v1.0"] == dev  # peeled
    path = hf_hub_download(repo_id, "dev.txt", revision="v1.0", cache_dir=tmp_path / "c", token=alice.read_token)
    assert Path(path).read_text() == "on dev\n"
    remote = git.remote_refs(work)
    assert remote["refs/tags/v1.0"] == git.head(work, "v1.0") != dev  # the tag object itself, git's id
    assert remote["refs/tags/v1.0^{}"] == dev
    git.run("push", "origin", "--delete", "dev", cwd=work)
    assert "dev" not in {b.name for b in hf_api.list_repo_refs(repo_id).branches}
    refused = git.run("push", "origin", "--delete", "main", cwd=work, check=False)
    assert refused.returncode != 0 and "deletion of the default branch" in refused.stderr


@pytest.fixture
def org_repo(hub_server, alice, bob, hf_api: HfApi):  # type: ignore[no-untyped-def]
    org = hub_server.new_org(alice)
    hub_server.add_member(org, bob, "write")
    return new_repo(hf_api, f"{org}/shared")


def test_force_push_needs_an_owner(git: Git, org_repo: str, alice, bob, hf_api: HfApi) -> None:  # type: ignore[no-untyped-def]
    writer = git.clone(git.url(org_repo, bob.write_token), "writer")
    (writer / "a.txt").write_text("a\n")
    git.commit_all(writer, "a")
    git.run("push", "origin", "main", cwd=writer)  # a writer may fast-forward
    before = hf_api.list_repo_commits(org_repo)[0].commit_id
    git.run("commit", "-q", "--amend", "-m", "a, reworded", cwd=writer)
    refused = git.run("push", "--force", "origin", "main", cwd=writer, check=False)
    assert refused.returncode != 0
    assert "non-fast-forward" in refused.stderr and "only owners" in refused.stderr
    assert hf_api.list_repo_commits(org_repo)[0].commit_id == before
    owner = git.clone(git.url(org_repo, alice.write_token), "owner")
    git.run("commit", "-q", "--amend", "-m", "rewritten by the owner", cwd=owner)
    rewritten = git.head(owner)
    plain = git.run("push", "origin", "main", cwd=owner, check=False)
    assert plain.returncode != 0 and "rejected" in plain.stderr  # git itself wants --force
    git.run("push", "--force", "origin", "main", cwd=owner)
    assert [c.commit_id for c in hf_api.list_repo_commits(org_repo)] == git.log(owner)
    assert hf_api.list_repo_commits(org_repo)[0].commit_id == rewritten


def test_lfs_objects_must_be_uploaded(git: Git, hf_api: HfApi, alice) -> None:  # type: ignore[no-untyped-def]
    repo_id = new_repo(hf_api, f"{alice.name}/lfs-missing")
    work = git.clone(git.url(repo_id, alice.write_token), "work")
    before = hf_api.list_repo_commits(repo_id)[0].commit_id
    git.run("lfs", "track", "*.bin", cwd=work)
    (work / "w.bin").write_bytes(os.urandom(50_000))
    git.commit_all(work, "lfs file whose object stays local")
    skipped = git.run("push", "origin", "main", cwd=work, check=False, env={"GIT_LFS_SKIP_PUSH": "1"})
    assert skipped.returncode != 0
    assert "missing Git LFS object" in skipped.stderr and "git lfs push --all" in skipped.stderr
    assert hf_api.list_repo_commits(repo_id)[0].commit_id == before
    git.run("reset", "-q", "--hard", "origin/main", cwd=work)
    fake = hashlib.sha256(b"never uploaded").hexdigest()
    pointer = f"version https://git-lfs.github.com/spec/v1\noid sha256:{fake}\nsize 14\n"
    (work / "by-hand.safetensors").write_text(pointer)
    git.commit_all(work, "a pointer written by hand")
    by_hand = git.run("push", "--no-verify", "origin", "main", cwd=work, check=False)
    assert by_hand.returncode != 0 and fake in by_hand.stderr and "by-hand.safetensors" in by_hand.stderr
    assert hf_api.list_repo_commits(repo_id)[0].commit_id == before
    git.run("reset", "-q", "--hard", "HEAD~1", cwd=work)
    git.run("push", "origin", "main", cwd=work)  # the pre-push hook uploads the object: accepted
    assert hf_api.list_repo_commits(repo_id)[0].commit_id == git.head(work)


def test_oversized_file_is_refused(git: Git, hf_api: HfApi, alice, hub_server, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(hub_server.hub.settings, "git_max_blob_size", 1 << 20)
    repo_id = new_repo(hf_api, f"{alice.name}/too-big")
    work = git.clone(git.url(repo_id, alice.write_token), "work")
    (work / "sub").mkdir()
    (work / "sub" / "huge.dat").write_bytes(os.urandom(1_500_000))
    git.commit_all(work, "a large file outside LFS")
    refused = git.run("push", "origin", "main", cwd=work, check=False)
    assert refused.returncode != 0
    assert "File sub/huge.dat is 1.43 MiB; this exceeds the file size limit of 1.00 MiB" in refused.stderr
    assert "use git-lfs" in refused.stderr
    assert len(hf_api.list_repo_commits(repo_id)) == 1


def test_invalid_ref_names_are_refused(git: Git, hf_api: HfApi, alice, hub_server) -> None:  # type: ignore[no-untyped-def]
    repo_id = new_repo(hf_api, f"{alice.name}/refnames")
    work = git.clone(git.url(repo_id, alice.write_token), "work")
    for target, message in (("refs/heads/refs/pr/1", "give the short name"), ("refs/notes/x", "only branches")):
        refused = git.run("push", "origin", f"main:{target}", cwd=work, check=False)
        assert refused.returncode != 0 and message in refused.stderr, refused.stderr
    head = git.head(work)
    # git itself refuses names like these; speak the protocol directly to check the server does too.
    bad = f"{'0' * 40} {head} refs/heads/a..b\0report-status\n".encode()
    body = b"%04x" % (len(bad) + 4) + bad + b"0000"
    answer = httpx.post(f"{hub_server.url}/{repo_id}/git-receive-pack", content=body, auth=("x", alice.write_token))
    assert b"ng refs/heads/a..b funny refname" in answer.content
    assert set(git.remote_refs(work)) == {"HEAD", "refs/heads/main", "refs/heads/master"}


def test_a_push_is_all_or_nothing(git: Git, hf_api: HfApi, alice) -> None:  # type: ignore[no-untyped-def]
    repo_id = new_repo(hf_api, f"{alice.name}/atomic")
    work = git.clone(git.url(repo_id, alice.write_token), "work")
    before = git.remote_refs(work)
    (work / "x.txt").write_text("x\n")
    git.commit_all(work, "x")
    git.run("tag", "t1", cwd=work)
    refused = git.run(
        "push", "origin", "main", "t1", "main:refs/heads/feature", "main:refs/other/y", cwd=work, check=False
    )
    assert refused.returncode != 0
    assert "atomic push failed" in refused.stderr and "only branches" in refused.stderr
    assert git.remote_refs(work) == before
    git.run("push", "--atomic", "origin", "main", "t1", "main:refs/heads/feature", cwd=work)
    after = git.remote_refs(work)
    assert after["refs/heads/main"] == after["refs/heads/feature"] == after["refs/tags/t1"] == git.head(work)


def test_push_needs_a_write_token(git: Git, hf_api: HfApi, alice, bob) -> None:  # type: ignore[no-untyped-def]
    repo_id = new_repo(hf_api, f"{alice.name}/guarded")
    work = git.clone(git.url(repo_id, alice.read_token), "work")
    (work / "x.txt").write_text("x\n")
    git.commit_all(work, "x")
    read = git.run("push", "origin", "main", cwd=work, check=False)
    assert read.returncode != 0 and "read token" in read.stderr and "403" in read.stderr
    git.run("remote", "set-url", "origin", git.url(repo_id, bob.write_token), cwd=work)
    stranger = git.run("push", "origin", "main", cwd=work, check=False)
    assert stranger.returncode != 0 and "write access" in stranger.stderr
    git.run("remote", "set-url", "origin", git.url(repo_id), cwd=work)
    anonymous = git.run("push", "origin", "main", cwd=work, check=False)
    assert anonymous.returncode != 0 and "could not read Username" in anonymous.stderr
    assert len(hf_api.list_repo_commits(repo_id)) == 1


def test_fsck_is_clean_after_pushes(git: Git, hf_api: HfApi, alice, hub_server) -> None:  # type: ignore[no-untyped-def]
    repo_id = new_repo(hf_api, f"{alice.name}/checked")
    work = git.clone(git.url(repo_id, alice.write_token), "work")
    git.run("lfs", "track", "*.bin", cwd=work)
    for i in range(3):
        (work / f"f{i}.bin").write_bytes(os.urandom(20_000))
        (work / "log.txt").write_text(f"step {i}\n")
        git.commit_all(work, f"step {i}")
        git.run("push", "-q", "origin", "main", cwd=work)
    git.run("tag", "-a", "done", "-m", "done", cwd=work)
    git.run("push", "-q", "origin", "done", cwd=work)
    report = fsck(hub_server.hub)
    mine = [p for p in report.problems if alice.name in p]
    assert mine == [] and report.git_objects_checked > 0
    assert not [p for p in report.problems if p.startswith("blob ")]
