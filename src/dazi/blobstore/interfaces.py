"""The blob store contract: content-addressed storage keyed by sha256.

A blob is written through a :class:`BlobWriter` to a *temporary* object while it
is hashed and measured. ``finish`` checks the expected digest and size (a
mismatch aborts the write and leaves nothing behind); ``publish`` then moves the
temporary object to its content address ``sha256/<aa>/<bb>/<digest>`` (or drops
it if that content is already stored, refreshing the stored copy's age).

A published blob is still invisible: only a database row that references the
digest (committed in the same transaction as the git commit that uses it) makes
it reachable. ``dazi admin gc`` removes published blobs that no row references
once they are older than the grace period; abandoned temporaries likewise.

No storage key is ever derived from a user-supplied name.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable

SHA256_RE = re.compile(r"^[0-9a-f]{64}$")


class BlobError(Exception):
    """Base class of blob store errors."""


class BlobNotFound(BlobError):
    """The digest is not in the store."""


class DigestMismatch(BlobError):
    """The uploaded bytes do not hash to the expected sha256."""


class SizeMismatch(BlobError):
    """The uploaded bytes are not the expected length."""


def check_digest(digest: str) -> str:
    """Return ``digest`` if it is 64 lowercase hex characters, else raise ``ValueError``."""
    if not SHA256_RE.match(digest):
        raise ValueError(f"not a sha256 hex digest: {digest[:80]!r}")
    return digest


def blob_key(digest: str) -> str:
    """The storage key of a published blob: ``sha256/<aa>/<bb>/<digest>``."""
    check_digest(digest)
    return f"sha256/{digest[:2]}/{digest[2:4]}/{digest}"


@dataclass(frozen=True)
class StoredBlob:
    digest: str
    size: int
    mtime: float  # seconds since the epoch


@dataclass(frozen=True)
class Temporary:
    key: str  # opaque identifier of an in-flight upload
    size: int
    mtime: float


class BlobWriter(Protocol):
    """An in-flight upload. Not thread-safe; one writer per upload."""

    @property
    def size(self) -> int: ...

    def write(self, data: bytes | bytearray) -> None:
        """Append bytes (any length) to the temporary object while hashing them."""

    def finish(self, expected_sha256: str | None = None, expected_size: int | None = None) -> str:
        """Close the temporary object and return its sha256 hex digest.

        Raises ``DigestMismatch`` / ``SizeMismatch`` (after aborting) when the
        content is not what was announced.
        """

    def publish(self) -> str:
        """Move the finished temporary object to its content address; return the digest."""

    def abort(self) -> None:
        """Delete the temporary object. Safe to call more than once, and after publish."""


@runtime_checkable
class BlobStore(Protocol):
    """Content-addressed storage. Implementations: ``LocalBlobStore``, ``S3BlobStore``."""

    def begin(self) -> BlobWriter:
        """Start a new temporary object."""

    def exists(self, digest: str) -> bool: ...

    def size(self, digest: str) -> int:
        """Size in bytes; raises ``BlobNotFound``."""

    def iter_range(
        self, digest: str, start: int = 0, end: int | None = None, chunk_size: int = 1 << 20
    ) -> Iterator[bytes]:
        """Yield the bytes ``[start, end)`` (``end`` None: to the end) in chunks; raises ``BlobNotFound``."""

    def read(self, digest: str) -> bytes:
        """The whole content (for small blobs)."""

    def local_path(self, digest: str) -> Path | None:
        """A filesystem path to serve from (local store) or None (remote store)."""

    def delete(self, digest: str) -> None:
        """Remove a published blob (missing is not an error)."""

    def iter_blobs(self) -> Iterator[StoredBlob]:
        """Every published blob."""

    def iter_temporaries(self) -> Iterator[Temporary]:
        """Every temporary object left by unfinished uploads."""

    def delete_temporary(self, key: str) -> None: ...

    def rehash(self, digest: str) -> str:
        """Re-read a published blob and return the sha256 of its content."""
