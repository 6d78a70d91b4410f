"""The ``model.prepare`` job: make a model revision ready for ``/v1`` and report what it takes.

It materializes the snapshot into the inference cache (so the first API request does not pay for it),
loads the model with the engine ``/v1`` would choose, runs a short warm-up, and records the engine,
the parameter memory, the context length and the measured speed. A model that cannot be served fails
the job with the reason.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from sqlalchemy.orm import Session

from dazi.accounts.services import Actor
from dazi.errors import BadRequest
from dazi.inference.catalog import Catalog
from dazi.inference.engines import (
    EMBEDDING,
    Delta,
    Embedder,
    EngineOptions,
    Failed,
    Generation,
    SamplingParams,
    TextGenerator,
    load_engine,
)
from dazi.inference.services import cache_dir
from dazi.inference.snapshots import materialize
from dazi.jobs.builtin import resolve_repo_payload
from dazi.jobs.context import JobContext, JobFailed
from dazi.repos.models import Repo

WARMUP_TOKENS = 16


def prepare_model_payload(session: Session, actor: Actor, payload: dict[str, Any]) -> dict[str, Any]:
    if payload.get("repo_type", "model") != "model":
        raise BadRequest("model.prepare works on model repos only.")
    return resolve_repo_payload(session, actor, {**payload, "repo_type": "model"})


def prepare_model(ctx: JobContext, payload: dict[str, Any]) -> dict[str, Any]:
    hub, repo_pk, commit = ctx.hub, int(payload["repo_pk"]), str(payload["commit"])
    with hub.db.read() as session:
        repo = session.get(Repo, repo_pk)
        if repo is None:
            raise JobFailed(f"The repo {payload['repo_id']} no longer exists.")
        detection = Catalog(hub).detect(session, repo, commit)
    if detection.engine is None:
        raise JobFailed(f"{payload['repo_id']} cannot be served by /v1: {detection.reason}.",
                        {"engine": None, "reason": detection.reason})
    ctx.log(f"{payload['repo_id']} at {commit[:12]}: engine {detection.engine}, chat template: {detection.chat}")
    ctx.progress(0.05, "materializing the snapshot")
    started = time.monotonic()
    path = materialize(hub, cache_dir(hub.settings), repo_pk, commit, list(detection.files))
    size = sum(f.size for f in detection.files)
    ctx.log(f"snapshot of {len(detection.files)} files ({size} bytes) ready in {time.monotonic() - started:.2f} s")
    ctx.progress(0.4, "loading the model")
    started = time.monotonic()
    engine = load_engine(detection.engine, path, EngineOptions(max_batch_size=1, max_queue=1))
    load_seconds = time.monotonic() - started
    ctx.log(f"loaded in {load_seconds:.2f} s: {engine.memory_bytes} bytes of parameters, "
            f"context {engine.context_length} tokens")
    ctx.progress(0.8, "warming up")
    try:
        embedder = engine.kind == EMBEDDING
        warmup = _warm_embedder(engine) if embedder else _warm_generator(engine)  # type: ignore[arg-type]
    finally:
        engine.close()
    ctx.log(f"warm-up: {warmup}")
    return {"repo_id": payload["repo_id"], "commit": commit, "engine": detection.engine, "chat": detection.chat,
            "memory_bytes": engine.memory_bytes, "context_length": engine.context_length,
            "load_seconds": round(load_seconds, 3), "warmup": warmup}


def _warm_embedder(engine: Embedder) -> dict[str, Any]:
    started = time.monotonic()
    vectors = engine.embed(["a warm-up sentence for the model", "another one"])
    return {"dimensions": len(vectors[0]), "seconds": round(time.monotonic() - started, 3)}


def _warm_generator(engine: TextGenerator) -> dict[str, Any]:
    async def run() -> dict[str, Any]:
        generation = Generation(asyncio.get_running_loop())
        started = time.monotonic()
        engine.start(engine.encode("Hello"), SamplingParams(max_tokens=WARMUP_TOKENS, temperature=0.0), generation)
        async for event in generation.events():
            if isinstance(event, Failed):
                raise JobFailed(f"the warm-up generation failed: {event.message}")
            if isinstance(event, Delta):
                continue
        seconds = time.monotonic() - started
        tokens = generation.completion_tokens
        return {"tokens": tokens, "seconds": round(seconds, 3), "tokens_per_second": round(tokens / seconds, 1)}

    return asyncio.run(run())
