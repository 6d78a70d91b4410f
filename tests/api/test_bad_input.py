"""Hostile and malformed input against the live hub over raw HTTP: every answer is a clean 4xx, nothing
half-done becomes visible, and private repos are never revealed."""

from __future__ import annotations

import base64
import hashlib
import http.client
import json
import secrets
import threading
import time
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from sqlalchemy import select

from dazi.repos.models import LfsObject

LFS_JSON = "application/vnd.git-lfs+json"
NDJSON = "application/x-ndjson"
TIMEOUT = 60.0


# -- helpers ---------------------------------------------------------------------------------------


def bearer(token: str | None) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"} if token else {}


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture
def client(hub_server: Any) -> Any:
    with httpx.Client(base_url=hub_server.url, timeout=TIMEOUT) as c:
        yield c


def create_repo(client: httpx.Client, token: str, name: str, *, private: bool = False) -> str:
    r = client.post("/api/repos/create", json={"name": name, "private": private}, headers=bearer(token))
    assert r.status_code == 200, r.text
    return str(r.json()["name"])


@pytest.fixture(scope="module")
def owner(hub_server: Any) -> Any:
    return hub_server.new_user("owner")


@pytest.fixture(scope="module")
def shared(hub_server: Any, owner: Any) -> str:
    """Like ``repo``, shared by the tests that only read it or are expected to leave it unchanged."""
    with httpx.Client(base_url=hub_server.url, timeout=TIMEOUT) as c:
        return populate(c, owner)


@pytest.fixture
def repo(client: httpx.Client, alice: Any) -> str:
    """A public model repo of alice's, with a small file, an empty file and an LFS file committed."""
    return populate(client, alice)


def populate(client: httpx.Client, account: Any) -> str:
    repo_id = create_repo(client, account.write_token, f"bad-input-{secrets.token_hex(3)}")
    r = commit(client, account.write_token, repo_id, [
        file_op("hello.txt", b"0123456789abcdef"),
        file_op("empty.txt", b""),
        file_op("weights.bin", b"W" * 1000),  # *.bin: stored in LFS by the default .gitattributes
    ])
    assert r.status_code == 200, r.text
    return repo_id


def line(key: str, value: dict[str, Any]) -> bytes:
    return json.dumps({"key": key, "value": value}).encode() + b"\n"


def header_line(**extra: Any) -> bytes:
    return line("header", {"summary": "x", **extra})


def file_op(path: str, content: bytes) -> bytes:
    return line("file", {"path": path, "content": base64.b64encode(content).decode(), "encoding": "base64"})


def commit(client: httpx.Client, token: str | None, repo_id: str, ops: list[bytes], *, branch: str = "main",
           header: bytes | None = None, raw: bytes | None = None) -> httpx.Response:
    body = raw if raw is not None else (header or header_line()) + b"".join(ops)
    return client.post(f"/api/models/{repo_id}/commit/{branch}", content=body,
                       headers={"Content-Type": NDJSON, **bearer(token)})


def head_sha(client: httpx.Client, token: str, repo_id: str, rev: str = "main") -> str:
    r = client.get(f"/api/models/{repo_id}/revision/{rev}", headers=bearer(token))
    assert r.status_code == 200, r.text
    return str(r.json()["sha"])


def files(client: httpx.Client, token: str, repo_id: str) -> set[str]:
    r = client.get(f"/api/models/{repo_id}/tree/main", params={"recursive": "1"}, headers=bearer(token))
    assert r.status_code == 200, r.text
    return {e["path"] for e in r.json() if e["type"] == "file"}


def assert_error(r: httpx.Response, status: int | tuple[int, ...], code: str | None = None) -> None:
    statuses = status if isinstance(status, tuple) else (status,)
    assert r.status_code in statuses, (r.status_code, r.headers.get("x-error-message"), r.text[:300])
    assert r.headers.get("x-error-message"), dict(r.headers)
    if code is not None:
        assert r.headers.get("x-error-code") == code, dict(r.headers)


def lfs_batch(client: httpx.Client, token: str | None, repo_id: str, objects: list[dict[str, Any]],
              operation: str = "upload") -> httpx.Response:
    body = {"operation": operation, "transfers": ["basic"], "objects": objects, "hash_algo": "sha256"}
    return client.post(f"/{repo_id}.git/info/lfs/objects/batch", content=json.dumps(body),
                       headers={"Content-Type": LFS_JSON, "Accept": LFS_JSON, **bearer(token)})


def upload_href(client: httpx.Client, token: str, repo_id: str, data: bytes) -> dict[str, Any]:
    r = lfs_batch(client, token, repo_id, [{"oid": sha256(data), "size": len(data)}])
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith(LFS_JSON)
    (obj,) = r.json()["objects"]
    assert "error" not in obj, obj
    return obj["actions"]  # type: ignore[no-any-return]


def lfs_rows(hub_server: Any, oid: str) -> list[Any]:
    with hub_server.hub.db.read() as session:
        return list(session.execute(select(LfsObject.repo_id, LfsObject.committed).where(LfsObject.oid == oid)))


def temporaries(hub_server: Any) -> int:
    return sum(1 for _ in hub_server.hub.blobs.iter_temporaries())


