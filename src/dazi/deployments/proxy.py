"""``/v1`` calls with ``model=<deployment name>``: routed to a ready replica and forwarded over HTTP.

``Deployments`` is made once per app (``app.state.deployments``): it holds the shared ``httpx.AsyncClient``,
the routing table (read from ``deployment_replicas``, so any API worker can route to replicas another
worker's supervisor runs; a route that was found is kept for ``ROUTE_TTL_SECONDS`` per deployment and
caller, so a burst of calls does not read the database for each one, and dropped at once when a replica
refuses a connection or this process changes a deployment through ``/api/deployments``), the in-flight
count per replica (the least busy replica is chosen; ties go round robin), and a bounded window of recent
latencies per deployment (per process).

Forwarding streams both ways. The body is passed on with ``model`` set to the deployment name; a streamed
call always asks the replica for the usage chunk (the hub charges tokens from it) and drops it when the
caller did not ask for it. A replica that cannot be reached is skipped for another; when a replica dies
mid-call the caller gets a 502 (``replica_failed``) or, once a stream has started, a final
``{"error": {…, "code": "replica_failed"}}`` event. A caller going away closes the upstream stream, which
frees the replica's slot.
"""

from __future__ import annotations

import asyncio
import collections
import itertools
import json
import logging
import threading
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import httpx
from fastapi import Request
from fastapi.responses import JSONResponse, Response

from dazi.accounts.services import Actor
from dazi.deployments import services
from dazi.deployments.backends import READY
from dazi.deployments.models import STOPPED
from dazi.deployments.replica import KEY_HEADER
from dazi.errors import DaziError
from dazi.hub import Hub
from dazi.inference.answers import EventStream, watch_disconnect
from dazi.inference.engines import EMBEDDING, TEXT_GENERATION
from dazi.inference.errors import ModelNotFound, UnsupportedModel, error_body
from dazi.inference.wire import DONE, sse

log = logging.getLogger("dazi.deployments")
LATENCY_WINDOW = 1000
ROUTE_TTL_SECONDS = 1.0  # at most DAZI_DEPLOYMENTS_POLL_SECONDS: replica rows change no faster
MAX_ROUTES = 10_000


class DeploymentUnavailable(DaziError):
    """No ready replica (starting, failed, or stopped): 503 with Retry-After."""

    status_code = 503

    def __init__(self, message: str, retry_after: int = 2):
        super().__init__(
            message,
            headers={"Retry-After": str(retry_after)},
            extra={"code": "deployment_unavailable", "type": "server_error"},
        )


class ReplicaFailed(DaziError):
    status_code = 502

    def __init__(self, message: str):
        super().__init__(message, extra={"code": "replica_failed", "type": "server_error"})


@dataclass(frozen=True)
class Target:
    deployment_id: str
    name: str
    engine: str
    secret: str
    urls: tuple[str, ...]


@dataclass
class Outcome:
    """What one proxied call did, recorded when it ends."""

    failed: bool = False
    prompt_tokens: int = 0
    completion_tokens: int = 0


class NoReplicaAnswers(DeploymentUnavailable):
    """Every ready replica of the routing entry refused the connection."""


