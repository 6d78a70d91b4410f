"""Jobs: submit, read, list and cancel (for the API); claim, renew, finish and recover (for the runner).

Every function takes a SQLAlchemy session and typed arguments. State changes of a running job are
compare-and-swap updates (``WHERE status = 'running' AND lease_owner = …``), so that a worker that lost
its lease (because its job was recovered and claimed again elsewhere) can never overwrite the new run.
"""

from __future__ import annotations

import datetime as dt
import os
import secrets
import socket
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session, defer

from dazi.accounts.models import Namespace, User
from dazi.accounts.services import Actor
from dazi.errors import BadRequest, Forbidden, NotFound, Unauthorized
from dazi.jobs.models import CANCELLED, FAILED, FINISHED, QUEUED, RUNNING, STATUSES, SUCCEEDED, Job
from dazi.jobs.registry import KINDS, JobKind, get_kind

TRUNCATED = "\n[log truncated: DAZI_JOBS_MAX_LOG_BYTES reached]\n"


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def new_lease_owner() -> str:
    """``host:pid:nonce``: who supervises a running job (a job service, or a test standing in for one)."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"


def owner_is_dead_here(lease_owner: str | None) -> bool:
    """True when ``lease_owner`` names a process on this host that no longer exists."""
    host, _, rest = (lease_owner or "").partition(":")
    pid_text = rest.partition(":")[0]
    if host != socket.gethostname() or not pid_text.isdigit():
        return False
    try:
        os.kill(int(pid_text), 0)
    except ProcessLookupError:
        return True
    except (PermissionError, OverflowError):
        return False
    return False


# -- the API side ---------------------------------------------------------------------------------


def create_job(session: Session, kind: JobKind, owner_id: int | None, payload: dict[str, Any]) -> Job:
    job = Job(
        id=secrets.token_hex(16),
        kind=kind.name,
        owner_id=owner_id,
        payload=payload,
        status=QUEUED,
        max_attempts=kind.max_attempts if kind.retriable else 1,
        log="",
    )
    session.add(job)
    session.flush()
    return job


def submit(session: Session, actor: Actor | None, kind_name: str, payload: Any) -> Job:
    """A new queued job of a registered kind, for ``actor`` (who needs a write token)."""
    if actor is None:
        raise Unauthorized("Log in (send a write token) to submit jobs.")
    if not actor.can_write:
        raise Forbidden("Submitting a job needs a write token (yours is a read token).")
    kind = get_kind(kind_name)
    if not isinstance(payload, dict):
        raise BadRequest("The job payload must be a JSON object.")
    prepared = kind.prepare_function()(session, actor, payload)
    return create_job(session, kind, actor.user_id, prepared)


def get_job_for(session: Session, actor: Actor | None, job_id: str) -> Job:
    """The job if ``actor`` owns it or is an admin; otherwise NotFound (never reveal others' jobs).
    Its log is not loaded: read it with ``log_since``."""
    if actor is None:
        raise Unauthorized("Log in (send a token) to see jobs.")
    stmt = select(Job).options(defer(Job.log, raiseload=True)).where(Job.id == str(job_id)[:64])
    job = session.execute(stmt).scalar_one_or_none()
    if job is None or not (actor.is_admin or job.owner_id == actor.user_id):
        raise NotFound(f"Job not found: {str(job_id)[:64]!r}.")
    return job


def log_since(session: Session, job_id: str, offset: int) -> str:
    """The job's log from character ``offset`` on (read in the database, not loaded whole)."""
    text = session.execute(select(func.substr(Job.log, max(0, offset) + 1)).where(Job.id == job_id)).scalar()
    return str(text or "")


@dataclass(frozen=True)
class JobQuery:
    status: str | None = None
    kind: str | None = None
    all_users: bool = False  # admins only
    limit: int = 50
    offset: int = 0


def list_jobs(session: Session, actor: Actor | None, q: JobQuery) -> list[Job]:
    """The actor's jobs, newest first (an admin may ask for everyone's)."""
    if actor is None:
        raise Unauthorized("Log in (send a token) to see jobs.")
    if q.status is not None and q.status not in STATUSES:
        raise BadRequest(f"Invalid status {q.status[:50]!r}: use one of {', '.join(STATUSES)}.")
    if q.all_users and not actor.is_admin:
        raise Forbidden("Only administrators can list everyone's jobs.")
    stmt = select(Job).options(defer(Job.log, raiseload=True)).order_by(Job.created_at.desc(), Job.id)
    if not q.all_users:
        stmt = stmt.where(Job.owner_id == actor.user_id)
    if q.status:
        stmt = stmt.where(Job.status == q.status)
    if q.kind:
        stmt = stmt.where(Job.kind == q.kind)
    stmt = stmt.offset(max(0, q.offset)).limit(max(1, min(q.limit, 500)))
    return list(session.execute(stmt).scalars())


def request_cancel(session: Session, actor: Actor | None, job_id: str) -> Job:
    """Queued: cancelled at once. Running: flagged; the worker stops itself or is killed after a grace period."""
    job = get_job_for(session, actor, job_id)
    if actor is not None and not actor.can_write:
        raise Forbidden("Cancelling a job needs a write token (yours is a read token).")
    if job.status == QUEUED:
        session.execute(
            update(Job)
            .where(Job.id == job.id, Job.status == QUEUED)
            .values(status=CANCELLED, cancel_requested=True, finished_at=now(), updated_at=now())
        )
    elif job.status == RUNNING:
        session.execute(update(Job).where(Job.id == job.id).values(cancel_requested=True, updated_at=now()))
    session.expire_all()
    return get_job_for(session, actor, job_id)


def owner_names(session: Session, jobs: Iterable[Job]) -> dict[int, str]:
    ids = {j.owner_id for j in jobs if j.owner_id is not None}
    if not ids:
        return {}
    rows = session.execute(
        select(User.id, Namespace.name).join(Namespace, Namespace.id == User.namespace_id).where(User.id.in_(ids))
    )
    return {user_id: name for user_id, name in rows}


def job_json(job: Job, owner: str | None) -> dict[str, Any]:
    def iso(value: dt.datetime | None) -> str | None:
        return value.isoformat() if value else None

    return {
        "id": job.id,
        "kind": job.kind,
        "owner": owner,
        "status": job.status,
        "progress": job.progress,
        "message": job.message,
        "payload": job.payload,
        "result": job.result,
        "error": job.error,
        "attempts": job.attempts,
        "max_attempts": job.max_attempts,
        "cancel_requested": job.cancel_requested,
        "executor": job.executor,
        "created_at": iso(job.created_at),
        "started_at": iso(job.started_at),
        "finished_at": iso(job.finished_at),
        "updated_at": iso(job.updated_at),
    }


def kinds_json() -> list[dict[str, Any]]:
    return [
        {"name": k.name, "description": k.description, "retriable": k.retriable, "max_attempts": k.max_attempts}
        for k in KINDS.values()
    ]


# -- the worker side ---------------------------------------------------------------------------------


def _running(job_id: str, lease_owner: str) -> Any:
    return update(Job).where(Job.id == job_id, Job.status == RUNNING, Job.lease_owner == lease_owner)


def append_log(session: Session, job_id: str, text: str, max_bytes: int) -> None:
    """Append to the job's log (dropping what goes past ``max_bytes``, with one marker)."""
    if not text:
        return
    length = session.execute(select(func.length(Job.log)).where(Job.id == job_id)).scalar_one_or_none()
    if length is None or length >= max_bytes:
        return
    room = max_bytes - length
    chunk = text if len(text) <= room else text[:room] + TRUNCATED
    session.execute(update(Job).where(Job.id == job_id).values(log=Job.log + chunk, updated_at=now()))


def set_progress(session: Session, job_id: str, lease_owner: str, progress: float, message: str | None) -> None:
    values: dict[str, Any] = {"progress": max(0.0, min(1.0, progress)), "updated_at": now()}
    if message is not None:
        values["message"] = message[:500]
    session.execute(_running(job_id, lease_owner).values(**values))


def cancel_requested(session: Session, job_id: str) -> bool:
    flag = session.execute(select(Job.cancel_requested).where(Job.id == job_id)).scalar_one_or_none()
    return bool(flag)


def finish(
    session: Session,
    job_id: str,
    lease_owner: str,
    status: str,
    *,
    result: dict[str, Any] | None = None,
    error: str | None = None,
) -> bool:
    """Record the outcome of a run; False when the run no longer holds the job (it was recovered)."""
    assert status in FINISHED
    values: dict[str, Any] = {"status": status, "finished_at": now(), "updated_at": now(), "lease_expires_at": None}
    if status == SUCCEEDED:
        values["progress"] = 1.0
    if result is not None:
        values["result"] = result
    if error is not None:
        values["error"] = error[:10_000]
    rowcount: int = session.execute(_running(job_id, lease_owner).values(**values)).rowcount  # type: ignore[attr-defined]
    return rowcount == 1


# -- the runner side ---------------------------------------------------------------------------------


def claim(session: Session, lease_owner: str, executor: str, limit: int, lease_seconds: int) -> list[Job]:
    """Take up to ``limit`` queued jobs, oldest first, for ``lease_owner`` (compare-and-swap per job)."""
    if limit <= 0:
        return []
    ids = list(
        session.execute(
            select(Job.id).where(Job.status == QUEUED).order_by(Job.created_at, Job.id).limit(limit)
        ).scalars()
    )
    claimed = []
    for job_id in ids:
        moment = now()
        changed = session.execute(
            update(Job)
            .where(Job.id == job_id, Job.status == QUEUED)
            .values(
                status=RUNNING,
                attempts=Job.attempts + 1,
                lease_owner=lease_owner,
                lease_expires_at=moment + dt.timedelta(seconds=lease_seconds),
                executor=executor,
                started_at=func.coalesce(Job.started_at, moment),
                updated_at=moment,
            )
        ).rowcount  # type: ignore[attr-defined]
        if changed == 1:
            job = session.get(Job, job_id)
            assert job is not None
            session.refresh(job)
            claimed.append(job)
    return claimed


def renew(session: Session, lease_owner: str, job_ids: Iterable[str], lease_seconds: int) -> None:
    ids = list(job_ids)
    if ids:
        session.execute(
            update(Job)
            .where(Job.id.in_(ids), Job.status == RUNNING, Job.lease_owner == lease_owner)
            .values(lease_expires_at=now() + dt.timedelta(seconds=lease_seconds))
        )


def cancel_flags(session: Session, job_ids: Iterable[str]) -> set[str]:
    ids = list(job_ids)
    if not ids:
        return set()
    stmt = select(Job.id).where(Job.id.in_(ids), Job.cancel_requested.is_(True))
    return set(session.execute(stmt).scalars())


def abandon(session: Session, job: Job, reason: str, *, allow_retry: bool = True) -> str:
    """A running job whose run ended abnormally: re-queue it (retriable kinds, attempts left) or fail it."""
    kind = KINDS.get(job.kind)
    note = f"[{now().isoformat(timespec='seconds')}] {reason}"
    if job.cancel_requested:
        status, error = CANCELLED, None
        note += "; the job was cancelled"
    elif kind is None:
        status, error = FAILED, f"{reason}; the job kind {job.kind!r} is no longer registered."
    elif allow_retry and kind.retriable and job.attempts < job.max_attempts:
        status, error = QUEUED, None
        note += f"; re-queued (attempt {job.attempts} of {job.max_attempts} did not finish)"
    elif kind.retriable:
        status = FAILED
        error = f"{reason}; gave up after {job.attempts} of {job.max_attempts} attempts."
    else:
        status, error = FAILED, f"{reason}; {job.kind} jobs are not retried automatically."
    values: dict[str, Any] = {
        "status": status,
        "lease_owner": None,
        "lease_expires_at": None,
        "updated_at": now(),
        "log": Job.log + note + "\n",
    }
    if status != QUEUED:
        values["finished_at"] = now()
    if error is not None:
        values["error"] = error
    session.execute(
        update(Job).where(Job.id == job.id, Job.status == RUNNING, Job.lease_owner == job.lease_owner).values(**values)
    )
    return status


def recover(
    session: Session, is_dead: Callable[[str | None], bool] = owner_is_dead_here, exclude: str | None = None
) -> dict[str, str]:
    """Running jobs whose supervisor is gone (lease expired, or its process died on this host): re-queue
    or fail each; ``exclude`` is the caller's own lease. Returns ``{job id: new status}``."""
    moment = now()
    stmt = select(Job).where(Job.status == RUNNING)
    if exclude is not None:
        stmt = stmt.where(or_(Job.lease_owner.is_(None), Job.lease_owner != exclude))
    rows = session.execute(stmt).scalars().all()
    outcome = {}
    for job in rows:
        expired = job.lease_expires_at is None or job.lease_expires_at < moment
        if expired or is_dead(job.lease_owner):
            why = "lease expired" if expired else "process is gone"
            reason = f"the job service running this job ({job.lease_owner}) stopped: {why}"
            outcome[job.id] = abandon(session, job, reason)
    return outcome


def interrupted(session: Session, job_ids: Iterable[str], lease_owner: str, reason: str) -> dict[str, str]:
    """This service stops (or its run crashed): re-queue or fail the jobs it still holds."""
    outcome = {}
    for job_id in job_ids:
        job = session.get(Job, job_id)
        if job is not None and job.status == RUNNING and job.lease_owner == lease_owner:
            outcome[job_id] = abandon(session, job, reason)
    return outcome


def crashed(session: Session, job_id: str, lease_owner: str, reason: str) -> str | None:
    """A run that ended without recording its outcome: cancelled if asked to stop, else failed (no retry:
    a crash, like running out of memory, usually repeats)."""
    job = session.get(Job, job_id)
    if job is None or job.status != RUNNING or job.lease_owner != lease_owner:
        return None
    return abandon(session, job, reason, allow_retry=False)
