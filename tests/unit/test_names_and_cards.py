"""Pure helpers: name/path/ref rules, model cards, .gitattributes, LFS pointers, signed URLs, Range parsing."""

from __future__ import annotations

import base64
import hashlib
import json
import time

import pytest

from dazi.errors import InvalidName, InvalidPath, RangeNotSatisfiable, Unauthorized
from dazi.repos.cards import parse_card
from dazi.repos.git import LfsPointer
from dazi.repos.gitattributes import LFS_PATTERNS, LfsRules, add_lfs_paths, default_gitattributes
from dazi.repos.names import (
    check_name,
    check_namespace,
    check_path,
    check_ref_name,
    normalize_folder,
    split_repo_id,
)
from dazi.transfer import parse_range
from dazi.uploads import signing

# -- names ----------------------------------------------------------------------------------------

GOOD_NAMES = ["a", "A", "0", "my-model", "my_model", "model.v2", "Qwen2.5-7B-Instruct", "a" * 96, "x-1_2.3",
              "a.gitx", "git", "a-b-c", "a_-_b"]
BAD_NAMES = ["", "-a", ".a", "_a", "a--b", "a..b", "x.git", "a" * 97, "a" * 100, "a b", "a/b", "../x", "..",
             "ä", "名字", "a\tb", "a\x00", "a\n", "abc\n", "a" * 95 + "\n", "a@b", "a+b", "a:b", "a~b", "a%2e"]


@pytest.mark.parametrize("name", GOOD_NAMES)
def test_check_name_accepts(name: str) -> None:
    assert check_name(name) == name


@pytest.mark.parametrize("name", BAD_NAMES, ids=repr)
def test_check_name_rejects(name: str) -> None:
    with pytest.raises(InvalidName):
        check_name(name)


@pytest.mark.parametrize("name", ["api", "API", "models", "datasets", "spaces", "settings", "healthz", "orgs"])
def test_reserved_namespaces(name: str) -> None:
    check_name(name)  # a fine repo name...
    with pytest.raises(InvalidName):
        check_namespace(name)  # ...but not a namespace


def test_split_repo_id() -> None:
    assert split_repo_id("alice/model") == ("alice", "model")
    for bad in ["alice", "a/b/c", "/model", "alice/", "alice/x.git", "alice/a--b", "../x", "alice/../x", ""]:
        with pytest.raises(InvalidName):
            split_repo_id(bad)


# -- paths ----------------------------------------------------------------------------------------

GOOD_PATHS = ["a", "README.md", "a/b/c.txt", ".gitattributes", ".gitignore", "dir/.git", "dir/.git/config",
              "sub/.hidden", "a..b", "...", "ü/ñ.bin", "with space/x y.txt", "x" * 255, "/".join(["d"] * 1000),
              "a/" + "é" * 127, ".github/workflows/x.yml", "a.git/b"]
BAD_PATHS = ["", "/", "/abs", "../x", "a/../b", "a/..", "..", ".", "./a", "a/./b", "a//b", "a/", "a\\b",
             "a\x00b", "\x00", "a\nb", "a\rb", "a\tb", "a\x7fb", "a\x1fb", ".git", ".git/config", ".git/",
             "x" * 256, "d/" + "x" * 300, "a/" + "é" * 128, "/".join(["dd"] * 1400), "c:\\windows"]


@pytest.mark.parametrize("path", GOOD_PATHS, ids=lambda p: repr(p[:40]))
def test_check_path_accepts(path: str) -> None:
    assert check_path(path) == path


@pytest.mark.parametrize("path", BAD_PATHS, ids=lambda p: repr(p[:40]))
def test_check_path_rejects(path: str) -> None:
    with pytest.raises(InvalidPath):
        check_path(path)


def test_check_path_rejects_non_strings() -> None:
    for value in [None, 3, b"a", ["a"]]:
        with pytest.raises(InvalidPath):
            check_path(value)  # type: ignore[arg-type]


