"""receive-pack spoken directly (what the git client never sends): gzip bodies, broken packs, odd refs."""

from __future__ import annotations

import gzip
import io
import time

import httpx
import pytest
from dulwich.object_format import SHA1
from dulwich.objects import Blob, Commit, Tree
from dulwich.pack import write_pack_objects
from huggingface_hub import HfApi

pytestmark = pytest.mark.contract

ZERO = "0" * 40


def pkt(line: str | bytes) -> bytes:
    data = line.encode() if isinstance(line, str) else line
    return b"%04x" % (len(data) + 4) + data


def commit_on(parent: str, tree: Tree, message: str) -> Commit:
    commit = Commit()
    commit.tree = tree.id
    commit.parents = [parent.encode()]  # type: ignore[list-item]
    commit.author = commit.committer = b"Wire Test <wire@example.org>"
    commit.author_time = commit.commit_time = int(time.time())
    commit.author_timezone = commit.commit_timezone = 0
    commit.message = message.encode() + b"\n"
    return commit


def pack_of(*objects: object) -> bytes:
    out = io.BytesIO()
    write_pack_objects(out.write, list(objects), object_format=SHA1)  # type: ignore[arg-type]
    return out.getvalue()


def push(hub_server, repo_id: str, token: str, commands: list[str], pack: bytes, *, gzipped: bool = False) -> bytes:  # type: ignore[no-untyped-def]
    lines = [pkt(commands[0] + "\0report-status side-band-64k\n")] + [pkt(c + "\n") for c in commands[1:]]
    body = b"".join(lines) + b"0000" + pack
    headers = {"Content-Type": "application/x-git-receive-pack-request"}
    if gzipped:
        body = gzip.compress(body)
        headers["Content-Encoding"] = "gzip"
    answer = httpx.post(
        f"{hub_server.url}/{repo_id}.git/git-receive-pack", content=body, headers=headers, auth=("oauth2", token)
    )
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "application/x-git-receive-pack-result"
    return answer.content


def test_gzip_push_of_a_dulwich_pack(hub_server, hf_api: HfApi, alice) -> None:  # type: ignore[no-untyped-def]
    repo_id = f"{alice.name}/wire-push"
    hf_api.create_repo(repo_id)
    head = hf_api.list_repo_commits(repo_id)[0].commit_id
    blob = Blob.from_string(b"written by dulwich\n")
    tree = Tree()
    tree.add(b"hello.txt", 0o100644, blob.id)
    commit = commit_on(head, tree, "a commit built by hand")
    new = commit.id.decode()
    result = push(
        hub_server,
        repo_id,
        alice.write_token,
        [f"{ZERO} {new} refs/heads/raw"],
        pack_of(blob, tree, commit),
        gzipped=True,
    )
    assert b"unpack ok" in result and b"ok refs/heads/raw" in result
    refs = hf_api.list_repo_refs(repo_id)
    assert {b.name: b.target_commit for b in refs.branches}["raw"] == new
    assert hf_api.list_repo_commits(repo_id, revision="raw")[0].commit_id == new
    # a fast-forward of main to the same commit needs no pack at all
    empty = pack_of()
    result = push(hub_server, repo_id, alice.write_token, [f"{head} {new} refs/heads/main"], empty)
    assert b"ok refs/heads/main" in result
    assert hf_api.model_info(repo_id).sha == new


def test_broken_packs_and_missing_objects(hub_server, hf_api: HfApi, alice) -> None:  # type: ignore[no-untyped-def]
    repo_id = f"{alice.name}/wire-broken"
    hf_api.create_repo(repo_id)
    head = hf_api.list_repo_commits(repo_id)[0].commit_id
    tree = Tree()
    tree.add(b"gone.txt", 0o100644, Blob.from_string(b"never sent\n").id)
    commit = commit_on(head, tree, "its blob is missing")
    new = commit.id.decode()
    result = push(hub_server, repo_id, alice.write_token, [f"{head} {new} refs/heads/main"], b"PACK garbage")
    assert b"unpack error" in result and b"ng refs/heads/main unpacker error" in result
    result = push(hub_server, repo_id, alice.write_token, [f"{head} {new} refs/heads/main"], pack_of(tree, commit))
    assert b"unpack ok" in result and b"ng refs/heads/main missing necessary objects" in result
    stale = "1" * 40
    result = push(hub_server, repo_id, alice.write_token, [f"{stale} {head} refs/heads/main"], pack_of())
    assert b"ng refs/heads/main stale info" in result
    assert hf_api.list_repo_commits(repo_id)[0].commit_id == head
    bad_tree = Tree()
    bad_tree.add(b"sub", 0o160000, b"2" * 40)
    gitlink = commit_on(head, bad_tree, "a submodule")
    result = push(
        hub_server,
        repo_id,
        alice.write_token,
        [f"{head} {gitlink.id.decode()} refs/heads/main"],
        pack_of(bad_tree, gitlink),
    )
    assert b"submodules are not supported" in result


def test_probe_and_protocol_errors(hub_server, hf_api: HfApi, alice) -> None:  # type: ignore[no-untyped-def]
    repo_id = f"{alice.name}/wire-probe"
    hf_api.create_repo(repo_id)
    url = f"{hub_server.url}/{repo_id}/git-receive-pack"
    probe = httpx.post(url, content=b"0000", auth=("oauth2", alice.write_token))
    assert probe.status_code == 200 and probe.content == b""  # what git sends before a large push
    nonsense = httpx.post(url, content=pkt("not a command\n") + b"0000", auth=("oauth2", alice.write_token))
    assert nonsense.content.startswith(b"00") and b"ERR invalid ref update line" in nonsense.content
    assert httpx.post(url, content=b"0000").status_code == 401
    assert httpx.post(url, content=b"0000", auth=("oauth2", alice.read_token)).status_code == 403
    garbage = httpx.post(
        url, content=b"not gzip", headers={"Content-Encoding": "gzip"}, auth=("oauth2", alice.write_token)
    )
    assert garbage.status_code == 400
