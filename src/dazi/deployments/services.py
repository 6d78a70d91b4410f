"""Deployments: create, list, read, scale, stop, start, delete; who may see, manage and call them.

Every function takes a SQLAlchemy session and the actor. Seeing a deployment (``get_deployment_for``,
``list_deployments``) needs a role on its owner namespace (the user, an org member) or being an
administrator; anyone else gets 404, exactly like a name that does not exist. Managing it needs write
access to the owner namespace and a write token. Calling it through ``/v1`` (``may_call``) is for the
same people, and, when it is ``public``, for any authenticated user who can read the model repo.

``create_deployment`` and ``scale_deployment`` also take the ``hub`` (keyword): the model is resolved and
its engine detected with ``dazi.inference.catalog.Catalog`` (which reads the card's JSON files from the
hub's storage), and the replica bound comes from its settings.
"""

from __future__ import annotations

import datetime as dt
import re
import secrets
import statistics
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from dazi import authz
from dazi.accounts.models import Namespace
from dazi.accounts.services import Actor
from dazi.deployments.backends import FAILED, READY
from dazi.deployments.models import RUNNING, STOPPED, Deployment, DeploymentReplica
from dazi.errors import BadRequest, Conflict, Forbidden, InvalidName, NotFound, Unauthorized
from dazi.hub import Hub
from dazi.inference.catalog import Catalog, split_model
from dazi.inference.errors import ModelNotFound
from dazi.repos.models import Repo

NAME_RE = re.compile(r"^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$")
NAME_RULE = (
    "3 to 63 characters: lowercase letters, digits and '-', starting and ending with a letter or digit "
    "(no '/': a deployment name never looks like a repo id)"
)


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def is_deployment_name(model: object) -> bool:
    """Whether a ``model`` of a ``/v1`` request names a deployment (no ``/``) rather than a repo."""
    return isinstance(model, str) and bool(model.strip()) and "/" not in model and "@" not in model


# -- reading ----------------------------------------------------------------------------------------


def _visible(actor: Actor | None, dep: Deployment) -> bool:
    return authz.namespace_role(actor, dep.namespace_id) is not None


def find(session: Session, name: str) -> Deployment | None:
    if not isinstance(name, str) or not NAME_RE.match(name):
        return None
    return session.execute(select(Deployment).where(Deployment.name == name)).scalar_one_or_none()


def get_deployment_for(session: Session, actor: Actor | None, name: str) -> Deployment:
    """The deployment if the actor may see it; otherwise NotFound (others' deployments are never revealed)."""
    dep = find(session, name)
    if dep is None or not _visible(actor, dep):
        raise NotFound(f"Deployment not found: {str(name)[:100]!r}.")
    return dep


def list_deployments(
    session: Session, actor: Actor | None, *, owner: str | None = None, model: str | None = None
) -> list[Deployment]:
    """The deployments the actor may see (own, their orgs', all for administrators), newest first."""
    if actor is None:
        return []
    stmt = select(Deployment).order_by(Deployment.created_at.desc(), Deployment.name)
    if not actor.is_admin:
        stmt = stmt.where(Deployment.namespace_id.in_([actor.namespace_id, *actor.org_roles]))
    if owner:
        ns = select(Namespace.id).where(Namespace.name_lower == owner.lower())
        stmt = stmt.where(Deployment.namespace_id.in_(ns))
    if model:
        stmt = stmt.where(func.lower(Deployment.repo_id) == split_model(model)[0].lower())
    return list(session.execute(stmt).scalars())


def may_call(session: Session, actor: Actor | None, dep: Deployment) -> bool:
    """Whether the actor may call the deployment through ``/v1``."""
    if actor is None:
        return False
    if _visible(actor, dep):
        return True
    if not dep.public:
        return False
    repo = session.get(Repo, dep.repo_pk)
    return repo is not None and authz.can_read(actor, repo)


def callable_deployments(session: Session, actor: Actor) -> list[Deployment]:
    """Every deployment the actor may call (for ``GET /v1/models``)."""
    deps = session.execute(select(Deployment).order_by(Deployment.name)).scalars()
    return [d for d in deps if may_call(session, actor, d)]


# -- managing ---------------------------------------------------------------------------------------


def _writer(actor: Actor | None, what: str) -> Actor:
    if actor is None:
        raise Unauthorized(f"Log in (send a write token) to {what}.")
    if not actor.can_write:
        raise Forbidden(f"To {what} you need a write token (yours is a read token).")
    return actor


def _managed(session: Session, actor: Actor | None, name: str, what: str) -> Deployment:
    actor = _writer(actor, what)
    dep = get_deployment_for(session, actor, name)
    if not authz.can_write_namespace(actor, dep.namespace_id):
        raise Forbidden(f"You need write access to the owner of the deployment {name!r} to {what}.")
    return dep


