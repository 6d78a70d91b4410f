"""Model as a Service: resolve the model, lease its engine, check the request against it, start the work.

``InferenceService`` is made once per app (``app.state.inference``). Its blocking methods (``prepare_*``,
``embed``: they may materialize a snapshot and load a model) run off the event loop. A prepared
generation holds a lease on its engine until ``finish`` — the engine cannot be unloaded under a running
request, and the memory budget counts it as in use.
"""

from __future__ import annotations

import asyncio
import base64
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dazi.accounts.services import Actor
from dazi.config import Settings
from dazi.hub import Hub
from dazi.inference import checks
from dazi.inference.catalog import Catalog, ModelRef
from dazi.inference.checks import Checked
from dazi.inference.engines import (
    EMBEDDING,
    TEXT_GENERATION,
    Embedder,
    Engine,
    EngineOptions,
    Generation,
    TextGenerator,
    load_engine,
)
from dazi.inference.errors import ServiceBusy, UnsupportedModel
from dazi.inference.pool import Lease, ModelPool, ModelTooLarge, PoolBusy
from dazi.inference.schemas import ChatRequest, CompletionRequest, EmbeddingRequest
from dazi.inference.snapshots import materialize


@dataclass
class Prepared:
    """A checked generation request on a leased engine (release the lease when the request ends)."""

    ref: ModelRef
    lease: Lease
    checked: Checked

    @property
    def prompt_ids(self) -> list[int]:
        return self.checked.prompt_ids


@dataclass(frozen=True)
class Embeddings:
    ref: ModelRef
    data: list[Any]  # vectors (lists of floats) or base64 strings
    prompt_tokens: int


def cache_dir(settings: Settings) -> Path:
    return settings.inference_cache_dir or settings.data_dir / "inference-cache"


def engine_options(settings: Settings) -> EngineOptions:
    return EngineOptions(settings.inference_max_batch_size, settings.inference_max_queue)


class InferenceService:
    def __init__(self, hub: Hub, settings: Settings | None = None):
        self.hub = hub
        self.settings = settings or hub.settings
        self.catalog = Catalog(hub)
        self.pool = ModelPool(self.settings.inference_max_memory)
        self.options = engine_options(self.settings)

    def close(self) -> None:
        self.pool.close()

    # -- models ------------------------------------------------------------------------------------

    def resolve(self, actor: Actor | None, model: str, want: str, endpoint: str) -> ModelRef:
        ref = self.catalog.resolve(actor, model)
        engine = ref.detection.engine
        if engine == want:
            return ref
        if engine is None:
            raise UnsupportedModel(f"The model '{ref.name}' cannot be served: {ref.detection.reason}.")
        if engine == EMBEDDING:
            raise UnsupportedModel(
                f"The model '{ref.name}' is an embedding model (sentence-transformers), not a text-generation "
                f"model: call /v1/embeddings instead of {endpoint}."
            )
        raise UnsupportedModel(
            f"The model '{ref.name}' is a text-generation model; {endpoint} needs a sentence-transformers model."
        )

    def lease(self, ref: ModelRef) -> Lease:
        def load() -> Engine:
            path = materialize(self.hub, cache_dir(self.settings), ref.repo_pk, ref.commit, list(ref.detection.files))
            return load_engine(str(ref.detection.engine), path, self.options)

        try:
            return self.pool.acquire((ref.repo_pk, ref.commit), max(ref.detection.weight_bytes, 1), load)
        except ModelTooLarge as exc:
            raise UnsupportedModel(
                f"The model '{ref.name}' needs about {exc.needed / 2**30:.1f} GiB, more than this hub's inference "
                f"memory budget ({exc.budget / 2**30:.1f} GiB, DAZI_INFERENCE_MAX_MEMORY)."
            ) from None
        except PoolBusy:
            raise ServiceBusy("Every loaded model is busy and there is no memory to load another now.", 5) from None

    def status(self, ref: ModelRef) -> dict[str, Any]:
        return self.pool.status((ref.repo_pk, ref.commit)) or {"loaded": False}

    # -- generation --------------------------------------------------------------------------------
    # Resolving and leasing (above) is separate from checking the request against the engine and starting
    # it (``checks``): deployment replicas do the second part on the engine they hold.

    def prepare_chat(self, actor: Actor, req: ChatRequest) -> Prepared:
        req.check_supported()
        req.plain_messages()
        ref = self.resolve(actor, req.model, TEXT_GENERATION, "/v1/chat/completions")
        if not ref.detection.chat:
            raise UnsupportedModel(f"The model '{ref.name}' has no chat template: call /v1/completions with a prompt.")
        lease = self.lease(ref)
        try:
            engine: TextGenerator = lease.engine  # type: ignore[assignment]
            checked = checks.check_chat(engine, req, ref.name, True, self.settings.inference_max_new_tokens)
            return Prepared(ref, lease, checked)
        except BaseException:
            lease.release()
            raise

    def prepare_completion(self, actor: Actor, req: CompletionRequest) -> Prepared:
        req.check_supported()
        ref = self.resolve(actor, req.model, TEXT_GENERATION, "/v1/completions")
        lease = self.lease(ref)
        try:
            engine: TextGenerator = lease.engine  # type: ignore[assignment]
            checked = checks.check_completion(engine, req, self.settings.inference_max_new_tokens)
            return Prepared(ref, lease, checked)
        except BaseException:
            lease.release()
            raise

    def start(self, prepared: Prepared, loop: asyncio.AbstractEventLoop) -> Generation:
        return checks.start(prepared.checked, prepared.ref.name, loop)

    # -- embeddings --------------------------------------------------------------------------------

    def embed(self, actor: Actor, req: EmbeddingRequest) -> Embeddings:
        texts = checks.embedding_texts(req, self.settings.inference_max_inputs)
        ref = self.resolve(actor, req.model, EMBEDDING, "/v1/embeddings")
        lease = self.lease(ref)
        try:
            engine: Embedder = lease.engine  # type: ignore[assignment]
            counts = checks.check_embedding(engine, req, texts, ref.name)
            vectors = checks.embed(engine, texts, ref.name)
        finally:
            lease.release()
        return Embeddings(ref, encode_vectors(vectors, req.encoding_format), sum(counts))


def encode_vectors(vectors: list[list[float]], encoding_format: str) -> list[Any]:
    return list(vectors) if encoding_format == "float" else [_b64(v) for v in vectors]


def _b64(vector: list[float]) -> str:
    return base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode()
