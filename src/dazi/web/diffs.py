"""What a commit changed: files added, modified and deleted, with unified text diffs (difflib).

Trees are compared with dulwich's ``tree_changes`` (identical subtrees are skipped). Only small text
files are diffed; LFS files show their sizes, binary files a note. The whole diff is capped so that a
huge commit cannot make a huge page. Everything is escaped by the templates.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field

from dulwich.diff_tree import tree_changes

from dazi.repos.git import BlobInfo, ObjectStore
from dazi.web.highlight import is_binary

MAX_DIFF_BLOB_BYTES = 512_000
MAX_FILE_LINES = 2_000
MAX_TOTAL_LINES = 10_000
MAX_FILES = 300
_HUNK = re.compile(r"^@@ -(\d+)(?:,\d+)? \+(\d+)(?:,\d+)? @@")


@dataclass
class DiffLine:
    kind: str  # "hunk" | "add" | "del" | "ctx"
    old: int | None
    new: int | None
    text: str


@dataclass
class FileChange:
    path: str
    change: str  # "added" | "modified" | "deleted"
    old_size: int | None = None
    new_size: int | None = None
    lfs: bool = False
    note: str | None = None  # "binary" | "lfs" | "large" | "truncated"
    lines: list[DiffLine] = field(default_factory=list)
    additions: int = 0
    deletions: int = 0


@dataclass
class CommitDiff:
    files: list[FileChange]
    more_files: bool


def commit_diff(store: ObjectStore, commit_oid: str) -> CommitDiff:
    commit = store.get_commit(commit_oid)
    parent_tree = store.get_commit(commit.parents[0].decode()).tree if commit.parents else None
    changes = []
    for change in tree_changes(store, parent_tree, commit.tree):  # type: ignore[arg-type]
        changes.append(change)
        if len(changes) > MAX_FILES:
            break
    oids = [e.sha.decode() for c in changes for e in (c.old, c.new) if e is not None and e.sha is not None]
    infos = store.blob_infos(oids)
    budget = MAX_TOTAL_LINES
    files = []
    for change in changes[:MAX_FILES]:
        item = _file_change(store, infos, change.old, change.new, budget)
        budget -= len(item.lines)
        files.append(item)
    return CommitDiff(files, len(changes) > MAX_FILES)


def _file_change(store: ObjectStore, infos: dict[str, BlobInfo], old: object, new: object, budget: int) -> FileChange:
    old_oid = _oid(old)
    new_oid = _oid(new)
    entry = new if new_oid else old
    path = entry.path.decode("utf-8", "replace")  # type: ignore[attr-defined]
    old_info = infos.get(old_oid) if old_oid else None
    new_info = infos.get(new_oid) if new_oid else None
    item = FileChange(
        path=path,
        change="added" if old_oid is None else ("deleted" if new_oid is None else "modified"),
        old_size=old_info.content_size if old_info else None,
        new_size=new_info.content_size if new_info else None,
    )
    if any(i is not None and i.lfs is not None for i in (old_info, new_info)):
        item.lfs, item.note = True, "lfs"
        return item
    if any(i is not None and i.size > MAX_DIFF_BLOB_BYTES for i in (old_info, new_info)):
        item.note = "large"
        return item
    old_data = store.blob_data(old_oid) if old_oid else b""
    new_data = store.blob_data(new_oid) if new_oid else b""
    if is_binary(old_data) or is_binary(new_data):
        item.note = "binary"
        return item
    _diff_lines(item, old_data.decode("utf-8"), new_data.decode("utf-8"), min(budget, MAX_FILE_LINES))
    return item


def _oid(entry: object) -> str | None:
    sha = getattr(entry, "sha", None) if entry is not None else None
    return sha.decode() if isinstance(sha, bytes) else None


def _diff_lines(item: FileChange, old: str, new: str, budget: int) -> None:
    old_no = new_no = 0
    diff = difflib.unified_diff(old.splitlines(), new.splitlines(), lineterm="", n=3)
    for raw in diff:
        if raw.startswith(("---", "+++")) and old_no == new_no == 0 and not item.lines:
            continue
        if raw.startswith("+"):
            item.additions += 1
        elif raw.startswith("-"):
            item.deletions += 1
        if len(item.lines) >= budget:
            item.note = "truncated"
            continue
        hunk = _HUNK.match(raw)
        if hunk:
            old_no, new_no = int(hunk.group(1)), int(hunk.group(2))
            item.lines.append(DiffLine("hunk", None, None, raw))
        elif raw.startswith("+"):
            item.lines.append(DiffLine("add", None, new_no, raw[1:]))
            new_no += 1
        elif raw.startswith("-"):
            item.lines.append(DiffLine("del", old_no, None, raw[1:]))
            old_no += 1
        else:
            item.lines.append(DiffLine("ctx", old_no, new_no, raw[1:]))
            old_no, new_no = old_no + 1, new_no + 1
