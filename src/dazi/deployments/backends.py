"""Where a deployment's replicas run. One interface, two implementations.

- ``LocalReplicas`` (the embedded default, ``dazi.deployments.local``): each replica is a worker process on
  this machine serving the replica app (``dazi.deployments.replica``) on a loopback port.
- ``RayServeReplicas`` (``DAZI_RAY_ADDRESS`` set, ``dazi.deployments.ray_serve``): each deployment is a Ray
  Serve application whose deployment has ``num_replicas`` replicas of the same replica app; Ray Serve
  places, health-checks and restarts them, and its HTTP proxy balances requests between them.

The supervisor (``dazi.deployments.supervisor``) drives a backend from the durable rows: ``apply`` when a
deployment should run with N replicas (idempotent; also used to scale), ``remove`` when it is stopped or
deleted, ``observe`` to read (and, locally, repair) the replicas. The API proxies ``/v1`` calls with
``model=<deployment name>`` to a ready replica's ``url``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from dazi.config import Settings

STARTING, READY, FAILED = "starting", "ready", "failed"


@dataclass(frozen=True)
class ReplicaSpec:
    """What every replica of one deployment serves."""

    deployment_id: str
    name: str  # the deployment's name: what callers pass as ``model``
    repo_pk: int
    repo_id: str
    commit: str  # the exact revision served
    engine: str  # "text-generation" or "embedding" (dazi.inference.engines)
    replicas: int  # how many should run
    secret: str  # replicas refuse calls without ``X-Dazi-Replica-Key: <secret>``


@dataclass
class ReplicaState:
    index: int
    status: str  # STARTING, READY or FAILED
    url: str | None = None  # base URL of the replica app (it serves /v1/... and /healthz under it)
    restarts: int = 0
    started_at: float | None = None  # time.time() of the current process / replica start
    error: str | None = None  # why the last run ended, if it did
    extra: dict[str, object] = field(default_factory=dict)


class ReplicaBackend(Protocol):
    name: str  # "local" or "ray"

    def apply(self, spec: ReplicaSpec) -> None:
        """Make ``spec.replicas`` replicas of ``spec`` run (start, scale up or down). Idempotent; returns at once."""

    def remove(self, deployment_id: str) -> None:
        """Stop every replica of a deployment (in-flight requests fail)."""

    def observe(self, deployment_id: str) -> list[ReplicaState]:
        """The replicas of a deployment now. Locally, a replica whose process died is restarted here."""

    def deployment_ids(self) -> list[str]:
        """The deployments this backend runs replicas for."""

    def shutdown(self) -> None:
        """Stop every replica this backend started (the server is stopping)."""


# The replica app contract (``dazi.deployments.replica``), shared by both backends:
#   load_replica_model(settings: Settings, spec: ReplicaSpec) -> ReplicaModel   (blocking: materializes the
#       snapshot from the hub's own storage and loads the engine; raises on failure)
#   create_replica_app(model: ReplicaModel, secret: str) -> FastAPI             (serves GET /healthz and
#       POST /v1/chat/completions, /v1/completions, /v1/embeddings for that one model)
# Ray Serve builds the app inside the replica with ``serve.ingress()`` + ``__serve_build_asgi_app__``.


def make_backend(settings: Settings) -> ReplicaBackend:
    """Ray Serve when ``DAZI_RAY_ADDRESS`` is set, worker processes on this machine otherwise (imported
    lazily: neither ray nor multiprocessing machinery is touched before a supervisor starts)."""
    if settings.ray_address:
        from dazi.deployments.ray_serve import RayServeReplicas

        return RayServeReplicas(settings)
    from dazi.deployments.local import LocalReplicas

    return LocalReplicas(settings)
