"""``/api/deployments``: create, list, read, change, scale, stop, start and delete deployments.

Thin routes over ``services``; errors take the Hugging Face shape of ``/api/`` (``app.error_response``).
The router's lifespan starts the ``Supervisor`` (with ``DAZI_DEPLOYMENTS_ENABLED``) and makes the
``Deployments`` proxy that ``/v1`` uses; both stop with the app.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any, TypeVar

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse, Response
from sqlalchemy.orm import Session

from dazi.accounts.services import Actor
from dazi.config import Settings
from dazi.deployments import services
from dazi.deployments.models import Deployment
from dazi.deployments.proxy import Deployments
from dazi.deployments.supervisor import Supervisor
from dazi.deps import base_url, get_actor, get_hub, json_body
from dazi.errors import BadRequest
from dazi.hub import Hub

T = TypeVar("T")
_create = threading.Lock()


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    hub: Hub = app.state.hub
    settings: Settings = app.state.settings
    supervisor = None
    if settings.deployments_enabled:
        # Off the event loop: with Ray, making the backend runs ray.init and serve.start (seconds).
        supervisor = await asyncio.to_thread(Supervisor, hub, settings)
        await asyncio.to_thread(supervisor.start)
    app.state.deployment_supervisor = supervisor
    try:
        yield
    finally:
        app.state.deployment_supervisor = None
        if supervisor is not None:
            await asyncio.to_thread(supervisor.stop)
        proxy: Deployments | None = getattr(app.state, "deployments", None)
        if proxy is not None:
            app.state.deployments = None
            await proxy.close()


router = APIRouter(prefix="/api/deployments", lifespan=lifespan)


def get_deployments(request: Request) -> Deployments:
    """The app's proxy to deployment replicas (made on first use)."""
    state = request.app.state
    with _create:
        proxy: Deployments | None = getattr(state, "deployments", None)
        if proxy is None:
            proxy = state.deployments = Deployments(get_hub(request))
    return proxy


def live_for(state: Any, settings: Settings, base: str, actor: Actor | None) -> services.Live:
    """What ``deployment_json`` needs from outside the rows (``state`` is ``app.state``; also used by the web
    pages)."""
    proxy: Deployments | None = getattr(state, "deployments", None)
    return services.Live(
        backend="ray" if settings.ray_address else "local",
        base_url=base,
        latencies=proxy.latency_window() if proxy is not None else {},
        admin=bool(actor is not None and actor.is_admin),
    )


def _live(request: Request, actor: Actor | None) -> services.Live:
    return live_for(request.app.state, get_hub(request).settings, base_url(request), actor)


Action = Callable[[Session, Actor | None], Deployment]


async def _write(request: Request, action: Action, status: int = 200) -> Response:
    """Run a mutation in one write transaction, wake the supervisor, answer the deployment."""
    hub, actor = get_hub(request), get_actor(request)
    live = _live(request, actor)

    def run() -> dict[str, Any]:
        with hub.db.write() as session:
            dep = action(session, actor)
            session.flush()
            return services.deployment_json(session, dep, live)

    body = await asyncio.to_thread(run)
    _wake(request)
    return JSONResponse(body, status_code=status)


def _wake(request: Request) -> None:
    changed(request.app.state)


def changed(state: Any) -> None:
    """After a change to a deployment (``app.state`` given): the supervisor acts at once, and this process
    routes ``/v1`` calls from the new rows (its cached routes are dropped)."""
    supervisor: Supervisor | None = getattr(state, "deployment_supervisor", None)
    if supervisor is not None:
        supervisor.wake()
    proxy: Deployments | None = getattr(state, "deployments", None)
    if proxy is not None:
        proxy.forget()


_KINDS: dict[type, str] = {str: "a string", int: "a whole number", bool: "true or false"}


def _field(body: dict[str, Any], name: str, kind: type[T], default: T | None = None) -> T | None:
    value = body.get(name, default)
    if value is not None and (not isinstance(value, kind) or (kind is int and isinstance(value, bool))):
        raise BadRequest(f"'{name}' must be {_KINDS[kind]}.")
    return value


@router.post("")
async def create(request: Request) -> Response:
    body = await json_body(request)
    hub = get_hub(request)
    name, model = _field(body, "name", str), _field(body, "model", str)
    if name is None or model is None:
        raise BadRequest("A deployment needs a 'name' and a 'model' (a model repo id, owner/name[@revision]).")
    revision, owner = _field(body, "revision", str), _field(body, "owner", str)
    replicas, public = _field(body, "replicas", int, 1), _field(body, "public", bool, False)
    return await _write(
        request,
        lambda session, actor: services.create_deployment(
            session,
            actor,
            name=name,
            model=model,
            revision=revision,
            replicas=1 if replicas is None else replicas,
            owner=owner,
            public=bool(public),
            hub=hub,
        ),
        201,
    )


@router.get("")
async def list_all(request: Request, owner: str | None = None, model: str | None = None) -> Response:
    hub, actor = get_hub(request), get_actor(request)
    live = _live(request, actor)

    def run() -> list[dict[str, Any]]:
        with hub.db.read() as session:
            found = services.list_deployments(session, actor, owner=owner, model=model)
            return [services.deployment_json(session, d, live) for d in found]

    return JSONResponse(await asyncio.to_thread(run))


@router.get("/{name}")
async def read(request: Request, name: str) -> Response:
    hub, actor = get_hub(request), get_actor(request)
    live = _live(request, actor)

    def run() -> dict[str, Any]:
        with hub.db.read() as session:
            return services.deployment_json(session, services.get_deployment_for(session, actor, name), live)

    return JSONResponse(await asyncio.to_thread(run))


@router.patch("/{name}")
async def change(request: Request, name: str) -> Response:
    body = await json_body(request)
    hub = get_hub(request)
    replicas, public = _field(body, "replicas", int), _field(body, "public", bool)
    if replicas is None and public is None:
        raise BadRequest("Send 'replicas' and/or 'public' to change a deployment.")

    def action(session: Session, actor: Actor | None) -> Deployment:
        dep = services.get_deployment_for(session, actor, name)
        if replicas is not None:
            dep = services.scale_deployment(session, actor, name, replicas, hub=hub)
        if public is not None:
            dep = services.set_public(session, actor, name, public)
        return dep

    return await _write(request, action)


@router.post("/{name}/scale")
async def scale(request: Request, name: str) -> Response:
    body = await json_body(request)
    hub = get_hub(request)
    replicas = _field(body, "replicas", int)
    if replicas is None:
        raise BadRequest('Send {"replicas": N} to scale a deployment.')
    return await _write(
        request, lambda session, actor: services.scale_deployment(session, actor, name, replicas, hub=hub)
    )


@router.post("/{name}/stop")
async def stop(request: Request, name: str) -> Response:
    return await _write(request, lambda session, actor: services.stop_deployment(session, actor, name))


@router.post("/{name}/start")
async def start(request: Request, name: str) -> Response:
    return await _write(request, lambda session, actor: services.start_deployment(session, actor, name))


@router.delete("/{name}")
async def remove(request: Request, name: str) -> Response:
    hub, actor = get_hub(request), get_actor(request)

    def run() -> None:
        with hub.db.write() as session:
            services.delete_deployment(session, actor, name)

    await asyncio.to_thread(run)
    _wake(request)
    return Response(status_code=204)
