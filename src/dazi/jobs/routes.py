"""``/api/jobs``: submit jobs of registered kinds, read them, follow their logs, cancel them.

Only the owner of a job (or an administrator) sees it; others get 404. The router's lifespan starts the
``JobService`` (recovering jobs left running by a stopped server) and stops it on shutdown.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response, StreamingResponse

from dazi.config import Settings
from dazi.deps import get_actor, get_hub, json_body
from dazi.hub import Hub
from dazi.jobs import services
from dazi.jobs.models import FINISHED, Job
from dazi.jobs.runner import JobService

STREAM_POLL_SECONDS = 0.5


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    hub: Hub = app.state.hub
    settings: Settings = app.state.settings
    service = JobService(hub, settings) if settings.jobs_enabled else None
    if service is not None:
        await asyncio.to_thread(service.start)
    app.state.jobs = service
    try:
        yield
    finally:
        app.state.jobs = None
        if service is not None:
            await asyncio.to_thread(service.stop)


router = APIRouter(lifespan=lifespan)


def _one(hub: Hub, job: Job) -> dict[str, Any]:
    with hub.db.read() as session:
        names = services.owner_names(session, [job])
    return services.job_json(job, names.get(job.owner_id or -1))


@router.get("/api/jobs/kinds")
def job_kinds() -> list[dict[str, Any]]:
    return services.kinds_json()


@router.post("/api/jobs")
async def submit_job(request: Request) -> Response:
    body = await json_body(request)
    hub, actor = get_hub(request), get_actor(request)

    def submit() -> Job:
        with hub.db.write() as session:
            return services.submit(session, actor, str(body.get("kind", "")), body.get("payload", {}))

    job = await asyncio.to_thread(submit)
    service: JobService | None = getattr(request.app.state, "jobs", None)
    if service is not None:
        service.wake()
    return JSONResponse(_one(hub, job), status_code=201)


@router.get("/api/jobs")
def list_jobs(
    request: Request, status: str | None = None, kind: str | None = None, all: bool = False,
    limit: int = 50, offset: int = 0,
) -> list[dict[str, Any]]:
    hub, actor = get_hub(request), get_actor(request)
    query = services.JobQuery(status=status, kind=kind, all_users=all, limit=limit, offset=offset)
    with hub.db.read() as session:
        jobs = services.list_jobs(session, actor, query)
        names = services.owner_names(session, jobs)
    return [services.job_json(j, names.get(j.owner_id or -1)) for j in jobs]


@router.get("/api/jobs/{job_id}")
def get_job(request: Request, job_id: str) -> dict[str, Any]:
    hub, actor = get_hub(request), get_actor(request)
    with hub.db.read() as session:
        job = services.get_job_for(session, actor, job_id)
    return _one(hub, job)


@router.get("/api/jobs/{job_id}/log")
def job_log(request: Request, job_id: str, offset: int = 0) -> Response:
    """The log from character ``offset``; ``X-Log-Offset`` is where to continue, ``X-Job-Status`` the status."""
    hub, actor = get_hub(request), get_actor(request)
    with hub.db.read() as session:
        job = services.get_job_for(session, actor, job_id)
        text = services.log_since(session, job.id, offset)
    headers = {"X-Log-Offset": str(max(0, offset) + len(text)), "X-Job-Status": job.status}
    return PlainTextResponse(text, headers=headers)


@router.get("/api/jobs/{job_id}/log/stream")
def job_log_stream(request: Request, job_id: str, offset: int = 0) -> StreamingResponse:
    """Server-sent events: ``log`` (new text), ``progress`` (status, progress, message) and a last ``end``
    event with the whole job, once it has finished and its log has been sent."""
    hub, actor = get_hub(request), get_actor(request)
    with hub.db.read() as session:
        services.get_job_for(session, actor, job_id)  # 404 now rather than inside the stream

    def load(sent: int) -> tuple[Job, str]:
        with hub.db.read() as session:
            job = services.get_job_for(session, actor, job_id)
            return job, services.log_since(session, job.id, sent)

    async def events() -> AsyncIterator[bytes]:
        sent, last_state = max(0, offset), None
        while True:
            job, text = await asyncio.to_thread(load, sent)
            if text:
                yield _sse("log", {"offset": sent, "text": text})
                sent += len(text)
            state = (job.status, job.progress, job.message)
            if state != last_state:
                yield _sse("progress", {"status": job.status, "progress": job.progress, "message": job.message})
                last_state = state
            if job.status in FINISHED:
                yield _sse("end", await asyncio.to_thread(_one, hub, job))
                return
            await asyncio.sleep(STREAM_POLL_SECONDS)

    headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    return StreamingResponse(events(), media_type="text/event-stream", headers=headers)


@router.post("/api/jobs/{job_id}/cancel")
def cancel_job(request: Request, job_id: str) -> dict[str, Any]:
    hub, actor = get_hub(request), get_actor(request)
    with hub.db.write() as session:
        job = services.request_cancel(session, actor, job_id)
    service: JobService | None = getattr(request.app.state, "jobs", None)
    if service is not None:
        service.wake()
    return _one(hub, job)


def _sse(event: str, data: dict[str, Any]) -> bytes:
    return f"event: {event}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n".encode()
