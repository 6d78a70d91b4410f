"""The tensors of one running batch: KV cache, attention mask, positions and next-token logits.

Rows are right-aligned: each row's latest token is in the last column, and shorter rows are padded on
the left (mask 0). Rows leave (``select``) and join (``absorb``: the newcomers' prefill is left-padded
to the same width and concatenated, cache included), so requests that arrive while others generate
join them at the next step instead of waiting for the whole batch to finish (continuous batching).
Columns that no remaining row uses are dropped (``trim``), so a batch that never empties does not grow.

Joining and trimming edit the cache's tensors, which only the plain ``DynamicCache`` layers allow;
models with other caches (sliding windows, recurrent state) keep batching, without joins.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Forward = Callable[[Any, Any, Any, Any], Any]  # (input ids, attention mask, position ids, cache) -> last logits


def _plain_layers(cache: Any) -> list[Any] | None:
    from transformers.cache_utils import DynamicLayer

    layers = getattr(cache, "layers", None)
    if not layers or any(type(layer) is not DynamicLayer for layer in layers):
        return None
    if any(getattr(layer, "keys", None) is None or layer.keys.dim() != 4 for layer in layers):
        return None
    return list(layers)


def _left_pad(tensor: Any, width: int) -> Any:
    """Pad the sequence dimension (the last of a mask, the next to last of keys and values) on the left."""
    import torch.nn.functional as F

    missing = width - (tensor.shape[-1] if tensor.dim() == 2 else tensor.shape[-2])
    if missing <= 0:
        return tensor
    return F.pad(tensor, (missing, 0)) if tensor.dim() == 2 else F.pad(tensor, (0, 0, missing, 0))


class Batch:
    def __init__(self, forward: Forward, cache: Any, mask: Any, last: Any, logits: Any):
        self.forward, self.cache, self.mask, self.last, self.logits = forward, cache, mask, last, logits

    @classmethod
    def prefill(cls, forward: Forward, new_cache: Callable[[], Any], prompts: list[list[int]], pad_id: int) -> Batch:
        import torch

        width = max(len(p) for p in prompts)
        ids = torch.full((len(prompts), width), pad_id, dtype=torch.long)
        mask = torch.zeros((len(prompts), width), dtype=torch.long)
        for i, prompt in enumerate(prompts):
            ids[i, width - len(prompt) :] = torch.tensor(prompt, dtype=torch.long)
            mask[i, width - len(prompt) :] = 1
        positions = (mask.cumsum(-1) - 1).clamp(min=0)
        cache = new_cache()
        logits = forward(ids, mask, positions, cache)
        return cls(forward, cache, mask, positions[:, -1], logits)

    @property
    def size(self) -> int:
        return int(self.mask.shape[0])

    @property
    def joinable(self) -> bool:
        return _plain_layers(self.cache) is not None

    def select(self, keep: list[int], tokens: Any) -> Any:
        """Keep only the rows ``keep`` (in order); returns their ``tokens``."""
        import torch

        if len(keep) == self.size:
            return tokens
        index = torch.tensor(keep, dtype=torch.long)
        self.cache.batch_select_indices(index)
        self.mask, self.last = self.mask[index], self.last[index]
        self.trim()
        return tokens[index]

    def trim(self) -> None:
        layers = _plain_layers(self.cache)
        used = self.mask.any(dim=0).nonzero()
        if layers is None or not len(used) or int(used[0]) == 0:
            return
        first = int(used[0])
        self.mask = self.mask[:, first:]
        for layer in layers:
            layer.keys, layer.values = layer.keys[:, :, first:, :], layer.values[:, :, first:, :]

    def step(self, tokens: Any) -> None:
        """Feed each row its chosen token; ``logits`` become the next ones."""
        import torch

        self.mask = torch.cat([self.mask, torch.ones((self.size, 1), dtype=self.mask.dtype)], dim=1)
        self.last = self.last + 1
        self.logits = self.forward(tokens[:, None], self.mask, self.last[:, None], self.cache)

    def absorb(self, other: Batch) -> bool:
        """Append ``other``'s rows (after this batch's); False (and nothing changed) if the caches cannot merge."""
        import torch

        mine, theirs = _plain_layers(self.cache), _plain_layers(other.cache)
        if mine is None or theirs is None or len(mine) != len(theirs):
            return False
        width = max(self.mask.shape[1], other.mask.shape[1])
        for a, b in zip(mine, theirs, strict=True):
            a.keys = torch.cat([_left_pad(a.keys, width), _left_pad(b.keys, width)], dim=0)
            a.values = torch.cat([_left_pad(a.values, width), _left_pad(b.values, width)], dim=0)
        self.mask = torch.cat([_left_pad(self.mask, width), _left_pad(other.mask, width)], dim=0)
        self.last = torch.cat([self.last, other.last])
        self.logits = torch.cat([self.logits, other.logits])
        return True
