"""Content-addressed blob storage: the contract, its two implementations, and a factory.

``make_blobstore`` turns a storage URL into a store: ``file:///abs/path`` gives a
:class:`LocalBlobStore`, ``s3://bucket[/prefix]`` an :class:`S3BlobStore`.
boto3 is imported only when an S3 store is built.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from dazi.blobstore.interfaces import (
    SHA256_RE,
    BlobError,
    BlobNotFound,
    BlobStore,
    BlobWriter,
    DigestMismatch,
    SizeMismatch,
    StoredBlob,
    Temporary,
    blob_key,
    check_digest,
)
from dazi.blobstore.local import LocalBlobStore
from dazi.blobstore.s3 import S3BlobStore

__all__ = [
    "SHA256_RE",
    "BlobError",
    "BlobNotFound",
    "BlobStore",
    "BlobWriter",
    "DigestMismatch",
    "LocalBlobStore",
    "S3BlobStore",
    "SizeMismatch",
    "StoredBlob",
    "Temporary",
    "blob_key",
    "check_digest",
    "make_blobstore",
]


def make_blobstore(
    storage_url: str,
    *,
    s3_endpoint_url: str | None,
    s3_region: str,
    s3_access_key_id: str | None,
    s3_secret_access_key: str | None,
    s3_create_bucket: bool,
) -> BlobStore:
    """Build the blob store that ``storage_url`` names; ``ValueError`` if it names none."""
    parts = urlsplit(storage_url)
    if parts.query or parts.fragment:
        raise ValueError(f"storage URL must not have a query or fragment: {storage_url!r}")
    if parts.scheme == "file":
        return _local_store(storage_url, parts.netloc, parts.path)
    if parts.scheme == "s3":
        if not parts.netloc or "@" in parts.netloc or ":" in parts.netloc:
            raise ValueError(f"s3 storage URL needs a bucket name, as s3://bucket[/prefix]: {storage_url!r}")
        client = _s3_client(s3_endpoint_url, s3_region, s3_access_key_id, s3_secret_access_key)
        store = S3BlobStore(parts.netloc, unquote(parts.path).strip("/"), client)
        if s3_create_bucket:
            store.ensure_bucket()
        return store
    raise ValueError(f"unsupported storage URL {storage_url!r}: use file:///absolute/path or s3://bucket[/prefix]")


def _local_store(storage_url: str, netloc: str, path: str) -> LocalBlobStore:
    if netloc not in ("", "localhost"):
        raise ValueError(f"file storage URL must be file:///absolute/path, not {storage_url!r}")
    root = Path(unquote(path))
    if not path or not root.is_absolute():
        raise ValueError(f"file storage URL needs an absolute path: {storage_url!r}")
    root.mkdir(parents=True, exist_ok=True)
    return LocalBlobStore(root)


def _s3_client(endpoint_url: str | None, region: str, access_key_id: str | None, secret_access_key: str | None) -> Any:
    import boto3
    from botocore.config import Config

    config = Config(
        signature_version="s3v4",
        max_pool_connections=32,
        retries={"max_attempts": 3},
    )
    session = boto3.session.Session()
    return session.client(
        "s3",
        endpoint_url=endpoint_url or None,
        region_name=region,
        aws_access_key_id=access_key_id or None,
        aws_secret_access_key=secret_access_key or None,
        config=config,
    )
