"""The replica app: one deployment's model served over HTTP, for the API to proxy to.

The contract (``backends.py``), shared by the local and the Ray Serve backend:

- ``load_replica_model(settings, spec)`` opens the hub from the settings, materializes the revision into
  the inference cache and loads its engine (blocking; raises on failure);
- ``create_replica_app(model, secret)`` serves ``GET /healthz`` (200 while the engine can answer; 503
  with ``{"status": "unavailable", "reason": …}`` once it cannot: its decode thread died, it was closed)
  and ``POST /v1/chat/completions``, ``/v1/completions``, ``/v1/embeddings`` for that one model, with
  exactly the request checks, answers and stream of ``/v1`` (``dazi.inference.checks`` and
  ``dazi.inference.answers``). Calls without ``X-Dazi-Replica-Key: <secret>`` get 401. The model is not
  resolved here: the API did that (and checked who may call) before proxying; ``model`` in the body is
  only echoed.

``run_local_replica`` is the entry point of a local replica process (``local.py``).
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import os
import socket
import threading
import time
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response

from dazi.blobstore.interfaces import BlobNotFound
from dazi.config import Settings
from dazi.deployments.backends import ReplicaSpec
from dazi.deps import json_body
from dazi.errors import BadRequest, DaziError, Unauthorized
from dazi.inference import checks
from dazi.inference.answers import respond
from dazi.inference.engines import EMBEDDING, TEXT_GENERATION, Embedder, Engine, TextGenerator
from dazi.inference.errors import InternalError, UnsupportedModel, error_response
from dazi.inference.schemas import ChatRequest, CompletionRequest, EmbeddingRequest, parse
from dazi.inference.services import cache_dir, encode_vectors, engine_options
from dazi.inference.wire import Shape

log = logging.getLogger("dazi.deployments")
KEY_HEADER = "X-Dazi-Replica-Key"


@dataclass
class ReplicaModel:
    spec: ReplicaSpec
    engine: Engine
    chat: bool  # the revision has a chat template
    max_new_tokens: int
    max_inputs: int
    closed: bool = False

    def problem(self) -> str | None:
        """Why this replica cannot answer any more, or None while it can."""
        if self.closed:
            return "the replica was closed"
        return self.engine.problem()

    def close(self) -> None:
        self.closed = True
        self.engine.close()


class RevisionGone(LookupError):
    """The deployment's commit (or a file of it) is no longer in the hub's storage. (One message argument,
    so that it pickles: Ray passes a replica's constructor error on.)"""


def _gone(spec: ReplicaSpec, missing: BaseException) -> RevisionGone:
    what = missing.args[0] if isinstance(missing, KeyError) and missing.args else missing
    detail = "" if str(what) == spec.commit else f" (missing: {what})"
    return RevisionGone(f"revision {spec.commit} of {spec.repo_id} is no longer in the hub{detail}")


def load_replica_model(settings: Settings, spec: ReplicaSpec) -> ReplicaModel:
    """Materialize ``spec.commit`` from the hub's own storage and load its engine (blocking)."""
    from dazi.hub import Hub
    from dazi.inference.catalog import Catalog
    from dazi.inference.engines import load_engine
    from dazi.inference.snapshots import materialize
    from dazi.repos.models import Repo

    hub = Hub.open(settings, run_migrations=False)
    try:
        with hub.db.read() as session:
            repo = session.get(Repo, spec.repo_pk)
            if repo is None:
                raise LookupError(f"the model repo {spec.repo_id} no longer exists")
            try:
                detection = Catalog(hub).detect(session, repo, spec.commit)
            except KeyError as exc:  # the commit, a tree or a blob of it is not in the object store
                raise _gone(spec, exc) from None
        if detection.engine != spec.engine:
            raise ValueError(
                f"{spec.repo_id}@{spec.commit[:12]} is no longer a {spec.engine} model: {detection.reason}"
            )
        try:
            path = materialize(hub, cache_dir(settings), spec.repo_pk, spec.commit, list(detection.files))
        except (KeyError, BlobNotFound) as exc:  # a file's content is gone (a git object, an LFS blob)
            raise _gone(spec, exc) from None
    finally:
        hub.close()
    from transformers.utils import logging as transformers_logging

    transformers_logging.disable_progress_bar()  # type: ignore[no-untyped-call]  # a server log, not a terminal
    engine = load_engine(spec.engine, path, engine_options(settings))
    return ReplicaModel(spec, engine, detection.chat, settings.inference_max_new_tokens, settings.inference_max_inputs)


def create_replica_app(model: ReplicaModel, secret: str) -> FastAPI:
    app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)
    app.state.replica = _Replica(model, secret)
    app.add_exception_handler(DaziError, _dazi_error)  # type: ignore[arg-type]
    app.add_exception_handler(RequestValidationError, _invalid)  # type: ignore[arg-type]
    app.add_exception_handler(Exception, _unexpected)
    app.add_api_route("/healthz", _healthz, methods=["GET"])
    app.add_api_route("/v1/chat/completions", _chat_completions, methods=["POST"])
    app.add_api_route("/v1/completions", _completions, methods=["POST"])
    app.add_api_route("/v1/embeddings", _embeddings, methods=["POST"])
    return app


@dataclass
class _Replica:
    model: ReplicaModel
    secret: str


def _replica(request: Request, authorize: bool = True) -> ReplicaModel:
    """The app's model, once the caller proved it is the hub (``X-Dazi-Replica-Key``)."""
    replica: _Replica = request.app.state.replica
    given = request.headers.get(KEY_HEADER, "")
    if authorize and not hmac.compare_digest(given.encode(), replica.secret.encode()):
        raise Unauthorized(
            f"This is a replica of the deployment '{replica.model.spec.name}': call it through the hub's /v1."
        )
    return replica.model