class Deployments:
    def __init__(self, hub: Hub):
        self.hub = hub
        self.route_ttl = min(ROUTE_TTL_SECONDS, hub.settings.deployments_poll_seconds)
        self._routes: dict[tuple[str, object], tuple[float, Target]] = {}
        self.client = httpx.AsyncClient(
            timeout=httpx.Timeout(connect=5.0, read=600.0, write=60.0, pool=60.0),
            limits=httpx.Limits(max_connections=1000, max_keepalive_connections=100),
        )
        self._lock = threading.Lock()
        self._in_flight: collections.Counter[str] = collections.Counter()
        self._turn = itertools.count()
        self.latencies: dict[str, collections.deque[float]] = {}

    async def close(self) -> None:
        await self.client.aclose()

    def latency_window(self) -> dict[str, list[float]]:
        with self._lock:
            return {k: list(v) for k, v in self.latencies.items()}

    # -- routing ------------------------------------------------------------------------------------

    def target(self, actor: Actor | None, name: str, fresh: bool = False) -> tuple[Target, bool]:
        """The deployment's routing entry if the actor may call it, and whether it came from the cache
        (blocking: reads the database unless a recent entry is cached; ``fresh`` skips the cache). Only
        entries with ready replicas are cached: a missing, stopped or starting deployment is read again."""
        key = (name, _actor_key(actor))
        if not fresh:
            with self._lock:
                cached = self._routes.get(key)
            if cached is not None and time.monotonic() - cached[0] < self.route_ttl:
                return cached[1], True
        target = self._resolve(actor, name)
        with self._lock:
            if len(self._routes) >= MAX_ROUTES:
                self._routes.clear()
            self._routes[key] = (time.monotonic(), target)
        return target, False

    def forget(self, deployment_id: str | None = None) -> None:
        """Drop cached routes: of one deployment, or all of them."""
        with self._lock:
            if deployment_id is None:
                self._routes.clear()
                return
            for key in [k for k, (_, t) in self._routes.items() if t.deployment_id == deployment_id]:
                del self._routes[key]

    def _resolve(self, actor: Actor | None, name: str) -> Target:
        with self.hub.db.read() as session:
            dep = services.find(session, name)
            if dep is None or not services.may_call(session, actor, dep):
                raise ModelNotFound(name)
            if dep.wanted == STOPPED:
                raise DeploymentUnavailable(f"The deployment '{name}' is stopped: start it to call it.", 30)
            replicas = services.replicas_of(session, dep)
            urls = tuple(r.url for r in replicas if r.status == READY and r.url)
            target = Target(dep.id, dep.name, dep.engine, dep.secret, urls)
            status, error = services.status_of(dep, replicas), dep.error
        if not urls:
            why = f" (its replicas failed: {error})" if status == "failed" and error else f" (it is {status})"
            raise DeploymentUnavailable(f"The deployment '{name}' has no ready replica now{why}; retry shortly.")
        return target

    def _pick(self, target: Target, avoid: set[str]) -> str | None:
        with self._lock:
            urls = [u for u in target.urls if u not in avoid]
            if not urls:
                return None
            turn = next(self._turn)
            rotated = urls[turn % len(urls) :] + urls[: turn % len(urls)]
            url = min(rotated, key=lambda u: self._in_flight[u])
            self._in_flight[url] += 1
            return url

    def _done(self, url: str, target: Target, outcome: Outcome, started: float) -> None:
        self._release_slot(url)
        self._record(target, outcome, started)

    def _record(self, target: Target, outcome: Outcome, started: float) -> None:
        elapsed = (time.monotonic() - started) * 1000
        with self._lock:
            self.latencies.setdefault(target.deployment_id, collections.deque(maxlen=LATENCY_WINDOW)).append(elapsed)
        with self.hub.db.write() as session:
            services.record_call(
                session,
                target.deployment_id,
                failed=outcome.failed,
                prompt_tokens=outcome.prompt_tokens,
                completion_tokens=outcome.completion_tokens,
                latency_ms=int(elapsed),
            )

    # -- forwarding ---------------------------------------------------------------------------------

    async def forward(
        self, request: Request, actor: Actor, body: dict[str, Any], path: str, charge: Callable[[int], None]
    ) -> Response:
        """Forward one ``/v1`` call (``path``: ``/v1/chat/completions``…) to a replica of ``body['model']``.
        ``charge(tokens)`` is called once with the tokens the call used."""
        name = str(body["model"])
        target, cached = await asyncio.to_thread(self.target, actor, name)
        _check_engine(target, path)
        stream = bool(body.get("stream"))
        options = body.get("stream_options")
        caller_usage = stream and isinstance(options, dict) and bool(options.get("include_usage"))
        upstream_body = {**body, "model": target.name}
        if stream:
            upstream_body["stream_options"] = {**(options if isinstance(options, dict) else {}), "include_usage": True}
        started = time.monotonic()
        try:
            try:
                url, response = await self._send(target, path, upstream_body)
            except NoReplicaAnswers:
                if not cached:
                    raise
                # the cached route was stale (replicas replaced, the deployment stopped): read it afresh
                target, _ = await asyncio.to_thread(self.target, actor, name, True)
                url, response = await self._send(target, path, upstream_body)
        except ReplicaFailed:
            await asyncio.to_thread(self._record, target, Outcome(failed=True), started)
            raise
        if response.status_code == 401:  # a replica of another secret: the route is stale
            self.forget(target.deployment_id)
        outcome = Outcome()
        finished = False

        def finish() -> None:
            nonlocal finished
            if finished:
                return
            finished = True
            charge(outcome.prompt_tokens + outcome.completion_tokens)
            try:
                self._done(url, target, outcome, started)
            except Exception:
                log.exception("recording a call of deployment %s failed", target.name)

        if response.status_code != 200 or not stream:
            try:
                return await self._whole(request, response, outcome)
            finally:
                await asyncio.to_thread(finish)
        relay = _Relay(response, outcome, caller_usage)
        return EventStream(relay.events(), lambda: relay.close(finish))

    async def _send(self, target: Target, path: str, body: dict[str, Any]) -> tuple[str, httpx.Response]:
        tried: set[str] = set()
        while True:
            url = self._pick(target, tried)
            if url is None:
                raise NoReplicaAnswers(f"No replica of the deployment '{target.name}' answers now; retry shortly.")
            tried.add(url)
            req = self.client.build_request("POST", url + path, json=body, headers={KEY_HEADER: target.secret})
            try:
                return url, await self.client.send(req, stream=True)
            except (httpx.ConnectError, httpx.ConnectTimeout):
                self._release_slot(url)
                self.forget(target.deployment_id)
                continue  # a replica that just died: try another one
            except httpx.HTTPError as exc:
                self._release_slot(url)
                raise ReplicaFailed(
                    f"The replica of '{target.name}' failed before answering ({type(exc).__name__})."
                ) from None

    def _release_slot(self, url: str) -> None:
        with self._lock:
            self._in_flight[url] -= 1
            if self._in_flight[url] <= 0:
                del self._in_flight[url]

    async def _whole(self, request: Request, response: httpx.Response, outcome: Outcome) -> Response:
        reader = asyncio.ensure_future(response.aread())
        watcher = asyncio.ensure_future(watch_disconnect(request, reader.done, reader.cancel))
        try:
            data = await reader
        except asyncio.CancelledError:  # the caller went away
            outcome.failed = True
            return Response(status_code=499)
        except httpx.HTTPError:
            outcome.failed = True
            raise ReplicaFailed("The replica serving this deployment failed while answering; retry.") from None
        finally:
            watcher.cancel()
            await response.aclose()
        try:
            payload = json.loads(data)
        except ValueError:
            outcome.failed = True
            raise ReplicaFailed("The replica serving this deployment answered something that is not JSON.") from None
        if response.status_code >= 500 or response.status_code == 401:
            outcome.failed = True
        if response.status_code == 401:
            raise ReplicaFailed("The replica refused the hub's key (it belongs to another deployment); retry.")
        usage = payload.get("usage") if isinstance(payload, dict) else None
        _count(outcome, usage)
        headers = {k: v for k, v in response.headers.items() if k.lower() == "retry-after"}
        return JSONResponse(payload, status_code=response.status_code, headers=headers)


