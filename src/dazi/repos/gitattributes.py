"""``.gitattributes``: the default LFS patterns of a new repo, and LFS matching.

Matching uses dulwich's gitattributes parser, so a path is LFS for dazi exactly
when ``git lfs`` would treat it as LFS on clone.
"""

from __future__ import annotations

import io
import re

from dulwich.attrs import compile_gitattributes_patterns, match_path, parse_git_attributes

LFS_PATTERNS = (
    "*.7z",
    "*.arrow",
    "*.bin",
    "*.bz2",
    "*.ckpt",
    "*.ftz",
    "*.gguf",
    "*.gz",
    "*.h5",
    "*.joblib",
    "*.lfs.*",
    "*.mlmodel",
    "*.model",
    "*.msgpack",
    "*.npy",
    "*.npz",
    "*.onnx",
    "*.ot",
    "*.parquet",
    "*.pb",
    "*.pickle",
    "*.pkl",
    "*.pt",
    "*.pth",
    "*.rar",
    "*.safetensors",
    "saved_model/**/*",
    "*.tar.*",
    "*.tar",
    "*.tflite",
    "*.tgz",
    "*.wasm",
    "*.xz",
    "*.zip",
    "*.zst",
    "*tfevents*",
    "*.mds",
    "*.pdparams",
    "*.pdiparams",
)
LFS_ATTRS = "filter=lfs diff=lfs merge=lfs -text"


def default_gitattributes() -> bytes:
    return "".join(f"{p} {LFS_ATTRS}\n" for p in LFS_PATTERNS).encode()


class LfsRules:
    """The LFS patterns of one ``.gitattributes`` text."""

    def __init__(self, text: bytes | None):
        try:
            self._patterns = compile_gitattributes_patterns(parse_git_attributes(io.BytesIO(text or b"")))
        except ValueError:
            self._patterns = []

    def is_lfs(self, path: str) -> bool:
        if not self._patterns:
            return False
        attrs = match_path(self._patterns, path.encode("utf-8", "surrogateescape"))
        value = attrs.get(b"filter", attrs.get("filter"))  # type: ignore[call-overload]
        return value in (b"lfs", "lfs")


_GLOB_SPECIAL = re.compile(r"([*?\[\]\\!#\"])")


def pattern_for_path(path: str) -> str:
    """A gitattributes pattern that matches exactly ``path`` (anchored at the root)."""
    escaped = _GLOB_SPECIAL.sub(r"\\\1", path).replace(" ", "[[:space:]]")
    return f"/{escaped}" if "/" not in path else escaped


def add_lfs_paths(text: bytes | None, paths: list[str]) -> bytes:
    base = text or b""
    if base and not base.endswith(b"\n"):
        base += b"\n"
    return base + "".join(f"{pattern_for_path(p)} {LFS_ATTRS}\n" for p in sorted(paths)).encode()
