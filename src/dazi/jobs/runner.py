"""``JobService``: the loop that claims queued jobs, hands them to an executor, and supervises them.

One runs in each API process with ``DAZI_JOBS_ENABLED`` (started and stopped by the app's lifespan).
Each round (every ``DAZI_JOBS_POLL_SECONDS``, or at once when a job is submitted here) it

1. collects runs that ended; one that ended without recording its outcome is marked failed (or
   cancelled, when that was asked);
2. kills runs whose job was cancelled more than ``DAZI_JOBS_CANCEL_GRACE_SECONDS`` ago;
3. renews the leases of the jobs it holds, and recovers jobs whose supervisor is gone — on start too:
   re-queued when their kind can be retried and attempts are left, failed with the reason otherwise;
4. claims queued jobs, oldest first, up to the executor's capacity.

Several services may share one database: claims and recoveries are compare-and-swap updates.
"""

from __future__ import annotations

import logging
import time

from sqlalchemy import select

from dazi.background import Rounds
from dazi.config import Settings
from dazi.hub import Hub
from dazi.jobs import services
from dazi.jobs.executors import Executor, make_executor
from dazi.jobs.models import QUEUED, RUNNING, Job
from dazi.jobs.registry import KINDS

log = logging.getLogger("dazi.jobs")


class JobService:
    def __init__(self, hub: Hub, settings: Settings | None = None, executor: Executor | None = None):
        self.hub = hub
        self.settings = settings or hub.settings
        self.executor = executor if executor is not None else make_executor(self.settings)
        self.lease_owner = services.new_lease_owner()
        self._cancel_seen: dict[str, float] = {}
        self._rounds = Rounds("dazi-job-service", self.tick, self.settings.jobs_poll_seconds, log)

    # -- life cycle ---------------------------------------------------------------------------------

    def start(self) -> None:
        recovered = self.recover()
        if recovered:
            log.warning("recovered jobs left running by stopped job services: %s", recovered)
        self._rounds.start()

    def stop(self) -> None:
        self._rounds.stop()
        stopped = self.executor.shutdown()
        if stopped:
            with self.hub.db.write() as session:
                services.interrupted(session, stopped, self.lease_owner, "the job service stopped (server shutdown)")

    def wake(self) -> None:
        """Look for work now (a job was just submitted)."""
        self._rounds.wake()

    # -- one round ----------------------------------------------------------------------------------

    def tick(self) -> None:
        self._reap()
        self._enforce_cancels()
        held = self.executor.running()
        if held:
            with self.hub.db.write() as session:
                services.renew(session, self.lease_owner, held, self.settings.jobs_lease_seconds)
        self.recover()
        self._claim()

    def recover(self) -> dict[str, str]:
        """Recover running jobs whose supervisor is gone (not ours: we renew our own leases)."""
        with self.hub.db.read() as session:
            rows = session.execute(select(Job.lease_owner).where(Job.status == RUNNING)).scalars().all()
        if all(owner == self.lease_owner for owner in rows):
            return {}
        with self.hub.db.write() as session:
            return services.recover(session, exclude=self.lease_owner)

    def _reap(self) -> None:
        for ended in self.executor.poll():
            self._cancel_seen.pop(ended.job_id, None)
            reason = ended.problem or "the run ended without recording an outcome"
            with self.hub.db.write() as session:
                status = services.crashed(session, ended.job_id, self.lease_owner, reason)
            if status is not None:
                log.warning("job %s: %s -> %s", ended.job_id, reason, status)

    def _enforce_cancels(self) -> None:
        held = self.executor.running()
        if not held:
            return
        with self.hub.db.read() as session:
            flagged = services.cancel_flags(session, held)
        moment = time.monotonic()
        for job_id in flagged:
            first = self._cancel_seen.setdefault(job_id, moment)
            if moment - first >= self.settings.jobs_cancel_grace_seconds:
                log.warning("job %s did not stop %.0f s after cancel: killing it", job_id, moment - first)
                self.executor.kill(job_id)

    def _claim(self) -> None:
        room = self.executor.capacity()
        if room <= 0:
            return
        with self.hub.db.read() as session:
            waiting = session.execute(select(Job.id).where(Job.status == QUEUED).limit(1)).first()
        if waiting is None:
            return
        with self.hub.db.write() as session:
            jobs = services.claim(
                session, self.lease_owner, self.executor.name, room, self.settings.jobs_lease_seconds
            )
        for job in jobs:
            kind = KINDS.get(job.kind)
            if kind is None:
                with self.hub.db.write() as session:
                    services.crashed(session, job.id, self.lease_owner, "unknown job kind")
                continue
            self.executor.submit(job.id, kind, self.lease_owner)
