from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from dazi.accounts.models import Namespace
from dazi.db import Base, UTCDateTime, utcnow

REPO_TYPES = ("model", "dataset", "space")


class Repo(Base):
    __tablename__ = "repos"
    __table_args__ = (UniqueConstraint("type", "namespace_id", "name_lower", name="uq_repos_type_ns_name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    type: Mapped[str] = mapped_column(String(8))
    namespace_id: Mapped[int] = mapped_column(ForeignKey("namespaces.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(96))
    name_lower: Mapped[str] = mapped_column(String(96))
    repo_id_lower: Mapped[str] = mapped_column(String(200), index=True)  # "ns/name", lowercased, for search
    private: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_modified: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    downloads_total: Mapped[int] = mapped_column(BigInteger, default=0)
    downloads_recent: Mapped[int] = mapped_column(BigInteger, default=0, index=True)
    likes: Mapped[int] = mapped_column(Integer, default=0)
    used_storage: Mapped[int] = mapped_column(BigInteger, default=0)
    # From the README's YAML front matter on the default branch.
    card_data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    card_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    description: Mapped[str] = mapped_column(Text, default="")
    display_name: Mapped[str] = mapped_column(String(200), default="")
    license: Mapped[str | None] = mapped_column(String(100), nullable=True, index=True)
    pipeline_tag: Mapped[str | None] = mapped_column(String(100), nullable=True, index=True)
    library_name: Mapped[str | None] = mapped_column(String(100), nullable=True, index=True)
    base_model_relation: Mapped[str | None] = mapped_column(String(20), nullable=True)

    namespace: Mapped[Namespace] = relationship(lazy="joined")

    @property
    def repo_id(self) -> str:
        return f"{self.namespace.name}/{self.name}"


class RepoTag(Base):
    """Tags derived from the card and the files; what ``filter=`` matches."""

    __tablename__ = "repo_tags"

    repo_id: Mapped[int] = mapped_column(ForeignKey("repos.id", ondelete="CASCADE"), primary_key=True)
    tag: Mapped[str] = mapped_column(String(200), primary_key=True, index=True)


class BaseModelLink(Base):
    """A ``base_model`` declared by a repo's card (lineage)."""

    __tablename__ = "base_model_links"

    repo_id: Mapped[int] = mapped_column(ForeignKey("repos.id", ondelete="CASCADE"), primary_key=True)
    base_repo_id_lower: Mapped[str] = mapped_column(String(200), primary_key=True, index=True)
    relation: Mapped[str | None] = mapped_column(String(20), nullable=True)


class Ref(Base):
    """A git ref: ``refs/heads/<branch>`` or ``refs/tags/<tag>``; ``target`` is an object id."""

    __tablename__ = "refs"

    repo_id: Mapped[int] = mapped_column(ForeignKey("repos.id", ondelete="CASCADE"), primary_key=True)
    name: Mapped[str] = mapped_column(String(255), primary_key=True)
    target: Mapped[str] = mapped_column(String(40))
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class GitObject(Base):
    """A git object (commit, tree, blob or tag) in its canonical form, keyed by its sha1."""

    __tablename__ = "git_objects"

    repo_id: Mapped[int] = mapped_column(ForeignKey("repos.id", ondelete="CASCADE"), primary_key=True)
    oid: Mapped[str] = mapped_column(String(40), primary_key=True)
    type_num: Mapped[int] = mapped_column(SmallInteger)  # 1 commit, 2 tree, 3 blob, 4 tag
    size: Mapped[int] = mapped_column(BigInteger)
    data: Mapped[bytes] = mapped_column(LargeBinary)
    # For blobs that are git-LFS pointers: the object they point to.
    lfs_oid: Mapped[str | None] = mapped_column(String(64), nullable=True)
    lfs_size: Mapped[int | None] = mapped_column(BigInteger, nullable=True)


class LfsObject(Base):
    """A repo's claim on a blob in the blob store (proof that it was uploaded to this repo).

    ``committed`` turns true when a commit references it; uncommitted rows older than
    the grace period are removed by ``dazi admin gc``, and so are blobs no row claims.
    """

    __tablename__ = "lfs_objects"
    __table_args__ = (Index("ix_lfs_objects_oid", "oid"),)

    repo_id: Mapped[int] = mapped_column(ForeignKey("repos.id", ondelete="CASCADE"), primary_key=True)
    oid: Mapped[str] = mapped_column(String(64), primary_key=True)
    size: Mapped[int] = mapped_column(BigInteger)
    committed: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class DownloadDay(Base):
    __tablename__ = "download_days"

    repo_id: Mapped[int] = mapped_column(ForeignKey("repos.id", ondelete="CASCADE"), primary_key=True)
    day: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    count: Mapped[int] = mapped_column(BigInteger, default=0)


class BlobGitId(Base):
    """The git blob id of an LFS object's content (what clients in "regular" upload mode compare)."""

    __tablename__ = "blob_git_ids"

    oid: Mapped[str] = mapped_column(String(64), primary_key=True)  # sha256 of the content
    git_sha1: Mapped[str] = mapped_column(String(40))


class RepoSearch(Base):
    """The text that full-text search matches besides the repo id: display name, description, tags, card.

    Indexed by trigrams (SQLite FTS5 ``repo_search_fts``, PostgreSQL ``pg_trgm``), so that substrings
    match in any script, Chinese included (see ``dazi.repos.search`` and migration 0003).
    """

    __tablename__ = "repo_search"

    repo_id: Mapped[int] = mapped_column(ForeignKey("repos.id", ondelete="CASCADE"), primary_key=True)
    document: Mapped[str] = mapped_column(Text, default="")
