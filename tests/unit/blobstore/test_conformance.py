"""One conformance suite for every BlobStore: LocalBlobStore and S3BlobStore (on moto).

The tests speak to the ``BlobStore`` protocol; the few that look at an
implementation's layout say so in their name.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto.server import ThreadedMotoServer

from dazi.blobstore import (
    BlobError,
    BlobNotFound,
    BlobStore,
    DigestMismatch,
    LocalBlobStore,
    S3BlobStore,
    SizeMismatch,
    blob_key,
    check_digest,
    make_blobstore,
)
from dazi.blobstore.s3 import PART_SIZE

MIB = 1 << 20
BAD_DIGESTS = ["A" * 64, "ab" * 31, "../x", "../etc/passwd", "", "g" * 64, "a" * 65, "a" * 63 + "/"]


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def payload(size: int, seed: int = 0) -> bytes:
    """Deterministic, non-repeating-looking bytes."""
    block = hashlib.sha256(f"{seed}".encode()).digest() * 4096  # 128 KiB
    reps = size // len(block) + 1
    return (block * reps)[:size]


def write_in_pieces(
    store: BlobStore, data: bytes, pieces: tuple[int, ...] = (1, 7, 4093, 65537, 0, 3)
) -> Any:
    writer = store.begin()
    pos = 0
    i = 0
    while pos < len(data):
        n = pieces[i % len(pieces)]
        writer.write(data[pos : pos + n])
        pos += n
        i += 1
    return writer


def put(store: BlobStore, data: bytes) -> str:
    writer = store.begin()
    writer.write(data)
    writer.finish()
    return writer.publish()


# -- fixtures -------------------------------------------------------------------


@pytest.fixture(scope="module")
def moto_endpoint() -> Iterator[str]:
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("NO_PROXY", "127.0.0.1,localhost")
        mp.setenv("no_proxy", "127.0.0.1,localhost")
        server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        server.start()
        host, port = server.get_host_and_port()
        try:
            yield f"http://{host}:{port}"
        finally:
            server.stop()


@pytest.fixture
def s3_client(moto_endpoint: str) -> Any:
    return boto3.session.Session().client(
        "s3",
        endpoint_url=moto_endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",  # noqa: S106 - moto's dummy credentials
    )


def fresh_bucket() -> str:
    return f"dazi-test-{uuid.uuid4().hex[:24]}"


@pytest.fixture(params=["local", "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> BlobStore:
    if request.param == "local":
        return LocalBlobStore(tmp_path / "blobs")
    client = request.getfixturevalue("s3_client")
    s3 = S3BlobStore(fresh_bucket(), "blobs/v1", client)
    s3.ensure_bucket()
    return s3


def assert_empty(store: BlobStore) -> None:
    assert list(store.iter_temporaries()) == []
    assert list(store.iter_blobs()) == []


# -- the protocol ------------------------------------------------------------------


def test_is_a_blobstore(store: BlobStore) -> None:
    assert isinstance(store, BlobStore)


def test_round_trip_in_odd_pieces(store: BlobStore) -> None:
    data = payload(300_001)
    writer = write_in_pieces(store, data)
    assert writer.size == len(data)
    digest = writer.finish(expected_sha256=sha(data), expected_size=len(data))
    assert digest == sha(data)
    assert not store.exists(digest)  # finished but not yet published
    assert writer.publish() == digest
    assert store.exists(digest)
    assert store.size(digest) == len(data)
    assert store.read(digest) == data
    assert list(store.iter_temporaries()) == []
    writer.abort()  # a no-op after publish
    assert store.read(digest) == data


def test_empty_blob(store: BlobStore) -> None:
    digest = put(store, b"")
    assert digest == sha(b"")
    assert store.size(digest) == 0
    assert store.read(digest) == b""
    assert list(store.iter_range(digest, 0, 10)) == []


@pytest.mark.parametrize(
    ("start", "end"),
    [
        (0, None),
        (0, 1),
        (10, 20),
        (999, 1000),
        (999, None),
        (990, 5000),
        (0, 1000),
        (500, 500),
        (1000, None),
        (2000, 3000),
    ],
)
def test_iter_range(store: BlobStore, start: int, end: int | None) -> None:
    data = payload(1000, seed=1)
    digest = put(store, data)
    assert b"".join(store.iter_range(digest, start, end)) == data[start:end]


def test_iter_range_chunk_size(store: BlobStore) -> None:
    data = payload(1000, seed=2)
    digest = put(store, data)
    chunks = list(store.iter_range(digest, 3, 998, chunk_size=7))
    assert b"".join(chunks) == data[3:998]
    assert all(0 < len(c) <= 7 for c in chunks)
    with pytest.raises(ValueError):
        store.iter_range(digest, -1)


def test_missing_blob(store: BlobStore) -> None:
    digest = sha(b"never stored")
    assert not store.exists(digest)
    assert store.local_path(digest) is None
    with pytest.raises(BlobNotFound):
        store.size(digest)
    with pytest.raises(BlobNotFound):
        b"".join(store.iter_range(digest))
    with pytest.raises(BlobNotFound):
        store.read(digest)
    with pytest.raises(BlobNotFound):
        store.rehash(digest)
    store.delete(digest)  # missing is not an error


@pytest.mark.parametrize("size", [1234, PART_SIZE + 4321], ids=["small", "multipart"])
def test_digest_mismatch_leaves_nothing(store: BlobStore, size: int) -> None:
    data = payload(size, seed=3)
    writer = write_in_pieces(store, data, (MIB + 17,))
    with pytest.raises(DigestMismatch):
        writer.finish(expected_sha256=sha(b"something else"))
    assert_empty(store)
    assert not store.exists(sha(data))
    writer.abort()
    with pytest.raises(BlobError):
        writer.publish()


@pytest.mark.parametrize("size", [1234, PART_SIZE + 4321], ids=["small", "multipart"])
def test_size_mismatch_leaves_nothing(store: BlobStore, size: int) -> None:
    data = payload(size, seed=4)
    writer = write_in_pieces(store, data, (MIB + 17,))
    with pytest.raises(SizeMismatch):
        writer.finish(expected_sha256=sha(data), expected_size=size + 1)
    assert_empty(store)
    assert not store.exists(sha(data))


@pytest.mark.parametrize("size", [1234, PART_SIZE + 4321], ids=["small", "multipart"])
def test_abort_leaves_nothing(store: BlobStore, size: int) -> None:
    data = payload(size, seed=5)
    writer = write_in_pieces(store, data, (MIB + 17,))
    writer.abort()
    writer.abort()
    assert_empty(store)
    with pytest.raises(BlobError):
        writer.write(b"more")

    finished = store.begin()
    finished.write(data)
    finished.finish()
    finished.abort()
    assert_empty(store)
    assert not store.exists(sha(data))


def test_publish_needs_finish(store: BlobStore) -> None:
    writer = store.begin()
    writer.write(b"abc")
    with pytest.raises(BlobError):
        writer.publish()
    writer.abort()
    assert_empty(store)


def test_duplicate_content_publishes_once(store: BlobStore) -> None:
    data = payload(5000, seed=6)
    first = put(store, data)
    before = {b.digest: b for b in store.iter_blobs()}
    second = put(store, data)
    assert first == second == sha(data)
    blobs = list(store.iter_blobs())
    assert [b.digest for b in blobs] == [first]
    assert blobs[0].size == len(data)
    assert blobs[0].mtime >= before[first].mtime
    assert list(store.iter_temporaries()) == []
    assert store.read(first) == data


def test_large_blob(store: BlobStore) -> None:
    data = payload(20 * MIB, seed=7)
    calls: list[str] = []
    if isinstance(store, S3BlobStore):
        store.client.meta.events.register("before-call.s3.*", lambda model, **_: calls.append(model.name))
    writer = write_in_pieces(store, data, (MIB + 3, 5, 3 * MIB - 1))
    digest = writer.finish(expected_sha256=sha(data), expected_size=len(data))
    writer.publish()
    assert store.size(digest) == len(data)
    assert store.rehash(digest) == digest
    edge = PART_SIZE
    assert b"".join(store.iter_range(digest, edge - 5, edge + 5)) == data[edge - 5 : edge + 5]
    assert b"".join(store.iter_range(digest, len(data) - 1)) == data[-1:]
    assert store.read(digest) == data
    assert list(store.iter_temporaries()) == []
    if isinstance(store, S3BlobStore):
        assert "CreateMultipartUpload" in calls
        assert calls.count("UploadPart") == 3  # 8 + 8 + 4 MiB
        assert "PutObject" not in calls


def test_iter_blobs(store: BlobStore) -> None:
    contents = [payload(n, seed=n) for n in (1, 100, 4096)]
    digests = {put(store, c): len(c) for c in contents}
    listed = {b.digest: b for b in store.iter_blobs()}
    assert {d: b.size for d, b in listed.items()} == digests
    assert all(b.mtime > 0 for b in listed.values())


def test_iter_temporaries_and_delete_temporary(store: BlobStore) -> None:
    unfinished = store.begin()
    unfinished.write(payload(PART_SIZE + 1, seed=8))  # local: a temp file; s3: an open multipart upload
    temps = list(store.iter_temporaries())
    assert len(temps) == 1
    assert 0 < temps[0].size <= PART_SIZE + 1
    assert temps[0].mtime > 0

    finished = store.begin()
    finished.write(b"finished but never published")
    finished.finish()
    by_key = {t.key: t for t in store.iter_temporaries()}
    assert len(by_key) == 2
    assert len(b"finished but never published") in {t.size for t in by_key.values()}
    assert list(store.iter_blobs()) == []

    for key in by_key:
        store.delete_temporary(key)
        store.delete_temporary(key)  # missing is not an error
    assert_empty(store)
    unfinished.abort()
    finished.abort()
    assert_empty(store)


def test_rehash_and_delete(store: BlobStore) -> None:
    data = payload(70_000, seed=9)
    digest = put(store, data)
    assert store.rehash(digest) == digest
    store.delete(digest)
    assert not store.exists(digest)
    assert store.local_path(digest) is None
    store.delete(digest)
    assert_empty(store)


@pytest.mark.parametrize("bad", BAD_DIGESTS)
def test_bad_digests_are_rejected(store: BlobStore, bad: str) -> None:
    with pytest.raises(ValueError):
        check_digest(bad)
    with pytest.raises(ValueError):
        blob_key(bad)
    with pytest.raises(ValueError):
        store.exists(bad)
    with pytest.raises(ValueError):
        store.size(bad)
    with pytest.raises(ValueError):
        store.iter_range(bad)
    with pytest.raises(ValueError):
        store.local_path(bad)
    with pytest.raises(ValueError):
        store.delete(bad)
    with pytest.raises(ValueError):
        store.rehash(bad)
    with pytest.raises(ValueError):
        store.delete_temporary(bad)


def test_good_digest_is_accepted() -> None:
    digest = sha(b"x")
    assert check_digest(digest) == digest
    assert blob_key(digest) == f"sha256/{digest[:2]}/{digest[2:4]}/{digest}"


# -- layout of each implementation --------------------------------------------------


def test_local_layout_and_path(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path)
    digest = put(store, b"hello")
    path = tmp_path / "sha256" / digest[:2] / digest[2:4] / digest
    assert store.local_path(digest) == path
    assert path.read_bytes() == b"hello"
    assert list((tmp_path / "tmp").iterdir()) == []


def test_local_exists_does_not_touch_the_filesystem(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = LocalBlobStore(tmp_path)

    def forbidden(*args: object, **kwargs: object) -> None:
        raise AssertionError("filesystem touched")

    monkeypatch.setattr(os, "stat", forbidden)
    with pytest.raises(ValueError):
        store.exists("../etc/passwd")


def test_local_republish_refreshes_age(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path)
    digest = put(store, b"old")
    path = store.local_path(digest)
    assert path is not None
    os.utime(path, (1_000_000, 1_000_000))
    put(store, b"old")
    assert path.stat().st_mtime > 1_000_000


def test_s3_layout(s3_client: Any) -> None:
    store = S3BlobStore(fresh_bucket(), "/pre/fix/", s3_client)
    store.ensure_bucket()
    store.ensure_bucket()  # idempotent
    digest = put(store, b"hello")
    keys = [o["Key"] for o in s3_client.list_objects_v2(Bucket=store.bucket).get("Contents", [])]
    assert keys == [f"pre/fix/{blob_key(digest)}"]
    assert store.local_path(digest) is None


# -- the factory ------------------------------------------------------------------

S3_ARGS: dict[str, Any] = {
    "s3_region": "us-east-1",
    "s3_access_key_id": "testing",
    "s3_secret_access_key": "testing",
}


def test_make_blobstore_file(tmp_path: Path) -> None:
    root = tmp_path / "a" / "b"
    store = make_blobstore(root.as_uri(), s3_endpoint_url=None, s3_create_bucket=False, **S3_ARGS)
    assert isinstance(store, LocalBlobStore)
    assert store.root == root
    assert root.is_dir()
    assert store.read(put(store, b"x")) == b"x"


@pytest.mark.parametrize(("suffix", "prefix"), [("", ""), ("/", ""), ("/models/blobs", "models/blobs")])
def test_make_blobstore_s3(moto_endpoint: str, suffix: str, prefix: str) -> None:
    bucket = fresh_bucket()
    store = make_blobstore(
        f"s3://{bucket}{suffix}", s3_endpoint_url=moto_endpoint, s3_create_bucket=True, **S3_ARGS
    )
    assert isinstance(store, S3BlobStore)
    assert (store.bucket, store.prefix) == (bucket, prefix)
    digest = put(store, b"y")
    assert store.read(digest) == b"y"
    expected = f"{prefix}/{blob_key(digest)}" if prefix else blob_key(digest)
    assert store.client.head_object(Bucket=bucket, Key=expected)["ContentLength"] == 1


@pytest.mark.parametrize(
    "url",
    [
        "",
        "relative/path",
        "/abs/path",
        "http://example.com/x",
        "ftp://h/x",
        "file://host/x",
        "file:",
        "s3://",
        "s3:///prefix",
        "s3://user@bucket/x",
        "file:///tmp/x?y=1",
        "gs://bucket",
    ],
)
def test_make_blobstore_rejects(url: str) -> None:
    with pytest.raises(ValueError):
        make_blobstore(url, s3_endpoint_url=None, s3_create_bucket=False, **S3_ARGS)


def test_import_does_not_load_boto3() -> None:
    code = "import sys, dazi.blobstore; sys.exit('boto3' in sys.modules or 'botocore' in sys.modules)"
    subprocess.run([sys.executable, "-c", code], check=True)


class _RecordingClient:
    """Just enough of an S3 client to watch a multipart upload's part sizes."""

    def __init__(self) -> None:
        self.parts: list[int] = []
        self.completed: list[dict[str, Any]] = []

    def create_multipart_upload(self, **kwargs: Any) -> dict[str, Any]:
        return {"UploadId": "u1"}

    def upload_part(self, **kwargs: Any) -> dict[str, Any]:
        self.parts.append(len(kwargs["Body"]))
        return {"ETag": f'"{kwargs["PartNumber"]}"'}

    def complete_multipart_upload(self, **kwargs: Any) -> dict[str, Any]:
        self.completed.append(kwargs)
        return {}


def test_s3_part_size_grows(monkeypatch: pytest.MonkeyPatch) -> None:
    from dazi.blobstore import s3

    monkeypatch.setattr(s3, "PART_SIZE", 4)
    monkeypatch.setattr(s3, "PARTS_PER_STEP", 2)
    client = _RecordingClient()
    writer = S3BlobStore("bucket", "", client).begin()
    data = payload(30)
    for i in range(0, len(data), 3):
        writer.write(data[i : i + 3])
    assert writer.finish(expected_sha256=sha(data)) == sha(data)
    assert client.parts == [4, 4, 8, 8, 6]
    assert [p["PartNumber"] for p in client.completed[0]["MultipartUpload"]["Parts"]] == [1, 2, 3, 4, 5]
