"""The LRU of loaded models, bounded by memory (pure logic, with stand-in engines)."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from dazi.inference.pool import ModelPool, ModelTooLarge, PoolBusy


class FakeEngine:
    kind = "embedding"
    context_length = 8
    dimensions = 1

    def __init__(self, name: str, memory: int):
        self.name, self.memory_bytes = name, memory
        self.closed = False

    def stats(self) -> dict[str, Any]:
        return {"running": 0, "queued": 0}

    def problem(self) -> str | None:
        return "closed" if self.closed else None

    def close(self) -> None:
        self.closed = True


def test_least_recently_used_idle_models_make_room() -> None:
    pool = ModelPool(budget=100)
    engines = {name: FakeEngine(name, 40) for name in "abc"}
    a = pool.acquire("a", 40, lambda: engines["a"])
    b = pool.acquire("b", 40, lambda: engines["b"])
    a.release()
    b.release()
    pool.acquire("a", 40, lambda: pytest.fail("a is loaded")).release()  # a is now the most recent
    pool.acquire("c", 40, lambda: engines["c"]).release()
    assert engines["b"].closed and not engines["a"].closed  # b was the least recently used
    assert pool.status("b") is None and pool.status("a")["loaded"]  # type: ignore[index]
    assert pool.summary()["used_bytes"] == 80 and pool.evictions == 1


def test_models_in_use_are_never_unloaded() -> None:
    pool = ModelPool(budget=100, wait_seconds=0.2)
    held = pool.acquire("a", 60, lambda: FakeEngine("a", 60))
    with pytest.raises(PoolBusy):
        pool.acquire("b", 60, lambda: FakeEngine("b", 60))
    assert not held.engine.closed  # type: ignore[attr-defined]
    loaded = threading.Event()

    def later() -> None:
        pool.acquire("b", 60, lambda: FakeEngine("b", 60)).release()
        loaded.set()

    waiter = threading.Thread(target=later)
    pool.wait_seconds = 30
    waiter.start()
    held.release()  # frees room: the waiting load goes ahead
    waiter.join(30)
    assert loaded.is_set() and held.engine.closed  # type: ignore[attr-defined]


def test_a_model_larger_than_the_budget_is_refused() -> None:
    with pytest.raises(ModelTooLarge):
        ModelPool(budget=10).acquire("big", 11, lambda: FakeEngine("big", 11))


def test_one_load_for_concurrent_requests_and_failed_loads_are_forgotten() -> None:
    pool = ModelPool(budget=100)
    calls = []
    gate = threading.Event()

    def load() -> FakeEngine:
        calls.append(1)
        gate.wait(10)
        return FakeEngine("a", 10)

    leases = []
    threads = [threading.Thread(target=lambda: leases.append(pool.acquire("a", 10, load))) for _ in range(4)]
    for t in threads:
        t.start()
    gate.set()
    for t in threads:
        t.join(10)
    assert len(calls) == 1 and len({id(lease.engine) for lease in leases}) == 1
    assert pool.status("a")["leases"] == 4  # type: ignore[index]

    def broken() -> FakeEngine:
        raise OSError("disk full")

    with pytest.raises(OSError):
        pool.acquire("b", 10, broken)
    assert pool.status("b") is None and pool.summary()["used_bytes"] == 10