def test_normalize_folder() -> None:
    assert normalize_folder("a/b/") == "a/b"
    assert normalize_folder("a///") == "a"
    assert normalize_folder("a") == "a"
    for bad in ["/", "", "../", "a/../", ".git/"]:
        with pytest.raises(InvalidPath):
            normalize_folder(bad)


# -- refs -----------------------------------------------------------------------------------------

GOOD_REFS = ["main", "dev", "feature/x", "v1.0", "release-2024", "a_b", "a.b", "fix/issue-1/part", "x" * 200,
             "ü", "a@b", "a{b}"]
BAD_REFS = ["", ".hidden", "a/.b", "a..b", "a b", "a~b", "a^b", "a:b", "a?b", "a*b", "a[b", "a\\b", "a@{b",
            "x.lock", "x.lock/y", "a//b", "a/", "a.", "@", "/a", "refs/heads/main", "HEAD", "x" * 201, "\x00",
            "a\x7fb", "a\nb", "main\n", "a\tb"]


@pytest.mark.parametrize("ref", GOOD_REFS)
def test_check_ref_name_accepts(ref: str) -> None:
    assert check_ref_name(ref) == ref


@pytest.mark.parametrize("ref", BAD_REFS, ids=repr)
def test_check_ref_name_rejects(ref: str) -> None:
    with pytest.raises(InvalidName):
        check_ref_name(ref)


# -- cards ----------------------------------------------------------------------------------------

GOOD_CARD = """---
license: apache-2.0
language:
- en
- zh
datasets:
- org/data-a
- org/data-b
base_model: Qwen/Qwen2.5-7B
base_model_relation: finetune
library_name: transformers
pipeline_tag: text-generation
tags:
- chat
- ' llama '
pretty_name: Tiny chat
date: 2024-05-01
---

# Title

![badge](x.svg)

This is the first paragraph
of the description.

Second paragraph.
"""


def test_parse_good_card() -> None:
    card = parse_card(GOOD_CARD)
    assert card.error is None
    assert card.warnings == []
    assert card.license == "apache-2.0"
    assert card.library_name == "transformers"
    assert card.pipeline_tag == "text-generation"
    assert card.base_models == ["Qwen/Qwen2.5-7B"]
    assert card.base_model_relation == "finetune"
    assert card.display_name == "Tiny chat"
    assert card.description == "This is the first paragraph of the description."
    assert card.body.startswith("# Title")
    assert card.data["date"] == "2024-05-01"  # a YAML date becomes a JSON-able string
    json.dumps(card.data)
    tags = card.tags()
    for tag in ["license:apache-2.0", "en", "zh", "language:en", "language:zh", "dataset:org/data-a",
                "dataset:org/data-b", "base_model:Qwen/Qwen2.5-7B", "base_model:finetune:Qwen/Qwen2.5-7B",
                "transformers", "text-generation", "chat", "llama"]:
        assert tag in tags, tag
    assert "" not in tags


@pytest.mark.parametrize("raw", [
    GOOD_CARD.encode(),
    ("\ufeff" + GOOD_CARD).encode(),  # UTF-8 BOM
    b"\xef\xbb\xbf" + GOOD_CARD.encode(),
    GOOD_CARD.replace("\n", "\r\n").encode(),  # CRLF (a README saved on Windows)
], ids=["utf8", "bom-str", "bom-bytes", "crlf"])
def test_parse_card_encodings(raw: bytes) -> None:
    card = parse_card(raw)
    assert card.error is None
    assert card.license == "apache-2.0"
    assert "language:zh" in card.tags()


def test_scalar_language_and_license() -> None:
    card = parse_card("---\nlicense: mit\nlanguage: fr\ndatasets: org/d\nbase_model: a/b\n---\nbody\n")
    assert card.tags() >= {"license:mit", "fr", "language:fr", "dataset:org/d", "base_model:a/b"}
    assert card.body == "body\n"


def test_base_model_without_namespace_and_bad_relation() -> None:
    card = parse_card("---\nbase_model:\n- gpt2\n- org/m\nbase_model_relation: stolen\n---\n")
    assert card.base_models == ["org/m"]
    assert card.base_model_relation is None
    assert "base_model:org/m" in card.tags()
    assert not any(t.startswith("base_model:stolen") for t in card.tags())
    assert any("base_model_relation" in w for w in card.warnings)


