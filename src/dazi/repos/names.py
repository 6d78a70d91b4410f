"""Name rules: repo ids, namespaces, file paths and ref names.

Repo and namespace names follow huggingface_hub's validator (letters, digits,
``-``, ``_``, ``.``; at most 96 characters; no ``--`` or ``..``; not ending in
``.git``) and must start with a letter or digit. A few names are reserved
because they are path prefixes of the hub's own URLs.
"""

from __future__ import annotations

import re

from dazi.errors import InvalidName, InvalidPath

NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,95}$")
RESERVED_NAMESPACES = frozenset(
    {
        "api",
        "datasets",
        "models",
        "spaces",
        "settings",
        "login",
        "logout",
        "join",
        "new",
        "static",
        "docs",
        "healthz",
        "search",
        "organizations",
        "orgs",
        "users",
        "v1",
        "openapi",
        "mcp",
        "collections",
        "deployments",
        "jobs",
    }
)
MAX_PATH_BYTES = 4096
MAX_COMPONENT_BYTES = 255


def check_name(name: str, what: str = "name") -> str:
    """Validate one part of a repo id (a namespace or a repo name)."""
    if not isinstance(name, str) or not NAME_RE.fullmatch(name):
        raise InvalidName(
            f"Invalid {what} {name[:100]!r}: use letters, digits, '-', '_' and '.', start with a letter or "
            "digit, at most 96 characters."
        )
    if "--" in name or ".." in name:
        raise InvalidName(f"Invalid {what} {name!r}: '--' and '..' are not allowed.")
    if name.endswith(".git"):
        raise InvalidName(f"Invalid {what} {name!r}: it cannot end with '.git'.")
    return name


def check_namespace(name: str) -> str:
    check_name(name, "namespace")
    if name.lower() in RESERVED_NAMESPACES:
        raise InvalidName(f"The name {name!r} is reserved.")
    return name


def split_repo_id(repo_id: str) -> tuple[str, str]:
    """``"ns/name"`` → ``("ns", "name")``, validated."""
    parts = repo_id.split("/") if isinstance(repo_id, str) else []
    if len(parts) != 2:
        raise InvalidName(f"Invalid repo id {str(repo_id)[:200]!r}: expected 'namespace/name'.")
    return check_name(parts[0], "namespace"), check_name(parts[1], "repo name")


def check_path(path: str) -> str:
    """Validate a file path inside a repo: relative POSIX, no traversal, no control characters."""
    if not isinstance(path, str) or not path:
        raise InvalidPath("Empty file path.")
    if "\x00" in path or any(ord(c) < 0x20 or ord(c) == 0x7F for c in path):
        raise InvalidPath(f"Invalid file path {path[:200]!r}: control characters are not allowed.")
    if "\\" in path:
        raise InvalidPath(f"Invalid file path {path[:200]!r}: backslashes are not allowed.")
    if path.startswith("/"):
        raise InvalidPath(f"Invalid file path {path[:200]!r}: it must be relative to the repo root.")
    if len(path.encode()) > MAX_PATH_BYTES:
        raise InvalidPath(f"File path too long ({len(path.encode())} bytes; the limit is {MAX_PATH_BYTES}).")
    parts = path.split("/")
    for part in parts:
        if part in ("", ".", ".."):
            raise InvalidPath(f"Invalid file path {path[:200]!r}: empty, '.' or '..' components are not allowed.")
        if len(part.encode()) > MAX_COMPONENT_BYTES:
            raise InvalidPath(f"Invalid file path {path[:200]!r}: a component is longer than 255 bytes.")
    if parts[0] == ".git":
        raise InvalidPath(f"Invalid file path {path[:200]!r}: '.git' is reserved.")
    return path


def normalize_folder(path: str) -> str:
    """A folder path for deletions: trailing slashes removed, then validated."""
    return check_path(path.rstrip("/"))


_BAD_REF = re.compile(r"(^|/)\.|\.\.|[\x00-\x20\x7f~^:?*\[\\]|@\{|\.lock(/|$)|//|/$|\.$|^@$")


def check_ref_name(name: str, what: str = "branch") -> str:
    """Validate a branch or tag name with git's check-ref-format rules."""
    if not isinstance(name, str) or not name or len(name) > 200 or _BAD_REF.search(name) or name.startswith("/"):
        raise InvalidName(f"Invalid {what} name {str(name)[:100]!r}.")
    if name.startswith("refs/") or name == "HEAD":
        raise InvalidName(f"Invalid {what} name {name!r}: give the short name.")
    return name
