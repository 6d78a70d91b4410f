"""``LocalReplicas``: each replica is a worker process on this machine serving the replica app on a
loopback port (the embedded default backend).

Processes come from a ``forkserver`` (``spawn`` where there is none), never forked from the threaded
server. A replica process loads the model, binds ``127.0.0.1:0``, reports its URL through a pipe, serves
with uvicorn, and exits when its parent goes away. ``observe`` reads the pipes and repairs: a replica
whose process died is started again (``RestartPolicy``): at once if it had been ready, after a back-off
(1 s, doubling, at most 30 s) if it crashed while starting; after ``DAZI_DEPLOYMENTS_MAX_RESTARTS``
consecutive crashes before it became ready it is FAILED, with the error, until the deployment is applied
afresh. A replica that keeps crashing after becoming ready (a crash loop: more than
``DAZI_DEPLOYMENTS_MAX_RESTARTS`` crashes within ``CRASH_WINDOW_SECONDS``) is restarted with the same
back-off, and FAILED after ``DAZI_DEPLOYMENTS_MAX_RESTARTS`` more crashes in the window. Scaling down
stops the highest indexes (SIGTERM, then a kill after a grace period). A ready replica's ``/healthz`` is
read every ``HEALTH_CHECK_SECONDS``; one that answers 503 (its engine cannot answer any more: the decode
thread died…) is stopped, and so restarted like a crash, with the reason as its error.
"""

from __future__ import annotations

import logging
import multiprocessing
import socket
import threading
import time
from collections import deque
from dataclasses import dataclass, field, replace
from multiprocessing.process import BaseProcess
from typing import Any

from dazi.config import Settings
from dazi.deployments.backends import FAILED, READY, STARTING, ReplicaSpec, ReplicaState

log = logging.getLogger("dazi.deployments")
STOP_GRACE_SECONDS = 5.0
MAX_BACKOFF_SECONDS = 30.0
HEALTH_CHECK_SECONDS = 5.0
HEALTH_CHECK_TIMEOUT_SECONDS = 2.0
CRASH_WINDOW_SECONDS = 600.0  # crashes after ready counted for crash-loop detection
# Imported once by the forkserver (when it starts), so that a replica process (or a job) starts with the
# engines' libraries already imported and only has its model to load: a restart takes about a second instead
# of several. Imports only: nothing runs a torch operation in the forkserver, so forking from it is safe.
# A module that is not installed is skipped by the forkserver.
PRELOAD = [
    "dazi.jobs.worker",
    "dazi.deployments.replica",
    "torch",
    "transformers.modeling_utils",
    "transformers.generation.utils",
    "sentence_transformers",
]


@dataclass
class RestartPolicy:
    """When a replica whose process ended starts again, and when it is given up (pure: the caller passes
    the monotonic time).

    - A crash before the replica became ready: back-off of 1 s, doubling, at most ``MAX_BACKOFF_SECONDS``;
      the ``max_restarts``-th in a row gives up.
    - A crash after it was ready: at once, unless it is a crash loop, more than ``max_restarts`` such
      crashes within ``window`` seconds. Then the same doubling back-off (by how many crashes the loop is
      over the limit), and giving up when it is ``max_restarts`` over.
    """

    max_restarts: int
    window: float = CRASH_WINDOW_SECONDS
    crashes: int = 0  # consecutive crashes before becoming ready
    recent: deque[float] = field(default_factory=deque)  # times of crashes after ready, within the window

    def ready(self) -> None:
        self.crashes = 0

    def crashed(self, now: float, was_ready: bool) -> float | None:
        """Record a crash at ``now``: the delay before the next start, or None to give up."""
        if not was_ready:
            self.crashes += 1
            if self.crashes >= self.max_restarts:
                return None
            return _backoff(self.crashes)
        self.crashes = 0
        self.recent.append(now)
        while self.recent and now - self.recent[0] > self.window:
            self.recent.popleft()
        over = len(self.recent) - self.max_restarts
        if over <= 0:
            return 0.0
        if over >= self.max_restarts:
            return None
        return _backoff(over)

    def why(self, reason: str) -> str:
        """The error of a replica given up."""
        if self.crashes:
            return reason
        minutes = max(1, round(self.window / 60))
        return f"{reason} (it crashed {len(self.recent)} times within {minutes} minutes after becoming ready)"


