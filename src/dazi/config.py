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
    git_max_blob_size: int = Field(
        default=10 * MiB,
        description="Largest file a `git push` may store in git itself (bytes); larger files must be git-LFS "
        "objects, and pushes that carry them are refused.",
    )
    git_max_push_size: int = Field(
        default=4 * GiB, description="Largest pack one `git push` may send (bytes, after gzip decoding)."
    )
    download_chunk_size: int = Field(default=1 * MiB, description="Chunk size for streamed downloads (bytes).")
    upload_url_ttl: int = Field(default=24 * 3600, description="Lifetime of signed LFS upload URLs (seconds).")
    gc_grace_seconds: int = Field(
        default=24 * 3600,
        description="Unreferenced blobs and abandoned uploads younger than this are kept by `dazi admin gc`.",
    )
    page_size: int = Field(default=1000, description="Items per page in paginated listings.")
    log_level: Literal["debug", "info", "warning", "error"] = Field(default="info", description="Log level.")
    signup_enabled: bool = Field(default=True, description="Let visitors create accounts on the web site (/join).")
    default_language: Literal["en", "zh_CN"] = Field(
        default="en",
        description="Language of the web site when neither ?lang=, the language cookie nor Accept-Language picks one.",
    )
    web_session_days: int = Field(default=30, description="How long a web site log-in lasts (days).")
    login_max_failures: int = Field(
        default=10, description="Failed web log-ins allowed per client IP and user name within LOGIN_WINDOW_SECONDS."
    )
    login_window_seconds: int = Field(default=900, description="Window of the web log-in rate limit (seconds).")
    # -- jobs (dazi.jobs) and Model as a Service (dazi.inference, dazi.quotas) --------------
    jobs_enabled: bool = Field(
        default=True,
        description="Run queued jobs from this API process (claim, execute, supervise). Turn off on API "
        "workers that should only accept jobs; at least one process sharing the database must run them.",
    )
    jobs_local_workers: int = Field(
        default=2, description="Jobs run at once by the local executor (one worker process each)."
    )
    jobs_lease_seconds: int = Field(
        default=60,
        description="A running job whose supervising process has not renewed its lease for this long is "
        "recovered: re-queued (kinds that can be retried, while attempts are left) or marked failed.",
    )
    jobs_poll_seconds: float = Field(
        default=1.0, description="How often the job service looks for queued jobs, cancellations and dead workers."
    )
    jobs_cancel_grace_seconds: float = Field(
        default=10.0,
        description="After a running job is cancelled, how long it may take to stop by itself before its "
        "worker process (or Ray task) is killed.",
    )
    jobs_max_log_bytes: int = Field(default=1 * MiB, description="Longest log kept per job; later lines are dropped.")
    ray_address: str | None = Field(
        default=None,
        description="Run jobs as Ray tasks on this cluster (`auto`, `host:6379`, `ray://host:10001`; `local` "
        "starts a Ray instance in the process). Empty: the local executor (worker processes on this machine).",
    )
    inference_cache_dir: Path | None = Field(
        default=None,
        description="Where model snapshots are materialized for inference, by commit. Empty: DATA_DIR/inference-cache.",
    )
    inference_max_memory: int = Field(
        default=4 * GiB,
        description="Memory budget for models loaded by /v1 (bytes, estimated from parameter sizes); the "
        "least recently used idle models are unloaded to stay under it.",
    )
    inference_max_batch_size: int = Field(
        default=16, description="Most generation requests one model runs together in a batch."
    )
    inference_max_queue: int = Field(
        default=64,
        description="Most requests waiting per model beyond the running batch; more are refused with 503 "
        "and Retry-After.",
    )
    inference_max_new_tokens: int = Field(
        default=1024, description="Cap on generated tokens per request (a larger max_tokens is lowered to it)."
    )
    inference_max_inputs: int = Field(default=256, description="Most inputs one /v1/embeddings request may carry.")
    inference_request_limits: str = Field(
        default="600/minute;20000/day",
        description="Per-user request quota on /v1 inference calls, in the `limits` notation (`N/minute`, `N/hour`, "
        "`N/day`…, several separated by `;`). Empty: no request quota.",
    )
    inference_token_limits: str = Field(
        default="2000000/hour",
        description="Per-user token quota on /v1 (prompt plus generated tokens), same notation. Empty: no token quota.",
    )
    # -- deployments (dazi.deployments) --------------------------------------------------
    deployments_enabled: bool = Field(
        default=True,
        description="Run deployment replicas from this API process (a supervisor thread that claims deployments "
        "through leases in the database). API workers with it off still route /v1 calls to the replicas others run.",
    )
    deployments_max_replicas: int = Field(default=4, description="Most replicas one deployment may ask for.")
    deployments_poll_seconds: float = Field(
        default=1.0, description="How often the deployment supervisor matches replicas to the rows and checks them."
    )
    deployments_lease_seconds: int = Field(
        default=30,
        description="How long a supervisor's claim on a deployment lasts without renewal; another API process takes "
        "the deployment over after that (its supervisor died).",
    )
    deployments_max_restarts: int = Field(
        default=5,
        description="Crashes of a replica before it became ready, in a row, after which it is marked failed "
        "(restarts back off exponentially, up to 30 s); a ready replica crashing more than this within 10 "
        "minutes backs off the same way, and is failed after as many more.",
    )
    deployments_ray_http_host: str = Field(
        default="127.0.0.1", description="Host the Ray Serve HTTP proxy listens on (deployments on Ray)."
    )
    deployments_ray_http_port: int = Field(
        default=8700, description="Port of the Ray Serve HTTP proxy (deployments on Ray)."
    )
    ratelimit_storage_url: str = Field(
        default="memory://",
        description="Where quota counters live (`limits` storage URL): `memory://` counts per process; "
        "`redis://host:6379/0` shares the counters between API workers.",
    )

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