def check_replicas(replicas: Any, max_replicas: int) -> int:
    if isinstance(replicas, bool) or not isinstance(replicas, int) or not 1 <= replicas <= max_replicas:
        raise BadRequest(
            f"replicas must be a whole number from 1 to {max_replicas} (DAZI_DEPLOYMENTS_MAX_REPLICAS); "
            f"got {str(replicas)[:20]!r}."
        )
    return replicas


def _owner_namespace(session: Session, actor: Actor, owner: str | None) -> int:
    if owner is None:
        return actor.namespace_id
    if not isinstance(owner, str):
        raise BadRequest("owner must be the name of a user or organization.")
    ns = session.execute(select(Namespace).where(Namespace.name_lower == owner.lower())).scalar_one_or_none()
    if ns is None or not authz.can_write_namespace(actor, ns.id):
        raise Forbidden(f"You cannot create deployments for {owner[:100]!r}: you need write access to it.")
    return ns.id


def create_deployment(
    session: Session,
    actor: Actor | None,
    *,
    name: str,
    model: str,
    revision: str | None = None,
    replicas: int = 1,
    owner: str | None = None,
    public: bool = False,
    hub: Hub,
) -> Deployment:
    """A new deployment of ``model`` (a repo id, or ``owner/name@revision``), wanted running."""
    actor = _writer(actor, "create deployments")
    if not isinstance(name, str) or not NAME_RE.match(name):
        raise InvalidName(f"Invalid deployment name {str(name)[:80]!r}: {NAME_RULE}.")
    check_replicas(replicas, hub.settings.deployments_max_replicas)
    if not isinstance(public, bool):
        raise BadRequest("public must be true or false.")
    if not isinstance(model, str) or not model.strip():
        raise BadRequest("model must be a model repo id (owner/name, optionally @revision).")
    if revision is not None and (not isinstance(revision, str) or not revision):
        raise BadRequest("revision must be a branch, tag or commit id.")
    namespace_id = _owner_namespace(session, actor, owner)
    repo_id, at = split_model(model.strip())
    ref = Catalog(hub).resolve_in(session, actor, f"{repo_id}@{revision or at}" if (revision or at) else repo_id)
    if ref.detection.engine is None:
        raise BadRequest(
            f"The model '{ref.repo_id}' cannot be deployed: {ref.detection.reason}.",
            extra={"code": "model_not_supported"},
        )
    if find(session, name) is not None:
        raise Conflict(f"A deployment named {name!r} already exists: choose another name.")
    dep = Deployment(
        id=secrets.token_hex(16),
        name=name,
        namespace_id=namespace_id,
        created_by=actor.user_id,
        repo_pk=ref.repo_pk,
        repo_id=ref.repo_id,
        revision=ref.revision,
        commit=ref.commit,
        engine=str(ref.detection.engine),
        replicas=replicas,
        wanted=RUNNING,
        generation=0,
        public=public,
        secret=secrets.token_urlsafe(32),
        requests_total=0,
        requests_failed=0,
        prompt_tokens=0,
        completion_tokens=0,
        latency_ms_total=0,
    )
    try:
        with session.begin_nested():
            session.add(dep)
            session.flush()
    except IntegrityError:
        raise Conflict(f"A deployment named {name!r} already exists: choose another name.") from None
    return dep


def _touch(dep: Deployment) -> None:
    dep.updated_at = now()


def scale_deployment(session: Session, actor: Actor | None, name: str, replicas: int, *, hub: Hub) -> Deployment:
    dep = _managed(session, actor, name, "scale deployments")
    dep.replicas = check_replicas(replicas, hub.settings.deployments_max_replicas)
    _touch(dep)
    return dep


def set_public(session: Session, actor: Actor | None, name: str, public: bool) -> Deployment:
    dep = _managed(session, actor, name, "change deployments")
    if not isinstance(public, bool):
        raise BadRequest("public must be true or false.")
    dep.public = public
    _touch(dep)
    return dep


def stop_deployment(session: Session, actor: Actor | None, name: str) -> Deployment:
    dep = _managed(session, actor, name, "stop deployments")
    dep.wanted = STOPPED
    dep.error = None
    _touch(dep)
    return dep


def start_deployment(session: Session, actor: Actor | None, name: str) -> Deployment:
    """Want it running; its replicas are created afresh (also a retry for failed replicas)."""
    dep = _managed(session, actor, name, "start deployments")
    dep.wanted = RUNNING
    dep.generation += 1
    dep.error = None
    _touch(dep)
    return dep


def delete_deployment(session: Session, actor: Actor | None, name: str) -> None:
    dep = _managed(session, actor, name, "delete deployments")
    session.execute(delete(DeploymentReplica).where(DeploymentReplica.deployment_id == dep.id))
    session.delete(dep)
    session.flush()


