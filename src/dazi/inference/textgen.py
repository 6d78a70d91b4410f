"""Text generation on CPU: a transformers causal LM behind a batching decode loop.

One thread per loaded model owns the model. Requests wait in a bounded queue; the thread takes up to
``max_batch_size`` of them, pads their prompts on the left, runs one prefill and then one decode step
for the whole batch at a time, with a KV cache (``batch.py``). Each row has its own sampling parameters
(temperature, top_p, a ``torch.Generator`` seeded from ``seed``, logit_bias), stop strings and token limit.
A row that finishes, or whose client went away, leaves the batch at the next step; requests that arrive
while a batch runs join it at the next step while there is room (continuous batching: their prefill is
merged into the running cache). When the thread is idle and the last batch had several rows, it waits
up to 3 ms for as many requests again (clients answered together come back a few milliseconds apart).

Greedy decoding gives the same tokens as ``model.generate(do_sample=False)``; batching a request with
others can change floating-point rounding, so seeded sampling is reproducible for the same batch only
(as with OpenAI, ``seed`` is best effort).
"""

from __future__ import annotations

import inspect
import logging
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dazi.inference.batch import Batch
from dazi.inference.engines import (
    Delta,
    EngineKind,
    EngineOptions,
    Failed,
    Finished,
    Generation,
    NoChatTemplate,
    Overloaded,
    SamplingParams,
)

log = logging.getLogger("dazi.inference")
DEFAULT_CONTEXT = 2048
GATHER_SECONDS = 0.003


class TextStream:
    """Incremental detokenization of one request, with stop strings held back until they cannot match.

    Each step decodes only a short window of tokens (from the last clean boundary), as vLLM and TGI do,
    so a long answer costs linear time; a window that ends inside a multi-byte character waits for more.
    """

    def __init__(self, decode: Callable[[list[int]], str], stop: tuple[str, ...]):
        self._decode = decode
        self.stop = tuple(s for s in stop if s)
        self.hold = max((len(s) for s in self.stop), default=1) - 1
        self.ids: list[int] = []
        self._prefix = 0  # the window starts here (a clean boundary)
        self._read = 0  # tokens before this are in ``text``
        self.text = ""
        self.sent = 0
        self.stopped = False

    def _delta(self, final: bool) -> str:
        before = self._decode(self.ids[self._prefix : self._read])
        after = self._decode(self.ids[self._prefix :])
        if len(after) <= len(before) or (after.endswith("\ufffd") and not final):
            return ""
        self._prefix, self._read = self._read, len(self.ids)
        return after[len(before) :]

    def push(self, token_id: int) -> None:
        self.ids.append(token_id)
        self._add(self._delta(final=False))

    def _add(self, delta: str) -> None:
        if not delta or self.stopped:
            return
        text = self.text + delta
        hits = [i for s in self.stop if (i := text.find(s, self.sent)) >= 0]
        if hits:
            text = text[: min(hits)]
            self.stopped = True
        self.text = text

    def take(self, final: bool = False) -> str:
        if final:
            self._add(self._delta(final=True))
        # unless done, hold back what a stop string could still start with
        end = len(self.text) if final or self.stopped else max(self.sent, len(self.text) - self.hold)
        chunk = self.text[self.sent : end]
        self.sent = max(self.sent, end)
        return chunk


@dataclass
class _Row:
    prompt: list[int]
    params: SamplingParams
    generation: Generation
    stream: TextStream
    rng: Any  # torch.Generator
    count: int = 0
    done: bool = field(default=False)


def sample_one(logits: Any, params: SamplingParams, rng: Any) -> int:
    import torch

    probs = torch.softmax(logits.float() / params.temperature, dim=-1)
    if params.top_p < 1.0:
        sorted_probs, order = probs.sort(descending=True)
        outside = sorted_probs.cumsum(-1) - sorted_probs >= params.top_p
        sorted_probs = sorted_probs.masked_fill(outside, 0.0)
        pick = torch.multinomial(sorted_probs, 1, generator=rng)
        return int(order[pick])
    return int(torch.multinomial(probs, 1, generator=rng))


def context_length(config: Any, tokenizer: Any) -> int:
    for name in ("max_position_embeddings", "n_positions", "max_sequence_length", "seq_length", "n_ctx"):
        value = getattr(config, name, None)
        if isinstance(value, int) and value > 0:
            return value
    value = getattr(tokenizer, "model_max_length", None)
    return value if isinstance(value, int) and 0 < value < 1_000_000 else DEFAULT_CONTEXT


def module_bytes(module: Any) -> int:
    tensors = [*module.parameters(), *module.buffers()]
    return sum(int(t.numel()) * int(t.element_size()) for t in tensors)