@pytest.mark.parametrize("text", [
    "---\nlicense: [unclosed\n---\nbody",
    "---\nkey: value\n  bad: indent\n---\n",
    "---\n: : :\n---\n",
    "---\n\t- tab\n---\n",
    "---\n!!python/object:os.system ls\n---\n",
    "---\na: *undefined_alias\n---\n",
])
def test_bad_yaml_is_an_error_never_an_exception(text: str) -> None:
    card = parse_card(text)
    assert card.error is not None
    assert card.data == {}
    assert card.tags() == set()


@pytest.mark.parametrize("text", ["---\n- a\n- b\n---\n", "---\njust a string\n---\n", "---\n42\n---\n"])
def test_non_mapping_yaml(text: str) -> None:
    card = parse_card(text)
    assert card.error is not None and "mapping" in card.error
    assert card.data == {}


@pytest.mark.parametrize("text", [None, "", "no front matter\n", "---\nnever closed\n", "# ---\n---\n"])
def test_no_front_matter(text: str | None) -> None:
    card = parse_card(text)
    assert card.error is None
    assert card.data == {}
    assert card.tags() == set()


def test_empty_front_matter() -> None:
    card = parse_card("---\n---\nbody text\n")
    assert card.error is None
    assert card.data == {}
    assert card.description == "body text"


def test_wrong_types_are_warnings() -> None:
    card = parse_card("---\nlicense: 3\ntags: [1, x]\npipeline_tag: [a]\nlanguage: {a: b}\n---\n")
    assert card.error is None
    assert len(card.warnings) >= 3
    assert card.license is None
    assert card.strings("language") == []
    assert "x" in card.tags()
    assert "1" not in card.tags()


def test_invalid_utf8_card() -> None:
    card = parse_card(b"---\nlicense: mit\n---\n\xff\xfe body\n")
    assert card.error is None
    assert card.license == "mit"


def test_huge_alias_expansion_does_not_hang() -> None:
    bomb = "---\na: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\n" \
           "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]\n---\n"
    start = time.monotonic()
    card = parse_card(bomb)
    assert time.monotonic() - start < 5
    assert card.error is None or card.data == {}


# -- .gitattributes ---------------------------------------------------------------------------------


def test_default_gitattributes() -> None:
    rules = LfsRules(default_gitattributes())
    for path in ["model.safetensors", "a/b/c.bin", "x.gguf", "saved_model/x/y.pb", "events.out.tfevents.1",
                 "x.tar.gz", "data.parquet", "w.PT".lower()]:
        assert rules.is_lfs(path), path
    for path in ["README.md", "config.json", "tokenizer.json", "a.py", "bin", "x.binx"]:
        assert not rules.is_lfs(path), path
    assert len(default_gitattributes().splitlines()) == len(LFS_PATTERNS)


def test_empty_and_broken_gitattributes() -> None:
    assert not LfsRules(None).is_lfs("a.bin")
    assert not LfsRules(b"").is_lfs("a.bin")
    assert not LfsRules(b"# *.bin filter=lfs\n").is_lfs("a.bin")
    assert not LfsRules(b"*.bin -filter\n").is_lfs("a.bin")
    assert LfsRules(b"*.bin filter=lfs\n*.bin -filter\n").is_lfs("a.bin") is False  # the last line wins
    LfsRules(b"\xff\xfe\x00garbage [[[ \n")  # never raises


ROUNDTRIP_PATHS = ["x.txt", "dir/x.txt", "a b.txt", "dir with space/f.txt", " lead.txt", "trail.txt ",
                   "a  b.txt", "dir/x[1].txt", "weird*.bin", "q?.txt", "!bang.txt", "dir/!x.txt", "#hash.txt",
                   "dir/#x.txt", "a]b.txt", "**.txt", "ä/ü.bin", "a=b.txt", "-x.txt", "x\"y.txt",
                   '"quoted.txt', '"q/f.txt', "d/[[:space:]].txt"]


