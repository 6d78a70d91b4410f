"""Data of the deployment pages: the "Deploy" form, one deployment, the list of the visitor's deployments.

Everything goes through ``dazi.deployments.services`` in the hub's database (never over HTTP), with the
web session's actor (a write actor, as for every change made from the site). ``live`` is built like the
API's: the backend's name, the hub's base URL and this process's latency window of the ``/v1`` proxy.
Service errors become a marked message for the form (``form_error``), never a 500.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from dazi import authz
from dazi.accounts.services import Actor
from dazi.deployments import services
from dazi.deployments.models import Deployment
from dazi.deployments.routes import changed
from dazi.errors import BadRequest, Conflict, DaziError, Forbidden, InvalidName, NotFound, Unauthorized
from dazi.hub import Hub
from dazi.inference.catalog import Catalog
from dazi.inference.engines import EMBEDDING, TEXT_GENERATION
from dazi.repos import services as repos
from dazi.repos.models import Repo
from dazi.web import editing, tryit
from dazi.web.i18n import marker as N_
from dazi.web.repo_view import RepoPage

_INVALID = re.compile(r"[^a-z0-9-]+")


def wake(state: Any) -> None:
    """After a change: the supervisor acts now, and this process's cached routes are dropped."""
    changed(state)


def suggest_name(repo_id: str) -> str:
    """A valid deployment name from a repo's name: ``alice/Tiny_Chat.v2`` → ``tiny-chat-v2``."""
    base = _INVALID.sub("-", repo_id.rsplit("/", 1)[-1].lower()).strip("-")[:63].strip("-")
    while len(base) < 3:
        base = f"{base}-model".strip("-") if base else "model"
    return base


# -- the form ----------------------------------------------------------------------------------------


@dataclass
class FormError:
    message: str  # marked (``tr``), with ``%(max)s`` filled from ``params``
    params: dict[str, Any] = field(default_factory=dict)
    detail: str | None = None  # the service's own words (English), shown under the message


@dataclass
class NewForm:
    owners: list[str]
    max_replicas: int
    values: dict[str, str]


def new_form(hub: Hub, actor: Actor, values: dict[str, str]) -> NewForm:
    return NewForm(editing.owners(hub, actor), hub.settings.deployments_max_replicas, values)


def create(hub: Hub, actor: Actor, values: dict[str, str]) -> str:
    """Create the deployment the form describes; its name. Service errors propagate (``form_error``)."""
    try:
        replicas = int(values["replicas"])
    except ValueError:
        raise BadRequest("replicas must be a whole number.") from None
    with hub.db.write() as session:
        dep = services.create_deployment(
            session,
            actor,
            name=values["name"].strip(),
            model=values["model"].strip(),
            revision=values["revision"].strip() or None,
            replicas=replicas,
            owner=values["owner"].strip() or None,
            public=values["public"] == "on",
            hub=hub,
        )
        return dep.name


def form_error(exc: DaziError, max_replicas: int) -> FormError:
    """The form's message for a refused creation (the service's words as a detail)."""
    detail = str(exc) or None
    if isinstance(exc, InvalidName):
        return FormError(N_("This name cannot be used: 3 to 63 characters, lowercase letters, digits and '-', "
                            "starting and ending with a letter or digit."))
    if isinstance(exc, Conflict):
        return FormError(N_("A deployment with this name already exists: choose another name."))
    if isinstance(exc, NotFound):
        return FormError(N_("This model or revision was not found."), detail=detail)
    if isinstance(exc, Forbidden | Unauthorized):
        return FormError(N_("You cannot create deployments for this owner: you need write access to it."))
    if exc.extra.get("code") == "model_not_supported":
        return FormError(N_("This model cannot be deployed: only text-generation and sentence-transformers "
                            "models can."), detail=detail)
    if "replicas" in (detail or ""):
        return FormError(N_("Replicas must be a whole number from 1 to %(max)s."), {"max": max_replicas})
    return FormError(N_("Check the form: the deployment could not be created."), detail=detail)


# -- one deployment ----------------------------------------------------------------------------------


@dataclass
class ReplicaRow:
    index: int
    status: str
    restarts: int
    since: dt.datetime | None
    error: str | None


