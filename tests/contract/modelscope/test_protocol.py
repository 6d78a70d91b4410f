"""The ModelScope wire protocol at the HTTP level: envelopes, error shapes, bad input, the vocabulary
mapping, and the safety rules of uploads (what the SDKs never send, but a hub must answer correctly)."""

from __future__ import annotations

import base64
import hashlib
import os
from typing import Any

import httpx
import pytest

pytestmark = pytest.mark.contract


@pytest.fixture
def client(hub_server: Any) -> httpx.Client:
    return httpx.Client(base_url=hub_server.url, timeout=60)


def auth(account: Any, read: bool = False) -> dict[str, str]:
    return {"Authorization": f"Bearer {account.read_token if read else account.write_token}"}


def legacy_error(response: httpx.Response, status: int, code: int | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["Success"] is False and body["Data"] is None and body["RequestId"]
    assert body["Code"] == (code if code is not None else status)
    return body


def make_model(client: httpx.Client, account: Any, name: str, **fields: Any) -> str:
    response = client.post("/api/v1/models", json={"Path": account.name, "Name": name, **fields},
                           headers=auth(account))
    assert response.status_code == 200, response.text
    assert response.json()["Code"] == 200 and response.json()["Success"] is True
    return f"{account.name}/{name}"


def commit(client: httpx.Client, account: Any, repo_id: str, actions: list[dict[str, Any]],
           revision: str = "master", repo_type: str = "models") -> httpx.Response:
    return client.post(f"/api/v1/repos/{repo_type}/{repo_id}/commit/{revision}",
                       json={"commit_message": "test", "actions": actions}, headers=auth(account))


def normal(path: str, data: bytes) -> dict[str, Any]:
    return {"action": "create", "path": path, "type": "normal", "size": len(data), "sha256": "",
            "content": base64.b64encode(data).decode(), "encoding": "base64"}


def lfs(path: str, data: bytes) -> dict[str, Any]:
    return {"action": "create", "path": path, "type": "lfs", "size": len(data),
            "sha256": hashlib.sha256(data).hexdigest(), "content": "", "encoding": ""}


def batch(client: httpx.Client, account: Any, repo_id: str, data: bytes) -> list[dict[str, Any]]:
    response = client.post(f"/api/v1/repos/models/{repo_id}/info/lfs/objects/batch", headers=auth(account),
                           json={"operation": "upload",
                                 "objects": [{"oid": hashlib.sha256(data).hexdigest(), "size": len(data)}]})
    assert response.status_code == 200, response.text
    objects: list[dict[str, Any]] = response.json()["Data"]["objects"]
    return objects


def test_login_sets_the_session_cookie_that_authenticates_later_requests(client: httpx.Client, alice: Any) -> None:
    response = client.post("/api/v1/login", json={"AccessToken": alice.write_token})
    assert response.status_code == 200
    assert response.json()["Data"] == {"AccessToken": alice.write_token, "Username": alice.name,
                                       "Email": alice.email}
    cookie = response.headers["set-cookie"]
    assert cookie.startswith(f"m_session_id={alice.write_token};") and "Path=/" in cookie
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie
    jar = {"m_session_id": alice.write_token}
    me = httpx.get(f"{client.base_url}/openapi/v1/users/me", cookies=jar).json()
    assert me["success"] is True and me["data"]["username"] == alice.name
    # The cookie is a ModelScope credential only: the Hugging Face API ignores it (no CSRF by cookie).
    assert httpx.get(f"{client.base_url}/api/whoami-v2", cookies=jar).status_code == 401
    legacy_error(client.post("/api/v1/login", json={"AccessToken": "dazi_nope"}), 400, 10010103009)
    denied = httpx.get(f"{client.base_url}/openapi/v1/users/me")
    assert denied.status_code == 401 and denied.json()["code"] == "InvalidAuthentication"


def test_unknown_routes_are_404_in_each_surface_shape(client: httpx.Client) -> None:
    legacy_error(client.get("/api/v1/repos/internalAccelerationInfo"), 404)
    legacy_error(client.post("/api/v1/models/aigc", json={}), 404)
    openapi = client.get("/openapi/v1/studios")
    assert openapi.status_code == 404 and openapi.json()["code"] == "ResourceNotFound"
    assert client.head("/api/v1/nothing").status_code == 404
    legacy_error(client.get("/api/v1/spaces/a/b"), 404)


def test_bad_input_gets_the_protocol_error_shape(client: httpx.Client, alice: Any) -> None:
    headers = {**auth(alice), "Content-Type": "application/json"}
    legacy_error(client.post("/api/v1/login", content=b"{not json", headers=headers), 400)
    legacy_error(client.post("/api/v1/models", content=b"[1, 2]", headers=headers), 400)
    legacy_error(client.post("/api/v1/models", json={"Path": alice.name, "Name": "x", "Visibility": 2},
                             headers=auth(alice)), 400)
    legacy_error(client.post("/api/v1/models", json={"Path": alice.name, "Name": "x", "License": "no such!"},
                             headers=auth(alice)), 400)
    legacy_error(client.post("/api/v1/models", json={"Path": alice.name, "Name": "bad name"},
                             headers=auth(alice)), 400)
    legacy_error(client.post("/api/v1/models", json={"Path": alice.name, "Name": "anon"}), 401)
    repo_id = make_model(client, alice, "inputs")
    legacy_error(client.post(f"/api/v1/repos/models/{repo_id}/commit/master", content=b"{", headers=headers), 400)
    legacy_error(commit(client, alice, repo_id, []), 400)
    legacy_error(commit(client, alice, repo_id, [{"action": "rename", "path": "a"}]), 400)
    legacy_error(commit(client, alice, repo_id, [normal("../escape", b"x")]), 400)
    legacy_error(commit(client, alice, repo_id, [{**normal("a.txt", b"abc"), "content": "!!"}]), 400)
    legacy_error(commit(client, alice, repo_id, [{**normal("a.txt", b"abc"), "size": 4}]), 400)
    legacy_error(commit(client, alice, repo_id, [normal(f"f{i}.txt", b"x") for i in range(2001)]), 422)
    legacy_error(commit(client, alice, repo_id, [normal("a.txt", b"x")], revision="no-such-branch"), 404)
    legacy_error(client.get(f"/api/v1/models/{repo_id}/repo/files?Revision=nope"), 404)
    legacy_error(client.get(f"/api/v1/models/{repo_id}?Revision=nope"), 404)
    legacy_error(client.get(f"/api/v1/models/{repo_id}/repo?Revision=master"), 400)
    legacy_error(client.get(f"/api/v1/models/{repo_id}/repo?FilePath=missing.txt"), 404)
    legacy_error(client.get(f"/api/v1/models/{repo_id}/repo?FilePath=README.md&Revision=nope"), 404)
    legacy_error(client.get(f"/api/v1/models/{repo_id}/revisions?EndTime=soon"), 400)
    legacy_error(client.post(f"/api/v1/models/{repo_id}/repo/tag", json={"TagName": "master"},
                             headers=auth(alice)), 400)
    legacy_error(client.post(f"/api/v1/repos/models/{repo_id}/info/lfs/objects/batch", headers=auth(alice),
                             json={"operation": "upload", "objects": [{"oid": "xyz", "size": 1}]}), 400)
    assert client.get(f"/api/v1/models/{repo_id}/repo/files?Root=no/such/dir").json()["Data"] == {"Files": []}


def test_duplicates_and_permissions(client: httpx.Client, alice: Any, bob: Any) -> None:
    repo_id = make_model(client, alice, "mine")
    legacy_error(client.post("/api/v1/models", json={"Path": alice.name, "Name": "mine"}, headers=auth(alice)),
                 409, 10010101001)
    form = {"Owner": alice.name, "Name": "mine", "Visibility": "5"}
    assert client.post("/api/v1/datasets", data=form, headers=auth(alice)).status_code == 200
    legacy_error(client.post("/api/v1/datasets", data=form, headers=auth(alice)), 409, 10020101001)
    legacy_error(client.post("/api/v1/models", json={"Path": alice.name, "Name": "theirs"}, headers=auth(bob)), 403)
    legacy_error(commit(client, bob, repo_id, [normal("x.txt", b"x")]), 403)
    legacy_error(client.post(f"/api/v1/models/{repo_id}/repo/tag", json={"TagName": "v1"}, headers=auth(bob)), 403)
    read_only = {"Authorization": f"Bearer {alice.read_token}"}
    legacy_error(client.post(f"/api/v1/repos/models/{repo_id}/commit/master", headers=read_only,
                             json={"commit_message": "x", "actions": [normal("x.txt", b"x")]}), 403)
    legacy_error(client.delete(f"/api/v1/models/{repo_id}", headers=auth(bob)), 403)
    assert client.delete(f"/api/v1/models/{repo_id}", headers=auth(alice)).json()["Code"] == 200
    legacy_error(client.get(f"/api/v1/models/{repo_id}"), 404)


def test_lfs_objects_of_other_repos_cannot_be_claimed(client: httpx.Client, alice: Any, bob: Any) -> None:
    data = os.urandom(50_000)
    mine = make_model(client, alice, "lfs-owner", Visibility=1)
    (needed,) = batch(client, alice, mine, data)
    put = httpx.put(needed["actions"]["upload"]["href"], content=data, headers=auth(alice),
                    cookies={"m_session_id": alice.write_token})
    assert put.status_code == 200 and put.json()["Code"] == 200  # the old SDK reads Code and Message
    assert batch(client, alice, mine, data) == []  # this repo has it now: no transfer
    assert commit(client, alice, mine, [lfs("w.bin", data)]).status_code == 200
    theirs = make_model(client, bob, "lfs-thief")
    legacy_error(commit(client, bob, theirs, [lfs("w.bin", data)]), 400)  # bob never uploaded it
    (again,) = batch(client, bob, theirs, data)  # knowing the digest is not enough: bob must send the bytes
    assert "upload" in again["actions"]
    wrong = httpx.put(again["actions"]["upload"]["href"], content=os.urandom(50_000))
    legacy_error(wrong, 400)
    legacy_error(commit(client, bob, theirs, [lfs("w.bin", data)]), 400)
    assert httpx.put(again["actions"]["upload"]["href"], content=data).status_code == 200
    assert commit(client, bob, theirs, [lfs("w.bin", data)]).status_code == 200


def test_downloads_with_range_and_linked_etag(client: httpx.Client, alice: Any) -> None:
    data = os.urandom(100_000)
    repo_id = make_model(client, alice, "ranges")
    (needed,) = batch(client, alice, repo_id, data)
    assert httpx.put(needed["actions"]["upload"]["href"], content=data).status_code == 200
    small = b"hello world\n"
    assert commit(client, alice, repo_id, [lfs("w.bin", data), normal("a.txt", small)]).status_code == 200
    url = f"/api/v1/models/{repo_id}/repo?Revision=master&FilePath=w.bin"
    full = client.get(url)
    assert full.content == data and full.headers["content-length"] == str(len(data))
    assert full.headers["x-linked-etag"].strip('"') == hashlib.sha256(data).hexdigest()
    part = client.get(url, headers={"Range": "bytes=1000-"})
    assert part.status_code == 206 and part.content == data[1000:]
    assert part.headers["content-range"] == f"bytes 1000-{len(data) - 1}/{len(data)}"
    whole = client.get(url, headers={"Range": f"bytes=0-{len(data) - 1}"})  # what the old SDK always sends
    assert whole.status_code == 206 and whole.content == data
    head = client.head(url)
    assert head.status_code == 200 and head.headers["content-length"] == str(len(data))
    tail = client.get(f"/api/v1/models/{repo_id}/repo?FilePath=a.txt", headers={"Range": "bytes=6-"})
    assert tail.status_code == 206 and tail.content == b"world\n"
    assert client.get(url, headers={"Range": "bytes=200000-"}).status_code == 416


def test_master_and_main(client: httpx.Client, hf_api: Any, alice: Any) -> None:
    """``master`` reads ``main`` and ``main`` is listed as ``master``, unless a real ``master`` exists."""
    repo_id = f"{alice.name}/branches"
    hf_api.create_repo(repo_id)
    hf_api.upload_file(path_or_fileobj=b"on main", path_in_repo="f.txt", repo_id=repo_id)
    revisions = client.get(f"/api/v1/models/{repo_id}/revisions").json()["Data"]["RevisionMap"]
    assert [b["Revision"] for b in revisions["Branches"]] == ["master"]
    assert client.get(f"/api/v1/models/{repo_id}/repo?Revision=master&FilePath=f.txt").content == b"on main"
    assert client.get(f"/api/v1/models/{repo_id}/repo?Revision=main&FilePath=f.txt").content == b"on main"
    hf_api.create_branch(repo_id, branch="master")
    hf_api.upload_file(path_or_fileobj=b"on master", path_in_repo="f.txt", repo_id=repo_id, revision="master")
    revisions = client.get(f"/api/v1/models/{repo_id}/revisions").json()["Data"]["RevisionMap"]
    assert [b["Revision"] for b in revisions["Branches"]] == ["main", "master"]
    assert client.get(f"/api/v1/models/{repo_id}/repo?Revision=master&FilePath=f.txt").content == b"on master"
    assert client.get(f"/api/v1/models/{repo_id}/repo?FilePath=f.txt").content == b"on master"
    assert client.get(f"/api/v1/models/{repo_id}/repo?Revision=main&FilePath=f.txt").content == b"on main"
    assert commit(client, alice, repo_id, [normal("g.txt", b"g")], revision="main").status_code == 200
    assert [f.rfilename for f in hf_api.model_info(repo_id, revision="main").siblings] == [
        ".gitattributes", "f.txt", "g.txt"]


def test_tags_are_listed_newest_first_and_filtered_by_end_time(client: httpx.Client, alice: Any) -> None:
    repo_id = make_model(client, alice, "tagged")
    for tag in ("v1", "v2"):
        response = client.post(f"/api/v1/models/{repo_id}/repo/tag", json={"TagName": tag, "Ref": "master"},
                               headers=auth(alice))
        assert response.json()["Data"]["TagName"] == tag
    legacy_error(client.post(f"/api/v1/models/{repo_id}/repo/tag", json={"TagName": "v1"}, headers=auth(alice)),
                 409)
    tags = client.get(f"/api/v1/models/{repo_id}/revisions").json()["Data"]["RevisionMap"]["Tags"]
    assert [t["Revision"] for t in tags] == ["v2", "v1"]
    assert tags[0]["CreatedAt"] >= tags[1]["CreatedAt"]
    assert client.get(f"/api/v1/models/{repo_id}/revisions?EndTime=1").json()["Data"]["RevisionMap"]["Tags"] == []


def test_deletes_and_commit_listing(client: httpx.Client, alice: Any) -> None:
    repo_id = make_model(client, alice, "history", License="MIT License", Tasks="text-generation,fill-mask")
    first = commit(client, alice, repo_id, [normal("dir/a.txt", b"a"), normal("dir/b.txt", b"b"),
                                            {"action": "update", **{k: v for k, v in normal("c.txt", b"c").items()
                                                                    if k != "action"}}])
    second = commit(client, alice, repo_id, [{"action": "delete", "path": "dir/", "type": "normal"},
                                             {"action": "delete", "path": "c.txt", "type": "normal"}])
    legacy_error(commit(client, alice, repo_id, [{"action": "delete", "path": "c.txt"}]), 404)
    listing = client.get(f"/api/v1/models/{repo_id}/commits?PageSize=2").json()
    assert listing["TotalCount"] == 3 and listing["Data"]["TotalCount"] == 3
    assert [c["Id"] for c in listing["Data"]["Commit"]] == [second.json()["Data"]["oid"], first.json()["Data"]["oid"]]
    assert listing["Data"]["Commit"][0]["AuthorName"] == alice.name
    files = client.get(f"/api/v1/models/{repo_id}/repo/files?Recursive=True").json()["Data"]["Files"]
    assert [f["Path"] for f in files] == [".gitattributes", "README.md"]
    detail = client.get(f"/api/v1/models/{repo_id}").json()["Data"]
    assert detail["License"] == "mit" and detail["Tasks"] == ["text-generation", "fill-mask"]


def test_dataset_tree_by_name_and_by_numeric_id(client: httpx.Client, alice: Any, bob: Any) -> None:
    form = {"Owner": alice.name, "Name": "paged", "Visibility": "1", "License": "cc-by-4.0"}
    created = client.post("/api/v1/datasets", data=form, headers=auth(alice)).json()["Data"]
    repo_id = f"{alice.name}/paged"
    actions = [normal(f"part-{i:02d}.jsonl", b"{}\n") for i in range(25)]
    assert commit(client, alice, repo_id, actions, repo_type="datasets").status_code == 200
    detail = client.get(f"/api/v1/datasets/{repo_id}", headers=auth(alice)).json()["Data"]
    assert detail["Id"] == created["Id"] and detail["Type"] == 4 and detail["Visibility"] == 1
    pages = []
    for number in (1, 2, 3):
        url = f"/api/v1/datasets/{detail['Id']}/repo/tree?Recursive=True&PageNumber={number}&PageSize=10"
        pages.append([f["Path"] for f in client.get(url, headers=auth(alice)).json()["Data"]["Files"]])
    assert [len(p) for p in pages] == [10, 10, 7]
    by_name = client.get(f"/api/v1/datasets/{repo_id}/repo/tree?Recursive=True", headers=auth(alice)).json()
    assert [f["Path"] for f in by_name["Data"]["Files"]] == [p for page in pages for p in page]
    for who in ({}, auth(bob)):
        legacy_error(client.get(f"/api/v1/datasets/{detail['Id']}/repo/tree", headers=who), 404)
        legacy_error(client.get(f"/api/v1/datasets/{repo_id}", headers=who), 404)
    increase = client.post(f"/api/v1/datasets/{repo_id}/download/increase", headers=auth(alice))
    assert increase.json()["Code"] == 200
    assert client.get(f"/openapi/v1/datasets?owner={alice.name}").json()["data"]["datasets"] == []
    mine = client.get(f"/api/v1/datasets?owner={alice.name}", headers=auth(alice)).json()
    assert [d["Name"] for d in mine["Data"]] == ["paged"] and mine["TotalCount"] == 1