def raw_get(url: str, path: str, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str]]:
    """A request whose path is sent exactly as given (httpx would remove dot segments)."""
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=TIMEOUT)
    try:
        conn.request("GET", path, headers=headers or {})
        resp = conn.getresponse()
        resp.read()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}
    finally:
        conn.close()


# -- commit paths ------------------------------------------------------------------------------------

BAD_PATHS = ["../x", "/abs", "a/../b", "a\\b", "a\x00b", "d/" + "x" * 300, ".git/config", ".git", "..", "",
             "a//b", "./a", "a/", "x\ny"]


@pytest.mark.parametrize("kind", ["file", "deletedFile", "lfsFile"])
@pytest.mark.parametrize("path", BAD_PATHS, ids=lambda p: repr(p[:20]))
def test_commit_rejects_bad_paths(client: httpx.Client, owner: Any, shared: str, kind: str, path: str) -> None:
    before = head_sha(client, owner.write_token, shared)
    before_files = files(client, owner.write_token, shared)
    if kind == "file":
        bad = file_op(path, b"evil")
    elif kind == "deletedFile":
        bad = line("deletedFile", {"path": path})
    else:
        bad = line("lfsFile", {"path": path, "algo": "sha256", "oid": sha256(b"W" * 1000), "size": 1000})
    r = commit(client, owner.write_token, shared, [file_op("good.txt", b"fine"), bad])
    assert_error(r, 400)
    assert head_sha(client, owner.write_token, shared) == before
    assert files(client, owner.write_token, shared) == before_files


def test_commit_rejects_bad_folder_deletion(client: httpx.Client, owner: Any, shared: str) -> None:
    before = head_sha(client, owner.write_token, shared)
    for path in ["../", "/", "a/../", ".git/"]:
        r = commit(client, owner.write_token, shared, [line("deletedFolder", {"path": path})])
        assert_error(r, 400)
    assert head_sha(client, owner.write_token, shared) == before


MALFORMED = {
    "not json": header_line() + b"not json at all\n",
    "truncated": header_line() + b'{"key": "file", "value": {"path": "a"\n',
    "missing header": file_op("a.txt", b"x"),
    "header not first": file_op("a.txt", b"x") + header_line(),
    "two headers": header_line() + header_line(),
    "empty body": b"",
    "unknown key": header_line() + line("copyFile", {"path": "a.txt", "src": "b.txt"}),
    "bad base64": header_line() + line("file", {"path": "a.txt", "content": "%%%%", "encoding": "base64"}),
    "base64 padding": header_line() + line("file", {"path": "a.txt", "content": "abc"}),
    "other encoding": header_line() + line("file", {"path": "a.txt", "content": "aGk=", "encoding": "hex"}),
    "no content": header_line() + line("file", {"path": "a.txt"}),
    "array line": header_line() + b"[]\n",
    "value not object": header_line() + b'{"key": "file", "value": 1}\n',
    "bad parentCommit": header_line(parentCommit="../../etc"),
    "bad oid": header_line() + line("lfsFile", {"path": "a.bin", "algo": "sha256", "oid": "../x", "size": 1}),
    "bad size": header_line() + line("lfsFile", {"path": "a.bin", "algo": "sha256", "oid": "a" * 64, "size": -5}),
    "invalid utf-8": header_line() + b'{"key": "file", "value": {"path": "\xff\xfe"}}\n',
}


@pytest.mark.parametrize("body", list(MALFORMED.values()), ids=list(MALFORMED))
def test_commit_rejects_malformed_ndjson(client: httpx.Client, owner: Any, shared: str, body: bytes) -> None:
    before = head_sha(client, owner.write_token, shared)
    r = commit(client, owner.write_token, shared, [], raw=body)
    assert_error(r, 400)
    assert r.json()["error"] == r.headers["x-error-message"] or r.json()["error"]
    assert head_sha(client, owner.write_token, shared) == before


@pytest.mark.parametrize(("setup", "ops"), [
    ([], [file_op("hello.txt/inner.txt", b"x")]),  # a file below an existing file
    ([file_op("dir/x.txt", b"x")], [file_op("dir", b"file where a folder is")]),  # a file over a folder
    ([], [file_op("n", b"1"), file_op("n/m", b"2")]),  # both in one commit
    ([], [file_op("n/m", b"2"), file_op("n", b"1")]),
], ids=["file-below-file", "file-over-folder", "same-commit", "same-commit-reversed"])
def test_commit_rejects_file_folder_collisions(client: httpx.Client, alice: Any, repo: str, setup: list[bytes],
                                               ops: list[bytes]) -> None:
    """A path cannot be a file and a folder at once. The commit must be refused, not half-applied: the server
    must not silently drop the existing file (file-below-file) or the new file (file-over-folder)."""
    if setup:
        assert commit(client, alice.write_token, repo, setup).status_code == 200
    before = head_sha(client, alice.write_token, repo)
    before_files = files(client, alice.write_token, repo)
    r = commit(client, alice.write_token, repo, ops)
    assert 400 <= r.status_code < 500, (r.status_code, r.text[:300])
    assert head_sha(client, alice.write_token, repo) == before
    assert files(client, alice.write_token, repo) == before_files


