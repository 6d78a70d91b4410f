"""Settings: the one typed configuration object, read from ``DAZI_*`` variables.

This is the only module that reads the environment. ``Settings()`` is built by
the CLI (or a test) and passed into ``create_app(settings)``; nothing reads it at
import time.
"""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

MiB = 1024 * 1024
GiB = 1024 * MiB


class Settings(BaseSettings):
    """Every setting of a dazi hub. Each maps to ``DAZI_<NAME>`` in the environment."""

    model_config = SettingsConfigDict(env_prefix="DAZI_", extra="ignore")

    data_dir: Path = Field(
        default=Path(".dazi"),
        description="Folder for the embedded default: the SQLite database, the local blob store, the secret key.",
    )
    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL. Empty: SQLite (WAL) at DATA_DIR/dazi.db. "
        "PostgreSQL: postgresql+psycopg://user:pass@host:5432/db.",
    )
    storage_url: str | None = Field(
        default=None,
        description="Blob store. Empty: local files under DATA_DIR/blobs. "
        "file:///abs/path for another folder; s3://bucket[/prefix] for an S3-compatible bucket.",
    )
    s3_endpoint_url: str | None = Field(default=None, description="S3 endpoint (MinIO, moto, Ceph…); empty: AWS.")
    s3_region: str = Field(default="us-east-1", description="S3 region.")
    s3_access_key_id: str | None = Field(default=None, description="S3 access key id.")
    s3_secret_access_key: str | None = Field(default=None, description="S3 secret access key.")
    s3_create_bucket: bool = Field(default=True, description="Create the bucket on start if it is missing.")
    secret_key: str | None = Field(
        default=None,
        description="Key that signs upload URLs and sessions. Empty: generated once and kept in "
        "DATA_DIR/secret_key. Set it explicitly when several API workers share one database.",
    )
    public_url: str | None = Field(
        default=None,
        description="The URL clients use to reach the hub (behind a proxy). Empty: taken from each request.",
    )
    lfs_threshold: int = Field(
        default=10 * MiB, description="Files at least this large are stored as git-LFS objects in the blob store."
    )
    max_file_size: int = Field(default=50 * GiB, description="Largest single file accepted (bytes).")
    max_regular_line: int = Field(
        default=16 * MiB,
        description="NDJSON commit lines longer than this are streamed to the blob store instead of parsed in memory.",
    )
    max_inline_commit_bytes: int = Field(
        default=2 * GiB,
        description="Most file content one commit may carry inline (base64 in its body) besides streamed files.",
    )
    download_chunk_size: int = Field(default=1 * MiB, description="Chunk size for streamed downloads (bytes).")
    upload_url_ttl: int = Field(default=24 * 3600, description="Lifetime of signed LFS upload URLs (seconds).")
    gc_grace_seconds: int = Field(
        default=24 * 3600,
        description="Unreferenced blobs and abandoned uploads younger than this are kept by `dazi admin gc`.",
    )
    page_size: int = Field(default=1000, description="Items per page in paginated listings.")
    log_level: Literal["debug", "info", "warning", "error"] = Field(default="info", description="Log level.")

    @field_validator("data_dir")
    @classmethod
    def _absolute(cls, value: Path) -> Path:
        return value.expanduser().resolve()

    # -- derived values -------------------------------------------------------------

    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.data_dir / 'dazi.db'}"

    def resolved_storage_url(self) -> str:
        if self.storage_url:
            return self.storage_url
        return (self.data_dir / "blobs").as_uri()

    def resolved_secret_key(self) -> str:
        """The explicit secret, or one generated once and kept beside the data."""
        if self.secret_key:
            return self.secret_key
        path = self.data_dir / "secret_key"
        if path.exists():
            return path.read_text().strip()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        key = secrets.token_urlsafe(48)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(key)
        tmp.chmod(0o600)
        tmp.replace(path)
        return path.read_text().strip()


def settings_reference() -> str:
    """The Markdown reference of every setting (``docs/reference/settings.md`` is generated from it)."""
    lines = [
        "# Settings",
        "",
        "Every setting is an environment variable with the `DAZI_` prefix (generated from `dazi.config.Settings`;",
        "`tests/test_docs.py` fails when this page and the code disagree).",
        "",
        "| variable | default | description |",
        "|---|---|---|",
    ]
    for name, field in Settings.model_fields.items():
        default = field.default
        shown = "(empty)" if default is None else f"`{default}`"
        lines.append(f"| `DAZI_{name.upper()}` | {shown} | {field.description or ''} |")
    return "\n".join(lines) + "\n"
