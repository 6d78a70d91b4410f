"""Crash safety: ``kill -9`` of a hub in the middle of a large upload loses nothing and exposes nothing.

Each test runs its own hub as a subprocess (``dazi serve``), sets it up with the admin CLI, starts a large
upload that it holds half-way, kills the server with SIGKILL, and restarts it. Afterwards the upload is
invisible, the branch did not move, ``dazi admin fsck`` is clean and ``dazi admin gc --grace 0`` removes the
leftover temporary; the same upload then succeeds.

On the sqlite backend the hub uses SQLite and local files in its own data folder. On postgres-s3 it uses a
fresh database in the session's PostgreSQL cluster and a fresh bucket on the session's moto server (so that
fsck and gc --grace 0 see only this test's data, not the shared hub's).
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import secrets
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from tests.support.services import free_port

MiB = 1 << 20
TIMEOUT = 120.0
NDJSON = "application/x-ndjson"
LFS_JSON = "application/vnd.git-lfs+json"


# -- the hub under test, as a subprocess ---------------------------------------------------------------


def backend_env(hub_server: Any, name: str) -> dict[str, str]:
    if hub_server.backend == "sqlite":
        return {}
    import psycopg
    from sqlalchemy.engine import make_url

    settings = hub_server.settings
    url = make_url(settings.database_url)
    with psycopg.connect(host=url.host, port=url.port, user=url.username, dbname="postgres",
                         autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    env = {
        "DAZI_DATABASE_URL": url.set(database=name).render_as_string(hide_password=False),
        "DAZI_STORAGE_URL": f"s3://{name.replace('_', '-')}/blobs",
        "DAZI_S3_ENDPOINT_URL": settings.s3_endpoint_url,
        "DAZI_S3_REGION": settings.s3_region,
        "DAZI_S3_ACCESS_KEY_ID": settings.s3_access_key_id,
        "DAZI_S3_SECRET_ACCESS_KEY": settings.s3_secret_access_key,
    }
    return {k: v for k, v in env.items() if v is not None}


@dataclass
class Deployment:
    data_dir: Path
    env: dict[str, str]
    proc: subprocess.Popen[bytes] | None = None
    url: str = ""
    logs: list[Path] = field(default_factory=list)
    _hub: Any = None

    def cli(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        result = subprocess.run([sys.executable, "-m", "dazi", *args, "--data-dir", str(self.data_dir)],
                                env=self.env, capture_output=True, text=True, timeout=300)
        if check:
            assert result.returncode == 0, (args, result.returncode, result.stdout, result.stderr[-3000:])
        return result

    def start(self) -> None:
        port = free_port()
        log = self.data_dir.parent / f"serve-{port}.log"
        self.logs.append(log)
        with log.open("wb") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "dazi", "serve", "--port", str(port), "--data-dir", str(self.data_dir),
                 "--no-bootstrap"], stdout=out, stderr=subprocess.STDOUT, env=self.env)
        self.url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, f"dazi serve exited:\n{log.read_text(errors='replace')}"
            try:
                if httpx.get(f"{self.url}/healthz", timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        raise AssertionError(f"dazi serve did not start:\n{log.read_text(errors='replace')}")

    def kill9(self) -> None:
        assert self.proc is not None and self.proc.poll() is None
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(30)
        assert self.proc.returncode == -signal.SIGKILL

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        if self._hub is not None:
            self._hub.close()
            self._hub = None

    @property
    def hub(self) -> Any:
        """The same database and blob store, opened in the test process (to look, never to write)."""
        if self._hub is None:
            from dazi.config import Settings
            from dazi.hub import Hub

            values = {k[len("DAZI_"):].lower(): v for k, v in self.env.items() if k.startswith("DAZI_")}
            self._hub = Hub.open(Settings(**values))
        return self._hub

    def temporaries(self) -> list[Any]:
        return list(self.hub.blobs.iter_temporaries())


@pytest.fixture
def deployment(hub_server: Any, tmp_path: Path) -> Iterator[Deployment]:
    name = f"dazi_crash_{secrets.token_hex(4)}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("DAZI_")}
    env.update(backend_env(hub_server, name))
    env["DAZI_DATA_DIR"] = str(tmp_path / "data")
    env["DAZI_LOG_LEVEL"] = "warning"
    dep = Deployment(tmp_path / "data", env)
    try:
        yield dep
    finally:
        dep.stop()


@dataclass
class Setup:
    token: str
    repo_id: str
    head: str


def set_up(dep: Deployment) -> Setup:
    """A user and a token through the CLI, then a repo with one commit through the API."""
    dep.cli("users", "create", "crash", "--email", "crash@example.org")
    token = dep.cli("tokens", "create", "crash", "--role", "write").stdout.strip().splitlines()[-1]
    dep.start()
    with httpx.Client(base_url=dep.url, timeout=TIMEOUT, headers=bearer(token)) as c:
        r = c.post("/api/repos/create", json={"name": "crash-repo"})
        assert r.status_code == 200, r.text
        repo_id = r.json()["name"]
        body = header() + file_line("README.md", b"# before the crash\n")
        r = c.post(f"/api/models/{repo_id}/commit/main", content=body, headers={"Content-Type": NDJSON})
        assert r.status_code == 200, r.text
        return Setup(token, repo_id, r.json()["commitOid"])


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def header() -> bytes:
    return json.dumps({"key": "header", "value": {"summary": "big upload"}}).encode() + b"\n"


def file_line(path: str, content: bytes) -> bytes:
    value = {"path": path, "encoding": "base64", "content": base64.b64encode(content).decode()}
    return json.dumps({"key": "file", "value": value}).encode() + b"\n"


def head_of(dep: Deployment, s: Setup) -> str:
    r = httpx.get(f"{dep.url}/api/models/{s.repo_id}/revision/main", headers=bearer(s.token), timeout=TIMEOUT)
    assert r.status_code == 200, r.text
    return str(r.json()["sha"])


def tree_of(dep: Deployment, s: Setup) -> set[str]:
    r = httpx.get(f"{dep.url}/api/models/{s.repo_id}/tree/main", params={"recursive": "1"},
                  headers=bearer(s.token), timeout=TIMEOUT)
    assert r.status_code == 200, r.text
    return {e["path"] for e in r.json() if e["type"] == "file"}


def lfs_rows(dep: Deployment, oid: str) -> list[Any]:
    from dazi.repos.models import LfsObject

    with dep.hub.db.read() as session:
        return list(session.execute(select(LfsObject.repo_id, LfsObject.committed).where(LfsObject.oid == oid)))


# -- a slow upload that is held half-way ----------------------------------------------------------------


class HeldUpload:
    """Sends ``chunks`` from a thread; after ``hold_after`` bytes it waits until released (or the server dies)."""

    def __init__(self, send: Callable[[Iterator[bytes]], httpx.Response], chunks: Iterator[bytes], hold_after: int):
        self.sent = 0
        self.held = threading.Event()
        self.release = threading.Event()
        self.result: httpx.Response | BaseException | None = None
        self._send = send
        self._chunks = chunks
        self._hold_after = hold_after
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _body(self) -> Iterator[bytes]:
        for chunk in self._chunks:
            if self.sent >= self._hold_after and not self.release.is_set():
                self.held.set()
                self.release.wait(120)
            yield chunk
            self.sent += len(chunk)
            time.sleep(0.002)

    def _run(self) -> None:
        try:
            self.result = self._send(self._body())
        except BaseException as exc:  # the connection dies with the server
            self.result = exc

    def finish(self) -> httpx.Response | BaseException | None:
        self.release.set()
        self.thread.join(120)
        assert not self.thread.is_alive()
        return self.result


def wait_for(condition: Callable[[], bool], what: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def block(i: int, size: int) -> bytes:
    seed = hashlib.sha256(f"crash-{i}".encode()).digest()
    return (seed * (size // len(seed) + 1))[:size]


def lfs_content(total: int) -> tuple[Callable[[], Iterator[bytes]], str]:
    def chunks() -> Iterator[bytes]:
        for i in range(total // MiB):
            yield block(i, MiB)

    digest = hashlib.sha256()
    for chunk in chunks():
        digest.update(chunk)
    return chunks, digest.hexdigest()


def after_crash_checks(dep: Deployment, s: Setup, temporaries_before: int) -> None:
    """fsck is clean (the leftover is only an unfinished upload), gc --grace 0 removes it, fsck stays clean."""
    left = dep.temporaries()
    assert len(left) >= 1, "the killed upload should have left a temporary behind"
    fsck = dep.cli("admin", "fsck", check=False)
    assert fsck.returncode == 0, (fsck.stdout, fsck.stderr[-3000:])
    assert "fsck: clean" in fsck.stderr
    assert fsck.stdout == ""
    assert f"{len(left)} unfinished uploads" in fsck.stderr
    dry = dep.cli("admin", "gc", "--grace", "0", "--dry-run")
    assert f"would remove 0 blobs (0 bytes), {len(left)} unfinished uploads" in dry.stderr
    assert len(dep.temporaries()) == len(left)
    gc = dep.cli("admin", "gc", "--grace", "0")
    assert f"removed 0 blobs (0 bytes), {len(left)} unfinished uploads" in gc.stderr, gc.stderr
    assert dep.temporaries() == []
    fsck = dep.cli("admin", "fsck")
    assert "fsck: clean" in fsck.stderr and "0 unfinished uploads" in fsck.stderr
    assert head_of(dep, s) == s.head
    assert temporaries_before == 0


# -- the tests ------------------------------------------------------------------------------------------


def test_kill9_during_lfs_upload(deployment: Deployment) -> None:
    dep = deployment
    s = set_up(dep)
    total = 200 * MiB
    chunks, oid = lfs_content(total)
    temporaries_before = len(dep.temporaries())
    r = httpx.post(f"{dep.url}/{s.repo_id}.git/info/lfs/objects/batch", headers={**bearer(s.token),
                   "Content-Type": LFS_JSON, "Accept": LFS_JSON},
                   content=json.dumps({"operation": "upload", "transfers": ["basic"], "hash_algo": "sha256",
                                       "objects": [{"oid": oid, "size": total}]}), timeout=TIMEOUT)
    href = r.json()["objects"][0]["actions"]["upload"]["href"]

    def send(body: Iterator[bytes]) -> httpx.Response:
        return httpx.put(href, content=body, headers={"Content-Length": str(total)}, timeout=TIMEOUT)

    upload = HeldUpload(send, chunks(), hold_after=60 * MiB)
    upload.held.wait(120)
    assert upload.held.is_set(), upload.result
    wait_for(lambda: len(dep.temporaries()) > temporaries_before, "the upload's temporary")
    dep.kill9()
    result = upload.finish()
    assert isinstance(result, BaseException) or result.status_code >= 500, result

    dep.start()
    assert head_of(dep, s) == s.head
    assert not dep.hub.blobs.exists(oid)
    assert lfs_rows(dep, oid) == []
    r = httpx.post(f"{dep.url}/{s.repo_id}.git/info/lfs/objects/batch", headers={**bearer(s.token),
                   "Content-Type": LFS_JSON}, timeout=TIMEOUT,
                   content=json.dumps({"operation": "download", "objects": [{"oid": oid, "size": total}]}))
    assert r.json()["objects"][0]["error"]["code"] == 404
    body = header() + json.dumps({"key": "lfsFile", "value": {"path": "big.bin", "algo": "sha256", "oid": oid,
                                                              "size": total}}).encode() + b"\n"
    r = httpx.post(f"{dep.url}/api/models/{s.repo_id}/commit/main", content=body, timeout=TIMEOUT,
                   headers={**bearer(s.token), "Content-Type": NDJSON})
    assert r.status_code == 400, r.text  # the object never arrived
    after_crash_checks(dep, s, temporaries_before)

    # the same upload, retried, goes through
    r = httpx.post(f"{dep.url}/{s.repo_id}.git/info/lfs/objects/batch", headers={**bearer(s.token),
                   "Content-Type": LFS_JSON}, timeout=TIMEOUT,
                   content=json.dumps({"operation": "upload", "objects": [{"oid": oid, "size": total}]}))
    href = r.json()["objects"][0]["actions"]["upload"]["href"]
    assert httpx.put(href, content=chunks(), headers={"Content-Length": str(total)},
                     timeout=TIMEOUT).status_code == 200
    r = httpx.post(f"{dep.url}/api/models/{s.repo_id}/commit/main", content=body, timeout=TIMEOUT,
                   headers={**bearer(s.token), "Content-Type": NDJSON})
    assert r.status_code == 200, r.text
    h = httpx.head(f"{dep.url}/{s.repo_id}/resolve/main/big.bin", timeout=TIMEOUT)
    assert h.headers["x-linked-size"] == str(total)
    assert h.headers["x-linked-etag"] == f'"{oid}"'
    assert "fsck: clean" in dep.cli("admin", "fsck").stderr


def test_kill9_during_streamed_ndjson_commit(deployment: Deployment) -> None:
    dep = deployment
    s = set_up(dep)
    blocks = 64
    raw_block = 3 * (MiB // 4)  # 768 KiB of content is exactly 1 MiB of base64
    content_hash = hashlib.sha256()
    for i in range(blocks):
        content_hash.update(block(i, raw_block))
    size = blocks * raw_block  # 48 MiB, far over the 16 MiB line limit: streamed to the blob store

    def chunks() -> Iterator[bytes]:
        yield header()
        yield b'{"key": "file", "value": {"path": "big.bin", "encoding": "base64", "content": "'
        for i in range(blocks):
            yield base64.b64encode(block(i, raw_block))
        yield b'"}}\n'

    temporaries_before = len(dep.temporaries())
    url = f"{dep.url}/api/models/{s.repo_id}/commit/main"

    def send(body: Iterator[bytes]) -> httpx.Response:
        return httpx.post(url, content=body, headers={**bearer(s.token), "Content-Type": NDJSON},
                          timeout=TIMEOUT)

    upload = HeldUpload(send, chunks(), hold_after=40 * MiB)
    upload.held.wait(120)
    assert upload.held.is_set(), upload.result
    wait_for(lambda: len(dep.temporaries()) > temporaries_before, "the streamed line's temporary")
    dep.kill9()
    result = upload.finish()
    assert isinstance(result, BaseException) or result.status_code >= 500, result

    dep.start()
    assert head_of(dep, s) == s.head
    assert "big.bin" not in tree_of(dep, s)
    r = httpx.get(f"{dep.url}/{s.repo_id}/resolve/main/big.bin", timeout=TIMEOUT)
    assert r.status_code == 404
    assert r.headers["x-error-code"] == "EntryNotFound"
    assert r.headers["x-repo-commit"] == s.head
    assert not dep.hub.blobs.exists(content_hash.hexdigest())
    after_crash_checks(dep, s, temporaries_before)

    # the same commit, retried, goes through (the restarted server listens on another port)
    url = f"{dep.url}/api/models/{s.repo_id}/commit/main"
    r = httpx.post(url, content=chunks(), headers={**bearer(s.token), "Content-Type": NDJSON}, timeout=TIMEOUT)
    assert r.status_code == 200, r.text
    assert head_of(dep, s) == r.json()["commitOid"] != s.head
    h = httpx.head(f"{dep.url}/{s.repo_id}/resolve/main/big.bin", timeout=TIMEOUT)
    assert h.status_code == 200
    assert h.headers["x-linked-size"] == str(size)
    assert h.headers["x-linked-etag"] == f'"{content_hash.hexdigest()}"'
    assert "fsck: clean" in dep.cli("admin", "fsck").stderr


def test_kill9_between_lfs_upload_and_commit(deployment: Deployment) -> None:
    """An uploaded, never-committed object is invisible; gc --grace 0 drops its claim and its blob."""
    dep = deployment
    s = set_up(dep)
    data = secrets.token_bytes(3 * MiB)
    oid = hashlib.sha256(data).hexdigest()
    r = httpx.post(f"{dep.url}/{s.repo_id}.git/info/lfs/objects/batch", headers={**bearer(s.token),
                   "Content-Type": LFS_JSON}, timeout=TIMEOUT,
                   content=json.dumps({"operation": "upload", "objects": [{"oid": oid, "size": len(data)}]}))
    href = r.json()["objects"][0]["actions"]["upload"]["href"]
    assert httpx.put(href, content=data, timeout=TIMEOUT).status_code == 200
    dep.kill9()
    dep.start()
    assert head_of(dep, s) == s.head
    assert dep.hub.blobs.exists(oid)
    assert [tuple(row) for row in lfs_rows(dep, oid)] == [(lfs_rows(dep, oid)[0][0], False)]
    assert tree_of(dep, s) == {".gitattributes", "README.md"}
    fsck = dep.cli("admin", "fsck")
    assert "fsck: clean" in fsck.stderr
    gc = dep.cli("admin", "gc", "--grace", "0")
    assert "removed 1 blobs" in gc.stderr and "1 stale upload claims" in gc.stderr, gc.stderr
    assert not dep.hub.blobs.exists(oid)
    assert lfs_rows(dep, oid) == []
    body = header() + json.dumps({"key": "lfsFile", "value": {"path": "w.bin", "algo": "sha256", "oid": oid,
                                                              "size": len(data)}}).encode() + b"\n"
    r = httpx.post(f"{dep.url}/api/models/{s.repo_id}/commit/main", content=body, timeout=TIMEOUT,
                   headers={**bearer(s.token), "Content-Type": NDJSON})
    assert r.status_code == 400, r.text
    assert "fsck: clean" in dep.cli("admin", "fsck").stderr


# -- the client dies instead -----------------------------------------------------------------------------


class ClientGaveUp(Exception):
    pass


@pytest.mark.parametrize("kind", ["lfs", "ndjson"])
def test_client_disconnect_mid_upload_leaves_nothing(hub_server: Any, kind: str) -> None:
    """A client that dies half-way through an upload leaves no temporary, no blob and no commit behind."""
    account = hub_server.new_user("quitter")
    with httpx.Client(base_url=hub_server.url, timeout=TIMEOUT, headers=bearer(account.write_token)) as c:
        repo_id = c.post("/api/repos/create", json={"name": "gave-up"}).json()["name"]
        head = c.get(f"/api/models/{repo_id}/revision/main").json()["sha"]
    temporaries_before = {t.key for t in hub_server.hub.blobs.iter_temporaries()}
    total = 40 * MiB
    seen_temporary = threading.Event()

    def new_temporaries() -> set[str]:
        while True:
            try:
                return {t.key for t in hub_server.hub.blobs.iter_temporaries()} - temporaries_before
            except Exception:  # the race that test_listing_temporaries_while_uploads_finish pins down
                time.sleep(0.05)

    def body(prefix: bytes, make_chunk: Callable[[int], bytes]) -> Iterator[bytes]:
        yield prefix
        for i in range(total // MiB):
            if i == 30:
                wait_for(lambda: bool(new_temporaries()), "the upload's temporary")
                seen_temporary.set()
                raise ClientGaveUp
            yield make_chunk(i)

    if kind == "lfs":
        oid = hashlib.sha256(b"".join(block(i, MiB) for i in range(total // MiB))).hexdigest()
        r = httpx.post(f"{hub_server.url}/{repo_id}.git/info/lfs/objects/batch", timeout=TIMEOUT,
                       headers={**bearer(account.write_token), "Content-Type": LFS_JSON},
                       content=json.dumps({"operation": "upload", "objects": [{"oid": oid, "size": total}]}))
        href = r.json()["objects"][0]["actions"]["upload"]["href"]
        with pytest.raises(ClientGaveUp):
            httpx.put(href, content=body(b"", lambda i: block(i, MiB)), headers={"Content-Length": str(total)},
                      timeout=TIMEOUT)
    else:
        prefix = header() + b'{"key": "file", "value": {"path": "big.bin", "content": "'
        with pytest.raises(ClientGaveUp):
            httpx.post(f"{hub_server.url}/api/models/{repo_id}/commit/main", timeout=TIMEOUT,
                       content=body(prefix, lambda i: base64.b64encode(block(i, 3 * MiB // 4))),
                       headers={**bearer(account.write_token), "Content-Type": NDJSON})
    assert seen_temporary.is_set()
    wait_for(lambda: not new_temporaries(), "the server to drop the temporary", timeout=30)
    with httpx.Client(base_url=hub_server.url, timeout=TIMEOUT, headers=bearer(account.write_token)) as c:
        assert c.get(f"/api/models/{repo_id}/revision/main").json()["sha"] == head
        assert c.get(f"/{repo_id}/resolve/main/big.bin").status_code == 404
    if kind == "lfs":
        assert not hub_server.hub.blobs.exists(oid)


def test_listing_temporaries_while_uploads_finish(hub_server: Any) -> None:
    """``dazi admin gc`` and ``fsck`` list the unfinished uploads while the hub keeps serving. An upload that
    finishes or is aborted during the listing must drop out of it, not make the listing (and gc) fail."""
    blobs = hub_server.hub.blobs
    writers = []
    for i in range(2):
        writer = blobs.begin()
        writer.write(block(i, 8 * MiB + 1))  # over one S3 part: an open multipart upload
        writers.append(writer)
    ours = {w.key for w in writers}
    seen: list[str] = []
    try:
        for tmp in blobs.iter_temporaries():
            if tmp.key not in ours:
                continue
            seen.append(tmp.key)
            if len(seen) == 1:
                for writer in writers:
                    if writer.key != tmp.key:
                        writer.abort()  # the other upload ends while the listing is under way
    finally:
        for writer in writers:
            writer.abort()
    assert len(seen) == 1
    assert not any(t.key in ours for t in blobs.iter_temporaries())