def test_commit_lfs_file_never_uploaded(client: httpx.Client, alice: Any, repo: str) -> None:
    before = head_sha(client, alice.write_token, repo)
    oid = sha256(secrets.token_bytes(32))
    r = commit(client, alice.write_token, repo, [
        file_op("good.txt", b"fine"),
        line("lfsFile", {"path": "ghost.safetensors", "algo": "sha256", "oid": oid, "size": 10}),
    ])
    assert_error(r, 400)
    assert oid in r.headers["x-error-message"]
    assert head_sha(client, alice.write_token, repo) == before
    # the same without a size (server-side copies of LFS files send none)
    r = commit(client, alice.write_token, repo,
               [line("lfsFile", {"path": "ghost.safetensors", "algo": "sha256", "oid": oid})])
    assert_error(r, 400)
    assert head_sha(client, alice.write_token, repo) == before


def test_commit_cannot_claim_another_repos_lfs_object(client: httpx.Client, alice: Any, bob: Any,
                                                       repo: str) -> None:
    """alice's weights.bin is in the blob store, but bob may not link it into his repo by its oid."""
    mine = create_repo(client, bob.write_token, f"claims-{secrets.token_hex(3)}")
    before = head_sha(client, bob.write_token, mine)
    oid = sha256(b"W" * 1000)
    r = commit(client, bob.write_token, mine,
               [line("lfsFile", {"path": "stolen.bin", "algo": "sha256", "oid": oid, "size": 1000})])
    assert_error(r, 400)
    assert head_sha(client, bob.write_token, mine) == before
    r = lfs_batch(client, bob.write_token, mine, [{"oid": oid, "size": 1000}], operation="download")
    assert r.status_code == 200
    assert r.json()["objects"][0]["error"]["code"] == 404


def test_commit_lfs_size_mismatch(client: httpx.Client, alice: Any, repo: str) -> None:
    before = head_sha(client, alice.write_token, repo)
    oid = sha256(b"W" * 1000)  # uploaded to this repo by the fixture, 1000 bytes
    r = commit(client, alice.write_token, repo,
               [line("lfsFile", {"path": "copy.bin", "algo": "sha256", "oid": oid, "size": 999})])
    assert_error(r, 400)
    assert head_sha(client, alice.write_token, repo) == before
    r = commit(client, alice.write_token, repo,
               [line("lfsFile", {"path": "copy.bin", "algo": "sha256", "oid": oid})])
    assert r.status_code == 200, r.text  # without a size: the stored size is used
    h = client.head(f"/{repo}/resolve/main/copy.bin")
    assert h.headers["x-linked-size"] == "1000"


def test_delete_missing_file(client: httpx.Client, alice: Any, repo: str) -> None:
    before = head_sha(client, alice.write_token, repo)
    r = commit(client, alice.write_token, repo, [line("deletedFile", {"path": "nope.txt"})])
    assert_error(r, 404, "EntryNotFound")
    assert "nope.txt" in r.headers["x-error-message"]
    r = commit(client, alice.write_token, repo, [line("deletedFolder", {"path": "nope/"})])
    assert_error(r, 404, "EntryNotFound")
    assert head_sha(client, alice.write_token, repo) == before


def test_delete_missing_file_message_matches_the_hub(client: httpx.Client, alice: Any, repo: str) -> None:
    """hf-protocol.md §5.4: the message contains "A file with this name doesn't exist"; huggingface_hub
    (hf_api.create_commit) appends its file/folder hint only when it finds that exact, case-sensitive text."""
    r = commit(client, alice.write_token, repo, [line("deletedFile", {"path": "nope.txt"})])
    assert_error(r, 404, "EntryNotFound")
    assert "A file with this name doesn't exist" in r.headers["x-error-message"]


def test_commit_to_missing_branch_tag_and_stale_parent(client: httpx.Client, alice: Any, repo: str) -> None:
    before = head_sha(client, alice.write_token, repo)
    r = commit(client, alice.write_token, repo, [file_op("a.txt", b"x")], branch="no-such-branch")
    assert_error(r, 404, "RevisionNotFound")
    r = client.post(f"/api/models/{repo}/tag/main", json={"tag": "v1"}, headers=bearer(alice.write_token))
    assert r.status_code == 200, r.text
    r = commit(client, alice.write_token, repo, [file_op("a.txt", b"x")], branch="v1")
    assert_error(r, 400)
    parent = before
    assert commit(client, alice.write_token, repo, [file_op("a.txt", b"x")],
                  header=header_line(parentCommit=parent)).status_code == 200
    moved = head_sha(client, alice.write_token, repo)
    r = commit(client, alice.write_token, repo, [file_op("b.txt", b"y")], header=header_line(parentCommit=parent))
    assert_error(r, 412)
    assert head_sha(client, alice.write_token, repo) == moved


def test_create_pr_is_refused_cleanly(client: httpx.Client, alice: Any, repo: str) -> None:
    before = head_sha(client, alice.write_token, repo)
    r = client.post(f"/api/models/{repo}/commit/main", params={"create_pr": "1"},
                    content=header_line() + file_op("a.txt", b"x"),
                    headers={"Content-Type": NDJSON, **bearer(alice.write_token)})
    assert_error(r, 400)
    assert head_sha(client, alice.write_token, repo) == before


@pytest.mark.parametrize("path", ["../x", "/abs", "a/../b", ".git/config", "a\\b", "a\x00b", ""])
def test_preupload_rejects_bad_paths(client: httpx.Client, owner: Any, shared: str, path: str) -> None:
    r = client.post(f"/api/models/{shared}/preupload/main",
                    json={"files": [{"path": "ok.txt", "size": 1, "sample": ""},
                                    {"path": path, "size": 1, "sample": ""}]},
                    headers=bearer(owner.write_token))
    assert_error(r, 400)


