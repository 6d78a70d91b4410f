"""Embeddings on CPU: a sentence-transformers model.

One call encodes at a time (``encode`` batches the inputs of a call, and uses every core for it); further
calls wait in line, at most ``max_queue`` of them, so a burst cannot pile up memory.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from dazi.inference.engines import EngineKind, EngineOptions, Overloaded
from dazi.inference.textgen import module_bytes


class SentenceTransformersEmbedder:
    kind: EngineKind = "embedding"

    def __init__(self, model: Any, options: EngineOptions):
        self.model = model
        self.options = options
        self.context_length = int(model.max_seq_length or 512)
        self.dimensions = int(model.get_embedding_dimension())
        self.memory_bytes = module_bytes(model)
        self._lock = threading.Lock()
        self._count = threading.Lock()
        self._waiting = 0
        self.requests_total = 0
        self.tokens_total = 0

    @classmethod
    def load(cls, path: Path, options: EngineOptions) -> SentenceTransformersEmbedder:
        from sentence_transformers import SentenceTransformer

        model = SentenceTransformer(str(path), device="cpu", local_files_only=True, trust_remote_code=False)
        model.eval()
        return cls(model, options)

    def count_tokens(self, texts: list[str]) -> list[int]:
        with self._lock:
            encoded = self.model.tokenizer(texts, add_special_tokens=True, truncation=False)
        return [len(ids) for ids in encoded["input_ids"]]

    def embed(self, texts: list[str]) -> list[list[float]]:
        with self._count:
            if self._waiting >= 1 + self.options.max_queue:
                raise Overloaded()
            self._waiting += 1
        try:
            with self._lock:
                vectors = self.model.encode(texts, batch_size=32, convert_to_numpy=True, show_progress_bar=False)
                self.requests_total += 1
        finally:
            with self._count:
                self._waiting -= 1
        return [[float(x) for x in row] for row in vectors]

    def stats(self) -> dict[str, Any]:
        with self._count:
            waiting = self._waiting
        return {"running": 1 if self._lock.locked() else 0, "queued": max(0, waiting - 1),
                "requests_total": self.requests_total, "tokens_total": self.tokens_total}

    def problem(self) -> str | None:
        return "the model was unloaded" if self.model is None else None

    def close(self) -> None:
        with self._lock:
            self.model = None
