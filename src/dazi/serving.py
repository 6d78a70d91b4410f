"""Serving one file of a repo at a revision, for every protocol (HF ``…/resolve/…``, ModelScope ``…/repo?…``).

The answer carries the headers the clients cache and verify by: ``X-Repo-Commit``, ``ETag`` (git blob id,
or the sha256 for LFS files, with ``X-Linked-Etag`` and ``X-Linked-Size``), ``Content-Length`` and Range
support; a GET of a repo's "query file" counts as a download.
"""

from __future__ import annotations

import mimetypes
from urllib.parse import quote

from fastapi import Request
from fastapi.responses import Response

from dazi.deps import get_actor, get_hub
from dazi.repos import downloads
from dazi.repos import services as repos
from dazi.repos.git import ObjectStore
from dazi.repos.names import check_path
from dazi.transfer import bytes_response, file_response, stream_response

_TEXT = {".md", ".txt", ".py", ".yaml", ".yml", ".csv", ".tsv", ".jsonl", ".toml", ".cfg", ".ini", ".jinja"}
SAFE_HEADERS = {"X-Content-Type-Options": "nosniff", "Content-Security-Policy": "sandbox; default-src 'none'"}


def media_type(path: str) -> str:
    """Never a type a browser would execute: uploaded content is untrusted."""
    suffix = "." + path.rsplit(".", 1)[-1].lower() if "." in path else ""
    if suffix == ".json":
        return "application/json"
    if suffix in _TEXT:
        return "text/plain; charset=utf-8"
    guessed = mimetypes.guess_type(path)[0] or ""
    if guessed.startswith(("image/png", "image/jpeg", "image/gif", "image/webp", "audio/", "video/")):
        return guessed
    return "application/octet-stream"


def disposition(path: str) -> str:
    name = path.rsplit("/", 1)[-1]
    ascii_name = name.encode("ascii", "replace").decode().replace('"', "_")
    return f"inline; filename*=UTF-8''{quote(name)}; filename=\"{ascii_name}\";"


def resolve_file(request: Request, repo_type: str, repo_id: str, rev: str, path: str) -> Response:
    hub = get_hub(request)
    actor = get_actor(request)
    head = request.method == "HEAD"
    check_path(path)
    with hub.db.read() as session:
        repo = repos.get_repo_for(session, actor, repo_type, repo_id)
        commit = repos.resolve_revision(session, repo, rev)
        entry = repos.file_entry(session, repo, commit, path)
        data = None if entry.lfs_oid else ObjectStore(session, repo.id).blob_data(entry.oid)
        repo_pk = repo.id
    headers = {"X-Repo-Commit": commit, "Content-Disposition": disposition(path), **SAFE_HEADERS}
    kind = media_type(path)
    range_header = request.headers.get("range")
    if not head and downloads.counts_as_download(repo_type, path, range_header):
        downloads.record(hub, repo_pk)
    if data is not None:
        headers["ETag"] = f'"{entry.oid}"'
        return bytes_response(data, headers, range_header, head, kind)
    oid, size = entry.lfs_oid, entry.size
    assert oid is not None
    headers.update({"ETag": f'"{oid}"', "X-Linked-Etag": f'"{oid}"', "X-Linked-Size": str(size)})
    local = hub.blobs.local_path(oid)
    if local is not None:
        return file_response(local, headers, hub.settings.download_chunk_size, kind)
    chunk = hub.settings.download_chunk_size

    def body(start: int, end: int):  # type: ignore[no-untyped-def]
        return hub.blobs.iter_range(oid, start, end, chunk)

    return stream_response(body, size, headers, range_header, head, kind)