@pytest.mark.parametrize("body", [{}, {"files": "x"}, {"files": [1]}, {"files": [{"path": "a.txt", "size": -1}]},
                                  {"files": [{"path": "a.txt", "size": "1"}]}, {"files": [{"size": 1}]}])
def test_preupload_rejects_bad_bodies(client: httpx.Client, owner: Any, shared: str, body: dict[str, Any]) -> None:
    r = client.post(f"/api/models/{shared}/preupload/main", json=body, headers=bearer(owner.write_token))
    assert_error(r, 400)
    r = client.post(f"/api/models/{shared}/preupload/main", content=b"{not json",
                    headers={"Content-Type": "application/json", **bearer(owner.write_token)})
    assert_error(r, 400)


# -- LFS -------------------------------------------------------------------------------------------


def test_lfs_upload_flow_and_head_headers(client: httpx.Client, hub_server: Any, alice: Any, repo: str) -> None:
    data = secrets.token_bytes(4096)
    oid = sha256(data)
    actions = upload_href(client, alice.write_token, repo, data)
    href = actions["upload"]["href"]
    assert href.startswith(hub_server.url)
    assert not hub_server.hub.blobs.exists(oid)
    r = httpx.put(href, content=data, timeout=TIMEOUT)  # no auth: the href authorises itself
    assert r.status_code == 200, r.text
    assert hub_server.hub.blobs.exists(oid)
    assert lfs_rows(hub_server, oid)
    r = httpx.post(actions["verify"]["href"], json={"oid": oid, "size": len(data)},
                   headers={"Content-Type": LFS_JSON, **bearer(alice.write_token)}, timeout=TIMEOUT)
    assert r.status_code == 200, r.text
    # uploaded again: no actions, the client skips it
    r = lfs_batch(client, alice.write_token, repo, [{"oid": oid, "size": len(data)}])
    assert "actions" not in r.json()["objects"][0]
    r = commit(client, alice.write_token, repo,
               [line("lfsFile", {"path": "model.safetensors", "algo": "sha256", "oid": oid, "size": len(data)})])
    assert r.status_code == 200, r.text
    sha = r.json()["commitOid"]
    h = client.head(f"/{repo}/resolve/main/model.safetensors")
    assert h.status_code == 200
    assert h.headers["content-length"] == str(len(data))
    assert h.headers["x-repo-commit"] == sha
    assert h.headers["x-linked-etag"] == f'"{oid}"'
    assert h.headers["x-linked-size"] == str(len(data))
    assert h.headers["etag"] == f'"{oid}"'
    g = client.get(f"/{repo}/resolve/main/model.safetensors")
    assert g.status_code == 200 and g.content == data


@pytest.mark.parametrize("wrong", ["same size, other bytes", "one byte short", "one byte more", "empty", "double"])
def test_lfs_put_wrong_content(client: httpx.Client, hub_server: Any, alice: Any, repo: str, wrong: str) -> None:
    data = secrets.token_bytes(3000)
    oid = sha256(data)
    href = upload_href(client, alice.write_token, repo, data)["upload"]["href"]
    body = {
        "same size, other bytes": secrets.token_bytes(3000),
        "one byte short": data[:-1],
        "one byte more": data + b"!",
        "empty": b"",
        "double": data + data,
    }[wrong]
    temps = temporaries(hub_server)
    r = httpx.put(href, content=body, timeout=TIMEOUT)
    assert 400 <= r.status_code < 500, r.status_code
    assert r.json()["message"]
    assert not hub_server.hub.blobs.exists(oid)
    assert not hub_server.hub.blobs.exists(sha256(body))
    assert lfs_rows(hub_server, oid) == []
    assert temporaries(hub_server) == temps
    # the object is still missing: verify fails and a commit naming it is refused
    verify = upload_href(client, alice.write_token, repo, data)["verify"]["href"]
    r = httpx.post(verify, json={"oid": oid, "size": len(data)}, headers=bearer(alice.write_token),
                   timeout=TIMEOUT)
    assert r.status_code == 404
    r = commit(client, alice.write_token, repo,
               [line("lfsFile", {"path": "w.safetensors", "algo": "sha256", "oid": oid, "size": len(data)})])
    assert_error(r, 400)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def test_lfs_forged_tokens(client: httpx.Client, hub_server: Any, alice: Any, repo: str) -> None:
    data = secrets.token_bytes(100)
    oid = sha256(data)
    href = upload_href(client, alice.write_token, repo, data)["upload"]["href"]
    base, token = href.rsplit("/", 1)
    raw, mac = token.split(".")
    payload = json.loads(base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)))
    assert payload["o"] == oid
    other = dict(payload, s=len(data) + 1)
    forged = [
        f"{_b64(json.dumps(other, separators=(',', ':')).encode())}.{mac}",  # payload changed, old MAC
        f"{raw}.{mac[:-1]}{'A' if mac[-1] != 'A' else 'B'}",  # MAC changed
        f"{raw}.",
        raw,
        "garbage",
        f"{raw}.{mac}.{mac}",
    ]
    for bad in forged:
        r = httpx.put(f"{base}/{bad}", content=data, timeout=TIMEOUT)
        assert r.status_code == 401, (bad, r.status_code, r.text)
        assert r.headers["content-type"].startswith(LFS_JSON)
        r = httpx.post(f"{hub_server.url}/api/lfs/verify/{bad}", json={"oid": oid, "size": len(data)},
                       timeout=TIMEOUT)
        assert r.status_code == 401
        r = httpx.get(f"{hub_server.url}/api/lfs/objects/{bad}", timeout=TIMEOUT)
        assert r.status_code == 401
    assert not hub_server.hub.blobs.exists(oid)
    assert lfs_rows(hub_server, oid) == []


