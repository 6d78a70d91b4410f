"""A :class:`~dazi.blobstore.interfaces.BlobStore` on an S3-compatible bucket.

Keys: ``<prefix>/tmp/<uuid hex>`` for in-flight uploads and
``<prefix>/sha256/<aa>/<bb>/<digest>`` for published blobs. An upload smaller
than one part (8 MiB) is a single ``put_object`` at ``finish``; a larger one is
a multipart upload whose parts are sent as the data arrives, so a writer holds
at most one part in memory (parts grow by 8 MiB every 1000 parts, which keeps
S3's 10,000-part limit out of reach). Publishing copies the temporary object to its
content address (a managed copy, so objects over 5 GiB work) and deletes it.

The boto3 client is passed in; this module never imports boto3 itself.
"""

from __future__ import annotations

import contextlib
import hashlib
import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from dazi.blobstore.interfaces import (
    SHA256_RE,
    BlobError,
    BlobNotFound,
    DigestMismatch,
    SizeMismatch,
    StoredBlob,
    Temporary,
    blob_key,
    check_digest,
)

__all__ = ["S3BlobStore", "S3BlobWriter"]

PART_SIZE = 8 << 20
PARTS_PER_STEP = 1000  # part size grows by PART_SIZE after every this many parts
MAX_SELF_COPY = 5 << 30  # copy_object's limit
REHASH_CHUNK = 8 << 20
TEMP_KEY_RE = re.compile(r"^[0-9a-f]{32}$")
_NOT_FOUND = frozenset({"404", "NoSuchKey", "NotFound"})


def _error_code(exc: Exception) -> str:
    response = getattr(exc, "response", None)
    if not isinstance(response, dict):
        return ""
    return str(response.get("Error", {}).get("Code", ""))


def _is_not_found(exc: Exception) -> bool:
    return _error_code(exc) in _NOT_FOUND


def _check_temp_key(key: str) -> str:
    if not TEMP_KEY_RE.match(key):
        raise ValueError(f"not a temporary key: {key[:80]!r}")
    return key


