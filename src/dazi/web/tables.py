"""The first rows of a data file (CSV, TSV, JSON Lines, Parquet) for the dataset viewer, read with pyarrow.

Nothing huge is ever read whole. CSV and JSON Lines: only the first ``MAX_TEXT_BYTES`` (cut at the last
complete line), so the viewer pages through the rows of that prefix and says so. Parquet: the footer
and then only the row groups that hold the requested page, by ranged reads of the blob store (a row
group larger than ``MAX_ROW_GROUP_BYTES`` is not read). Results are cached in memory per (content
digest, page): an LFS oid or a git blob oid never changes its content.
"""

from __future__ import annotations

import io
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.json as pa_json
import pyarrow.parquet as pq

PAGE_ROWS = 100
MAX_TEXT_BYTES = 4_000_000
MAX_ROW_GROUP_BYTES = 64 * 1024 * 1024
MAX_CELL_CHARS = 300
MAX_COLUMNS = 100
CACHE_ENTRIES = 256
FORMATS = {".csv": "csv", ".tsv": "tsv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".parquet": "parquet"}

Reader = Callable[[int, int], bytes]  # read(start, end) -> the bytes [start, end)


def format_of(path: str) -> str | None:
    lower = path.lower()
    for ext, kind in FORMATS.items():
        if lower.endswith(ext):
            return kind
    return None


@dataclass(frozen=True)
class Column:
    name: str
    type: str


@dataclass(frozen=True)
class Cell:
    text: str
    null: bool = False
    truncated: bool = False


@dataclass
class Rows:
    """One page of a file's rows, or why there are none (``error``: a message id of ``labels``-style text)."""

    columns: list[Column] = field(default_factory=list)
    rows: list[list[Cell]] = field(default_factory=list)
    offset: int = 0  # index of the first row shown
    total: int | None = None  # rows in the file, when known (Parquet, or a text file read whole)
    rows_read: int = 0  # rows available to page through (the prefix for truncated text files)
    partial: bool = False  # only the first MAX_TEXT_BYTES of a text file were read
    more_columns: int = 0
    error: str | None = None  # "unreadable" | "too-large"


_cache: OrderedDict[tuple[str, int], Rows] = OrderedDict()
_lock = threading.Lock()


def read_rows(key: str, kind: str, size: int, read: Reader, page: int) -> Rows:
    """Page ``page`` (1-based) of a file of ``kind`` and ``size`` bytes; cached by ``(key, page)``."""
    with _lock:
        cached = _cache.get((key, page))
        if cached is not None:
            _cache.move_to_end((key, page))
            return cached
    try:
        result = _parquet_rows(read, size, page) if kind == "parquet" else _text_rows(kind, read, size, page)
    except (pa.ArrowException, ValueError, OSError, UnicodeDecodeError):
        result = Rows(error="unreadable")
    with _lock:
        _cache[(key, page)] = result
        while len(_cache) > CACHE_ENTRIES:
            _cache.popitem(last=False)
    return result


def _text_rows(kind: str, read: Reader, size: int, page: int) -> Rows:
    partial = size > MAX_TEXT_BYTES
    data = read(0, min(size, MAX_TEXT_BYTES))
    if partial:
        cut = data.rfind(b"\n")
        data = data[: cut + 1] if cut > 0 else b""
    if not data.strip():
        return Rows(error="unreadable") if partial else Rows(total=0)
    table = _parse_text(kind, data)
    result = _page_of(table, page, table.num_rows)
    result.partial = partial
    result.total = None if partial else table.num_rows
    return result


def _parse_text(kind: str, data: bytes) -> pa.Table:
    block = max(len(data) + 1, 1 << 16)
    if kind == "jsonl":
        return pa_json.read_json(io.BytesIO(data), read_options=pa_json.ReadOptions(block_size=block))
    parse = pa_csv.ParseOptions(delimiter="\t" if kind == "tsv" else ",", newlines_in_values=True)
    return pa_csv.read_csv(io.BytesIO(data), read_options=pa_csv.ReadOptions(block_size=block), parse_options=parse)


def _parquet_rows(read: Reader, size: int, page: int) -> Rows:
    parquet = pq.ParquetFile(pa.PythonFile(RangeFile(read, size), mode="r"))
    meta = parquet.metadata
    start = (page - 1) * PAGE_ROWS
    end = min(start + PAGE_ROWS, meta.num_rows)
    groups: list[int] = []
    first_row, row = 0, 0
    for index in range(meta.num_row_groups):
        count = meta.row_group(index).num_rows
        if row + count > start and row < end:
            if not groups:
                first_row = row
            if meta.row_group(index).total_byte_size > MAX_ROW_GROUP_BYTES:
                return Rows(columns=_columns(parquet.schema_arrow), total=meta.num_rows, error="too-large")
            groups.append(index)
        row += count
    if not groups:
        result = _page_of(parquet.schema_arrow.empty_table(), 1, 0)
    else:
        table = parquet.read_row_groups(groups).slice(start - first_row, end - start)
        result = _page_of(table, 1, table.num_rows)
    result.offset, result.total, result.rows_read = start, meta.num_rows, meta.num_rows
    return result


def _page_of(table: pa.Table, page: int, available: int) -> Rows:
    """Rows ``[(page-1)*PAGE_ROWS, page*PAGE_ROWS)`` of ``table`` as display cells."""
    offset = (page - 1) * PAGE_ROWS
    shown = table.slice(offset, PAGE_ROWS) if offset < table.num_rows else table.slice(0, 0)
    names = shown.column_names[:MAX_COLUMNS]
    values = [shown.column(name).to_pylist() for name in names]
    rows = [[cell(column[i]) for column in values] for i in range(shown.num_rows)]
    return Rows(
        columns=_columns(shown.schema)[:MAX_COLUMNS],
        rows=rows,
        offset=offset,
        rows_read=available,
        more_columns=max(0, len(shown.column_names) - MAX_COLUMNS),
    )


def _columns(schema: pa.Schema) -> list[Column]:
    return [Column(str(f.name), str(f.type)) for f in schema]


def cell(value: Any) -> Cell:
    """What a table cell shows: text (escaped later by the template), cut at ``MAX_CELL_CHARS``."""
    if value is None:
        return Cell("null", null=True)
    if isinstance(value, bytes):
        text = f"<{len(value)} bytes>"
    elif isinstance(value, str):
        text = value
    else:
        text = repr(value) if isinstance(value, dict | list | tuple) else str(value)
    if len(text) > MAX_CELL_CHARS:
        return Cell(text[:MAX_CELL_CHARS] + "…", truncated=True)
    return Cell(text)


class RangeFile(io.RawIOBase):
    """A read-only, seekable file over ranged reads (what ``pyarrow.parquet`` needs)."""

    def __init__(self, read: Reader, size: int):
        self._read, self._size, self._pos = read, size, 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self._size}[whence]
        self._pos = max(0, base + offset)
        return self._pos

    def read(self, size: int = -1) -> bytes:
        end = self._size if size is None or size < 0 else min(self._size, self._pos + size)
        if end <= self._pos:
            return b""
        data = self._read(self._pos, end)
        self._pos += len(data)
        return data

    def readinto(self, buffer: Any) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)