def record_call(
    session: Session, deployment_id: str, *, failed: bool, prompt_tokens: int, completion_tokens: int, latency_ms: int
) -> None:
    """Add one call to the deployment's counters (one atomic UPDATE: safe across API workers)."""
    session.execute(
        update(Deployment)
        .where(Deployment.id == deployment_id)
        .values(
            requests_total=Deployment.requests_total + 1,
            requests_failed=Deployment.requests_failed + (1 if failed else 0),
            prompt_tokens=Deployment.prompt_tokens + prompt_tokens,
            completion_tokens=Deployment.completion_tokens + completion_tokens,
            latency_ms_total=Deployment.latency_ms_total + latency_ms,
        )
        .execution_options(synchronize_session=False)
    )


# -- state and representation -----------------------------------------------------------------------


def lease_live(dep: Deployment, moment: dt.datetime | None = None) -> bool:
    return dep.lease_owner is not None and dep.lease_expires_at is not None and dep.lease_expires_at > (moment or now())


def replicas_of(session: Session, dep: Deployment) -> list[DeploymentReplica]:
    """The replica rows, trusted only while a supervisor holds the deployment's lease."""
    if dep.wanted != RUNNING or not lease_live(dep):
        return []
    stmt = select(DeploymentReplica).where(DeploymentReplica.deployment_id == dep.id)
    rows = session.execute(stmt.order_by(DeploymentReplica.index)).scalars()
    return [r for r in rows if r.index < dep.replicas]


def status_of(dep: Deployment, replicas: list[DeploymentReplica]) -> str:
    if dep.wanted == STOPPED:
        return "stopped"
    ready = sum(1 for r in replicas if r.status == READY)
    if ready >= dep.replicas:
        return "running"
    if ready > 0:
        return "degraded"
    if any(r.status == FAILED for r in replicas):
        return "failed"
    return "starting"


@dataclass
class Live:
    """What ``deployment_json`` adds from outside the rows: the backend's name, the hub's public base URL,
    this API process's recent latencies per deployment, and whether to show process ids (administrators)."""

    backend: str = "local"
    base_url: str | None = None
    latencies: dict[str, list[float]] = field(default_factory=dict)
    admin: bool = False


def _percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    if len(values) == 1:
        return round(values[0], 1)
    return round(statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1], 1)


def deployment_json(session: Session, deployment: Deployment, live: Live | None) -> dict[str, Any]:
    live = live or Live()
    dep = deployment
    owner = session.get(Namespace, dep.namespace_id)
    rows = replicas_of(session, dep)
    items = []
    for r in rows:
        item: dict[str, Any] = {
            "index": r.index,
            "status": r.status,
            "restarts": r.restarts,
            "started_at": _iso(r.started_at),
            "error": r.error,
        }
        if live.admin:
            item["pid"], item["host"] = r.pid, r.host
        items.append(item)
    window = live.latencies.get(dep.id, [])
    avg = round(dep.latency_ms_total / dep.requests_total, 1) if dep.requests_total else None
    out: dict[str, Any] = {
        "name": dep.name,
        "owner": owner.name if owner else None,
        "model": dep.repo_id,
        "revision": dep.revision,
        "commit": dep.commit,
        "engine": dep.engine,
        "public": dep.public,
        "status": status_of(dep, rows),
        "replicas": {"desired": dep.replicas, "ready": sum(1 for r in rows if r.status == READY), "items": items},
        "requests": {
            "total": dep.requests_total,
            "failed": dep.requests_failed,
            "prompt_tokens": dep.prompt_tokens,
            "completion_tokens": dep.completion_tokens,
        },
        "latency_ms": {"avg": avg, "p50": _percentile(window, 50), "p95": _percentile(window, 95)},
        "backend": dep.backend or live.backend,
        "created_at": dep.created_at.isoformat(),
        "updated_at": dep.updated_at.isoformat(),
        "error": dep.error,
    }
    if live.base_url:
        out["endpoint"] = {"base_url": f"{live.base_url}/v1", "model": dep.name}
    return out


def _iso(moment: float | None) -> str | None:
    return None if moment is None else dt.datetime.fromtimestamp(moment, dt.UTC).isoformat()


def model_object(session: Session, dep: Deployment) -> dict[str, Any]:
    """The deployment as an OpenAI model object (``GET /v1/models``)."""
    owner = session.get(Namespace, dep.namespace_id)
    status = status_of(dep, replicas_of(session, dep))
    return {
        "id": dep.name,
        "object": "model",
        "created": int(dep.created_at.timestamp()),
        "owned_by": owner.name if owner else None,
        "dazi": {
            "deployment": True,
            "model": dep.repo_id,
            "revision": dep.revision,
            "commit": dep.commit,
            "engine": dep.engine,
            "status": status,
        },
    }


def callable_models(session: Session, actor: Actor) -> list[dict[str, Any]]:
    return [model_object(session, d) for d in callable_deployments(session, actor)]


def callable_model(session: Session, actor: Actor, name: str) -> dict[str, Any]:
    dep = find(session, name)
    if dep is None or not may_call(session, actor, dep):
        raise ModelNotFound(name)
    return model_object(session, dep)
