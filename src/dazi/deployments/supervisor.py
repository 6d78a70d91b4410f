"""``Supervisor``: the thread in each API process (``DAZI_DEPLOYMENTS_ENABLED``) that makes the replicas
match the ``deployments`` rows.

Each round (every ``DAZI_DEPLOYMENTS_POLL_SECONDS``, or at once when woken by a change made here):

1. reads every deployment row;
2. for a deployment that should run: claims its lease when it is free, expired, ours, or held by a dead
   process on this host (compare-and-swap), renews it before it runs out, and ``apply``s the spec (the
   backend starts, scales or keeps the replicas); a new ``generation`` (``start``) re-creates them;
3. ``remove``s the replicas of deployments that are stopped, deleted, or whose lease another supervisor
   holds now, and releases their leases;
4. ``observe``s the replicas it runs (locally this restarts dead replicas) and writes their states to
   ``deployment_replicas`` when they changed, where every API worker reads them to route calls.

On start it claims the deployments that should run and whose supervisor is gone, so a restarted server
brings its deployments back; on Ray it first deletes the orphans, this hub's Serve applications whose
deployment row is gone (deleted while no API process ran; ``sweep_orphans``). On stop it stops its
replicas and releases its leases.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

from sqlalchemy import Update, delete, or_, select, update
from sqlalchemy.orm import Session

from dazi.background import Rounds
from dazi.config import Settings
from dazi.deployments.backends import FAILED, ReplicaBackend, ReplicaSpec, ReplicaState, make_backend
from dazi.deployments.models import RUNNING, Deployment, DeploymentReplica
from dazi.deployments.services import now
from dazi.hub import Hub
from dazi.jobs.services import new_lease_owner, owner_is_dead_here

log = logging.getLogger("dazi.deployments")


@dataclass
class _Held:
    spec: ReplicaSpec
    generation: int
    expires: dt.datetime
    written: list[tuple[object, ...]] | None = None  # the replica rows last written
    error: str | None = None


class Supervisor:
    def __init__(self, hub: Hub, settings: Settings | None = None, backend: ReplicaBackend | None = None):
        self.hub = hub
        self.settings = settings or hub.settings
        self.backend = backend if backend is not None else make_backend(self.settings)
        self.lease_owner = new_lease_owner()
        self._held: dict[str, _Held] = {}
        self._rounds = Rounds("dazi-deployments", self.tick, self.settings.deployments_poll_seconds, log)

    # -- life cycle ---------------------------------------------------------------------------------

    def start(self) -> None:
        try:
            self.sweep_orphans()
        except Exception:
            log.exception("deleting orphaned deployment replicas failed")
        self._rounds.start()

    def stop(self) -> None:
        self._rounds.stop()
        self.backend.shutdown()
        held, self._held = list(self._held), {}
        if held:
            with self.hub.db.write() as session:
                session.execute(delete(DeploymentReplica).where(DeploymentReplica.deployment_id.in_(held)))
                _changed(
                    session,
                    update(Deployment)
                    .where(Deployment.id.in_(held), Deployment.lease_owner == self.lease_owner)
                    .values(lease_owner=None, lease_expires_at=None),
                )

    def sweep_orphans(self) -> list[str]:
        """Ray only: remove this hub's Serve applications that have no ``deployments`` row at all (the
        deployment was deleted while no API process ran). A deployment that has a row is never touched,
        whichever supervisor runs it; other hubs' applications are not listed (``hub_deployment_ids``)."""
        listing = getattr(self.backend, "hub_deployment_ids", None)
        if listing is None:
            return []
        on_cluster = [str(i) for i in listing()]
        if not on_cluster:
            return []
        with self.hub.db.read() as session:
            known = set(session.scalars(select(Deployment.id).where(Deployment.id.in_(on_cluster))))
        orphans = [dep_id for dep_id in on_cluster if dep_id not in known]
        for dep_id in orphans:
            log.info("deployment %s: deleted while no server ran; removing its replicas", dep_id)
            self.backend.remove(dep_id)
        return orphans

    def wake(self) -> None:
        self._rounds.wake()

    # -- one round ----------------------------------------------------------------------------------

    def tick(self) -> None:
        with self.hub.db.read() as session:
            rows = {d.id: d for d in session.execute(select(Deployment)).scalars()}
        moment = now()
        for dep_id in list(self._held):
            dep = rows.get(dep_id)
            if dep is None or dep.wanted != RUNNING or (dep.lease_owner != self.lease_owner and _live(dep, moment)):
                self._release(dep_id, dep is not None)
        for dep in rows.values():
            if dep.wanted == RUNNING and not self._rounds.stopping:
                self._run(dep, moment)
        for dep_id in self.backend.deployment_ids():
            if dep_id not in self._held:  # left over (a Ray Serve app of an earlier server…) and not ours now
                self.backend.remove(dep_id)
        for dep_id, held in list(self._held.items()):
            self._observe(dep_id, held)

    def _run(self, dep: Deployment, moment: dt.datetime) -> None:
        held = self._held.get(dep.id)
        if held is None:
            if not self._claim(dep, moment):
                return
        elif held.expires - moment < self._half_lease() and not self._renew(dep.id):
            self._release(dep.id, False)
            return
        spec = ReplicaSpec(dep.id, dep.name, dep.repo_pk, dep.repo_id, dep.commit, dep.engine, dep.replicas, dep.secret)
        held = self._held.get(dep.id)
        if held is None:
            return
        if held.generation != dep.generation:
            self.backend.remove(dep.id)
        if held.generation != dep.generation or held.spec != spec:
            self.backend.apply(spec)
            held.spec, held.generation = spec, dep.generation

    def _half_lease(self) -> dt.timedelta:
        return dt.timedelta(seconds=self.settings.deployments_lease_seconds / 2)

    def _claim(self, dep: Deployment, moment: dt.datetime) -> bool:
        if dep.lease_owner is not None and _live(dep, moment) and not owner_is_dead_here(dep.lease_owner):
            return False
        expires = now() + dt.timedelta(seconds=self.settings.deployments_lease_seconds)
        with self.hub.db.write() as session:
            claimed = _changed(
                session,
                update(Deployment)
                .where(
                    Deployment.id == dep.id,
                    Deployment.wanted == RUNNING,
                    or_(Deployment.lease_owner.is_(None), Deployment.lease_owner == dep.lease_owner),
                )
                .values(lease_owner=self.lease_owner, lease_expires_at=expires, backend=self.backend.name, error=None),
            )
            if claimed:
                session.execute(delete(DeploymentReplica).where(DeploymentReplica.deployment_id == dep.id))
        if not claimed:
            return False
        spec = ReplicaSpec(dep.id, dep.name, dep.repo_pk, dep.repo_id, dep.commit, dep.engine, dep.replicas, dep.secret)
        self.backend.apply(spec)
        self._held[dep.id] = _Held(spec, dep.generation, expires)
        log.info("deployment %s: claimed (%d replicas)", dep.name, dep.replicas)
        return True

    def _renew(self, dep_id: str) -> bool:
        expires = now() + dt.timedelta(seconds=self.settings.deployments_lease_seconds)
        with self.hub.db.write() as session:
            renewed = _changed(
                session,
                update(Deployment)
                .where(Deployment.id == dep_id, Deployment.lease_owner == self.lease_owner)
                .values(lease_expires_at=expires),
            )
        if renewed:
            self._held[dep_id].expires = expires
        return bool(renewed)

    def _release(self, dep_id: str, exists: bool) -> None:
        self.backend.remove(dep_id)
        self._held.pop(dep_id, None)
        if not exists:
            return
        with self.hub.db.write() as session:
            mine = _changed(
                session,
                update(Deployment)
                .where(Deployment.id == dep_id, Deployment.lease_owner == self.lease_owner)
                .values(lease_owner=None, lease_expires_at=None),
            )
            if mine:
                session.execute(delete(DeploymentReplica).where(DeploymentReplica.deployment_id == dep_id))

    def _observe(self, dep_id: str, held: _Held) -> None:
        states = self.backend.observe(dep_id)
        rows = [_row(s) for s in states]
        error = next((s.error for s in states if s.status == FAILED and s.error), None)
        if rows == held.written and error == held.error:
            return
        with self.hub.db.write() as session:
            mine = _changed(
                session,
                update(Deployment)
                .where(Deployment.id == dep_id, Deployment.lease_owner == self.lease_owner)
                .values(error=error),
            )
            if not mine:
                return
            session.execute(delete(DeploymentReplica).where(DeploymentReplica.deployment_id == dep_id))
            stamp = now()
            for state in states:
                session.add(_replica_row(dep_id, state, stamp))
        held.written, held.error = rows, error


def _changed(session: Session, stmt: Update) -> int:
    """The number of rows a compare-and-swap UPDATE changed."""
    return int(session.execute(stmt.execution_options(synchronize_session=False)).rowcount)  # type: ignore[attr-defined]


def _live(dep: Deployment, moment: dt.datetime) -> bool:
    return dep.lease_expires_at is not None and dep.lease_expires_at > moment


def _row(state: ReplicaState) -> tuple[object, ...]:
    return (
        state.index,
        state.status,
        state.url,
        state.restarts,
        state.started_at,
        state.error,
        state.extra.get("pid"),
        state.extra.get("host"),
    )


def _replica_row(dep_id: str, state: ReplicaState, stamp: dt.datetime) -> DeploymentReplica:
    pid, host = state.extra.get("pid"), state.extra.get("host")
    return DeploymentReplica(
        deployment_id=dep_id,
        index=state.index,
        status=state.status,
        url=state.url,
        restarts=state.restarts,
        started_at=state.started_at,
        error=(state.error or None) and state.error[:4000],
        pid=pid if isinstance(pid, int) else None,
        host=str(host)[:200] if host else None,
        updated_at=stamp,
    )