class TransformersGenerator:
    kind: EngineKind = "text-generation"

    def __init__(self, model: Any, tokenizer: Any, options: EngineOptions):
        self.model, self.tokenizer = model, tokenizer
        self.options = options
        self.context_length = context_length(model.config, tokenizer)
        self.memory_bytes = module_bytes(model)
        self.vocab_size = int(model.get_output_embeddings().weight.shape[0])
        self.eos_ids = _eos_ids(model, tokenizer)
        self.pad_id = next(
            (i for i in (tokenizer.pad_token_id, tokenizer.eos_token_id) if isinstance(i, int)), 0
        )
        accepted = inspect.signature(model.forward).parameters
        self._cache_arg = "cache" if "cache" in accepted else "past_key_values"
        self._keep_arg = "logits_to_keep" in accepted
        self._positions = "position_ids" in accepted
        self._tokenizer_lock = threading.Lock()
        self._cv = threading.Condition()
        self._pending: deque[_Row] = deque()
        self._running = 0
        self._closed = False
        self.requests_total = 0
        self.tokens_total = 0
        self.largest_batch = 0
        self.largest_recent = 1
        self.steps = 0  # decode steps, and rows summed over them: row_steps / steps is the mean batch
        self.row_steps = 0
        self._thread = threading.Thread(target=self._loop, name="dazi-textgen", daemon=True)
        self._thread.start()

    @classmethod
    def load(cls, path: Path, options: EngineOptions) -> TransformersGenerator:
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True, trust_remote_code=False)
        model = AutoModelForCausalLM.from_pretrained(
            path, local_files_only=True, trust_remote_code=False, dtype="auto"
        )
        if model.dtype == torch.float16:  # half precision is slow or unsupported on CPU
            model = model.float()  # type: ignore[no-untyped-call]
        model.eval()  # type: ignore[no-untyped-call]
        return cls(model, tokenizer, options)

    # -- tokenization (request threads) -------------------------------------------------------------

    def chat_prompt(self, messages: list[dict[str, str]]) -> list[int]:
        with self._tokenizer_lock:
            if not getattr(self.tokenizer, "chat_template", None):
                raise NoChatTemplate()
            text = self.tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
            return list(self.tokenizer(text, add_special_tokens=False).input_ids)

    def encode(self, text: str) -> list[int]:
        with self._tokenizer_lock:
            return list(self.tokenizer(text).input_ids)

    def _decode(self, ids: list[int]) -> str:
        with self._tokenizer_lock:
            return str(self.tokenizer.decode(ids, skip_special_tokens=True))

    # -- requests -------------------------------------------------------------------------------------

    def start(self, prompt_ids: list[int], params: SamplingParams, generation: Generation) -> None:
        import torch

        rng = torch.Generator()
        rng.manual_seed(params.seed if params.seed is not None else secrets.randbits(63))
        row = _Row(list(prompt_ids), params, generation, TextStream(self._decode, params.stop), rng)
        with self._cv:
            limit = self.options.max_batch_size + self.options.max_queue
            if self._closed or len(self._pending) + self._running >= limit:
                raise Overloaded()
            self._pending.append(row)
            self.requests_total += 1
            self._cv.notify()

    def stats(self) -> dict[str, Any]:
        with self._cv:
            return {"running": self._running, "queued": len(self._pending), "requests_total": self.requests_total,
                    "tokens_total": self.tokens_total, "largest_batch": self.largest_batch, "steps": self.steps,
                    "row_steps": self.row_steps}

    def problem(self) -> str | None:
        if self._closed:
            return "the model was unloaded"
        if not self._thread.is_alive():
            return "the model's decode thread stopped"
        return None

    def close(self) -> None:
        with self._cv:
            self._closed = True
            self._cv.notify_all()
        self._thread.join(timeout=60)

    # -- the decode loop (the model's thread) ----------------------------------------------------------

    def _loop(self) -> None:
        import torch

        while True:
            with self._cv:
                while not self._pending and not self._closed:
                    self._cv.wait()
                if self._closed:
                    for row in self._pending:
                        row.generation.emit(Failed("The model was unloaded."))
                    self._pending.clear()
                    return
                self._gather()
                take = min(self.options.max_batch_size, len(self._pending))
                rows = [self._pending.popleft() for _ in range(take)]
                self.largest_recent = len(rows)
                self._count_rows(rows)
            try:
                with torch.inference_mode():
                    self._run_batch(rows)
            except Exception as exc:
                log.exception("generation failed")
                for row in rows:  # every row in the batch, those that joined it included
                    if not row.done:
                        row.generation.emit(Failed(f"Generation failed: {type(exc).__name__}: {exc}", row.count))
            finally:
                with self._cv:
                    self._running = 0

    def _count_rows(self, rows: list[_Row]) -> None:
        """(Under the lock.) The rows now running, for admission and the stats."""
        self._running = len(rows)
        self.largest_batch = max(self.largest_batch, len(rows))

    def _gather(self) -> None:
        """After a batch of several requests, wait a moment for as many again: clients whose answers came
        back together send their next requests a few milliseconds apart. (A lone client never waits.)"""
        expected = min(self.largest_recent, self.options.max_batch_size)
        deadline = time.monotonic() + GATHER_SECONDS
        while len(self._pending) < expected and not self._closed:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            self._cv.wait(left)

    def _new_cache(self) -> Any:
        from transformers import DynamicCache

        return DynamicCache(config=self.model.config)

    def _run_batch(self, rows: list[_Row]) -> None:
        """Generate for ``rows`` (a list this method updates: rows leave as they finish, waiting requests
        join while there is room) until none is left."""
        rows[:] = [r for r in rows if not self._dropped(r)]
        if not rows:
            return
        batch = Batch.prefill(self._forward, self._new_cache, [r.prompt for r in rows], self.pad_id)
        while rows:
            self.steps += 1
            self.row_steps += len(rows)
            tokens = self._sample(batch.logits, rows)
            keep = [i for i, row in enumerate(rows) if self._advance(row, int(tokens[i]))]
            if not keep:
                return
            tokens = batch.select(keep, tokens)
            rows[:] = [rows[i] for i in keep]
            batch.step(tokens)
            self._join(batch, rows)
            with self._cv:
                self._count_rows(rows)

    def _join(self, batch: Batch, rows: list[_Row]) -> None:
        """Let waiting requests join the running batch (continuous batching), while there is room."""
        room = self.options.max_batch_size - len(rows)
        if room <= 0 or not self._pending or not batch.joinable:
            return
        with self._cv:
            newcomers = [self._pending.popleft() for _ in range(min(room, len(self._pending)))]
        newcomers = [r for r in newcomers if not self._dropped(r)]
        if newcomers:
            rows.extend(newcomers)  # before the prefill: a failure must reach them too
            fresh = Batch.prefill(self._forward, self._new_cache, [r.prompt for r in newcomers], self.pad_id)
            if not batch.absorb(fresh):
                raise RuntimeError("could not merge the KV caches of a running batch")

    def _forward(self, ids: Any, mask: Any, positions: Any, cache: Any) -> Any:
        kwargs: dict[str, Any] = {"input_ids": ids, "attention_mask": mask, self._cache_arg: cache, "use_cache": True}
        if self._positions:
            kwargs["position_ids"] = positions
        if self._keep_arg:
            kwargs["logits_to_keep"] = 1
        return self.model(**kwargs).logits[:, -1, :]

    def _sample(self, logits: Any, rows: list[_Row]) -> Any:
        for i, row in enumerate(rows):
            for token, bias in row.params.logit_bias:  # -100 bans a token (as OpenAI documents)
                logits[i, token] = float("-inf") if bias <= -100 else logits[i, token] + bias
        tokens = logits.argmax(dim=-1)
        for i, row in enumerate(rows):
            if row.params.temperature > 0 and row.params.top_p > 0:
                tokens[i] = sample_one(logits[i], row.params, row.rng)
        return tokens

    def _dropped(self, row: _Row) -> bool:
        if row.done:
            return True
        if row.generation.cancelled.is_set() or self._closed:
            row.done = True
            reason = "The model was unloaded." if self._closed else "The request was cancelled."
            row.generation.emit(Failed(reason, row.count))
        return row.done

    def _advance(self, row: _Row, token: int) -> bool:
        """Account for one new token of ``row``; False when the row is finished."""
        if self._dropped(row):
            return False
        row.count += 1
        row.generation.completion_tokens = row.count
        self.tokens_total += 1
        reason = None
        if token in self.eos_ids:
            reason = "stop"
        else:
            row.stream.push(token)
            if row.stream.stopped:
                reason = "stop"
            elif row.count >= row.params.max_tokens:
                reason = "length"
        chunk = row.stream.take(final=reason is not None)
        if chunk:
            row.generation.emit(Delta(chunk))
        if reason is None:
            return True
        row.done = True
        row.generation.emit(Finished(reason, row.count))
        return False


def _eos_ids(model: Any, tokenizer: Any) -> set[int]:
    found: set[int] = set()
    config = getattr(model, "generation_config", None)
    for value in (getattr(config, "eos_token_id", None), tokenizer.eos_token_id):
        if isinstance(value, int):
            found.add(value)
        elif isinstance(value, list):
            found.update(v for v in value if isinstance(v, int))
    return found