@dataclass
class DeploymentPage:
    info: dict[str, Any]  # ``deployment_json``
    replicas: list[ReplicaRow]
    may_manage: bool
    max_replicas: int
    try_it: tryit.TryIt | None
    model_visible: bool  # whether the model's page may be linked (the visitor can read it)

    @property
    def name(self) -> str:
        return str(self.info["name"])

    @property
    def snippet(self) -> str:
        base = self.info.get("endpoint", {}).get("base_url", "/v1")
        if self.try_it is not None and self.try_it.widget == tryit.SIMILARITY:
            call = f'client.embeddings.create(model="{self.name}", input=["Hello!"])'
        else:
            call = (f'client.chat.completions.create(\n    model="{self.name}",\n'
                    '    messages=[{"role": "user", "content": "Hello!"}],\n)')
        return f'from openai import OpenAI\n\nclient = OpenAI(base_url="{base}", api_key="<your token>")\n{call}'


def _since(value: str | None) -> dt.datetime | None:
    return dt.datetime.fromisoformat(value) if value else None


def _try_it(session: Session, catalog: Catalog, dep: Deployment) -> tryit.TryIt | None:
    """The box of the deployment's commit: chat or completion (by its chat template) or similarity."""
    repo = session.get(Repo, dep.repo_pk)
    if repo is not None:
        found = tryit.for_repo(catalog, session, repo, dep.commit)
        if found is not None:
            return tryit.TryIt(found.widget, dep.name)
    if dep.engine == EMBEDDING:
        return tryit.TryIt(tryit.SIMILARITY, dep.name)
    return tryit.TryIt(tryit.CHAT, dep.name) if dep.engine == TEXT_GENERATION else None


def deployment_page(
    hub: Hub, actor: Actor | None, name: str, live: services.Live, catalog: Catalog
) -> DeploymentPage:
    """The page's data; ``NotFound`` for those who may not see it (as for a name that does not exist)."""
    with hub.db.read() as session:
        dep = services.get_deployment_for(session, actor, name)
        info = services.deployment_json(session, dep, live)
        manage = actor is not None and actor.can_write and authz.can_write_namespace(actor, dep.namespace_id)
        visible = _model_visible(session, actor, dep.repo_id)
        widget = _try_it(session, catalog, dep)
    rows = [ReplicaRow(r["index"], r["status"], r["restarts"], _since(r["started_at"]), r["error"])
            for r in info["replicas"]["items"]]
    return DeploymentPage(info, rows, manage, hub.settings.deployments_max_replicas, widget, visible)


def _model_visible(session: Session, actor: Actor | None, repo_id: str) -> bool:
    try:
        repos.get_repo_for(session, actor, "model", repo_id)
    except NotFound:
        return False
    return True


# -- changes ---------------------------------------------------------------------------------------

Action = Callable[[Session, Actor], Deployment]


def change(hub: Hub, actor: Actor, name: str, action: Action) -> None:
    """Run one management action (scale, stop, start) in a write transaction."""
    with hub.db.write() as session:
        action(session, actor)


def delete(hub: Hub, actor: Actor, name: str) -> None:
    with hub.db.write() as session:
        services.delete_deployment(session, actor, name)


# -- lists -------------------------------------------------------------------------------------------


@dataclass
class ListRow:
    name: str
    owner: str | None
    model: str
    status: str
    ready: int
    desired: int
    requests: int


def rows(session: Session, actor: Actor | None, model: str | None, live: services.Live) -> list[ListRow]:
    out = []
    for dep in services.list_deployments(session, actor, model=model):
        info = services.deployment_json(session, dep, live)
        out.append(ListRow(dep.name, info["owner"], dep.repo_id, info["status"], info["replicas"]["ready"],
                           dep.replicas, dep.requests_total))
    return out


def for_model(hub: Hub, actor: Actor | None, data: RepoPage, live: services.Live) -> list[ListRow]:
    """"Deployments of this model" on a servable model's page (those the visitor may see)."""
    if actor is None or data.try_it is None:
        return []
    with hub.db.read() as session:
        return rows(session, actor, data.header.repo.repo_id, live)


def list_page(hub: Hub, actor: Actor, live: services.Live) -> list[ListRow]:
    with hub.db.read() as session:
        return rows(session, actor, None, live)