def test_lfs_download_token_cannot_upload(client: httpx.Client, hub_server: Any, alice: Any, repo: str) -> None:
    oid = sha256(b"W" * 1000)
    r = lfs_batch(client, alice.write_token, repo, [{"oid": oid, "size": 1000}], operation="download")
    href = r.json()["objects"][0]["actions"]["download"]["href"]
    assert httpx.get(href, timeout=TIMEOUT).content == b"W" * 1000
    r = httpx.put(href, content=b"X" * 1000, timeout=TIMEOUT)
    assert r.status_code == 403
    assert hub_server.hub.blobs.read(oid) == b"W" * 1000


@pytest.mark.parametrize("obj", [
    {"oid": "not-a-sha", "size": 1},
    {"oid": "A" * 64, "size": 1},
    {"oid": "a" * 63, "size": 1},
    {"oid": "../../etc/passwd", "size": 1},
    {"oid": "a" * 64, "size": -1},
    {"oid": "a" * 64, "size": "1"},
    {"oid": "a" * 64},
    {"size": 1},
    "not an object",
    None,
])
def test_lfs_batch_invalid_object(client: httpx.Client, owner: Any, shared: str, obj: Any) -> None:
    good = {"oid": sha256(b"fine"), "size": 4}
    r = lfs_batch(client, owner.write_token, shared, [obj, good])
    assert r.status_code == 200, r.text
    bad_answer, good_answer = r.json()["objects"]
    assert isinstance(bad_answer["oid"], str) and isinstance(bad_answer["size"], int)
    assert 400 <= bad_answer["error"]["code"] < 500
    assert bad_answer["error"]["message"]
    assert "actions" not in bad_answer
    assert "error" not in good_answer and "upload" in good_answer["actions"]


def test_lfs_batch_too_large(client: httpx.Client, hub_server: Any, alice: Any, repo: str) -> None:
    size = hub_server.settings.max_file_size + 1
    r = lfs_batch(client, alice.write_token, repo, [{"oid": "b" * 64, "size": size}])
    assert r.json()["objects"][0]["error"]["code"] == 413


@pytest.mark.parametrize("body", [b"not json", b"[]", b'{"operation": "delete", "objects": []}',
                                  b'{"operation": "upload", "objects": {}}', b"", b'{"operation": "upload"}'])
def test_lfs_batch_malformed(client: httpx.Client, owner: Any, shared: str, body: bytes) -> None:
    r = client.post(f"/{shared}.git/info/lfs/objects/batch", content=body,
                    headers={"Content-Type": LFS_JSON, **bearer(owner.write_token)})
    assert r.status_code in (400, 422), r.status_code
    assert r.headers["content-type"].startswith(LFS_JSON)
    assert r.json()["message"]


def test_lfs_batch_permissions(client: httpx.Client, alice: Any, bob: Any, repo: str) -> None:
    obj = [{"oid": sha256(b"p"), "size": 1}]
    private = create_repo(client, alice.write_token, f"lfs-private-{secrets.token_hex(3)}", private=True)
    assert lfs_batch(client, None, private, obj).status_code == 401
    assert lfs_batch(client, None, private, obj, "download").status_code == 401
    assert lfs_batch(client, bob.write_token, private, obj).status_code == 404
    assert lfs_batch(client, bob.write_token, private, obj, "download").status_code == 404
    assert lfs_batch(client, bob.write_token, repo, obj).status_code == 403  # public, not his
    assert lfs_batch(client, alice.read_token, repo, obj).status_code == 403  # read token
    assert lfs_batch(client, "dazi_not_a_token", repo, obj).status_code == 401
    assert lfs_batch(client, None, repo, obj).status_code in (401, 403)
    assert lfs_batch(client, alice.write_token, f"{alice.name}/no-such-repo", obj).status_code == 404


# -- resolve -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("suffix", ["../x", "../../../etc/passwd", "a/../hello.txt", "./hello.txt", ".git/config",
                                    "..%2Fhello.txt", "%2E%2E/x", "a%5Cb", "a%00b", "%2Fhello.txt"])
def test_resolve_traversal(hub_server: Any, owner: Any, shared: str, suffix: str) -> None:
    status, headers = raw_get(hub_server.url, f"/{shared}/resolve/main/{suffix}")
    assert status in (400, 404), status
    assert headers.get("x-error-message")


def test_resolve_invalid_utf8(hub_server: Any, shared: str) -> None:
    status, _headers = raw_get(hub_server.url, f"/{shared}/resolve/main/%FF%FE.txt")
    assert status in (400, 404)


