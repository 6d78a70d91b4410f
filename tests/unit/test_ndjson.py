"""The incremental NDJSON commit-body parser: chunking invariance, streamed long lines, errors, cleanup."""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from dazi.blobstore import LocalBlobStore
from dazi.errors import BadRequest, InvalidPath, PayloadTooLarge
from dazi.uploads.ndjson import CommitBodyParser
from dazi.uploads.operations import AddBytes, AddLfs, AddStreamed, Delete

OID = "a" * 64
MAX_LINE = 1024


def line(key: str, value: dict[str, Any]) -> bytes:
    return json.dumps({"key": key, "value": value}).encode() + b"\n"


def header(**extra: Any) -> bytes:
    return line("header", {"summary": "s", "description": "d", **extra})


def file_line(path: str, content: bytes, *, content_first: bool = False) -> bytes:
    b64 = base64.b64encode(content).decode()
    value = ({"content": b64, "path": path, "encoding": "base64"} if content_first
             else {"path": path, "encoding": "base64", "content": b64})
    return line("file", value)


def payload(size: int, seed: int = 0) -> bytes:
    block = hashlib.sha256(str(seed).encode()).digest()
    return (block * (size // len(block) + 1))[:size]


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture
def store(tmp_path: Path) -> LocalBlobStore:
    return LocalBlobStore(tmp_path / "blobs")


def make_parser(store: LocalBlobStore, *, max_line: int = MAX_LINE, max_inline_total: int = 1 << 30,
                max_file_size: int = 1 << 30) -> CommitBodyParser:
    return CommitBodyParser(store.begin, max_line=max_line, max_inline_total=max_inline_total,
                            max_file_size=max_file_size)


def feed_in(parser: CommitBodyParser, body: bytes, chunk: int | None) -> CommitBodyParser:
    if chunk is None:
        parser.feed(body)
    else:
        for i in range(0, len(body), chunk):
            parser.feed(body[i : i + chunk])
    parser.close()
    return parser


def normalise(op: Any) -> tuple[Any, ...]:
    """Streamed and inline additions of the same content compare equal."""
    if isinstance(op, AddBytes):
        return ("add", op.path, sha(op.content), len(op.content))
    if isinstance(op, AddStreamed):
        return ("add", op.path, op.pointer.oid, op.pointer.size)
    if isinstance(op, AddLfs):
        return ("lfs", op.path, op.oid, op.size)
    if isinstance(op, Delete):
        return ("delete", op.path, op.folder)
    raise AssertionError(f"unexpected operation {op!r}")


def temporaries(store: LocalBlobStore) -> list[Any]:
    return list(store.iter_temporaries())


BIG = payload(6000, seed=1)  # base64 is 8000 bytes: far longer than MAX_LINE
SMALL = b"hello world\n"
BODY = b"".join(
    [
        header(parentCommit="abcdef1"),
        file_line("README.md", SMALL),
        b"\n",  # blank lines are ignored
        file_line("weights/big.bin", BIG),
        file_line("first.bin", payload(4000, seed=2), content_first=True),
        line("lfsFile", {"path": "model.safetensors", "algo": "sha256", "oid": OID, "size": 123}),
        line("lfsFile", {"path": "copied.safetensors", "algo": "sha256", "oid": "b" * 64}),
        line("deletedFile", {"path": "old.txt"}),
        line("deletedFolder", {"path": "old_dir/"}),
        file_line("empty.txt", b""),
    ]
)
EXPECTED = [
    ("add", "README.md", sha(SMALL), len(SMALL)),
    ("add", "weights/big.bin", sha(BIG), len(BIG)),
    ("add", "first.bin", sha(payload(4000, seed=2)), 4000),
    ("lfs", "model.safetensors", OID, 123),
    ("lfs", "copied.safetensors", "b" * 64, None),
    ("delete", "old.txt", False),
    ("delete", "old_dir", True),
    ("add", "empty.txt", sha(b""), 0),
]


@pytest.mark.parametrize("chunk", [1, 2, 3, 7, 64, 1023, 1024, 1025, 4096, None])
def test_chunk_sizes_give_identical_operations(store: LocalBlobStore, chunk: int | None) -> None:
    parser = feed_in(make_parser(store), BODY, chunk)
    assert parser.header is not None
    assert parser.header.summary == "s"
    assert parser.header.description == "d"
    assert parser.header.parent_commit == "abcdef1"
    assert [normalise(op) for op in parser.operations] == EXPECTED
    parser.abort()
    assert temporaries(store) == []


def test_long_lines_are_streamed_into_blob_writers(store: LocalBlobStore) -> None:
    parser = feed_in(make_parser(store), BODY, 7)
    streamed = [op for op in parser.operations if isinstance(op, AddStreamed)]
    assert {op.path for op in streamed} == {"weights/big.bin", "first.bin"}
    for op in streamed:
        assert op.writer.size == op.pointer.size
    big = next(op for op in streamed if op.path == "weights/big.bin")
    assert big.pointer.oid == sha(BIG)
    assert big.pointer.size == len(BIG)
    # finished but not published: the content is in a temporary, not at its address
    assert len(temporaries(store)) == 2
    assert not store.exists(sha(BIG))
    assert big.writer.publish() == sha(BIG)
    assert store.read(sha(BIG)) == BIG
    parser.abort()  # safe after a publish
    assert temporaries(store) == []
    assert store.exists(sha(BIG))


def test_large_streamed_line_right_digest_and_size(store: LocalBlobStore) -> None:
    content = payload(3 * 1024 * 1024 + 1, seed=9)
    body = header() + file_line("huge.bin", content) + line("deletedFile", {"path": "x"})
    parser = feed_in(make_parser(store, max_line=64 * 1024), body, 65536 + 3)
    ops = parser.operations
    assert isinstance(ops[0], AddStreamed)
    assert ops[0].pointer.oid == sha(content)
    assert ops[0].pointer.size == len(content)
    assert normalise(ops[1]) == ("delete", "x", False)
    parser.abort()
    assert temporaries(store) == []


@pytest.mark.parametrize("chunk", [1, 5, 4096])
def test_streamed_line_with_escaped_slashes(store: LocalBlobStore, chunk: int) -> None:
    """JSON allows ``\\/`` for ``/``; base64 is full of slashes (non-Python encoders escape them)."""
    content = bytes(range(256)) * 8  # its base64 contains many '/'
    b64 = base64.b64encode(content).decode()
    assert "/" in b64
    raw = ('{"key":"file","value":{"path":"s.bin","encoding":"base64","content":"'
           + b64.replace("/", "\\/") + '"}}\n').encode()
    assert json.loads(raw)["value"]["content"] == b64  # valid JSON
    parser = feed_in(make_parser(store), header() + raw, chunk)
    assert [normalise(op) for op in parser.operations] == [("add", "s.bin", sha(content), len(content))]
    parser.abort()


@pytest.mark.parametrize("chunk", [1, 100, None])
def test_last_line_without_trailing_newline(store: LocalBlobStore, chunk: int | None) -> None:
    """NDJSON's final newline is optional, for short and for long (streamed) lines alike."""
    body = header() + file_line("a.txt", SMALL).rstrip(b"\n")
    parser = feed_in(make_parser(store), body, chunk)
    assert [normalise(op) for op in parser.operations] == [("add", "a.txt", sha(SMALL), len(SMALL))]
    body = header() + file_line("big.bin", BIG).rstrip(b"\n")
    parser = feed_in(make_parser(store), body, chunk)
    assert [normalise(op) for op in parser.operations] == [("add", "big.bin", sha(BIG), len(BIG))]
    parser.abort()
    assert temporaries(store) == []


def test_crlf_line_endings(store: LocalBlobStore) -> None:
    body = header().replace(b"\n", b"\r\n") + file_line("a.txt", SMALL).replace(b"\n", b"\r\n")
    parser = feed_in(make_parser(store), body, 3)
    assert [normalise(op) for op in parser.operations] == [("add", "a.txt", sha(SMALL), len(SMALL))]


# -- errors ------------------------------------------------------------------------------------

ERRORS: list[tuple[str, bytes, type[Exception]]] = [
    ("not json", header() + b"this is not json\n", BadRequest),
    ("truncated json", header() + b'{"key": "file", "value": {\n', BadRequest),
    ("not an object", header() + b"[1, 2, 3]\n", BadRequest),
    ("value not an object", header() + b'{"key": "file", "value": "x"}\n', BadRequest),
    ("key not a string", header() + b'{"key": 3, "value": {}}\n', BadRequest),
    ("missing header", file_line("a.txt", SMALL), BadRequest),
    ("empty body", b"", BadRequest),
    ("only blank lines", b"\n\n\n", BadRequest),
    ("two headers", header() + header(), BadRequest),
    ("unknown key", header() + line("copyFile", {"path": "a"}), BadRequest),
    ("bad base64", header() + line("file", {"path": "a.txt", "content": "!!!not base64!!!", "encoding": "base64"}),
     BadRequest),
    ("bad base64 padding", header() + line("file", {"path": "a.txt", "content": "abc", "encoding": "base64"}),
     BadRequest),
    ("content missing", header() + line("file", {"path": "a.txt"}), BadRequest),
    ("content not a string", header() + line("file", {"path": "a.txt", "content": 5}), BadRequest),
    ("unsupported encoding", header() + line("file", {"path": "a.txt", "content": "aGk=", "encoding": "utf-8"}),
     BadRequest),
    ("path missing", header() + line("file", {"content": "aGk="}), BadRequest),
    ("path not a string", header() + line("deletedFile", {"path": ["a"]}), BadRequest),
    ("traversal", header() + file_line("../x", SMALL), InvalidPath),
    ("inner traversal", header() + file_line("a/../b", SMALL), InvalidPath),
    ("absolute", header() + file_line("/abs", SMALL), InvalidPath),
    ("backslash", header() + file_line("a\\b", SMALL), InvalidPath),
    ("nul", header() + file_line("a\x00b", SMALL), InvalidPath),
    ("dot git", header() + file_line(".git/config", SMALL), InvalidPath),
    ("long component", header() + file_line("d/" + "x" * 300, SMALL), InvalidPath),
    ("delete traversal", header() + line("deletedFile", {"path": "../x"}), InvalidPath),
    ("delete folder traversal", header() + line("deletedFolder", {"path": "../"}), InvalidPath),
    ("lfs bad oid", header() + line("lfsFile", {"path": "a.bin", "oid": "xyz", "size": 1}), BadRequest),
    ("lfs upper-case oid", header() + line("lfsFile", {"path": "a.bin", "oid": "A" * 64, "size": 1}), BadRequest),
    ("lfs bad algo", header() + line("lfsFile", {"path": "a.bin", "algo": "md5", "oid": OID, "size": 1}),
     BadRequest),
    ("lfs negative size", header() + line("lfsFile", {"path": "a.bin", "oid": OID, "size": -1}), BadRequest),
    ("lfs string size", header() + line("lfsFile", {"path": "a.bin", "oid": OID, "size": "1"}), BadRequest),
    ("lfs bad path", header() + line("lfsFile", {"path": "../a.bin", "oid": OID, "size": 1}), InvalidPath),
    ("bad parent", header(parentCommit="not-a-commit"), BadRequest),
    ("summary not a string", line("header", {"summary": ["x"]}), BadRequest),
]


# Lines longer than max_line that arrive in pieces take the streaming path (a whole body handed over
# at once is parsed line by line: max_line bounds what is buffered, not what is accepted).
STREAMED_ERRORS: list[tuple[str, bytes, type[Exception]]] = [
    ("streamed bad base64", header() + line("file", {"path": "a.bin", "content": "*" * 3000}), BadRequest),
    ("streamed bad path", header() + file_line("../big.bin", BIG), InvalidPath),
    ("streamed wrong key", header() + line("deletedFile", {"path": "a", "content": base64.b64encode(BIG).decode()}),
     BadRequest),
    ("streamed unterminated", header() + b'{"key":"file","value":{"path":"a","content":"'
     + base64.b64encode(BIG), BadRequest),
    ("long line without content", header() + line("deletedFile", {"path": "a" * 200, "x": "y" * 3000}),
     PayloadTooLarge),
    ("long header", line("header", {"summary": "x" * 3000}), BadRequest),
]


@pytest.mark.parametrize("chunk", [1, 7, 300])
@pytest.mark.parametrize(("body", "error"), [(b, e) for _n, b, e in STREAMED_ERRORS],
                         ids=[n for n, _b, _e in STREAMED_ERRORS])
def test_streamed_errors(store: LocalBlobStore, body: bytes, error: type[Exception], chunk: int) -> None:
    test_errors(store, body, error, chunk)


@pytest.mark.parametrize("chunk", [1, 7, None])
@pytest.mark.parametrize(("body", "error"), [(b, e) for _n, b, e in ERRORS], ids=[n for n, _b, _e in ERRORS])
def test_errors(store: LocalBlobStore, body: bytes, error: type[Exception], chunk: int | None) -> None:
    parser = make_parser(store)
    with pytest.raises(error) as info:
        feed_in(parser, body, chunk)
    assert isinstance(info.value, BadRequest | PayloadTooLarge)
    assert info.value.message  # type: ignore[attr-defined]
    parser.abort()
    assert temporaries(store) == []


def test_error_messages_name_the_line(store: LocalBlobStore) -> None:
    parser = make_parser(store)
    with pytest.raises(BadRequest, match="line 3"):
        feed_in(parser, header() + file_line("a", SMALL) + b"garbage\n", None)
    parser = make_parser(store)
    with pytest.raises(BadRequest, match="header"):
        feed_in(parser, file_line("a", SMALL), None)
    parser = make_parser(store)
    with pytest.raises(BadRequest, match="copyFile"):
        feed_in(parser, header() + line("copyFile", {"path": "a"}), None)


def test_inline_file_size_limit(store: LocalBlobStore) -> None:
    parser = make_parser(store, max_line=1 << 20, max_file_size=100)
    with pytest.raises(PayloadTooLarge):
        feed_in(parser, header() + file_line("a.bin", payload(101)), None)


def test_inline_total_limit(store: LocalBlobStore) -> None:
    parser = make_parser(store, max_line=1 << 20, max_inline_total=150)
    body = header() + file_line("a.bin", payload(100)) + file_line("b.bin", payload(100, seed=3))
    with pytest.raises(PayloadTooLarge):
        feed_in(parser, body, None)


@pytest.mark.parametrize("chunk", [1, 7, 512])
def test_streamed_file_size_limit(store: LocalBlobStore, chunk: int) -> None:
    parser = make_parser(store, max_file_size=5000)
    with pytest.raises(PayloadTooLarge):
        feed_in(parser, header() + file_line("big.bin", BIG), chunk)
    parser.abort()
    assert temporaries(store) == []


# -- abort ----------------------------------------------------------------------------------------


def _abort_cases() -> list[tuple[str, Callable[[CommitBodyParser], None]]]:
    def mid_stream(p: CommitBodyParser) -> None:
        body = header() + file_line("a.bin", BIG)
        p.feed(body[: len(body) // 2])

    def after_streams(p: CommitBodyParser) -> None:
        feed_in(p, BODY, 100)

    def after_stream_then_error(p: CommitBodyParser) -> None:
        with pytest.raises(BadRequest):
            feed_in(p, header() + file_line("a.bin", BIG) + file_line("b.bin", BIG) + b"junk\n", 50)

    def published_one(p: CommitBodyParser) -> None:
        feed_in(p, BODY, 100)
        next(op for op in p.operations if isinstance(op, AddStreamed)).writer.publish()

    return [("mid-stream", mid_stream), ("after-streams", after_streams),
            ("stream-then-error", after_stream_then_error), ("published-one", published_one)]


@pytest.mark.parametrize("action", [a for _n, a in _abort_cases()], ids=[n for n, _a in _abort_cases()])
def test_abort_leaves_no_temporaries(store: LocalBlobStore, action: Callable[[CommitBodyParser], None]) -> None:
    parser = make_parser(store)
    action(parser)
    parser.abort()
    assert temporaries(store) == []
    parser.abort()  # idempotent
    assert temporaries(store) == []


def test_mid_stream_temporary_exists_until_abort(store: LocalBlobStore) -> None:
    parser = make_parser(store)
    body = header() + file_line("a.bin", BIG)
    parser.feed(body[: len(body) // 2])
    assert len(temporaries(store)) == 1
    with pytest.raises(BadRequest):
        parser.close()
    parser.abort()
    assert temporaries(store) == []
