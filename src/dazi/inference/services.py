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
from dazi.inference.catalog import Catalog, ModelRef
from dazi.inference.engines import (
    EMBEDDING,
    TEXT_GENERATION,
    Embedder,
    Engine,
    EngineOptions,
    Generation,
    NoChatTemplate,
    Overloaded,
    SamplingParams,
    TextGenerator,
    load_engine,
)
from dazi.inference.errors import ContextLengthExceeded, InvalidParameter, ServiceBusy, UnsupportedModel
from dazi.inference.pool import Lease, ModelPool, ModelTooLarge, PoolBusy
from dazi.inference.schemas import ChatRequest, CompletionRequest, EmbeddingRequest
from dazi.inference.snapshots import materialize


@dataclass
class Prepared:
    ref: ModelRef
    lease: Lease
    engine: TextGenerator
    prompt_ids: list[int]
    params: SamplingParams


@dataclass(frozen=True)
class Embeddings:
    ref: ModelRef
    data: list[Any]  # vectors (lists of floats) or base64 strings
    prompt_tokens: int


def cache_dir(settings: Settings) -> Path:
    return settings.inference_cache_dir or settings.data_dir / "inference-cache"


class InferenceService:
    def __init__(self, hub: Hub, settings: Settings | None = None):
        self.hub = hub
        self.settings = settings or hub.settings
        self.catalog = Catalog(hub)
        self.pool = ModelPool(self.settings.inference_max_memory)
        self.options = EngineOptions(self.settings.inference_max_batch_size, self.settings.inference_max_queue)

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

    def prepare_chat(self, actor: Actor, req: ChatRequest) -> Prepared:
        req.check_supported()
        messages = req.plain_messages()
        ref = self.resolve(actor, req.model, TEXT_GENERATION, "/v1/chat/completions")
        if not ref.detection.chat:
            raise UnsupportedModel(f"The model '{ref.name}' has no chat template: call /v1/completions with a prompt.")
        lease = self.lease(ref)
        try:
            engine: TextGenerator = lease.engine  # type: ignore[assignment]
            try:
                prompt = engine.chat_prompt(messages)
            except NoChatTemplate:
                raise UnsupportedModel(f"The model '{ref.name}' has no chat template: use /v1/completions.") from None
            params = self._sampling(req, len(prompt), engine, req.asked_tokens(), "messages")
            return Prepared(ref, lease, engine, prompt, params)
        except BaseException:
            lease.release()
            raise

    def prepare_completion(self, actor: Actor, req: CompletionRequest) -> Prepared:
        req.check_supported()
        ref = self.resolve(actor, req.model, TEXT_GENERATION, "/v1/completions")
        lease = self.lease(ref)
        try:
            engine: TextGenerator = lease.engine  # type: ignore[assignment]
            prompt = self._prompt_ids(engine, req.prompt)
            params = self._sampling(req, len(prompt), engine, req.asked_tokens(), "prompt")
            return Prepared(ref, lease, engine, prompt, params)
        except BaseException:
            lease.release()
            raise

    @staticmethod
    def _prompt_ids(engine: TextGenerator, prompt: str | list[str] | list[int]) -> list[int]:
        if isinstance(prompt, str):
            return engine.encode(prompt)
        if prompt and all(isinstance(p, str) for p in prompt):
            return engine.encode(str(prompt[0]))
        ids = [int(p) for p in prompt]
        if not ids or not all(0 <= i < engine.vocab_size for i in ids):
            raise InvalidParameter(f"A prompt of token ids needs ids from 0 to {engine.vocab_size - 1}.", "prompt")
        return ids

    def _sampling(
        self, req: ChatRequest | CompletionRequest, prompt_len: int, engine: TextGenerator, asked: int | None,
        where: str,
    ) -> SamplingParams:
        ctx = engine.context_length
        if prompt_len >= ctx:
            raise ContextLengthExceeded(
                f"This model's maximum context length is {ctx} tokens. However, your {where} resulted in "
                f"{prompt_len} tokens. Please reduce the length of the {where}.", where
            )
        if asked is not None and prompt_len + asked > ctx:
            raise ContextLengthExceeded(
                f"This model's maximum context length is {ctx} tokens. However, you requested {prompt_len + asked} "
                f"tokens ({prompt_len} in the {where}, {asked} in the completion). Please reduce the length of the "
                f"{where} or completion.", "max_tokens"
            )
        max_tokens = min(asked or ctx - prompt_len, ctx - prompt_len, self.settings.inference_max_new_tokens)
        return SamplingParams(max_tokens, req.temperature, req.top_p, req.seed, req.stop_list(),
                              req.bias_list(engine.vocab_size))

    def start(self, prepared: Prepared, loop: asyncio.AbstractEventLoop) -> Generation:
        generation = Generation(loop)
        try:
            prepared.engine.start(prepared.prompt_ids, prepared.params, generation)
        except Overloaded:
            raise ServiceBusy(
                f"Too many requests are waiting for '{prepared.ref.name}' (DAZI_INFERENCE_MAX_QUEUE); retry shortly."
            ) from None
        return generation

    # -- embeddings --------------------------------------------------------------------------------

    def embed(self, actor: Actor, req: EmbeddingRequest) -> Embeddings:
        texts = req.texts()
        if len(texts) > self.settings.inference_max_inputs:
            raise InvalidParameter(
                f"At most {self.settings.inference_max_inputs} inputs per request (DAZI_INFERENCE_MAX_INPUTS).", "input"
            )
        ref = self.resolve(actor, req.model, EMBEDDING, "/v1/embeddings")
        lease = self.lease(ref)
        try:
            engine: Embedder = lease.engine  # type: ignore[assignment]
            if req.dimensions is not None and req.dimensions != engine.dimensions:
                raise InvalidParameter(
                    f"The model '{ref.name}' makes {engine.dimensions}-dimensional embeddings; dimensions cannot "
                    "be changed.", "dimensions", "unsupported_value"
                )
            counts = engine.count_tokens(texts)
            for i, count in enumerate(counts):
                if count > engine.context_length:
                    raise ContextLengthExceeded(
                        f"This model's maximum context length is {engine.context_length} tokens, however input "
                        f"[{i}] has {count} tokens. Please reduce the length of the input.", "input"
                    )
            try:
                vectors = engine.embed(texts)
            except Overloaded:
                raise ServiceBusy(f"Too many requests are waiting for '{ref.name}'; retry shortly.") from None
        finally:
            lease.release()
        data: list[Any] = vectors if req.encoding_format == "float" else [_b64(v) for v in vectors]
        return Embeddings(ref, data, sum(counts))


def _b64(vector: list[float]) -> str:
    return base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode()