def test_add_lfs_paths_roundtrip() -> None:
    base = b"*.bin filter=lfs diff=lfs merge=lfs -text"  # no final newline
    text = add_lfs_paths(base, ROUNDTRIP_PATHS)
    assert text.startswith(base + b"\n")
    rules = LfsRules(text)
    for path in ROUNDTRIP_PATHS:
        assert rules.is_lfs(path), path
    # exact patterns: neighbours stay regular files
    for path in ["sub/x.txt", "dir/x1.txt", "weirdo.txt", "q1.txt", "a_b.txt", "bang.txt", "x.txt.bak",
                 "other/dir/x.txt", "ab.txt", "q/f.txt"]:
        assert not rules.is_lfs(path), path


def test_add_lfs_paths_keeps_existing_rules_and_is_sorted() -> None:
    text = add_lfs_paths(default_gitattributes(), ["b.txt", "a.txt"])
    rules = LfsRules(text)
    assert rules.is_lfs("model.safetensors")
    assert rules.is_lfs("a.txt") and rules.is_lfs("b.txt")
    tail = text.splitlines()[-2:]
    assert tail[0].startswith(b"/a.txt ") and tail[1].startswith(b"/b.txt ")
    assert add_lfs_paths(None, []) == b""


def test_generated_patterns_are_never_c_quoted() -> None:
    """git reads a pattern that begins with '"' as a C-quoted string (gitattributes(5)), so such a line
    means something else to git-lfs than to dulwich: the generated pattern must not start with '"'."""
    for path in ['"quoted.txt', '"q/f.txt', '"a"/b.bin']:
        line = add_lfs_paths(None, [path]).decode()
        assert not line.startswith('"'), line


# -- LFS pointers -----------------------------------------------------------------------------------

OID = hashlib.sha256(b"x").hexdigest()


def test_lfs_pointer_format_and_parse() -> None:
    pointer = LfsPointer(OID, 1234)
    raw = pointer.to_bytes()
    assert raw == f"version https://git-lfs.github.com/spec/v1\noid sha256:{OID}\nsize 1234\n".encode()
    assert LfsPointer.parse(raw) == pointer
    assert LfsPointer.parse(LfsPointer(OID, 0).to_bytes()) == LfsPointer(OID, 0)
    assert LfsPointer.parse(LfsPointer(OID, 50 * 2**30).to_bytes()) == LfsPointer(OID, 50 * 2**30)


@pytest.mark.parametrize("raw", [
    b"",
    b"hello",
    f"version https://git-lfs.github.com/spec/v1\noid sha256:{OID}\nsize 12".encode(),  # no final newline
    f"version https://git-lfs.github.com/spec/v2\noid sha256:{OID}\nsize 12\n".encode(),
    f"version https://git-lfs.github.com/spec/v1\noid sha256:{OID.upper()}\nsize 12\n".encode(),
    f"version https://git-lfs.github.com/spec/v1\noid sha256:{OID[:-1]}\nsize 12\n".encode(),
    f"version https://git-lfs.github.com/spec/v1\noid md5:{OID}\nsize 12\n".encode(),
    f"version https://git-lfs.github.com/spec/v1\noid sha256:{OID}\nsize -12\n".encode(),
    f"version https://git-lfs.github.com/spec/v1\noid sha256:{OID}\nsize twelve\n".encode(),
    f"version https://git-lfs.github.com/spec/v1\nsize 12\noid sha256:{OID}\n".encode(),
    f"version https://git-lfs.github.com/spec/v1\noid sha256:{OID}\nsize 12\n".encode() + b"x" * 200,
    f"oid sha256:{OID}\nsize 12\n".encode(),
])
def test_lfs_pointer_rejects(raw: bytes) -> None:
    assert LfsPointer.parse(raw) is None


# -- signed transfer URLs ----------------------------------------------------------------------------

SECRET = b"s3cret-key-for-tests"
PAYLOAD = {"r": 7, "o": OID, "s": 12, "op": "upload"}


