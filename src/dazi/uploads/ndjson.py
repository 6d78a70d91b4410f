"""Incremental parser of the Hugging Face commit body (``application/x-ndjson``).

Lines are parsed one at a time. A line longer than ``max_line`` can only be a
``file`` operation carrying a large base64 ``content``: its content is decoded
while it arrives and streamed into a blob writer, so the server never holds it
in memory. Everything else about that line (its path) is parsed afterwards.
"""

from __future__ import annotations

import binascii
import json
import re
from collections.abc import Callable
from typing import Any

import pybase64

from dazi.blobstore import BlobWriter
from dazi.errors import BadRequest, PayloadTooLarge
from dazi.repos.git import LfsPointer
from dazi.repos.names import check_path, normalize_folder
from dazi.uploads.operations import AddBytes, AddLfs, AddStreamed, CommitHeader, Delete, Operation

_CONTENT_KEY = re.compile(rb'"content"\s*:\s*"')
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


class CommitBodyParser:
    """Feed bytes with ``feed``; call ``close`` at the end. Results accumulate in ``header``/``operations``."""

    def __init__(
        self, new_writer: Callable[[], BlobWriter], *, max_line: int, max_inline_total: int, max_file_size: int
    ):
        self._new_writer = new_writer
        self._max_line = max_line
        self._max_inline_total = max_inline_total
        self._max_file_size = max_file_size
        self._buf = bytearray()
        self._inline_total = 0
        self._stream: _StreamedContent | None = None
        self.header: CommitHeader | None = None
        self.operations: list[Operation] = []
        self.lines = 0

    # -- driving -------------------------------------------------------------------------

    def feed(self, data: bytes) -> None:
        while data:
            if self._stream is not None:
                data = self._stream.feed(data)
                if self._stream.done:
                    self._finish_stream()
                continue
            self._buf += data
            data = b""
            self._drain_lines()

    def close(self) -> None:
        if self._stream is not None:
            if not self._stream.end_of_body():
                raise BadRequest("The commit body ended in the middle of a file's content.")
            self._finish_stream()
        if self._buf.strip():
            self._handle_line(bytes(self._buf))
        self._buf.clear()
        if self.header is None:
            raise BadRequest("The commit body must start with a 'header' line.")

    def abort(self) -> None:
        """Drop every temporary blob this body created."""
        if self._stream is not None:
            self._stream.writer.abort()
        for op in self.operations:
            if isinstance(op, AddStreamed):
                op.writer.abort()

    def _drain_lines(self) -> None:
        while True:
            nl = self._buf.find(b"\n")
            if nl < 0:
                if len(self._buf) > self._max_line:
                    self._start_stream()
                return
            line = bytes(self._buf[:nl])
            del self._buf[: nl + 1]
            if line.strip():
                self._handle_line(line)

    # -- one line --------------------------------------------------------------------------

    def _handle_line(self, line: bytes) -> None:
        self.lines += 1
        try:
            obj = json.loads(line)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise BadRequest(f"Malformed NDJSON on line {self.lines}: {exc}") from None
        key, value = _key_value(obj, self.lines)
        if self.header is None:
            if key != "header":
                raise BadRequest("The commit body must start with a 'header' line.")
            self.header = _header(value)
            return
        if key == "file":
            content = _b64(value.get("content"), self.lines)
            if len(content) > self._max_file_size:
                raise PayloadTooLarge(f"{value.get('path')!r} is larger than the {self._max_file_size}-byte limit.")
            self._inline_total += len(content)
            if self._inline_total > self._max_inline_total:
                raise PayloadTooLarge(
                    f"This commit carries more than {self._max_inline_total} bytes inline; split it into "
                    "several commits or upload large files through LFS."
                )
            _check_encoding(value)
            self.operations.append(AddBytes(check_path(_str(value, "path")), content))
        elif key == "lfsFile":
            oid = _str(value, "oid")
            if value.get("algo", "sha256") != "sha256" or not _SHA256.match(oid):
                raise BadRequest(f"Invalid LFS oid {oid[:80]!r} on line {self.lines}: expected a sha256 hex digest.")
            size = value.get("size")
            if size is not None and (not isinstance(size, int) or size < 0):
                raise BadRequest(f"Invalid size on line {self.lines}.")
            self.operations.append(AddLfs(check_path(_str(value, "path")), oid, size))
        elif key == "deletedFile":
            self.operations.append(Delete(check_path(_str(value, "path"))))
        elif key == "deletedFolder":
            self.operations.append(Delete(normalize_folder(_str(value, "path")), folder=True))
        elif key == "header":
            raise BadRequest("Only one 'header' line is allowed.")
        else:
            raise BadRequest(f"Unknown operation {key!r} on line {self.lines}.")

    # -- streamed lines ----------------------------------------------------------------------

    def _start_stream(self) -> None:
        if self.header is None:
            raise BadRequest("The commit body must start with a short 'header' line.")
        match = _CONTENT_KEY.search(self._buf, 0, 65536)
        if match is None:
            raise PayloadTooLarge(f"NDJSON line {self.lines + 1} is too long and carries no file content.")
        prefix = bytes(self._buf[: match.end() - 1])
        rest = bytes(self._buf[match.end() :])
        self._buf.clear()
        self._stream = _StreamedContent(prefix, self._new_writer(), self._max_file_size)
        leftover = self._stream.feed(rest)
        if self._stream.done:
            self._finish_stream()
        if leftover:
            self.feed(leftover)

    def _finish_stream(self) -> None:
        stream = self._stream
        assert stream is not None
        self._stream = None
        self.lines += 1
        try:
            try:
                obj = json.loads(stream.prefix + b'""' + stream.suffix)
            except (json.JSONDecodeError, UnicodeDecodeError) as exc:
                raise BadRequest(f"Malformed NDJSON on line {self.lines}: {exc}") from None
            key, value = _key_value(obj, self.lines)
            if key != "file":
                raise BadRequest(f"Line {self.lines} is too long for a {key!r} operation.")
            _check_encoding(value)
            path = check_path(_str(value, "path"))
            digest = stream.writer.finish()
        except BaseException:
            stream.writer.abort()
            raise
        self.operations.append(AddStreamed(path, stream.writer, LfsPointer(digest, stream.writer.size)))