def test_resolve_errors(client: httpx.Client, alice: Any, repo: str) -> None:
    ns = alice.name
    r = client.get(f"/{ns}/no-such-repo/resolve/main/x.txt")
    assert_error(r, 401, "RepoNotFound")
    r = client.get(f"/{ns}/no-such-repo/resolve/main/x.txt", headers=bearer(alice.write_token))
    assert_error(r, 404, "RepoNotFound")
    r = client.get(f"/nobody-{secrets.token_hex(3)}/x/resolve/main/x.txt", headers=bearer(alice.write_token))
    assert_error(r, 404, "RepoNotFound")
    r = client.get(f"/{repo}/resolve/no-such-rev/hello.txt")
    assert_error(r, 404, "RevisionNotFound")
    r = client.get(f"/{repo}/resolve/{'0' * 40}/hello.txt")
    assert_error(r, 404, "RevisionNotFound")
    sha = head_sha(client, alice.write_token, repo)
    for method in ("GET", "HEAD"):
        r = client.request(method, f"/{repo}/resolve/main/missing.txt")
        assert r.status_code == 404
        assert r.headers["x-error-code"] == "EntryNotFound"
        assert r.headers["x-repo-commit"] == sha
    r = client.get(f"/{repo}/resolve/main/missing/dir.txt")
    assert_error(r, 404, "EntryNotFound")
    # a folder is not a file
    commit(client, alice.write_token, repo, [file_op("folder/f.txt", b"f")])
    r = client.get(f"/{repo}/resolve/main/folder")
    assert_error(r, 404, "EntryNotFound")
    r = client.head(f"/{ns}/no-such-repo/resolve/main/x.txt", headers=bearer(alice.write_token))
    assert r.status_code == 404 and r.headers["x-error-code"] == "RepoNotFound"


def test_private_repo_is_never_revealed(client: httpx.Client, alice: Any, bob: Any) -> None:
    private = create_repo(client, alice.write_token, f"secret-{secrets.token_hex(3)}", private=True)
    assert commit(client, alice.write_token, private, [file_op("s.txt", b"secret")]).status_code == 200
    missing = f"{alice.name}/does-not-exist-{secrets.token_hex(3)}"
    checks = [
        ("GET", "/{}/resolve/main/s.txt", None),
        ("HEAD", "/{}/resolve/main/s.txt", None),
        ("GET", "/api/models/{}", None),
        ("GET", "/api/models/{}/revision/main", None),
        ("GET", "/api/models/{}/tree/main", None),
        ("GET", "/api/models/{}/refs", None),
        ("GET", "/api/models/{}/commits/main", None),
        ("GET", "/api/models/{}/auth-check", None),
        ("POST", "/api/models/{}/preupload/main", {"files": [{"path": "a.txt", "size": 1, "sample": ""}]}),
        ("POST", "/api/models/{}/commit/main", header_line() + file_op("x.txt", b"x")),
        ("POST", "/api/models/{}/branch/dev", {}),
        ("PUT", "/api/models/{}/settings", {"private": False}),
    ]
    for method, template, body in checks:
        for repo_id in (private, missing):
            url = template.format(repo_id)
            kwargs: dict[str, Any] = {}
            if isinstance(body, bytes):
                kwargs = {"content": body, "headers": {"Content-Type": NDJSON}}
            elif body is not None:
                kwargs = {"json": body}
            extra = kwargs.pop("headers", {})
            anon = client.request(method, url, headers=extra, **kwargs)
            assert anon.status_code == 401, (method, url, anon.status_code)
            assert anon.headers.get("x-error-code") == "RepoNotFound", (method, url, dict(anon.headers))
            for token in (bob.write_token, bob.read_token):
                other = client.request(method, url, headers={**extra, **bearer(token)}, **kwargs)
                assert other.status_code == 404, (method, url, other.status_code)
                assert other.headers.get("x-error-code") == "RepoNotFound", (method, url)
    # delete and move answer alike for bob
    r = client.request("DELETE", "/api/repos/delete", json={"name": private, "type": "model"},
                       headers=bearer(bob.write_token))
    assert_error(r, 404, "RepoNotFound")
    # the owner sees it; it still holds its file
    assert client.get(f"/{private}/resolve/main/s.txt", headers=bearer(alice.read_token)).content == b"secret"


def test_read_token_cannot_write(client: httpx.Client, alice: Any, repo: str) -> None:
    before = head_sha(client, alice.write_token, repo)
    r = commit(client, alice.read_token, repo, [file_op("a.txt", b"x")])
    assert_error(r, 403)
    r = client.post("/api/repos/create", json={"name": "read-token-repo"}, headers=bearer(alice.read_token))
    assert r.status_code == 403
    r = client.post(f"/api/models/{repo}/branch/dev", json={}, headers=bearer(alice.read_token))
    assert r.status_code == 403
    r = client.put(f"/api/models/{repo}/settings", json={"private": True}, headers=bearer(alice.read_token))
    assert r.status_code == 403
    r = client.request("DELETE", "/api/repos/delete", json={"name": repo}, headers=bearer(alice.read_token))
    assert r.status_code == 403
    assert head_sha(client, alice.write_token, repo) == before
    assert client.get(f"/api/models/{repo}", headers=bearer(alice.read_token)).json()["private"] is False


