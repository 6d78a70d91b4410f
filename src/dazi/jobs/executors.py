"""Executors: where a claimed job runs. One interface, two implementations.

- ``LocalExecutor`` (the embedded default): one worker process per job, at most
  ``DAZI_JOBS_LOCAL_WORKERS`` at once. A process per job isolates jobs from the server and from each
  other (a job that loads a model gives its memory back when it ends) and can be killed on its own when
  a cancelled job does not stop. Processes come from a ``forkserver`` that has imported the worker code
  once (so a job starts in milliseconds, and nothing is forked from the threaded server process); where
  there is no forkserver, from ``spawn``.
- ``RayExecutor`` (``DAZI_RAY_ADDRESS`` set): each job is a Ray task (``ray.remote``, ``max_retries=0``:
  retries are decided by the durable rows, not by Ray). Ray queues the tasks and places them by their
  resources (``num_cpus`` of the kind); cancelling is ``ray.cancel(force=True)``.

Both run ``dazi.jobs.worker`` code, which records the outcome in the database itself; ``poll`` only
reports runs that have ended, with a description when they ended abnormally.
"""

from __future__ import annotations

import logging
import multiprocessing
from dataclasses import dataclass
from multiprocessing.process import BaseProcess
from typing import Any, Protocol

from dazi import ray_cluster
from dazi.config import Settings
from dazi.jobs.registry import JobKind
from dazi.jobs.worker import execute, run_in_process

log = logging.getLogger("dazi.jobs")


@dataclass(frozen=True)
class Ended:
    job_id: str
    problem: str | None  # None: the run ended normally (it recorded its own outcome)


class Executor(Protocol):
    name: str

    def capacity(self) -> int:
        """How many more jobs it takes now."""

    def submit(self, job_id: str, kind: JobKind, lease_owner: str) -> None: ...

    def kill(self, job_id: str) -> None:
        """Stop a run now (a cancelled job that did not stop by itself)."""

    def poll(self) -> list[Ended]:
        """Runs that have ended since the last call."""

    def running(self) -> list[str]: ...

    def shutdown(self) -> list[str]:
        """Stop every run; returns the job ids that were still running."""


def make_executor(settings: Settings) -> Executor:
    if settings.ray_address:
        return RayExecutor(settings)
    return LocalExecutor(settings)


class LocalExecutor:
    name = "local"

    def __init__(self, settings: Settings):
        self.values = settings.model_dump()
        self.workers = max(1, settings.jobs_local_workers)
        self._mp: Any
        if "forkserver" in multiprocessing.get_all_start_methods():
            self._mp = multiprocessing.get_context("forkserver")
            self._mp.set_forkserver_preload(["dazi.jobs.worker"])
        else:
            self._mp = multiprocessing.get_context("spawn")
        self._procs: dict[str, BaseProcess] = {}

    def capacity(self) -> int:
        return self.workers - len(self._procs)

    def submit(self, job_id: str, kind: JobKind, lease_owner: str) -> None:
        proc = self._mp.Process(
            target=run_in_process,
            args=(self.values, job_id, lease_owner),
            name=f"dazi-job-{kind.name}-{job_id[:8]}",
            daemon=True,
        )
        proc.start()
        self._procs[job_id] = proc

    def kill(self, job_id: str) -> None:
        proc = self._procs.get(job_id)
        if proc is not None and proc.is_alive():
            proc.kill()

    def poll(self) -> list[Ended]:
        ended = []
        for job_id, proc in list(self._procs.items()):
            if proc.exitcode is None:
                continue
            code = proc.exitcode
            proc.join()
            proc.close()
            del self._procs[job_id]
            problem = None if code == 0 else f"the worker process exited with code {code}"
            ended.append(Ended(job_id, problem))
        return ended

    def running(self) -> list[str]:
        return list(self._procs)

    def shutdown(self) -> list[str]:
        stopped = [job_id for job_id, proc in self._procs.items() if proc.exitcode is None]
        for proc in self._procs.values():
            if proc.exitcode is None:
                proc.terminate()
        for proc in self._procs.values():
            proc.join(timeout=5)
            if proc.exitcode is None:
                proc.kill()
                proc.join(timeout=5)
        self._procs.clear()
        return stopped


class RayExecutor:
    name = "ray"

    def __init__(self, settings: Settings, max_pending: int = 1000):
        import ray

        self._ray = ray
        self._started_ray = ray_cluster.attach(settings)
        self.values = settings.model_dump()
        self.max_pending = max_pending
        self._remote = ray.remote(max_retries=0)(execute)
        self._refs: dict[str, Any] = {}

    def capacity(self) -> int:
        return self.max_pending - len(self._refs)

    def submit(self, job_id: str, kind: JobKind, lease_owner: str) -> None:
        options = self._remote.options(num_cpus=kind.num_cpus, name=f"dazi-job:{kind.name}:{job_id[:8]}")
        self._refs[job_id] = options.remote(self.values, job_id, lease_owner)

    def kill(self, job_id: str) -> None:
        ref = self._refs.get(job_id)
        if ref is not None:
            self._ray.cancel(ref, force=True)

    def poll(self) -> list[Ended]:
        if not self._refs:
            return []
        by_ref = {ref: job_id for job_id, ref in self._refs.items()}
        ready, _ = self._ray.wait(list(by_ref), num_returns=len(by_ref), timeout=0)
        ended = []
        for ref in ready:
            job_id = by_ref[ref]
            del self._refs[job_id]
            try:
                self._ray.get(ref)
                problem = None
            except Exception as exc:  # RayTaskError, TaskCancelledError, WorkerCrashedError…
                problem = f"the Ray task ended with {type(exc).__name__}: {str(exc)[:500]}"
            ended.append(Ended(job_id, problem))
        return ended

    def running(self) -> list[str]:
        return list(self._refs)

    def shutdown(self) -> list[str]:
        stopped = list(self._refs)
        for ref in self._refs.values():
            try:
                self._ray.cancel(ref, force=True)
            except Exception:  # already finished
                log.debug("ray.cancel failed", exc_info=True)
        self._refs.clear()
        if self._started_ray:
            self._ray.shutdown()
        return stopped
