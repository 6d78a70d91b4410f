"""Loaded models, kept in an LRU bounded by memory.

``acquire`` returns a lease on a loaded engine, loading it first if needed (concurrent requests for the
same model wait for one load). Before a load, idle models (no lease) are unloaded, least recently used
first, until the new model's estimated size fits ``DAZI_INFERENCE_MAX_MEMORY``; when the models in use
leave no room, the request waits for one to become idle, and gives up with ``PoolBusy`` after
``wait_seconds``. A model larger than the whole budget is refused with ``ModelTooLarge``. After a load,
the estimate is replaced by the engine's own figure (its parameter and buffer bytes).
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any

from dazi.inference.engines import Engine


class ModelTooLarge(Exception):
    def __init__(self, needed: int, budget: int):
        super().__init__(f"needs about {needed} bytes; the budget is {budget}")
        self.needed, self.budget = needed, budget


class PoolBusy(Exception):
    """No memory could be freed in time: every loaded model is in use."""


@dataclass
class _Entry:
    memory: int
    users: int = 0
    engine: Engine | None = None
    error: BaseException | None = None


class Lease:
    def __init__(self, pool: ModelPool, key: Hashable, engine: Engine):
        self.pool, self.key, self.engine = pool, key, engine
        self._released = False

    def release(self) -> None:
        if not self._released:
            self._released = True
            self.pool._release(self.key)


class ModelPool:
    def __init__(self, budget: int, wait_seconds: float = 60.0):
        self.budget = budget
        self.wait_seconds = wait_seconds
        self._cv = threading.Condition()
        self._entries: OrderedDict[Hashable, _Entry] = OrderedDict()
        self.loads = 0
        self.evictions = 0

    def acquire(self, key: Hashable, estimate: int, load: Callable[[], Engine]) -> Lease:
        evicted: list[Engine] = []
        try:
            entry, must_load = self._reserve(key, estimate, evicted)
        finally:
            for engine in evicted:
                engine.close()
        if not must_load:
            assert entry.engine is not None
            return Lease(self, key, entry.engine)
        try:
            engine = load()
        except BaseException as exc:
            with self._cv:
                entry.error = exc
                self._entries.pop(key, None)
                self._cv.notify_all()
            raise
        with self._cv:
            entry.engine, entry.memory = engine, engine.memory_bytes or entry.memory
            self.loads += 1
            self._cv.notify_all()
        return Lease(self, key, engine)

    def _reserve(self, key: Hashable, estimate: int, evicted: list[Engine]) -> tuple[_Entry, bool]:
        if estimate > self.budget:
            raise ModelTooLarge(estimate, self.budget)
        deadline = time.monotonic() + self.wait_seconds
        with self._cv:
            while True:
                entry = self._entries.get(key)
                if entry is not None:
                    entry.users += 1
                    self._entries.move_to_end(key)
                    if entry.engine is not None:
                        return entry, False
                    self._wait_for_load(entry, deadline)
                    return entry, False
                self._make_room(estimate, evicted)
                if self._used() + estimate <= self.budget:
                    entry = self._entries[key] = _Entry(memory=estimate, users=1)
                    return entry, True
                if not self._cv.wait(timeout=max(0.0, deadline - time.monotonic())):
                    raise PoolBusy()

    def _wait_for_load(self, entry: _Entry, deadline: float) -> None:
        while entry.engine is None and entry.error is None:
            if not self._cv.wait(timeout=max(0.0, deadline - time.monotonic())):
                entry.users -= 1
                raise PoolBusy()
        if entry.error is not None:
            raise entry.error

    def _used(self) -> int:
        return sum(e.memory for e in self._entries.values())

    def _make_room(self, needed: int, evicted: list[Engine]) -> None:
        for key, entry in list(self._entries.items()):  # least recently used first
            if self._used() + needed <= self.budget:
                return
            if entry.users == 0 and entry.engine is not None:
                del self._entries[key]
                evicted.append(entry.engine)
                self.evictions += 1

    def _release(self, key: Hashable) -> None:
        with self._cv:
            entry = self._entries.get(key)
            if entry is not None:
                entry.users = max(0, entry.users - 1)
            self._cv.notify_all()

    def status(self, key: Hashable) -> dict[str, Any] | None:
        with self._cv:
            entry = self._entries.get(key)
            if entry is None:
                return None
            engine, users, memory = entry.engine, entry.users, entry.memory
        return {"loaded": engine is not None, "leases": users, "memory_bytes": memory,
                **(engine.stats() if engine is not None else {})}

    def summary(self) -> dict[str, Any]:
        with self._cv:
            return {"budget_bytes": self.budget, "used_bytes": self._used(), "models": len(self._entries),
                    "loads": self.loads, "evictions": self.evictions}

    def close(self) -> None:
        with self._cv:
            engines = [e.engine for e in self._entries.values() if e.engine is not None]
            self._entries.clear()
        for engine in engines:
            engine.close()