def test_anonymous_and_other_users_cannot_write_public_repo(client: httpx.Client, bob: Any, alice: Any,
                                                            repo: str) -> None:
    before = head_sha(client, alice.write_token, repo)
    assert commit(client, None, repo, [file_op("a.txt", b"x")]).status_code in (401, 403)
    assert_error(commit(client, bob.write_token, repo, [file_op("a.txt", b"x")]), 403)
    assert head_sha(client, alice.write_token, repo) == before


@pytest.mark.parametrize("authorization", ["Bearer dazi_definitely_not_valid", "Bearer x", "Token abc",
                                           "Basic !!!notbase64", "Bearer " + "a" * 5000])
def test_bad_credentials(client: httpx.Client, shared: str, authorization: str) -> None:
    for method, url in [("GET", "/api/whoami-v2"), ("GET", f"/{shared}/resolve/main/hello.txt"),
                        ("GET", f"/api/models/{shared}"), ("POST", f"/api/models/{shared}/commit/main")]:
        r = client.request(method, url, headers={"Authorization": authorization, "Content-Type": NDJSON},
                           content=header_line() if method == "POST" else None)
        assert r.status_code == 401, (method, url, r.status_code)
        assert r.headers["x-error-message"] == "Invalid credentials in Authorization header"


def test_revoked_token(client: httpx.Client, hub_server: Any) -> None:
    from dazi.accounts.services import get_user, revoke_token

    carol = hub_server.new_user("carol")
    assert client.get("/api/whoami-v2", headers=bearer(carol.write_token)).status_code == 200
    with hub_server.hub.db.write() as session:
        revoke_token(session, get_user(session, carol.name), carol.write_token)
    r = client.get("/api/whoami-v2", headers=bearer(carol.write_token))
    assert r.status_code == 401
    assert r.headers["x-error-message"] == "Invalid credentials in Authorization header"
    assert client.get("/api/whoami-v2", headers=bearer(carol.read_token)).status_code == 200


@pytest.mark.parametrize("name", ["a--b", "x.git", "a" * 100, "a" * 97, "../x", "..", "-lead", ".dot", "a b",
                                  "a/b/c", "", "ü", "x\n", "bad\nname"], ids=repr)
def test_invalid_repo_names(client: httpx.Client, owner: Any, name: str) -> None:
    r = client.post("/api/repos/create", json={"name": name}, headers=bearer(owner.write_token))
    assert_error(r, 400)


@pytest.mark.parametrize("body", [{"name": 5}, {}, {"name": "ok-name", "private": "yes"},
                                  {"name": "ok-name", "type": "space"}, {"name": "ok-name", "type": "bogus"},
                                  {"name": "ok-name", "visibility": "secret"},
                                  {"name": "ok-name", "organization": 5},
                                  {"name": "ok-name", "organization": ["x"]},
                                  {"name": "ok-name", "type": ["model"]},
                                  {"name": "ok-name", "type": {"a": 1}}],
                         ids=["name-int", "no-name", "private-str", "space", "bogus-type", "visibility",
                              "org-int", "org-list", "type-list", "type-dict"])
def test_invalid_create_bodies(client: httpx.Client, owner: Any, body: dict[str, Any]) -> None:
    r = client.post("/api/repos/create", json=body, headers=bearer(owner.write_token))
    assert_error(r, 400)
    for raw in [b"{", b"[1]", b"\xff"]:
        r = client.post("/api/repos/create", content=raw,
                        headers={"Content-Type": "application/json", **bearer(owner.write_token)})
        assert_error(r, 400)


@pytest.mark.parametrize("body", [{"name": "x", "type": ["model"]}, {"name": ["x"]}, {"name": "x", "organization": 5}],
                         ids=["type-list", "name-list", "org-int"])
def test_invalid_delete_bodies(client: httpx.Client, owner: Any, body: dict[str, Any]) -> None:
    r = client.request("DELETE", "/api/repos/delete", json=body, headers=bearer(owner.write_token))
    assert 400 <= r.status_code < 500, r.status_code
    assert r.headers.get("x-error-message")


def test_invalid_branch_and_tag_names(client: httpx.Client, alice: Any, repo: str) -> None:
    for name in ["a..b", "a~b", "x.lock", "a%20b", "%2E%2Ehidden", "HEAD"]:
        r = client.post(f"/api/models/{repo}/branch/{name}", json={}, headers=bearer(alice.write_token))
        assert_error(r, 400)
    r = client.post(f"/api/models/{repo}/tag/main", json={"tag": "bad tag"}, headers=bearer(alice.write_token))
    assert_error(r, 400)


# -- Range and HEAD ------------------------------------------------------------------------------------


@pytest.mark.parametrize("path, content", [("hello.txt", b"0123456789abcdef"), ("weights.bin", b"W" * 1000)])
def test_range_requests(client: httpx.Client, shared: str, path: str, content: bytes) -> None:
    url = f"/{shared}/resolve/main/{path}"
    size = len(content)
    r = client.get(url, headers={"Range": "bytes=5-"})
    assert r.status_code == 206
    assert r.headers["content-range"] == f"bytes 5-{size - 1}/{size}"
    assert r.content == content[5:]
    r = client.get(url, headers={"Range": "bytes=2-4"})
    assert r.status_code == 206 and r.content == content[2:5]
    assert r.headers["content-range"] == f"bytes 2-4/{size}"
    r = client.get(url, headers={"Range": "bytes=-3"})
    assert r.status_code == 206 and r.content == content[-3:]
    r = client.get(url, headers={"Range": "bytes=99999999-"})
    assert r.status_code == 416
    assert r.headers.get("content-range") == f"bytes */{size}"
    r = client.get(url, headers={"Range": f"bytes={size}-"})
    assert r.status_code == 416


