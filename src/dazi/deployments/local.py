"""``LocalReplicas``: each replica is a worker process on this machine serving the replica app on a
loopback port (the embedded default backend).

Processes come from a ``forkserver`` (``spawn`` where there is none), never forked from the threaded
server. A replica process loads the model, binds ``127.0.0.1:0``, reports its URL through a pipe, serves
with uvicorn, and exits when its parent goes away. ``observe`` reads the pipes and repairs: a replica
whose process died is started again after a back-off (1 s, doubling, at most 30 s); after
``DAZI_DEPLOYMENTS_MAX_RESTARTS`` consecutive crashes before it became ready it is FAILED, with the
error, until the deployment is applied afresh. Scaling down stops the highest indexes (SIGTERM, then a
kill after a grace period).
"""

from __future__ import annotations

import logging
import multiprocessing
import socket
import threading
import time
from dataclasses import dataclass, replace
from multiprocessing.process import BaseProcess
from typing import Any

from dazi.config import Settings
from dazi.deployments.backends import FAILED, READY, STARTING, ReplicaSpec, ReplicaState

log = logging.getLogger("dazi.deployments")
STOP_GRACE_SECONDS = 5.0
MAX_BACKOFF_SECONDS = 30.0
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
class _Replica:
    index: int
    state: ReplicaState
    proc: BaseProcess | None = None
    conn: Any = None
    crashes: int = 0  # consecutive crashes before becoming ready
    retry_at: float = 0.0


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
                    replicas[index] = _Replica(index, ReplicaState(index, STARTING))
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
            return
        code = replica.proc.exitcode
        self._read_messages(replica)
        self._close(replica)
        was_ready = state.status == READY
        reason = f"the replica process exited with code {code}"
        if state.status == STARTING and state.error:
            reason = state.error  # what it reported before exiting (the model did not load…)
        state.error, state.url = reason, None
        replica.crashes = 0 if was_ready else replica.crashes + 1
        if replica.crashes >= self.settings.deployments_max_restarts:
            state.status = FAILED
            log.warning(
                "deployment %s replica %d failed %d times: %s", spec.name, replica.index, replica.crashes, reason
            )
            return
        state.status = STARTING
        delay = 0.0 if was_ready else min(MAX_BACKOFF_SECONDS, 2.0 ** (replica.crashes - 1))
        replica.retry_at = time.monotonic() + delay
        log.warning(
            "deployment %s replica %d ended (%s); restarting in %.0f s", spec.name, replica.index, reason, delay
        )

    @staticmethod
    def _read_messages(replica: _Replica) -> None:
        try:
            while replica.conn is not None and replica.conn.poll():
                kind, value, pid = replica.conn.recv()
                if kind == "ready":
                    replica.state.status, replica.state.url, replica.state.error = READY, value, None
                    replica.crashes = 0
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
