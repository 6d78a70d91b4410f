"""Jobs on the local executor (worker processes), through ``/api/jobs`` of the session's hub."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import secrets
import socket
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import update

from tests.maas.conftest import Jobs, PushedModel
from tests.support.network import missing_ml_extra

try:
    import torch  # noqa: F401 - the tiny model is made with it; model.prepare runs it
except ImportError as exc:  # pragma: no cover - depends on the installed extras
    missing_ml_extra(exc, "torch")

pytestmark = [pytest.mark.contract, pytest.mark.ml]


def files_sha256(folder: Path) -> dict[str, str]:
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in folder.rglob("*") if p.is_file() and ".cache" not in p.parts}


def test_verify_job_succeeds_with_a_manifest(hub_server: Any, tiny_llama: PushedModel) -> None:
    jobs = Jobs(hub_server.url, tiny_llama.owner.write_token)
    job = jobs.start("repo.verify", repo_id=tiny_llama.repo_id)
    assert job["status"] == "queued" and job["owner"] == tiny_llama.owner.name
    assert len(job["payload"]["commit"]) == 40  # the branch was resolved at submit time
    done = jobs.wait(job["id"])
    assert done["status"] == "succeeded", done
    assert done["progress"] == 1.0 and done["attempts"] == 1 and done["executor"] == "local"
    manifest = done["result"]["sha256"]
    assert {k: v for k, v in manifest.items() if k != ".gitattributes"} == files_sha256(tiny_llama.folder)
    log = httpx.get(f"{hub_server.url}/api/jobs/{job['id']}/log", headers=jobs.headers)
    assert f"all {len(manifest)} files match" in log.text
    assert log.headers["X-Job-Status"] == "succeeded" and int(log.headers["X-Log-Offset"]) == len(log.text)
    tail = httpx.get(f"{hub_server.url}/api/jobs/{job['id']}/log?offset=10", headers=jobs.headers)
    assert tail.text == log.text[10:]
    assert f"(pid {os.getpid()})" not in log.text  # it ran in a worker process


def test_log_and_progress_stream_as_server_sent_events(hub_server: Any, minilm: PushedModel) -> None:
    jobs = Jobs(hub_server.url, minilm.owner.write_token)
    job = jobs.start("repo.verify", repo_id=minilm.repo_id, max_bytes_per_second=60_000_000)  # ~1.5 s
    events: list[tuple[str, Any]] = []
    with httpx.stream("GET", f"{hub_server.url}/api/jobs/{job['id']}/log/stream", headers=jobs.headers,
                      timeout=120) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        event = None
        for line in response.iter_lines():
            if line.startswith("event: "):
                event = line[7:]
            elif line.startswith("data: "):
                events.append((str(event), json.loads(line[6:])))
    kinds = [e for e, _ in events]
    assert kinds[-1] == "end" and events[-1][1]["status"] == "succeeded"
    progress = [d["progress"] for e, d in events if e == "progress" and d["status"] == "running"]
    assert progress == sorted(progress) and len([p for p in progress if 0 < p < 1]) >= 2
    streamed = "".join(d["text"] for e, d in events if e == "log")
    assert streamed == httpx.get(f"{hub_server.url}/api/jobs/{job['id']}/log", headers=jobs.headers).text
    assert "model.safetensors" in events[-1][1]["result"]["sha256"]


def test_corrupt_content_fails_the_job_with_the_reason(hub_server: Any, hf_api: Any, alice: Any) -> None:
    from dazi.repos.models import GitObject

    repo_id = f"{alice.name}/to-corrupt"
    hf_api.create_repo(repo_id)
    data = secrets.token_bytes(2000)
    hf_api.upload_file(path_or_fileobj=data, path_in_repo="data.txt", repo_id=repo_id)  # kept in git, not LFS
    oid = hashlib.sha1(b"blob %d\0" % len(data) + data, usedforsecurity=False).hexdigest()
    with hub_server.hub.db.write() as session:
        changed = session.execute(update(GitObject).where(GitObject.oid == oid).values(data=b"x" + data[1:]))
        assert changed.rowcount == 1
    jobs = Jobs(hub_server.url, alice.write_token)
    done = jobs.wait(jobs.start("repo.verify", repo_id=repo_id)["id"])
    assert done["status"] == "failed"
    assert "1 of 2 files do not match" in done["error"] and "data.txt" in done["error"]
    assert done["result"]["problems"] and "README" not in str(done["result"]["problems"])


def test_model_prepare_reports_the_engine(hub_server: Any, tiny_llama: PushedModel, hf_api: Any, alice: Any) -> None:
    jobs = Jobs(hub_server.url, tiny_llama.owner.write_token)
    done = jobs.wait(jobs.start("model.prepare", repo_id=tiny_llama.repo_id)["id"])
    assert done["status"] == "succeeded", done
    result = done["result"]
    assert result["engine"] == "text-generation" and result["chat"] is True
    assert 4_000_000 < result["memory_bytes"] < 5_000_000 and result["context_length"] == 2048
    assert result["warmup"]["tokens"] == 16
    repo_id = f"{alice.name}/not-a-model"
    hf_api.create_repo(repo_id)
    hf_api.upload_file(path_or_fileobj=b"# card\n", path_in_repo="README.md", repo_id=repo_id)
    failed = Jobs(hub_server.url, alice.write_token)
    bad = failed.wait(failed.start("model.prepare", repo_id=repo_id)["id"])
    assert bad["status"] == "failed" and "cannot be served by /v1: it has no config.json" in bad["error"]


def test_cancel_a_queued_and_a_running_job(hub_server: Any, minilm: PushedModel) -> None:
    jobs = Jobs(hub_server.url, minilm.owner.write_token)
    slow = {"repo_id": minilm.repo_id, "max_bytes_per_second": 65536}  # ~25 minutes if left alone
    running = [jobs.start("repo.verify", **slow) for _ in range(hub_server.settings.jobs_local_workers)]
    for job in running:
        jobs.wait(job["id"], lambda j: j["status"] == "running" and j["progress"] > 0)
    queued = jobs.start("repo.verify", **slow)
    cancelled = jobs.cancel(queued["id"]).json()
    assert cancelled["status"] == "cancelled" and cancelled["finished_at"]  # at once
    for job in running:
        answer = jobs.cancel(job["id"]).json()
        assert answer["cancel_requested"] is True
    for job in running:
        done = jobs.wait(job["id"])
        assert done["status"] == "cancelled" and done["error"] is None
        assert "cancelled: stopped on request" in httpx.get(
            f"{hub_server.url}/api/jobs/{job['id']}/log", headers=jobs.headers).text
    assert jobs.get(queued["id"]).json()["attempts"] == 0  # never ran


def test_only_the_owner_or_an_admin_sees_a_job(hub_server: Any, tiny_llama: PushedModel, bob: Any) -> None:
    owner = Jobs(hub_server.url, tiny_llama.owner.write_token)
    job = owner.start("repo.verify", repo_id=tiny_llama.repo_id)
    stranger = Jobs(hub_server.url, bob.write_token)
    assert stranger.get(job["id"]).status_code == 404
    assert stranger.cancel(job["id"]).status_code == 404
    assert httpx.get(f"{hub_server.url}/api/jobs/{job['id']}/log", headers=stranger.headers).status_code == 404
    assert job["id"] not in {j["id"] for j in httpx.get(f"{hub_server.url}/api/jobs", headers=stranger.headers).json()}
    assert httpx.get(f"{hub_server.url}/api/jobs?all=true", headers=stranger.headers).status_code == 403
    assert Jobs(hub_server.url, None).get(job["id"]).status_code == 401
    admin = hub_server.new_user("admin", admin=True)
    assert Jobs(hub_server.url, admin.read_token).get(job["id"]).status_code == 200
    everyone = httpx.get(f"{hub_server.url}/api/jobs?all=true&kind=repo.verify", headers=Jobs(
        hub_server.url, admin.read_token).headers).json()
    assert job["id"] in {j["id"] for j in everyone}
    mine = httpx.get(f"{hub_server.url}/api/jobs", headers=owner.headers).json()
    assert job["id"] in {j["id"] for j in mine}
    owner.wait(job["id"])


def test_submitting_is_checked(hub_server: Any, tiny_llama: PushedModel, minilm: PushedModel, bob: Any) -> None:
    jobs = Jobs(hub_server.url, bob.write_token)
    assert jobs.submit("shell.run", command="id").status_code == 400  # only registered kinds
    assert jobs.submit("repo.verify", repo_id=minilm.repo_id).status_code == 404  # private, not bob's
    assert jobs.submit("repo.verify", repo_id=tiny_llama.repo_id, revision="nope").status_code == 404
    assert jobs.submit("repo.verify", repo_id=tiny_llama.repo_id, max_bytes_per_second="fast").status_code == 400
    assert Jobs(hub_server.url, bob.read_token).submit("repo.verify", repo_id=tiny_llama.repo_id).status_code == 403
    assert Jobs(hub_server.url, None).submit("repo.verify", repo_id=tiny_llama.repo_id).status_code == 401
    bad_json = httpx.post(f"{hub_server.url}/api/jobs", content=b"{", headers=jobs.headers)
    assert bad_json.status_code == 400
    kinds = {k["name"] for k in httpx.get(f"{hub_server.url}/api/jobs/kinds").json()}
    assert kinds == {"repo.verify", "model.prepare"}


def test_jobs_left_running_by_a_dead_server_are_recovered(hub_server: Any, tiny_llama: PushedModel) -> None:
    """A restart: rows left ``running`` by a process that is gone are re-queued (retriable kinds with
    attempts left) or failed with the reason, by the job service as it starts."""
    from dazi.jobs import services
    from dazi.jobs.models import RUNNING, Job
    from dazi.jobs.registry import KINDS
    from dazi.jobs.runner import JobService

    owner = tiny_llama.owner
    with hub_server.hub.db.read() as session:
        from dazi.accounts.services import get_user

        user_id = get_user(session, owner.name).id
    jobs = Jobs(hub_server.url, owner.write_token)
    payload = jobs.start("repo.verify", repo_id=tiny_llama.repo_id)["payload"]
    jobs.wait(jobs.start("repo.verify", repo_id=tiny_llama.repo_id)["id"])
    dead = f"{socket.gethostname()}:{2**22 + 12345}:gone"  # no such pid on this host
    soon = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=10)
    rows = {
        "retry": (KINDS["repo.verify"], 1, 3, dead, soon),
        "exhausted": (KINDS["model.prepare"], 2, 2, dead, soon),
        "unknown": (None, 1, 1, dead, soon),
        "expired": (KINDS["repo.verify"], 3, 3, "another-host:1:x", dt.datetime.now(dt.UTC) - dt.timedelta(seconds=5)),
    }
    ids = {}
    with hub_server.hub.db.write() as session:
        for name, (kind, attempts, max_attempts, lease_owner, expires) in rows.items():
            job = services.create_job(session, kind or KINDS["repo.verify"], user_id, payload)
            job.kind = kind.name if kind else "legacy.removed"
            job.status, job.attempts, job.max_attempts = RUNNING, attempts, max_attempts
            job.lease_owner, job.lease_expires_at = lease_owner, expires
            ids[name] = job.id
    recovered = JobService(hub_server.hub).recover()  # what a starting service does first
    live = {job_id: recovered.get(job_id) for job_id in ids.values()}
    with hub_server.hub.db.read() as session:
        states = {name: session.get(Job, job_id) for name, job_id in ids.items()}
    # the live session service may have recovered some of them first: judge by the rows
    assert any(live.values()) or all(s.status != RUNNING for s in states.values())
    assert states["exhausted"].status == "failed"
    assert "gave up after 2 of 2 attempts" in (states["exhausted"].error or "")
    assert states["unknown"].status == "failed" and "no longer registered" in (states["unknown"].error or "")
    assert states["expired"].status == "failed" and "lease expired" in (states["expired"].error or "")
    again = jobs.wait(ids["retry"])  # re-queued, then run by the session's service
    assert again["status"] == "succeeded" and again["attempts"] == 2
    log = httpx.get(f"{hub_server.url}/api/jobs/{ids['retry']}/log", headers=jobs.headers).text
    assert "process is gone; re-queued (attempt 1 of 3 did not finish)" in log
    assert "attempt 2 of 3" in log


def test_a_cancelled_job_that_does_not_stop_is_killed(hub_server: Any, minilm: PushedModel) -> None:
    """The executor's kill path, driven directly: the run ends without recording anything, and the
    supervisor records the job as cancelled."""
    from dazi.jobs import services
    from dazi.jobs.executors import LocalExecutor
    from dazi.jobs.models import RUNNING, Job
    from dazi.jobs.registry import KINDS

    jobs = Jobs(hub_server.url, minilm.owner.write_token)
    payload = {**jobs.start("repo.verify", repo_id=minilm.repo_id)["payload"], "max_bytes_per_second": 65536}
    lease = services.new_lease_owner()
    with hub_server.hub.db.write() as session:
        job = services.create_job(session, KINDS["repo.verify"], None, payload)
        job.status, job.attempts, job.lease_owner = RUNNING, 1, lease
        job.lease_expires_at = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=10)
        job_id = job.id
    executor = LocalExecutor(hub_server.settings)
    executor.submit(job_id, KINDS["repo.verify"], lease)
    for _ in range(600):
        with hub_server.hub.db.read() as session:
            if (session.get(Job, job_id).progress or 0) > 0:  # type: ignore[union-attr]
                break
        time.sleep(0.1)
    with hub_server.hub.db.write() as session:
        session.execute(update(Job).where(Job.id == job_id).values(cancel_requested=True))
    executor.kill(job_id)
    ended = []
    for _ in range(300):
        ended = executor.poll()
        if ended:
            break
        time.sleep(0.05)
    assert ended and ended[0].problem == "the worker process exited with code -9"
    with hub_server.hub.db.write() as session:
        assert services.crashed(session, job_id, lease, ended[0].problem) == "cancelled"
    assert executor.shutdown() == []
