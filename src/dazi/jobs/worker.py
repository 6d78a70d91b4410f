"""The body of one job run, inside a local worker process or a Ray task.

It opens the hub (database and blob store) from the settings it is given, checks that its run still
holds the job, calls the kind's function with a ``JobContext``, and records the outcome itself
(compare-and-swap on the lease, see ``services.finish``). The supervising job service only steps in when
a run ends without recording anything (a crash, a kill).
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import traceback
from typing import Any

from dazi.config import Settings
from dazi.hub import Hub
from dazi.jobs import services
from dazi.jobs.context import JobCancelled, JobContext, JobFailed, LogHandler
from dazi.jobs.models import CANCELLED, FAILED, RUNNING, SUCCEEDED, Job
from dazi.jobs.registry import KINDS

log = logging.getLogger("dazi.jobs")


def execute(settings_values: dict[str, Any], job_id: str, lease_owner: str) -> str:
    """Run one job to its end and record the outcome; returns the final status (or ``skipped``)."""
    hub = Hub.open(Settings(**settings_values), run_migrations=False)
    try:
        with hub.db.read() as session:
            job = session.get(Job, job_id)
            if job is None or job.status != RUNNING or job.lease_owner != lease_owner:
                return "skipped"  # cancelled or recovered before this run started
            kind, payload, attempt, attempts = KINDS.get(job.kind), dict(job.payload), job.attempts, job.max_attempts
        ctx = JobContext(hub, job_id, lease_owner)
        ctx.log(f"attempt {attempt} of {attempts} on {socket.gethostname()} (pid {os.getpid()})")
        status, result, error = _call(ctx, job.kind, kind, payload)
        ctx.close()
        with hub.db.write() as session:
            services.finish(session, job_id, lease_owner, status, result=result, error=error)
        return status
    finally:
        hub.close()


def _call(
    ctx: JobContext, name: str, kind: Any, payload: dict[str, Any]
) -> tuple[str, dict[str, Any] | None, str | None]:
    if kind is None:
        return FAILED, None, f"The job kind {name!r} is not registered in this version of dazi."
    handler = LogHandler(ctx)
    logging.getLogger().addHandler(handler)
    started = time.monotonic()
    try:
        result = kind.run_function()(ctx, payload)
        ctx.log(f"succeeded in {time.monotonic() - started:.2f} s")
        return SUCCEEDED, result, None
    except JobCancelled:
        ctx.log("cancelled: stopped on request")
        return CANCELLED, None, None
    except JobFailed as exc:
        ctx.log(f"failed: {exc}")
        return FAILED, exc.result, str(exc)
    except Exception as exc:
        ctx.log("".join(traceback.format_exception(exc)).rstrip())
        return FAILED, None, f"{type(exc).__name__}: {exc}"
    finally:
        logging.getLogger().removeHandler(handler)


def run_in_process(settings_values: dict[str, Any], job_id: str, lease_owner: str) -> None:
    """Entry point of a local worker process: like ``execute``, and it exits if its parent (the server, or
    the forkserver, which ends with the server) dies, so that a job recovered after a crash of the server
    never runs twice."""
    parent = os.getppid()
    threading.Thread(target=_watch_parent, args=(parent,), daemon=True, name="dazi-parent-watch").start()
    execute(settings_values, job_id, lease_owner)


def _watch_parent(parent_pid: int) -> None:
    while True:
        time.sleep(0.5)
        if os.getppid() != parent_pid:
            os._exit(70)