def _backoff(count: int) -> float:
    return min(MAX_BACKOFF_SECONDS, 2.0 ** (count - 1))


@dataclass
class _Replica:
    index: int
    state: ReplicaState
    policy: RestartPolicy
    proc: BaseProcess | None = None
    conn: Any = None
    retry_at: float = 0.0
    health_at: float = 0.0  # when to read /healthz next
    unhealthy: str | None = None  # why the replica was stopped as unhealthy


class LocalReplicas:
    name = "local"

    def __init__(self, settings: Settings):
        self.settings = settings
        self.values = settings.model_dump()
        self._mp: Any
        if "forkserver" in multiprocessing.get_all_start_methods():
            self._mp = multiprocessing.get_context("forkserver")
            self._mp.set_forkserver_preload(PRELOAD)
        else:
            self._mp = multiprocessing.get_context("spawn")
        self._lock = threading.RLock()
        self._specs: dict[str, ReplicaSpec] = {}
        self._replicas: dict[str, dict[int, _Replica]] = {}
        self._stopping: list[tuple[BaseProcess, float]] = []

    # -- the interface ------------------------------------------------------------------------------

    def apply(self, spec: ReplicaSpec) -> None:
        with self._lock:
            old = self._specs.get(spec.deployment_id)
            if old is not None and replace(old, replicas=spec.replicas) != spec:
                self.remove(spec.deployment_id)  # another revision or secret: new replicas
            self._specs[spec.deployment_id] = spec
            replicas = self._replicas.setdefault(spec.deployment_id, {})
            for index in range(spec.replicas):
                if index not in replicas:
                    policy = RestartPolicy(self.settings.deployments_max_restarts)
                    replicas[index] = _Replica(index, ReplicaState(index, STARTING), policy)
                    self._start(spec, replicas[index])
            for index in sorted(i for i in replicas if i >= spec.replicas):
                self._stop(replicas.pop(index))

    def remove(self, deployment_id: str) -> None:
        with self._lock:
            self._specs.pop(deployment_id, None)
            for replica in self._replicas.pop(deployment_id, {}).values():
                self._stop(replica)

    def observe(self, deployment_id: str) -> list[ReplicaState]:
        with self._lock:
            self._reap_stopping()
            spec = self._specs.get(deployment_id)
            replicas = self._replicas.get(deployment_id, {})
            if spec is None:
                return []
            for replica in replicas.values():
                self._check(spec, replica)
            return [replace(r.state, extra=dict(r.state.extra)) for _, r in sorted(replicas.items())]

    def deployment_ids(self) -> list[str]:
        with self._lock:
            return list(self._specs)

    def shutdown(self) -> None:
        with self._lock:
            for deployment_id in list(self._specs):
                self.remove(deployment_id)
            deadline = time.monotonic() + STOP_GRACE_SECONDS
            for proc, _asked_at in self._stopping:
                proc.join(timeout=max(0.0, deadline - time.monotonic()))
                if proc.exitcode is None:
                    proc.kill()
                    proc.join(timeout=5)
                proc.close()
            self._stopping.clear()

    # -- processes ----------------------------------------------------------------------------------

    def _start(self, spec: ReplicaSpec, replica: _Replica) -> None:
        from dazi.deployments.replica import run_local_replica

        receiver, sender = self._mp.Pipe(duplex=False)
        proc = self._mp.Process(
            target=run_local_replica,
            args=(self.values, spec, sender),
            name=f"dazi-replica-{spec.name}-{replica.index}",
            daemon=True,
        )
        proc.start()
        sender.close()
        replica.proc, replica.conn = proc, receiver
        replica.state.status, replica.state.url = STARTING, None
        replica.state.started_at = time.time()
        replica.state.extra = {"pid": proc.pid, "host": socket.gethostname()}

    def _check(self, spec: ReplicaSpec, replica: _Replica) -> None:
        state = replica.state
        if replica.proc is None:  # waiting for a restart, or failed
            if state.status != FAILED and time.monotonic() >= replica.retry_at:
                state.restarts += 1
                self._start(spec, replica)
            return
        self._read_messages(replica)
        if replica.proc.exitcode is None:
            self._check_health(spec, replica)
            return
        code = replica.proc.exitcode
        self._read_messages(replica)
        self._close(replica)
        was_ready = state.status == READY
        reason = f"the replica process exited with code {code}"
        if state.status == STARTING and state.error:
            reason = state.error  # what it reported before exiting (the model did not load…)
        if replica.unhealthy:
            reason, replica.unhealthy = replica.unhealthy, None
        state.error, state.url = reason, None
        moment = time.monotonic()
        delay = replica.policy.crashed(moment, was_ready)
        if delay is None:
            state.status, state.error = FAILED, replica.policy.why(reason)
            log.warning("deployment %s replica %d failed: %s", spec.name, replica.index, state.error)
            return
        state.status = STARTING
        replica.retry_at = moment + delay
        log.warning(
            "deployment %s replica %d ended (%s); restarting in %.0f s", spec.name, replica.index, reason, delay
        )

    def _check_health(self, spec: ReplicaSpec, replica: _Replica) -> None:
        """Stop a ready replica whose ``/healthz`` answers 503 (it ends like a crash, and is restarted). No
        answer in time is not a verdict: the process check decides about a replica that hangs or died."""
        import httpx

        moment = time.monotonic()
        if replica.state.status != READY or not replica.state.url or replica.unhealthy or moment < replica.health_at:
            return
        replica.health_at = moment + HEALTH_CHECK_SECONDS
        try:
            answer = httpx.get(f"{replica.state.url}/healthz", timeout=HEALTH_CHECK_TIMEOUT_SECONDS)
        except httpx.HTTPError:
            return
        if answer.status_code != 503 or replica.proc is None:
            return
        try:
            why = str(answer.json().get("reason") or "no reason given")
        except ValueError:
            why = "no reason given"
        replica.unhealthy = f"the replica was unhealthy ({why})"
        log.warning("deployment %s replica %d: %s; stopping it", spec.name, replica.index, replica.unhealthy)
        replica.proc.terminate()

    @staticmethod
    def _read_messages(replica: _Replica) -> None:
        try:
            while replica.conn is not None and replica.conn.poll():
                kind, value, pid = replica.conn.recv()
                if kind == "ready":
                    replica.state.status, replica.state.url, replica.state.error = READY, value, None
                    replica.policy.ready()
                else:
                    replica.state.error = value
                replica.state.extra["pid"] = pid
        except (EOFError, OSError):
            return

    def _stop(self, replica: _Replica) -> None:
        proc = replica.proc
        if replica.conn is not None:
            replica.conn.close()
        replica.proc, replica.conn = None, None
        if proc is None:
            return
        if proc.exitcode is None:
            proc.terminate()
            self._stopping.append((proc, time.monotonic()))
        else:
            proc.join()
            proc.close()

    @staticmethod
    def _close(replica: _Replica) -> None:
        """Forget an exited process."""
        if replica.conn is not None:
            replica.conn.close()
        if replica.proc is not None:
            replica.proc.join()
            replica.proc.close()
        replica.proc, replica.conn = None, None

    def _reap_stopping(self) -> None:
        """Processes asked to stop: closed once they exited, killed after the grace period."""
        kept = []
        for proc, asked_at in self._stopping:
            if proc.exitcode is not None:
                proc.join()
                proc.close()
                continue
            if time.monotonic() - asked_at > STOP_GRACE_SECONDS:
                proc.kill()
            kept.append((proc, asked_at))
        self._stopping = kept