def test_range_on_empty_file(client: httpx.Client, shared: str) -> None:
    url = f"/{shared}/resolve/main/empty.txt"
    assert client.get(url).content == b""
    for rng in ["bytes=-5", "bytes=0-", "bytes=0-0"]:
        r = client.get(url, headers={"Range": rng})
        assert r.status_code in (200, 416), (rng, r.status_code, r.headers.get("content-range"))
        if r.status_code == 416:
            assert r.headers["content-range"] == "bytes */0"


def test_head_headers_regular_file(client: httpx.Client, owner: Any, shared: str) -> None:
    content = b"0123456789abcdef"
    git_sha1 = hashlib.sha1(b"blob %d\x00" % len(content) + content, usedforsecurity=False).hexdigest()
    h = client.head(f"/{shared}/resolve/main/hello.txt")
    assert h.status_code == 200
    assert h.content == b""
    assert h.headers["content-length"] == str(len(content))
    assert h.headers["etag"] == f'"{git_sha1}"'
    assert h.headers["x-repo-commit"] == head_sha(client, owner.write_token, shared)
    assert "x-linked-etag" not in h.headers
    assert h.headers["accept-ranges"] == "bytes"
    g = client.get(f"/{shared}/resolve/main/hello.txt")
    assert g.headers["etag"] == h.headers["etag"] and g.content == content


def test_head_headers_lfs_file(client: httpx.Client, owner: Any, shared: str) -> None:
    content = b"W" * 1000
    h = client.head(f"/{shared}/resolve/main/weights.bin")
    assert h.status_code == 200
    assert h.headers["content-length"] == "1000"
    assert h.headers["x-linked-etag"] == f'"{sha256(content)}"'
    assert h.headers["x-linked-size"] == "1000"
    assert h.headers["etag"]
    assert h.headers["x-repo-commit"] == head_sha(client, owner.write_token, shared)
    assert "xet" not in " ".join(h.headers.keys()).lower()
    assert client.get(f"/{shared}/resolve/main/weights.bin").content == content


def test_served_content_is_never_executable(client: httpx.Client, alice: Any, repo: str) -> None:
    commit(client, alice.write_token, repo, [file_op("x.html", b"<script>alert(1)</script>"),
                                             file_op("y.svg", b"<svg onload=alert(1)>")])
    for path in ("x.html", "y.svg"):
        r = client.get(f"/{repo}/resolve/main/{path}")
        assert r.status_code == 200
        assert "html" not in r.headers["content-type"] and "svg" not in r.headers["content-type"]
        assert r.headers["x-content-type-options"] == "nosniff"


# -- concurrency ----------------------------------------------------------------------------------------


def test_concurrent_commits_lose_nothing(hub_server: Any, alice: Any) -> None:
    with httpx.Client(base_url=hub_server.url, timeout=TIMEOUT) as c:
        repo_id = create_repo(c, alice.write_token, f"concurrent-{secrets.token_hex(3)}")
        start = head_sha(c, alice.write_token, repo_id)
    n = 8
    barrier = threading.Barrier(n)
    results: list[httpx.Response | BaseException] = [None] * n  # type: ignore[list-item]

    def worker(i: int) -> None:
        try:
            with httpx.Client(base_url=hub_server.url, timeout=TIMEOUT) as c:
                barrier.wait()
                results[i] = commit(c, alice.write_token, repo_id, [file_op(f"file-{i}.txt", f"{i}".encode())],
                                    header=header_line(summary=f"commit {i}"))
        except BaseException as exc:
            results[i] = exc

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    for i, res in enumerate(results):
        assert isinstance(res, httpx.Response), (i, res)
        assert res.status_code == 200, (i, res.status_code, res.headers.get("x-error-message"), res.text[:300])
    with httpx.Client(base_url=hub_server.url, timeout=TIMEOUT) as c:
        present = files(c, alice.write_token, repo_id)
        assert {f"file-{i}.txt" for i in range(n)} <= present
        r = c.get(f"/api/models/{repo_id}/commits/main")
        history = r.json()
        assert len(history) == n + 1  # the 8 commits and the initial one, in one line
        assert history[-1]["id"] == start
        oids = {res.json()["commitOid"] for res in results}  # type: ignore[union-attr]
        assert len(oids) == n
        assert oids == {h["id"] for h in history[:-1]}
        for i in range(n):
            assert c.get(f"/{repo_id}/resolve/main/file-{i}.txt").content == f"{i}".encode()


def test_commit_timing_is_not_pathological(client: httpx.Client, alice: Any, repo: str) -> None:
    """A commit of many small files is one request, answered in reasonable time."""
    ops = [file_op(f"many/f{i}.txt", str(i).encode()) for i in range(300)]
    start = time.monotonic()
    r = commit(client, alice.write_token, repo, ops)
    assert r.status_code == 200, r.text
    assert time.monotonic() - start < 60
    assert {f"many/f{i}.txt" for i in range(300)} <= files(client, alice.write_token, repo)
