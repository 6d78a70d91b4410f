"""The operations of one commit, as the protocol adapters hand them to ``commit_changes``."""

from __future__ import annotations

from dataclasses import dataclass

from dazi.blobstore import BlobWriter
from dazi.repos.git import LfsPointer


@dataclass
class AddBytes:
    """A file whose content arrived inline (small enough to hold in memory)."""

    path: str
    content: bytes


@dataclass
class AddStreamed:
    """A file whose content was streamed into a finished (unpublished) blob writer."""

    path: str
    writer: BlobWriter
    pointer: LfsPointer


@dataclass
class AddLfs:
    """A file already uploaded to the blob store through the LFS API (``lfsFile``)."""

    path: str
    oid: str
    size: int | None
    fresh: bool = False  # published by this request, so this repo needs no earlier claim on it
    git_id: str | None = None  # git blob sha1 of the content, when known


@dataclass
class Delete:
    path: str
    folder: bool = False


Operation = AddBytes | AddStreamed | AddLfs | Delete


@dataclass
class CommitHeader:
    summary: str = ""
    description: str = ""
    parent_commit: str | None = None

    @property
    def message(self) -> str:
        summary = self.summary.strip() or "Upload files with dazi"
        return f"{summary}\n\n{self.description.strip()}" if self.description.strip() else summary