class S3BlobWriter:
    """Streams an upload to ``<prefix>/tmp/<key>`` while hashing it."""

    def __init__(self, store: S3BlobStore) -> None:
        self._store, self._client, self._bucket = store, store.client, store.bucket
        self.key = uuid.uuid4().hex
        self._tmp_key = store.temp_key(self.key)
        self._hash, self._size, self._buffer = hashlib.sha256(), 0, bytearray()
        self._upload_id: str | None = None
        self._parts: list[dict[str, Any]] = []
        self._digest: str | None = None
        self._open, self._tmp_written, self._done = True, False, False  # done: published or aborted

    @property
    def size(self) -> int:
        return self._size

    def write(self, data: bytes | bytearray) -> None:
        if not self._open:
            raise BlobError("write on a closed blob writer")
        self._hash.update(data)
        self._size += len(data)
        view = memoryview(data)
        while view:
            limit = PART_SIZE * (1 + len(self._parts) // PARTS_PER_STEP)
            if len(self._buffer) >= limit:  # more data follows a full part: send it
                self._send_part()
                continue
            take = limit - len(self._buffer)
            self._buffer += view[:take]
            view = view[take:]

    def _send_part(self) -> None:
        if self._upload_id is None:
            resp = self._client.create_multipart_upload(Bucket=self._bucket, Key=self._tmp_key)
            self._upload_id = str(resp["UploadId"])
        number = len(self._parts) + 1
        resp = self._client.upload_part(
            Bucket=self._bucket,
            Key=self._tmp_key,
            UploadId=self._upload_id,
            PartNumber=number,
            Body=self._buffer,
        )
        self._parts.append({"PartNumber": number, "ETag": resp["ETag"]})
        self._buffer = bytearray()

    def finish(self, expected_sha256: str | None = None, expected_size: int | None = None) -> str:
        if not self._open:
            raise BlobError("finish on a closed blob writer")
        self._open = False
        digest = self._hash.hexdigest()
        try:
            if expected_size is not None and expected_size != self._size:
                raise SizeMismatch(f"expected {expected_size} bytes, got {self._size}")
            if expected_sha256 is not None and expected_sha256 != digest:
                raise DigestMismatch(f"expected sha256 {expected_sha256[:80]!r}, got {digest}")
            self._upload()
        except BaseException:
            self.abort()
            raise
        self._digest = digest
        return digest

    def _upload(self) -> None:
        if self._upload_id is None:
            self._client.put_object(Bucket=self._bucket, Key=self._tmp_key, Body=self._buffer)
        else:
            if self._buffer:
                self._send_part()
            parts = {"Parts": self._parts}
            self._client.complete_multipart_upload(
                Bucket=self._bucket, Key=self._tmp_key, UploadId=self._upload_id, MultipartUpload=parts
            )
            self._upload_id = None
        self._buffer = bytearray()
        self._tmp_written = True

    def publish(self) -> str:
        if self._digest is None or self._done:
            raise BlobError("publish needs a finished, unpublished blob writer")
        final = self._store.final_key(self._digest)
        if not self._store.refresh(final):  # a managed copy: multipart above 8 MiB, so > 5 GiB works
            source = {"Bucket": self._bucket, "Key": self._tmp_key}
            self._client.copy(CopySource=source, Bucket=self._bucket, Key=final)
        self._client.delete_object(Bucket=self._bucket, Key=self._tmp_key)
        self._done = True
        return self._digest

    def abort(self) -> None:
        if self._done:
            return
        self._done, self._open, self._buffer = True, False, bytearray()
        if self._upload_id is not None:
            upload_id, self._upload_id = self._upload_id, None
            self._store.abort_upload(self._tmp_key, upload_id)
        if self._tmp_written:
            self._client.delete_object(Bucket=self._bucket, Key=self._tmp_key)


class S3BlobStore:
    """Content-addressed blobs in ``bucket`` under ``prefix``."""

    def __init__(self, bucket: str, prefix: str, client: Any) -> None:
        if not bucket:
            raise ValueError("an S3 bucket name is required")
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.client = client

    def __repr__(self) -> str:
        return f"S3BlobStore(bucket={self.bucket!r}, prefix={self.prefix!r})"

    def _key(self, rest: str) -> str:
        return f"{self.prefix}/{rest}" if self.prefix else rest

    def final_key(self, digest: str) -> str:
        return self._key(blob_key(digest))

    def temp_key(self, key: str) -> str:
        return self._key(f"tmp/{_check_temp_key(key)}")

    def head(self, key: str) -> dict[str, Any] | None:
        """``head_object`` of ``key``, or None when it does not exist."""
        try:
            resp: dict[str, Any] = self.client.head_object(Bucket=self.bucket, Key=key)
        except Exception as exc:
            if _is_not_found(exc):
                return None
            raise
        return resp

    def refresh(self, key: str) -> bool:
        """If ``key`` exists, refresh its age and return True; else return False.

        The age is refreshed with a self-copy, which ``copy_object`` allows only
        up to 5 GiB; a larger object is left as it is.
        """
        existing = self.head(key)
        if existing is None:
            return False
        if int(existing["ContentLength"]) > MAX_SELF_COPY:
            return True
        source = {"Bucket": self.bucket, "Key": key}
        try:
            self.client.copy_object(Bucket=self.bucket, Key=key, CopySource=source, MetadataDirective="REPLACE")
        except Exception as exc:
            if _is_not_found(exc):  # collected meanwhile
                return False
            raise
        return True

    def abort_upload(self, key: str, upload_id: str) -> None:
        try:
            self.client.abort_multipart_upload(Bucket=self.bucket, Key=key, UploadId=upload_id)
        except Exception as exc:
            if _error_code(exc) != "NoSuchUpload":
                raise

    def ensure_bucket(self) -> None:
        """Create the bucket if it does not exist."""
        try:
            self.client.head_bucket(Bucket=self.bucket)
            return
        except Exception as exc:
            if not _is_not_found(exc):
                raise
        region = self.client.meta.region_name
        kwargs: dict[str, Any] = {"Bucket": self.bucket}
        if region and region != "us-east-1":
            kwargs["CreateBucketConfiguration"] = {"LocationConstraint": region}
        try:
            self.client.create_bucket(**kwargs)
        except Exception as exc:
            if _error_code(exc) not in {"BucketAlreadyOwnedByYou", "BucketAlreadyExists"}:
                raise

    def begin(self) -> S3BlobWriter:
        return S3BlobWriter(self)

    def exists(self, digest: str) -> bool:
        return self.head(self.final_key(digest)) is not None

    def size(self, digest: str) -> int:
        resp = self.head(self.final_key(digest))
        if resp is None:
            raise BlobNotFound(digest)
        return int(resp["ContentLength"])

    def _get(self, digest: str, range_header: str | None = None) -> Any:
        kwargs: dict[str, Any] = {"Bucket": self.bucket, "Key": self.final_key(digest)}
        if range_header is not None:
            kwargs["Range"] = range_header
        try:
            return self.client.get_object(**kwargs)["Body"]
        except Exception as exc:
            if _is_not_found(exc):
                raise BlobNotFound(digest) from None
            raise

    def iter_range(
        self, digest: str, start: int = 0, end: int | None = None, chunk_size: int = 1 << 20
    ) -> Iterator[bytes]:
        """Request the range now (so a missing blob raises here); stream it lazily."""
        if start < 0 or (end is not None and end < 0) or chunk_size <= 0:
            raise ValueError("range bounds must not be negative, chunk_size must be positive")
        if end is not None and end <= start:
            if not self.exists(digest):
                raise BlobNotFound(digest)
            return iter(())
        range_header = f"bytes={start}-" if end is None else f"bytes={start}-{end - 1}"
        try:
            body = self._get(digest, range_header)
        except Exception as exc:
            if _error_code(exc) != "InvalidRange":
                raise
            if not self.exists(digest):  # start at or past the end (or an empty blob)
                raise BlobNotFound(digest) from None
            return iter(())
        return self._stream(body, chunk_size)

    @staticmethod
    def _stream(body: Any, chunk_size: int) -> Iterator[bytes]:
        with contextlib.closing(body):
            for chunk in body.iter_chunks(chunk_size):
                if chunk:
                    yield bytes(chunk)

    def read(self, digest: str) -> bytes:
        return b"".join(self.iter_range(digest))

    def local_path(self, digest: str) -> Path | None:
        check_digest(digest)
        return None

    def rehash(self, digest: str) -> str:
        hasher = hashlib.sha256()
        for chunk in self._stream(self._get(digest), REHASH_CHUNK):
            hasher.update(chunk)
        return hasher.hexdigest()

    def delete(self, digest: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=self.final_key(digest))

    def _list(self, prefix: str) -> Iterator[dict[str, Any]]:
        paginator = self.client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=prefix):
            yield from page.get("Contents", [])

    def iter_blobs(self) -> Iterator[StoredBlob]:
        for obj in self._list(self._key("sha256/")):
            digest = str(obj["Key"]).rsplit("/", 1)[-1]
            if SHA256_RE.match(digest) and obj["Key"] == self.final_key(digest):
                yield StoredBlob(digest, int(obj["Size"]), obj["LastModified"].timestamp())

    def iter_temporaries(self) -> Iterator[Temporary]:
        """Finished-but-unpublished objects, then multipart uploads still open."""
        tmp_prefix = self._key("tmp/")
        for obj in self._list(tmp_prefix):
            name = str(obj["Key"])[len(tmp_prefix) :]
            if TEMP_KEY_RE.match(name):
                yield Temporary(name, int(obj["Size"]), obj["LastModified"].timestamp())
        for upload in self._uploads(tmp_prefix):
            name = str(upload["Key"])[len(tmp_prefix) :]
            if TEMP_KEY_RE.match(name):
                summary = self._parts_summary(upload)
                if summary is not None:  # None: the upload finished or was aborted meanwhile
                    yield Temporary(name, *summary)

    def _uploads(self, prefix: str) -> Iterator[dict[str, Any]]:
        paginator = self.client.get_paginator("list_multipart_uploads")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=prefix):
            yield from page.get("Uploads", [])

    def _parts_summary(self, upload: dict[str, Any]) -> tuple[int, float] | None:
        """Bytes uploaded so far and the time of the latest part (or the initiation); None if it is gone."""
        size, mtime = 0, float(upload["Initiated"].timestamp())
        paginator = self.client.get_paginator("list_parts")
        pages = paginator.paginate(Bucket=self.bucket, Key=upload["Key"], UploadId=upload["UploadId"])
        try:
            for page in pages:
                for part in page.get("Parts", []):
                    size += int(part["Size"])
                    mtime = max(mtime, float(part["LastModified"].timestamp()))
        except self.client.exceptions.NoSuchUpload:
            return None
        return size, mtime

    def delete_temporary(self, key: str) -> None:
        tmp_key = self.temp_key(key)
        for upload in self._uploads(tmp_key):
            if upload["Key"] == tmp_key:
                self.abort_upload(tmp_key, str(upload["UploadId"]))
        self.client.delete_object(Bucket=self.bucket, Key=tmp_key)