def test_sign_verify_roundtrip() -> None:
    token = signing.sign(SECRET, PAYLOAD, 60)
    assert "/" not in token and "+" not in token and "=" not in token  # URL-safe
    payload = signing.verify(SECRET, token)
    assert {k: payload[k] for k in PAYLOAD} == PAYLOAD
    assert time.time() < payload["exp"] <= time.time() + 61


def test_verify_rejects_expired() -> None:
    token = signing.sign(SECRET, PAYLOAD, -1)
    with pytest.raises(Unauthorized):
        signing.verify(SECRET, token)


def test_verify_rejects_other_secret() -> None:
    token = signing.sign(SECRET, PAYLOAD, 60)
    with pytest.raises(Unauthorized):
        signing.verify(b"another secret", token)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def test_verify_rejects_tampering() -> None:
    token = signing.sign(SECRET, PAYLOAD, 60)
    raw, mac = token.split(".")
    forged_payload = dict(PAYLOAD, s=10**12, exp=int(time.time()) + 10**6)
    forged = _b64(json.dumps(forged_payload, separators=(",", ":")).encode())
    flipped = mac[:-1] + ("A" if mac[-1] != "A" else "B")
    for bad in [f"{forged}.{mac}", f"{raw}.{flipped}", f"{raw}.", f".{mac}", raw, "", ".", "a.b.c",
                f"{raw}.{mac}x", f"{raw}x.{mac}", token.upper(), f"{raw}.{mac[:-2]}", "é.é", "\x00.\x00"]:
        with pytest.raises(Unauthorized):
            signing.verify(SECRET, bad)


# -- Range ------------------------------------------------------------------------------------------

RANGES = [
    (None, 10, None),
    ("", 10, None),
    ("bytes=0-", 10, (0, 10)),
    ("bytes=5-", 10, (5, 10)),
    ("bytes=0-4", 10, (0, 5)),
    ("bytes=0-0", 10, (0, 1)),
    ("bytes=9-9", 10, (9, 10)),
    ("bytes=5-100", 10, (5, 10)),
    ("bytes=-3", 10, (7, 10)),
    ("bytes=-100", 10, (0, 10)),
    (" bytes=1-2 ", 10, (1, 3)),
    ("bytes=0-100000", 10, (0, 10)),
    ("bytes=-", 10, None),
    ("bytes=0-1,3-4", 10, None),  # several ranges: whole body
    ("items=0-1", 10, None),
    ("bytes=abc", 10, None),
    ("bytes=1-x", 10, None),
    ("bytes=-1-2", 10, None),
    ("bytes=10-", 10, RangeNotSatisfiable),
    ("bytes=99999999-", 10, RangeNotSatisfiable),
    ("bytes=10-20", 10, RangeNotSatisfiable),
    ("bytes=-0", 10, RangeNotSatisfiable),
    ("bytes=0-", 0, RangeNotSatisfiable),
]


@pytest.mark.parametrize(("header", "size", "expected"), RANGES, ids=[repr(r[0]) + f"/{r[1]}" for r in RANGES])
def test_parse_range(header: str | None, size: int, expected: object) -> None:
    if expected is RangeNotSatisfiable:
        with pytest.raises(RangeNotSatisfiable) as info:
            parse_range(header, size)
        assert info.value.headers["Content-Range"] == f"bytes */{size}"
    else:
        assert parse_range(header, size) == expected


def test_parse_range_reversed_is_ignored_or_rejected() -> None:
    try:
        result = parse_range("bytes=5-2", 10)
    except RangeNotSatisfiable:
        return
    assert result is None


@pytest.mark.parametrize("header", ["bytes=-1", "bytes=-5", "bytes=0-0", "bytes=0-", "bytes=3-"])
@pytest.mark.parametrize("size", [0, 1, 2, 5])
def test_parse_range_never_returns_an_empty_range(header: str, size: int) -> None:
    """A 206 needs ``Content-Range: bytes start-(end-1)/size`` with start <= end-1 < size."""
    try:
        result = parse_range(header, size)
    except RangeNotSatisfiable:
        return
    if result is not None:
        start, end = result
        assert 0 <= start < end <= size, (header, size, result)