class _StreamedContent:
    """Decodes a base64 JSON string value as it arrives; collects the rest of the line."""

    def __init__(self, prefix: bytes, writer: BlobWriter, max_size: int):
        self.prefix = prefix
        self.writer = writer
        self.suffix = bytearray()
        self.done = False
        self._in_value = True
        self._pending = b""
        self._escape = b""  # a trailing backslash waiting for the next chunk
        self._max_size = max_size

    def end_of_body(self) -> bool:
        """The body ended: fine if the content string was closed (a last line needs no newline)."""
        if self._in_value:
            return False
        self.done = True
        return True

    def feed(self, data: bytes) -> bytes:
        """Consume ``data``; return what belongs to the next lines (after this line's newline)."""
        if self._in_value:
            data = self._escape + data
            self._escape = b""
            end = _closing_quote(data)
            chunk, data = (data, b"") if end < 0 else (data[:end], data[end + 1 :])
            if end < 0 and chunk.endswith(b"\\"):
                chunk, self._escape = chunk[:-1], b"\\"
            self._decode(chunk.replace(b"\\/", b"/") if b"\\" in chunk else chunk, final=end >= 0)
            if end < 0:
                return b""
            self._in_value = False
        nl = data.find(b"\n")
        if nl < 0:
            self.suffix += data
            if len(self.suffix) > 65536:
                raise BadRequest("Malformed NDJSON: a file line does not end.")
            return b""
        self.suffix += data[:nl]
        self.done = True
        return data[nl + 1 :]

    def _decode(self, chunk: bytes, *, final: bool) -> None:
        data = self._pending + chunk
        usable = len(data) if final else len(data) - len(data) % 4
        self._pending = data[usable:]
        if usable:
            try:
                self.writer.write(pybase64.b64decode(data[:usable], validate=True))
            except (binascii.Error, ValueError):
                self.writer.abort()
                raise BadRequest("Invalid base64 in a file's content.") from None
            if self.writer.size > self._max_size:
                self.writer.abort()
                raise PayloadTooLarge(f"A file is larger than the {self._max_size}-byte limit.")


def _closing_quote(data: bytes) -> int:
    """Index of the first unescaped '"' (base64 has no quotes; JSON may escape '/' as '\\/')."""
    start = 0
    while True:
        end = data.find(b'"', start)
        if end <= 0 or data[end - 1 : end] != b"\\":
            return end
        start = end + 1


def _key_value(obj: Any, line: int) -> tuple[str, dict[str, Any]]:
    if not isinstance(obj, dict) or not isinstance(obj.get("key"), str) or not isinstance(obj.get("value"), dict):
        raise BadRequest(f'Malformed NDJSON on line {line}: expected {{"key": ..., "value": {{...}}}}.')
    return obj["key"], obj["value"]


def _header(value: dict[str, Any]) -> CommitHeader:
    parent = value.get("parentCommit")
    if parent is not None and (not isinstance(parent, str) or not re.match(r"^[0-9a-f]{5,40}$", parent)):
        raise BadRequest(f"Invalid parentCommit {str(parent)[:80]!r}.")
    summary = value.get("summary") or ""
    description = value.get("description") or ""
    if not isinstance(summary, str) or not isinstance(description, str):
        raise BadRequest("The commit summary and description must be strings.")
    return CommitHeader(summary=summary, description=description, parent_commit=parent)


def _str(value: dict[str, Any], key: str) -> str:
    item = value.get(key)
    if not isinstance(item, str):
        raise BadRequest(f"Missing or invalid {key!r} in a commit operation.")
    return item


def _check_encoding(value: dict[str, Any]) -> None:
    if value.get("encoding", "base64") != "base64":
        raise BadRequest(f"Unsupported encoding {value.get('encoding')!r}: only base64 is supported.")


def _b64(content: Any, line: int) -> bytes:
    if not isinstance(content, str):
        raise BadRequest(f"Missing file content on line {line}.")
    try:
        return pybase64.b64decode(content, validate=True)
    except (binascii.Error, ValueError):
        raise BadRequest(f"Invalid base64 content on line {line}.") from None
