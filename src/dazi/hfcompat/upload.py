"""``POST /api/{T}/{repo}/commit/{rev}``: stream the NDJSON body into a commit."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from fastapi import Request
from starlette.concurrency import run_in_threadpool

from dazi.accounts.services import Actor
from dazi.deps import base_url
from dazi.errors import Forbidden
from dazi.hfcompat.serialize import URL_PREFIX
from dazi.hub import Hub
from dazi.repos import services as repos
from dazi.transfer import consume_body
from dazi.uploads.ndjson import CommitBodyParser
from dazi.uploads.services import commit_changes


def _check_writable(hub: Hub, actor: Actor | None, repo_type: str, repo_id: str) -> None:
    with hub.db.read() as session:
        repos.get_writable_repo(session, actor, repo_type, repo_id)


async def receive_commit(
    request: Request, hub: Hub, actor: Actor | None, repo_type: str, repo_id: str, branch: str
) -> dict[str, Any]:
    await run_in_threadpool(_check_writable, hub, actor, repo_type, repo_id)  # before reading any byte
    if actor is None:
        raise Forbidden("You must be logged in to commit.")
    settings = hub.settings
    parser = CommitBodyParser(
        hub.blobs.begin,
        max_line=settings.max_regular_line,
        max_inline_total=settings.max_inline_commit_bytes,
        max_file_size=settings.max_file_size,
    )

    def parse(chunks: Iterator[bytearray]) -> None:
        for chunk in chunks:
            parser.feed(bytes(chunk))
        parser.close()

    try:
        await consume_body(request, parse)
        assert parser.header is not None
        result = await run_in_threadpool(
            commit_changes, hub, actor, repo_type, repo_id, branch, parser.header, parser.operations
        )
    except BaseException:
        await run_in_threadpool(parser.abort)
        raise
    url = f"{base_url(request)}/{URL_PREFIX[result.repo_type]}{result.repo_id}/commit/{result.oid}"
    return {"success": True, "commitOid": result.oid, "commitUrl": url, "hookOutput": ""}
