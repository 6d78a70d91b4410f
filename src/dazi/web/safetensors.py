"""Safetensors summaries (tensor count, parameter count, dtypes) read from the header alone.

A safetensors file starts with an 8-byte little-endian header length and a JSON header that maps
tensor names to ``{dtype, shape, data_offsets}``: two ranged reads, however large the file. Results
are cached by content digest (an LFS oid never changes its content).
"""

from __future__ import annotations

import json
import math
import struct
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field

from dazi.blobstore import BlobStore

MAX_HEADER_BYTES = 32 * 1024 * 1024


@dataclass(frozen=True)
class TensorSummary:
    tensors: int
    parameters: int
    dtypes: dict[str, int] = field(default_factory=dict)  # dtype -> parameters

    def __add__(self, other: TensorSummary) -> TensorSummary:
        dtypes = dict(self.dtypes)
        for name, count in other.dtypes.items():
            dtypes[name] = dtypes.get(name, 0) + count
        return TensorSummary(self.tensors + other.tensors, self.parameters + other.parameters, dtypes)


EMPTY = TensorSummary(0, 0, {})
_cache: OrderedDict[str, TensorSummary | None] = OrderedDict()
_lock = threading.Lock()


def parse(read: Callable[[int, int], bytes], size: int) -> TensorSummary | None:
    """The summary of a file of ``size`` bytes that ``read(start, end)`` reads; None if not safetensors."""
    if size < 8:
        return None
    (length,) = struct.unpack("<Q", read(0, 8))
    if length < 2 or length > MAX_HEADER_BYTES or 8 + length > size:
        return None
    try:
        header = json.loads(read(8, 8 + length))
    except (ValueError, UnicodeDecodeError):
        return None
    if not isinstance(header, dict):
        return None
    tensors, parameters = 0, 0
    dtypes: dict[str, int] = {}
    for name, info in header.items():
        if name == "__metadata__" or not isinstance(info, dict):
            continue
        shape = info.get("shape")
        if not isinstance(shape, list) or not all(isinstance(d, int) and d >= 0 for d in shape):
            return None
        count = math.prod(shape)
        dtype = str(info.get("dtype", "?"))[:16]
        tensors, parameters = tensors + 1, parameters + count
        dtypes[dtype] = dtypes.get(dtype, 0) + count
    return TensorSummary(tensors, parameters, dtypes)


def from_bytes(data: bytes) -> TensorSummary | None:
    return parse(lambda start, end: data[start:end], len(data))


def from_blob(blobs: BlobStore, digest: str, size: int) -> TensorSummary | None:
    """The summary of an LFS object, from two ranged reads of the blob store (cached by digest)."""
    with _lock:
        if digest in _cache:
            _cache.move_to_end(digest)
            return _cache[digest]

    def read(start: int, end: int) -> bytes:
        return b"".join(blobs.iter_range(digest, start, end))

    try:
        summary = parse(read, size)
    except Exception:  # a missing or unreadable blob: no summary, never a broken page
        summary = None
    with _lock:
        _cache[digest] = summary
        while len(_cache) > 4096:
            _cache.popitem(last=False)
    return summary
