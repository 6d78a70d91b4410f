"""The engine interface: what ``/v1`` needs from something that runs a model.

Two kinds: a ``TextGenerator`` (chat and completions) and an ``Embedder``. The CPU implementations are
``textgen.TransformersGenerator`` (a transformers causal LM with a batching decode loop) and
``embeddings.SentenceTransformersEmbedder``. Other engines plug in behind the same interface: a vLLM
engine on GPU machines (chosen in ``load_engine`` when ``torch.cuda.is_available()`` and vllm imports),
or, for deployments, a proxy to a replica (a worker process, or a Ray Serve deployment) that implements
``start`` by forwarding the request and relaying its events.

Engines are thread-safe: ``start`` only queues a request; results flow back through a ``Generation``,
which hands events from the engine's thread to the event loop that waits for them.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Protocol

TEXT_GENERATION = "text-generation"
EMBEDDING = "embedding"
EngineKind = Literal["text-generation", "embedding"]


class Overloaded(Exception):
    """The model's queue is full."""


class NoChatTemplate(Exception):
    """The tokenizer has no chat template."""


@dataclass(frozen=True)
class SamplingParams:
    max_tokens: int
    temperature: float = 1.0
    top_p: float = 1.0
    seed: int | None = None
    stop: tuple[str, ...] = ()
    logit_bias: tuple[tuple[int, float], ...] = ()  # (token id, bias added to its logit)


@dataclass(frozen=True)
class Delta:
    text: str


@dataclass(frozen=True)
class Finished:
    reason: str  # "stop" | "length"
    completion_tokens: int


@dataclass(frozen=True)
class Failed:
    message: str
    completion_tokens: int = 0


Event = Delta | Finished | Failed


class Generation:
    """One request's events, from the engine's thread to the event loop; ``cancel`` stops the request."""

    def __init__(self, loop: asyncio.AbstractEventLoop):
        self._loop = loop
        self._queue: asyncio.Queue[Event] = asyncio.Queue()
        self.cancelled = threading.Event()
        self.completion_tokens = 0  # generated so far (also after a cancel: what the engine computed)

    def emit(self, event: Event) -> None:
        """Called by the engine, from any thread."""
        try:
            self._loop.call_soon_threadsafe(self._queue.put_nowait, event)
        except RuntimeError:  # the loop is closed: nobody is listening any more
            self.cancelled.set()

    def cancel(self) -> None:
        self.cancelled.set()

    async def events(self) -> AsyncIterator[Event]:
        while True:
            event = await self._queue.get()
            yield event
            if not isinstance(event, Delta):
                return


class TextGenerator(Protocol):
    kind: EngineKind
    context_length: int
    memory_bytes: int
    vocab_size: int

    def chat_prompt(self, messages: list[dict[str, str]]) -> list[int]:
        """Render messages with the chat template and tokenize; raises NoChatTemplate."""

    def encode(self, text: str) -> list[int]: ...

    def start(self, prompt_ids: list[int], params: SamplingParams, generation: Generation) -> None:
        """Queue a request (raises Overloaded); events go to ``generation``."""

    def stats(self) -> dict[str, Any]: ...

    def problem(self) -> str | None:
        """Why the engine cannot answer any more (its decode thread died, it was closed), or None."""

    def close(self) -> None: ...


class Embedder(Protocol):
    kind: EngineKind
    context_length: int
    memory_bytes: int
    dimensions: int

    def count_tokens(self, texts: list[str]) -> list[int]: ...

    def embed(self, texts: list[str]) -> list[list[float]]:
        """Blocking (call it off the event loop); raises Overloaded when too many calls wait."""

    def stats(self) -> dict[str, Any]: ...

    def problem(self) -> str | None:
        """Why the engine cannot answer any more (it was closed), or None."""

    def close(self) -> None: ...


Engine = TextGenerator | Embedder


@dataclass(frozen=True)
class EngineOptions:
    max_batch_size: int = 16
    max_queue: int = 64


def load_engine(kind: str, path: Path, options: EngineOptions) -> Engine:
    """Load the engine for ``kind`` from a materialized snapshot, on CPU. (A vLLM engine would be chosen
    here for text generation when a GPU is present; it is not part of this release.)"""
    if kind == TEXT_GENERATION:
        from dazi.inference.textgen import TransformersGenerator

        return TransformersGenerator.load(path, options)
    if kind == EMBEDDING:
        from dazi.inference.embeddings import SentenceTransformersEmbedder

        return SentenceTransformersEmbedder.load(path, options)
    raise ValueError(f"unknown engine kind {kind!r}")