class _Relay:
    """The replica's event stream, passed on line by line."""

    def __init__(self, response: httpx.Response, outcome: Outcome, caller_usage: bool):
        self.response, self.outcome, self.caller_usage = response, outcome, caller_usage
        self.closed = False
        self._closing: asyncio.Future[None] | None = None

    async def events(self) -> AsyncIterator[bytes]:
        try:
            async for line in self.response.aiter_lines():
                if not line.startswith("data: "):
                    continue
                data = line[len("data: ") :]
                if data == "[DONE]":
                    yield DONE
                    return
                event = json.loads(data)
                if isinstance(event, dict) and event.get("usage") and not event.get("choices"):
                    _count(self.outcome, event["usage"])
                    if not self.caller_usage:
                        continue
                if isinstance(event, dict) and "error" in event:
                    self.outcome.failed = True
                yield sse(event)
            self.outcome.failed = True
            yield sse(error_body(ReplicaFailed("The replica serving this deployment ended the stream early.")))
        except (httpx.HTTPError, ValueError):
            self.outcome.failed = True
            yield sse(error_body(ReplicaFailed("The replica serving this deployment failed during the stream.")))
        finally:
            await self._aclose()

    async def _aclose(self) -> None:
        if not self.closed:
            self.closed = True
            await self.response.aclose()

    def close(self, finish: Callable[[], None]) -> None:
        """After the answer (or the caller) ended: close the upstream stream, record, charge."""
        if not self.closed:
            self._closing = asyncio.ensure_future(self._aclose())
        threading.Thread(target=finish, name="dazi-deployment-record", daemon=True).start()


def _actor_key(actor: Actor | None) -> object:
    """What ``may_call`` depends on, as a cache key."""
    if actor is None:
        return None
    return (actor.user_id, actor.is_admin, actor.token_role, tuple(sorted(actor.org_roles.items())))


def _count(outcome: Outcome, usage: Any) -> None:
    if isinstance(usage, dict):
        outcome.prompt_tokens = int(usage.get("prompt_tokens") or 0)
        outcome.completion_tokens = int(usage.get("completion_tokens") or 0)


def _check_engine(target: Target, path: str) -> None:
    endpoint = path
    if target.engine == EMBEDDING and path != "/v1/embeddings":
        raise UnsupportedModel(
            f"The model '{target.name}' is an embedding model (sentence-transformers), not a text-generation "
            f"model: call /v1/embeddings instead of {endpoint}."
        )
    if target.engine == TEXT_GENERATION and path == "/v1/embeddings":
        raise UnsupportedModel(
            f"The model '{target.name}' is a text-generation model; /v1/embeddings needs a sentence-transformers model."
        )
