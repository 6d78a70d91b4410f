"""Checking an OpenAI request against a loaded engine, and starting the work: shared by ``/v1`` (models
loaded in the API process, ``InferenceService``) and deployment replicas (``dazi.deployments.replica``).

Everything here is about the request and the engine only (context length, unsupported options, token ids,
the embedding dimensions); resolving the model and leasing its engine is the caller's business.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from dazi.inference.engines import (
    Embedder,
    Generation,
    NoChatTemplate,
    Overloaded,
    SamplingParams,
    TextGenerator,
)
from dazi.inference.errors import ContextLengthExceeded, InvalidParameter, ServiceBusy, UnsupportedModel
from dazi.inference.schemas import ChatRequest, CompletionRequest, EmbeddingRequest


@dataclass(frozen=True)
class Checked:
    """A generation request checked against an engine: ready to start."""

    engine: TextGenerator
    prompt_ids: list[int]
    params: SamplingParams


def check_chat(engine: TextGenerator, req: ChatRequest, name: str, has_chat: bool, max_new_tokens: int) -> Checked:
    req.check_supported()
    messages = req.plain_messages()
    if not has_chat:
        raise UnsupportedModel(f"The model '{name}' has no chat template: call /v1/completions with a prompt.")
    try:
        prompt = engine.chat_prompt(messages)
    except NoChatTemplate:
        raise UnsupportedModel(f"The model '{name}' has no chat template: use /v1/completions.") from None
    return Checked(engine, prompt, sampling(req, len(prompt), engine, req.asked_tokens(), "messages", max_new_tokens))


def check_completion(engine: TextGenerator, req: CompletionRequest, max_new_tokens: int) -> Checked:
    req.check_supported()
    prompt = prompt_ids(engine, req.prompt)
    return Checked(engine, prompt, sampling(req, len(prompt), engine, req.asked_tokens(), "prompt", max_new_tokens))


def prompt_ids(engine: TextGenerator, prompt: str | list[str] | list[int]) -> list[int]:
    if isinstance(prompt, str):
        return engine.encode(prompt)
    if prompt and all(isinstance(p, str) for p in prompt):
        return engine.encode(str(prompt[0]))
    ids = [int(p) for p in prompt]
    if not ids or not all(0 <= i < engine.vocab_size for i in ids):
        raise InvalidParameter(f"A prompt of token ids needs ids from 0 to {engine.vocab_size - 1}.", "prompt")
    return ids


def sampling(
    req: ChatRequest | CompletionRequest,
    prompt_len: int,
    engine: TextGenerator,
    asked: int | None,
    where: str,
    max_new_tokens: int,
) -> SamplingParams:
    ctx = engine.context_length
    if prompt_len >= ctx:
        raise ContextLengthExceeded(
            f"This model's maximum context length is {ctx} tokens. However, your {where} resulted in "
            f"{prompt_len} tokens. Please reduce the length of the {where}.",
            where,
        )
    if asked is not None and prompt_len + asked > ctx:
        raise ContextLengthExceeded(
            f"This model's maximum context length is {ctx} tokens. However, you requested {prompt_len + asked} "
            f"tokens ({prompt_len} in the {where}, {asked} in the completion). Please reduce the length of the "
            f"{where} or completion.",
            "max_tokens",
        )
    max_tokens = min(asked or ctx - prompt_len, ctx - prompt_len, max_new_tokens)
    return SamplingParams(
        max_tokens, req.temperature, req.top_p, req.seed, req.stop_list(), req.bias_list(engine.vocab_size)
    )


def start(checked: Checked, name: str, loop: asyncio.AbstractEventLoop) -> Generation:
    generation = Generation(loop)
    try:
        checked.engine.start(checked.prompt_ids, checked.params, generation)
    except Overloaded:
        raise ServiceBusy(
            f"Too many requests are waiting for '{name}' (DAZI_INFERENCE_MAX_QUEUE); retry shortly."
        ) from None
    return generation


def embedding_texts(req: EmbeddingRequest, max_inputs: int) -> list[str]:
    texts = req.texts()
    if len(texts) > max_inputs:
        raise InvalidParameter(f"At most {max_inputs} inputs per request (DAZI_INFERENCE_MAX_INPUTS).", "input")
    return texts


def check_embedding(engine: Embedder, req: EmbeddingRequest, texts: list[str], name: str) -> list[int]:
    """The token count of each input, once the request fits the engine."""
    if req.dimensions is not None and req.dimensions != engine.dimensions:
        raise InvalidParameter(
            f"The model '{name}' makes {engine.dimensions}-dimensional embeddings; dimensions cannot be changed.",
            "dimensions",
            "unsupported_value",
        )
    counts = engine.count_tokens(texts)
    for i, count in enumerate(counts):
        if count > engine.context_length:
            raise ContextLengthExceeded(
                f"This model's maximum context length is {engine.context_length} tokens, however input "
                f"[{i}] has {count} tokens. Please reduce the length of the input.",
                "input",
            )
    return counts


def embed(engine: Embedder, texts: list[str], name: str) -> list[list[float]]:
    """Blocking: run it off the event loop."""
    try:
        return engine.embed(texts)
    except Overloaded:
        raise ServiceBusy(f"Too many requests are waiting for '{name}'; retry shortly.") from None
