"""Deployment parts that need no replica process: the local restart policy and the replica app's health."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx

from dazi.deployments.backends import ReplicaSpec
from dazi.deployments.local import MAX_BACKOFF_SECONDS, RestartPolicy
from dazi.deployments.replica import ReplicaModel, create_replica_app


def test_crashes_while_starting_back_off_then_fail() -> None:
    policy = RestartPolicy(max_restarts=5)
    assert [policy.crashed(0.0, was_ready=False) for _ in range(5)] == [1.0, 2.0, 4.0, 8.0, None]
    assert policy.why("the model did not load") == "the model did not load"
    policy = RestartPolicy(max_restarts=8)
    delays = [policy.crashed(0.0, was_ready=False) for _ in range(7)]
    assert delays[-1] == MAX_BACKOFF_SECONDS  # 2**6 = 64, capped
    policy.ready()  # a replica that became ready starts counting afresh
    assert policy.crashed(0.0, was_ready=False) == 1.0


def test_a_crash_loop_after_ready_backs_off_then_fails() -> None:
    policy = RestartPolicy(max_restarts=3, window=600.0)
    moments = iter(range(0, 10_000, 10))  # a crash every 10 s, each after the replica became ready
    delays = []
    for _ in range(6):
        delays.append(policy.crashed(float(next(moments)), was_ready=True))
        if delays[-1] is None:
            break
        policy.ready()
    assert delays == [0.0, 0.0, 0.0, 1.0, 2.0, None]
    assert "crashed 6 times within 10 minutes" in policy.why("the replica process exited with code -9")


def test_crashes_after_ready_far_apart_restart_at_once() -> None:
    policy = RestartPolicy(max_restarts=2, window=600.0)
    assert [policy.crashed(t * 601.0, was_ready=True) for t in range(10)] == [0.0] * 10
    # ...but a start crash in between still counts on its own
    assert policy.crashed(7000.0, was_ready=False) == 1.0
    assert policy.crashed(7001.0, was_ready=False) is None


class FakeEngine:
    kind = "text-generation"

    def __init__(self) -> None:
        self.broken: str | None = None

    def stats(self) -> dict[str, Any]:
        return {"running": 0}

    def problem(self) -> str | None:
        return self.broken

    def close(self) -> None:
        self.broken = "the model was unloaded"


def test_healthz_says_when_the_engine_cannot_answer() -> None:
    import asyncio

    spec = ReplicaSpec("d1", "tiny", 1, "alice/tiny", "0" * 40, "text-generation", 1, "key")
    engine = FakeEngine()
    model = ReplicaModel(spec, engine, chat=True, max_new_tokens=8, max_inputs=8)  # type: ignore[arg-type]
    app = create_replica_app(model, "key")

    async def health() -> httpx.Response:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://replica") as client:
            return await client.get("/healthz")

    ok = asyncio.run(health())
    assert ok.status_code == 200 and ok.json()["status"] == "ok" and ok.json()["deployment"] == "tiny"
    engine.broken = "the model's decode thread stopped"
    sick = asyncio.run(health())
    assert sick.status_code == 503
    assert sick.json() == {
        "status": "unavailable",
        "reason": "the model's decode thread stopped",
        "deployment": "tiny",
        "commit": "0" * 40,
    }
    engine.broken = None
    model.close()
    closed = asyncio.run(health())
    assert closed.status_code == 503 and closed.json()["reason"] == "the replica was closed"


class FakeProcess:
    exitcode = None
    terminated = False

    def terminate(self) -> None:
        self.terminated = True


def test_the_local_backend_stops_a_replica_whose_health_fails(tmp_path: Path) -> None:
    from dazi.config import Settings
    from dazi.deployments.backends import READY, ReplicaState
    from dazi.deployments.local import LocalReplicas, _Replica
    from tests.support.services import LiveServer, free_port

    spec = ReplicaSpec("d1", "tiny", 1, "alice/tiny", "0" * 40, "text-generation", 1, "key")
    engine = FakeEngine()
    model = ReplicaModel(spec, engine, chat=True, max_new_tokens=8, max_inputs=8)  # type: ignore[arg-type]
    server = LiveServer(create_replica_app(model, "key"), free_port())
    try:
        backend = LocalReplicas(Settings(data_dir=tmp_path))
        process = FakeProcess()
        replica = _Replica(0, ReplicaState(0, READY, url=server.url), RestartPolicy(3), proc=process)  # type: ignore[arg-type]
        backend._check_health(spec, replica)
        assert not process.terminated and replica.unhealthy is None  # healthy
        engine.broken = "the model's decode thread stopped"
        backend._check_health(spec, replica)
        assert not process.terminated  # not yet time for the next check
        replica.health_at = 0.0
        backend._check_health(spec, replica)
        assert process.terminated
        assert replica.unhealthy == "the replica was unhealthy (the model's decode thread stopped)"
    finally:
        server.stop()


def test_a_real_engine_reports_a_dead_decode_thread() -> None:
    """``TransformersGenerator.problem`` without a model: a closed engine, a decode thread that is gone."""
    import threading

    from dazi.inference.textgen import TransformersGenerator

    engine = object.__new__(TransformersGenerator)
    engine._closed = False
    engine._thread = threading.Thread(target=lambda: None)
    engine._thread.start()
    engine._thread.join()
    assert engine.problem() == "the model's decode thread stopped"
    engine._closed = True
    assert engine.problem() == "the model was unloaded"