async def _dazi_error(request: Request, exc: DaziError) -> Response:
    return error_response(request, exc)


async def _invalid(request: Request, exc: RequestValidationError) -> Response:
    return error_response(request, BadRequest(f"Invalid request: {exc.errors()[:3]}"))


async def _unexpected(request: Request, exc: Exception) -> Response:
    log.exception("replica: unhandled error on %s", request.url.path)
    return error_response(request, InternalError("The replica had an error while processing the request."))


def _healthz(request: Request) -> Response:
    """200 while the engine can answer; 503 with the reason once it cannot, so that Ray Serve's health
    check (``check_health``) replaces the replica."""
    model = _replica(request, authorize=False)
    about = {"deployment": model.spec.name, "commit": model.spec.commit}
    problem = model.problem()
    if problem is not None:
        return JSONResponse({"status": "unavailable", "reason": problem, **about}, status_code=503)
    return JSONResponse({"status": "ok", **about, "stats": model.engine.stats()})


def _generator(model: ReplicaModel, endpoint: str) -> TextGenerator:
    if model.spec.engine != TEXT_GENERATION:
        raise UnsupportedModel(
            f"The model '{model.spec.name}' is an embedding model (sentence-transformers), not a "
            f"text-generation model: call /v1/embeddings instead of {endpoint}."
        )
    return model.engine  # type: ignore[return-value]


async def _chat_completions(request: Request) -> Response:
    return await _generate(request, chat=True)


async def _completions(request: Request) -> Response:
    return await _generate(request, chat=False)


async def _generate(request: Request, chat: bool) -> Response:
    model = _replica(request)
    spec = model.spec
    body = await json_body(request)
    if chat:
        chat_req = parse(ChatRequest, body)
        req: ChatRequest | CompletionRequest = chat_req
        engine = _generator(model, "/v1/chat/completions")
        checked = await asyncio.to_thread(
            checks.check_chat, engine, chat_req, spec.name, model.chat, model.max_new_tokens
        )
    else:
        req = parse(CompletionRequest, body)
        engine = _generator(model, "/v1/completions")
        checked = await asyncio.to_thread(checks.check_completion, engine, req, model.max_new_tokens)
    generation = checks.start(checked, spec.name, asyncio.get_running_loop())
    shape = Shape(chat=chat, model=req.model, fingerprint=f"fp_{spec.commit[:12]}")
    return await respond(
        request, generation, shape, len(checked.prompt_ids), req.stream, req.include_usage, generation.cancel
    )


async def _embeddings(request: Request) -> Response:
    model = _replica(request)
    spec = model.spec
    req = parse(EmbeddingRequest, await json_body(request))
    if spec.engine != EMBEDDING:
        raise UnsupportedModel(
            f"The model '{spec.name}' is a text-generation model; /v1/embeddings needs a sentence-transformers model."
        )
    engine: Embedder = model.engine  # type: ignore[assignment]
    texts = checks.embedding_texts(req, model.max_inputs)

    def run() -> tuple[list[int], list[list[float]]]:
        counts = checks.check_embedding(engine, req, texts, spec.name)
        return counts, checks.embed(engine, texts, spec.name)

    counts, vectors = await asyncio.to_thread(run)
    data = [
        {"object": "embedding", "index": i, "embedding": v}
        for i, v in enumerate(encode_vectors(vectors, req.encoding_format))
    ]
    usage = {"prompt_tokens": sum(counts), "total_tokens": sum(counts)}
    return JSONResponse({"object": "list", "data": data, "model": req.model, "usage": usage})


# -- the local replica process ----------------------------------------------------------------------


def run_local_replica(settings_values: dict[str, Any], spec: ReplicaSpec, conn: Any) -> None:
    """Entry point of a local replica process: load the model, bind a loopback port, report
    ``("ready", url, pid)`` (or ``("error", message, pid)``) on ``conn``, and serve until SIGTERM. The
    process exits when its parent (the forkserver, which ends with the server) disappears."""
    import uvicorn

    parent = os.getppid()
    threading.Thread(target=_watch_parent, args=(parent,), daemon=True, name="dazi-parent-watch").start()
    try:
        _share_cores(spec.replicas)
        model = load_replica_model(Settings(**settings_values), spec)
        app = create_replica_app(model, spec.secret)
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        sock.listen(128)
    except BaseException as exc:
        conn.send(("error", f"{type(exc).__name__}: {exc}"[:2000], os.getpid()))
        raise SystemExit(1) from None
    host, port = sock.getsockname()[:2]
    config = uvicorn.Config(
        app, log_level="warning", access_log=False, lifespan="off", timeout_graceful_shutdown=5, timeout_keep_alive=30
    )
    server = uvicorn.Server(config)
    conn.send(("ready", f"http://{host}:{port}", os.getpid()))
    try:
        server.run(sockets=[sock])
    finally:
        model.close()


def _share_cores(replicas: int) -> None:
    """The replicas of a deployment share this machine's cores: each takes its share of torch's intra-op
    threads (set when it starts), so that N replicas do not run N × cores OpenMP threads spinning against
    each other — which made 2 replicas on 2 cores 8× slower than one (docs/benchmarks.md)."""
    import torch

    torch.set_num_threads(max(1, (os.cpu_count() or 1) // max(1, replicas)))


def _watch_parent(parent_pid: int) -> None:
    while True:
        time.sleep(0.5)
        if os.getppid() != parent_pid:
            os._exit(70)
