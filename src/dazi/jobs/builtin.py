"""Built-in job kinds that need nothing but the hub: ``repo.verify``."""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy.orm import Session

from dazi.accounts.services import Actor
from dazi.blobstore import BlobError
from dazi.errors import BadRequest
from dazi.inference.snapshots import RevisionFile, SnapshotError, check_content, revision_files
from dazi.jobs.context import JobContext, JobFailed
from dazi.repos import services as repos

MIN_RATE = 64 * 1024


def resolve_repo_payload(session: Session, actor: Actor, payload: dict[str, Any]) -> dict[str, Any]:
    """``{repo_id, repo_type?, revision?}`` → the same plus ``commit`` and ``repo_pk``, if the actor may read it."""
    repo_id = payload.get("repo_id")
    repo_type = payload.get("repo_type", "model")
    revision = payload.get("revision") or repos.DEFAULT_BRANCH
    if not isinstance(repo_id, str) or not isinstance(repo_type, str) or not isinstance(revision, str):
        raise BadRequest("The payload needs repo_id (and optionally repo_type, revision) as strings.")
    repo = repos.get_repo_for(session, actor, repos.check_type(repo_type), repo_id)
    commit = repos.resolve_revision(session, repo, revision)
    return {"repo_id": repo.repo_id, "repo_type": repo_type, "revision": revision, "commit": commit,
            "repo_pk": repo.id}


def prepare_verify(session: Session, actor: Actor, payload: dict[str, Any]) -> dict[str, Any]:
    prepared = resolve_repo_payload(session, actor, payload)
    rate = payload.get("max_bytes_per_second")
    if rate is not None and (not isinstance(rate, int) or isinstance(rate, bool) or rate < MIN_RATE):
        raise BadRequest(f"max_bytes_per_second must be an integer of at least {MIN_RATE} (or absent).")
    prepared["max_bytes_per_second"] = rate
    return prepared


class _Pacer:
    """Progress reports per chunk, and an optional read-rate limit (to spare a busy store)."""

    def __init__(self, ctx: JobContext, total: int, rate: int | None):
        self.ctx, self.total, self.rate = ctx, max(total, 1), rate
        self.done = 0
        self.started = time.monotonic()
        self.current = ""

    def __call__(self, n: int) -> None:
        self.done += n
        self.ctx.progress(self.done / self.total, f"{self.current} ({self.done}/{self.total} bytes)")
        if self.rate:
            ahead = self.done / self.rate - (time.monotonic() - self.started)
            while ahead > 0:
                time.sleep(min(ahead, 0.2))
                self.ctx.check_cancelled()
                ahead = self.done / self.rate - (time.monotonic() - self.started)


def verify_revision(ctx: JobContext, payload: dict[str, Any]) -> dict[str, Any]:
    """Re-hash every file of the revision; the result maps each path to its sha256."""
    repo_pk, commit = int(payload["repo_pk"]), str(payload["commit"])
    with ctx.hub.db.read() as session:
        files: list[RevisionFile] = revision_files(session, repo_pk, commit)
    total = sum(f.size for f in files)
    ctx.log(f"verifying {len(files)} files ({total} bytes) of {payload['repo_id']} at {commit[:12]}")
    rate = payload.get("max_bytes_per_second")
    pacer = _Pacer(ctx, total, rate)
    chunk = min(1 << 20, max(MIN_RATE, (rate or 1 << 22) // 4))
    manifest: dict[str, str] = {}
    problems: list[str] = []
    for f in files:
        pacer.current = f.path
        try:
            manifest[f.path] = check_content(ctx.hub, repo_pk, f, on_chunk=pacer, chunk=chunk)
        except (SnapshotError, BlobError, KeyError, OSError) as exc:
            problems.append(f"{f.path}: {exc}")
            ctx.log(f"MISMATCH {problems[-1]}")
    result = {"repo_id": payload["repo_id"], "commit": commit, "files": len(files), "bytes": total,
              "sha256": manifest, "problems": problems}
    if problems:
        raise JobFailed(f"{len(problems)} of {len(files)} files do not match the revision: {problems[0]}", result)
    ctx.log(f"all {len(files)} files match")
    return result
