"""Ray Serve replicas: the deployment backend when ``DAZI_RAY_ADDRESS`` is set.

Each dazi deployment is one Serve *application* named ``dazi-<deployment id>``, reachable through Serve's
HTTP proxy under the route prefix ``/dazi/<deployment id>``. The application has one Serve deployment,
``replica``, with ``num_replicas = spec.replicas`` replicas of ``ServeReplica``: each loads the model from
the hub's own storage (``load_replica_model``, with the hub's settings rebuilt in the replica, as Ray jobs
do) and serves the replica app (``create_replica_app``), built inside the replica by
``__serve_build_asgi_app__``. Serve places the replicas by their resources, health-checks them
(``check_health`` calls the app's ``/healthz``), restarts them, and its proxy balances requests between
them and passes streamed answers (server-sent events) through chunk by chunk. Every replica therefore
has the same ``url``: the proxy's ``http://<host>:<port>/dazi/<deployment id>``.

- ``apply`` (re)deploys the application without waiting for the replicas to load. The deployment's
  version is a digest of the spec and the settings without ``replicas``, so a new ``replicas`` is an
  in-place scale (Serve adds or stops replicas; the others keep serving), while another revision or
  secret is a rolling update. An ``apply`` equal to the last one is a no-op.
- ``observe`` maps Serve's view of the application to ``ReplicaState``s: a RUNNING replica is READY, a
  starting, updating or recovering one STARTING (with Serve's message, if it has one); a deployment
  whose replicas failed to start ``MAX_START_ATTEMPTS`` times in a row (the model could not be loaded,
  the first health check failed) is DEPLOY_FAILED in Serve and gives FAILED states with the error. A
  failed deployment stays failed until it is removed or applied with another spec.
- Crashes: when a replica's actor dies (the process is killed, runs out of memory, its node goes away) or
  fails 3 health checks in a row (every ``HEALTH_CHECK_PERIOD_S``), Serve stops routing to it and starts a
  replacement (with a new replica id; ``observe`` shows it STARTING, then READY). Requests in flight on
  the dead replica are not retried: Serve's proxy answers a plain call with ``500 Internal Server Error``
  (a text body) and cuts a stream off mid-way; the hub's ``/v1`` proxy turns either into an OpenAI-shaped
  error (502 ``replica_failed``, or a last error event). New requests go to the other replicas; when none
  is left, Serve's proxy holds them until the replacement is ready.
- ``remove`` deletes the application (in-flight requests fail); ``shutdown`` deletes the applications
  this object deployed, and stops Serve and Ray only if this object started Ray.

Several API processes (and hubs) may share one Ray cluster. ``deployment_ids`` lists only what this object
applied, so that no supervisor removes another one's applications; ``observe`` and ``remove`` find an
application by name, and an ``apply`` of an unchanged spec to an application that runs already (a
supervisor that took over a deployment whose API process died) keeps its replicas as they are.

Each application carries its hub's mark (``user_config = {"hub": hub_mark(settings)}``, a digest of the
hub's secret key, which every API process of one hub shares): ``hub_deployment_ids`` lists the
applications of this hub only, whoever of its API processes applied them, so that the supervisor's sweep
of orphans (applications whose deployment row is gone) never touches another hub's applications.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import re
import threading
from dataclasses import asdict, replace
from typing import Any

from dazi import ray_cluster
from dazi.config import Settings
from dazi.deployments.backends import FAILED, READY, STARTING, ReplicaSpec, ReplicaState

log = logging.getLogger("dazi.deployments")

APP_PREFIX = "dazi-"
ROUTE_PREFIX = "/dazi/"
DEPLOYMENT = "replica"
NUM_CPUS = 0.5  # per replica: a hint for placement (2 replicas fit a 2-CPU node), not a limit
MAX_START_ATTEMPTS = 3  # replica starts that may fail in a row before the deployment is failed
HEALTH_CHECK_PERIOD_S = 5.0
HEALTH_CHECK_TIMEOUT_S = 30.0

_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_WILDCARD_HOSTS = {"0.0.0.0", "::", ""}  # noqa: S104 (a bind address, compared, not bound)


class ServeReplica:
    """One replica of a deployment (a Ray actor that Serve manages). Wrapped with ``serve.ingress()``."""

    async def __init__(self, settings_values: dict[str, Any], spec: ReplicaSpec) -> None:  # type: ignore[misc]
        from dazi.deployments.replica import load_replica_model

        self.spec = spec
        # The load blocks (files from the blob store, weights into memory): off the replica's event loop.
        self.model = await asyncio.to_thread(load_replica_model, Settings(**settings_values), spec)
        self.asgi_app: Any = None

    def reconfigure(self, user_config: dict[str, Any]) -> None:
        """Serve passes the ``user_config`` (the hub's mark, see ``hub_mark``): nothing to change."""

    def __serve_build_asgi_app__(self) -> Any:
        from dazi.deployments.replica import create_replica_app

        self.asgi_app = create_replica_app(self.model, self.spec.secret)
        return self.asgi_app

    async def check_health(self) -> None:
        """Raise unless the app answers ``GET /healthz`` with 200 (3 failures in a row: Serve replaces it)."""
        import httpx

        from dazi.deployments.replica import KEY_HEADER

        if self.asgi_app is None:
            raise RuntimeError("the replica app is not built yet")
        transport = httpx.ASGITransport(app=self.asgi_app)
        async with httpx.AsyncClient(transport=transport, base_url="http://replica") as client:
            response = await client.get("/healthz", headers={KEY_HEADER: self.spec.secret})
        if response.status_code != 200:
            raise RuntimeError(f"the replica is not usable: /healthz answered {response.status_code}")


_ingress_lock = threading.Lock()
_ingress_class: Any = None


def _deployment_class() -> Any:
    """``ServeReplica`` wrapped by ``serve.ingress()`` (built once; importing this module needs no Ray)."""
    global _ingress_class
    with _ingress_lock:
        if _ingress_class is None:
            from ray import serve

            _ingress_class = serve.ingress()(ServeReplica)
        return _ingress_class


def app_name(deployment_id: str) -> str:
    return f"{APP_PREFIX}{deployment_id}"


def hub_mark(settings: Settings) -> str:
    """Which hub an application belongs to: a digest of the secret key every API process of a hub shares."""
    return hashlib.sha256(f"dazi-hub:{settings.resolved_secret_key()}".encode()).hexdigest()[:16]


def spec_version(spec: ReplicaSpec, settings_values: dict[str, Any]) -> str:
    """What decides whether replicas must restart: everything but the number of replicas."""
    data = {"spec": asdict(replace(spec, replicas=0)), "settings": settings_values}
    text = json.dumps(data, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def short_error(message: str) -> str:
    """Serve's message without colour codes and tracebacks: the last line says what went wrong."""
    lines = [line.strip() for line in _ANSI.sub("", message).splitlines() if line.strip()]
    if not lines:
        return "the Ray Serve deployment failed"
    last = lines[-1]
    if len(lines) > 1 and lines[0] != last:
        return f"{lines[0]} ... {last}"[:1000]
    return last[:1000]


class RayServeReplicas:
    """A ``ReplicaBackend`` on a Ray cluster, through Ray Serve (see the module docstring)."""

    name = "ray"

    def __init__(self, settings: Settings, num_cpus: float = NUM_CPUS):
        import ray
        from ray import serve

        self._ray: Any = ray
        self._serve: Any = serve
        self._started_ray = ray_cluster.attach(settings)
        self.values = settings.model_dump()
        self.mark = hub_mark(settings)
        self.num_cpus = num_cpus
        self.max_ongoing_requests = settings.inference_max_batch_size + settings.inference_max_queue
        host, port = settings.deployments_ray_http_host, settings.deployments_ray_http_port
        # Serve's HTTP options are fixed when Serve starts; on a cluster where it runs already, they are its.
        serve.start(http_options={"host": host, "port": port}, proxy_location="HeadOnly")
        http = self._details().get("http_options") or {}
        self.base_url = f"http://{self._reachable_host(str(http.get('host', host)))}:{int(http.get('port', port))}"
        self._applied: dict[str, tuple[str, int]] = {}  # deployment id -> (version, replicas) last applied
        self._lock = threading.Lock()

    def _reachable_host(self, host: str) -> str:
        if host not in _WILDCARD_HOSTS:
            return host
        gcs = str(self._ray.get_runtime_context().gcs_address or "127.0.0.1:0")  # the head node
        return gcs.rsplit(":", 1)[0]

    def _details(self) -> dict[str, Any]:
        from ray.serve.context import _get_global_client

        client: Any = _get_global_client()
        details: dict[str, Any] = client.get_serve_details()
        return details

    def url(self, deployment_id: str) -> str:
        return f"{self.base_url}{ROUTE_PREFIX}{deployment_id}"

    def apply(self, spec: ReplicaSpec) -> None:
        version = spec_version(spec, self.values)
        with self._lock:
            if self._applied.get(spec.deployment_id) == (version, spec.replicas) and self._exists(spec.deployment_id):
                return
            deployment = self._serve.deployment(
                _deployment_class(),
                name=DEPLOYMENT,
                num_replicas=spec.replicas,
                ray_actor_options={"num_cpus": self.num_cpus},
                max_ongoing_requests=self.max_ongoing_requests,
                health_check_period_s=HEALTH_CHECK_PERIOD_S,
                health_check_timeout_s=HEALTH_CHECK_TIMEOUT_S,
                graceful_shutdown_wait_loop_s=0.5,
                graceful_shutdown_timeout_s=5.0,
                max_constructor_retry_count=MAX_START_ATTEMPTS,
                user_config={"hub": self.mark},
            )
            # Serve 2.60 gives every imperative deploy a random version unless the deployment has one, and a
            # new version restarts every replica; a stable one makes a change of num_replicas a plain scale.
            deployment._version = version  # no public way since `version=` went
            self._serve._run(  # serve.run waits for the replicas
                deployment.bind(self.values, spec),
                name=app_name(spec.deployment_id),
                route_prefix=f"{ROUTE_PREFIX}{spec.deployment_id}",
                _blocking=False,
            )
            self._applied[spec.deployment_id] = (version, spec.replicas)

    def _exists(self, deployment_id: str) -> bool:
        status = self._serve.status().applications.get(app_name(deployment_id))
        return status is not None and _name(status.status) not in ("DELETING", "NOT_STARTED")

    def remove(self, deployment_id: str) -> None:
        with self._lock:
            self._applied.pop(deployment_id, None)
            if app_name(deployment_id) in self._serve.status().applications:
                self._serve.delete(app_name(deployment_id))  # waits until Serve has stopped its replicas

    def observe(self, deployment_id: str) -> list[ReplicaState]:
        app = self._details().get("applications", {}).get(app_name(deployment_id))
        if app is None or _name(app["status"]) in ("DELETING", "NOT_STARTED"):
            return []
        deployment = app.get("deployments", {}).get(DEPLOYMENT)
        if deployment is None:  # registered, not yet reconciled
            return [ReplicaState(0, STARTING)]
        if "DEPLOY_FAILED" in (_name(app["status"]), _name(deployment["status"])):
            error = short_error(deployment.get("message") or app.get("message") or "")
            count = max(1, int(deployment.get("target_num_replicas") or 1))
            return [ReplicaState(i, FAILED, error=error) for i in range(count)]
        return self._replica_states(deployment_id, deployment)

    def _replica_states(self, deployment_id: str, deployment: dict[str, Any]) -> list[ReplicaState]:
        message = short_error(deployment["message"]) if deployment.get("message") else None
        live = [r for r in deployment.get("replicas", []) if _name(r.get("state")) not in ("STOPPING", "STOPPED")]
        live.sort(key=lambda r: (r.get("start_time_s") or 0.0, r.get("replica_id") or ""))
        states = []
        for index, replica in enumerate(live):
            ready = _name(replica.get("state")) == "RUNNING"
            states.append(
                ReplicaState(
                    index,
                    READY if ready else STARTING,
                    url=self.url(deployment_id) if ready else None,
                    started_at=replica.get("start_time_s"),
                    error=None if ready else message,
                    extra={
                        "replica_id": replica.get("replica_id"),
                        "actor_name": replica.get("actor_name"),
                        "host": replica.get("node_ip"),
                        "pid": replica.get("pid"),
                        "serve_state": _name(replica.get("state")),
                    },
                )
            )
        target = int(deployment.get("target_num_replicas") or 0)
        states += [ReplicaState(i, STARTING, error=message) for i in range(len(states), target)]  # not placed yet
        return states

    def deployment_ids(self) -> list[str]:
        """The deployments applied through this object and not removed since, not every ``dazi-`` application
        on the cluster: other API processes (or hubs) sharing the cluster run theirs, and a supervisor removes
        the listed deployments it does not hold. ``cluster_deployment_ids`` lists them all."""
        with self._lock:
            return sorted(self._applied)

    def cluster_deployment_ids(self) -> list[str]:
        """Every deployment with a Serve application on the cluster, whoever applied it."""
        names = self._serve.status().applications
        return sorted(name.removeprefix(APP_PREFIX) for name in names if name.startswith(APP_PREFIX))

    def hub_deployment_ids(self) -> list[str]:
        """The deployments with a Serve application on the cluster that this hub (any of its API processes)
        applied: those with this hub's mark. Applications of other hubs, and unmarked ones, are left out."""
        found = []
        for name, app in (self._details().get("applications") or {}).items():
            if not name.startswith(APP_PREFIX):
                continue
            config = ((app.get("deployments") or {}).get(DEPLOYMENT) or {}).get("deployment_config") or {}
            if (config.get("user_config") or {}).get("hub") == self.mark:
                found.append(name.removeprefix(APP_PREFIX))
        return sorted(found)

    def shutdown(self) -> None:
        if not self._ray.is_initialized():  # Ray was shut down already (by its owner)
            return
        with self._lock:
            for deployment_id in list(self._applied):
                try:
                    self._serve.delete(app_name(deployment_id), _blocking=False)
                except Exception:  # Serve is gone already
                    log.debug("deleting Serve application %s failed", deployment_id, exc_info=True)
            self._applied.clear()
        if self._started_ray:
            self._serve.shutdown()
            self._ray.shutdown()


def _name(status: object) -> str:
    """A Serve status (a ``str`` enum, or its value) as its value."""
    return str(getattr(status, "value", status))
