"""A :class:`~dazi.blobstore.interfaces.BlobStore` on the local filesystem.

Layout under ``root``::

    tmp/<uuid4 hex>              in-flight uploads
    sha256/<aa>/<bb>/<digest>    published blobs

Both trees live under the same root, hence on the same filesystem, so
``os.replace`` publishes a finished temporary atomically: a reader never sees a
partially written file at a content address. Paths are built only from
validated digests or from a writer's own uuid key.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from dazi.blobstore.interfaces import (
    SHA256_RE,
    BlobError,
    BlobNotFound,
    DigestMismatch,
    SizeMismatch,
    StoredBlob,
    Temporary,
    blob_key,
)

__all__ = ["LocalBlobStore", "LocalBlobWriter"]

TEMP_KEY_RE = re.compile(r"^[0-9a-f]{32}$")
REHASH_CHUNK = 8 << 20
_HEX2_RE = re.compile(r"^[0-9a-f]{2}$")


def check_temp_key(key: str) -> str:
    """Return ``key`` if it is a temporary's uuid hex key, else raise ``ValueError``."""
    if not TEMP_KEY_RE.match(key):
        raise ValueError(f"not a temporary key: {key[:80]!r}")
    return key


def _fsync_dir(path: Path) -> None:
    """Best-effort fsync of a directory so a rename in it is durable."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _check_range(start: int, end: int | None, chunk_size: int) -> None:
    if start < 0 or (end is not None and end < 0) or chunk_size <= 0:
        raise ValueError("range bounds must not be negative, chunk_size must be positive")


class LocalBlobWriter:
    """Streams an upload to ``tmp/<key>`` while hashing it."""

    def __init__(self, store: LocalBlobStore) -> None:
        self._store = store
        self.key = uuid.uuid4().hex
        self._path = store.temp_path(self.key)
        self._file: BinaryIO | None = self._path.open("xb")
        self._hash = hashlib.sha256()
        self._size = 0
        self._digest: str | None = None
        self._done = False  # published or aborted

    @property
    def size(self) -> int:
        return self._size

    def write(self, data: bytes | bytearray) -> None:
        if self._file is None:
            raise BlobError("write on a closed blob writer")
        self._file.write(data)
        self._hash.update(data)
        self._size += len(data)

    def finish(self, expected_sha256: str | None = None, expected_size: int | None = None) -> str:
        if self._file is None:
            raise BlobError("finish on a closed blob writer")
        file, self._file = self._file, None
        try:
            file.flush()
            os.fsync(file.fileno())
        finally:
            file.close()
        digest = self._hash.hexdigest()
        if expected_size is not None and expected_size != self._size:
            self.abort()
            raise SizeMismatch(f"expected {expected_size} bytes, got {self._size}")
        if expected_sha256 is not None and expected_sha256 != digest:
            self.abort()
            raise DigestMismatch(f"expected sha256 {expected_sha256[:80]!r}, got {digest}")
        self._digest = digest
        return digest

    def publish(self) -> str:
        if self._digest is None or self._done:
            raise BlobError("publish needs a finished, unpublished blob writer")
        final = self._store.blob_path(self._digest)
        final.parent.mkdir(parents=True, exist_ok=True)
        if final.exists():
            try:
                os.utime(final)  # refresh its age so gc keeps it a while longer
            except FileNotFoundError:
                pass  # collected meanwhile: fall through and publish ours
            else:
                self._path.unlink(missing_ok=True)
                self._done = True
                return self._digest
        self._path.replace(final)  # atomic: same filesystem
        _fsync_dir(final.parent)
        self._done = True
        return self._digest

    def abort(self) -> None:
        if self._done:
            return
        self._done = True
        if self._file is not None:
            self._file.close()
            self._file = None
        self._path.unlink(missing_ok=True)


class LocalBlobStore:
    """Content-addressed blobs under a local directory."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self._tmp = self.root / "tmp"
        self._blobs = self.root / "sha256"
        self._tmp.mkdir(parents=True, exist_ok=True)
        self._blobs.mkdir(parents=True, exist_ok=True)

    def __repr__(self) -> str:
        return f"LocalBlobStore({str(self.root)!r})"

    # -- paths ---------------------------------------------------------------

    def blob_path(self, digest: str) -> Path:
        """The final path of ``digest`` (validated), whether or not it exists."""
        return self.root / blob_key(digest)

    def temp_path(self, key: str) -> Path:
        """The path of the temporary ``key`` (validated)."""
        return self._tmp / check_temp_key(key)

    # -- writing -------------------------------------------------------------

    def begin(self) -> LocalBlobWriter:
        return LocalBlobWriter(self)

    # -- reading -------------------------------------------------------------

    def _stat(self, digest: str) -> os.stat_result:
        try:
            return self.blob_path(digest).stat()
        except FileNotFoundError:
            raise BlobNotFound(digest) from None

    def exists(self, digest: str) -> bool:
        return self.blob_path(digest).is_file()

    def size(self, digest: str) -> int:
        return self._stat(digest).st_size

    def iter_range(
        self, digest: str, start: int = 0, end: int | None = None, chunk_size: int = 1 << 20
    ) -> Iterator[bytes]:
        """Check the blob exists now; the returned iterator opens it lazily."""
        _check_range(start, end, chunk_size)
        size = self._stat(digest).st_size
        stop = size if end is None else min(end, size)
        return self._read_range(self.blob_path(digest), start, stop, chunk_size)

    @staticmethod
    def _read_range(path: Path, start: int, stop: int, chunk_size: int) -> Iterator[bytes]:
        if start >= stop:
            return
        try:
            file = path.open("rb")
        except FileNotFoundError:
            raise BlobNotFound(path.name) from None
        with file:
            file.seek(start)
            remaining = stop - start
            while remaining > 0:
                chunk = file.read(min(chunk_size, remaining))
                if not chunk:
                    break
                remaining -= len(chunk)
                yield chunk

    def read(self, digest: str) -> bytes:
        return b"".join(self.iter_range(digest))

    def local_path(self, digest: str) -> Path | None:
        path = self.blob_path(digest)
        return path if path.is_file() else None

    def rehash(self, digest: str) -> str:
        hasher = hashlib.sha256()
        try:
            file = self.blob_path(digest).open("rb")
        except FileNotFoundError:
            raise BlobNotFound(digest) from None
        with file:
            while chunk := file.read(REHASH_CHUNK):
                hasher.update(chunk)
        return hasher.hexdigest()

    # -- maintenance ---------------------------------------------------------

    def delete(self, digest: str) -> None:
        self.blob_path(digest).unlink(missing_ok=True)

    def iter_blobs(self) -> Iterator[StoredBlob]:
        for level1 in self._subdirs(self._blobs):
            for level2 in self._subdirs(level1):
                prefix = level1.name + level2.name
                for entry in self._scan(level2):
                    if not (SHA256_RE.match(entry.name) and entry.name.startswith(prefix)):
                        continue
                    with contextlib.suppress(FileNotFoundError):
                        st = entry.stat(follow_symlinks=False)
                        if entry.is_file(follow_symlinks=False):
                            yield StoredBlob(entry.name, st.st_size, st.st_mtime)

    def iter_temporaries(self) -> Iterator[Temporary]:
        for entry in self._scan(self._tmp):
            if not TEMP_KEY_RE.match(entry.name):
                continue
            with contextlib.suppress(FileNotFoundError):
                st = entry.stat(follow_symlinks=False)
                if entry.is_file(follow_symlinks=False):
                    yield Temporary(entry.name, st.st_size, st.st_mtime)

    def delete_temporary(self, key: str) -> None:
        self.temp_path(key).unlink(missing_ok=True)

    @staticmethod
    def _scan(directory: Path) -> list[os.DirEntry[str]]:
        try:
            with os.scandir(directory) as it:
                return sorted(it, key=lambda e: e.name)
        except FileNotFoundError:
            return []

    @classmethod
    def _subdirs(cls, directory: Path) -> Iterator[Path]:
        for entry in cls._scan(directory):
            if _HEX2_RE.match(entry.name) and entry.is_dir(follow_symlinks=False):
                yield Path(entry.path)
