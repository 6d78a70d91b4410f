"""receive-pack: ``git push`` as one all-or-nothing hub update.

The body (commands, then a pack) is spooled to a temporary file while it arrives. dulwich inflates the
pack (deltas, and thin-pack bases read from the repo); every object reachable from a new ref tip is then
checked: present in the pack or the repo, of the right type, well-formed, under the size limit unless it
is a git-LFS pointer, and every pointer names an object uploaded to this repo. Branch updates must be
fast-forwards unless the pusher owns the repo. Only if every ref passes does one write transaction insert
the objects, mark the LFS objects committed, and compare-and-swap every ref; otherwise nothing changes.
"""

from __future__ import annotations

import datetime as dt
import tempfile
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from typing import IO

from dulwich.errors import ApplyDeltaError, ChecksumMismatch, ObjectFormatException
from dulwich.object_format import SHA1
from dulwich.objects import Commit, ShaFile, Tag, Tree, sha_to_hex
from dulwich.pack import PackData, UnpackedObjectIterator, UnresolvedDeltas
from dulwich.protocol import pkt_line
from dulwich.refs import Ref as RefName
from dulwich.refs import check_ref_format
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from dazi import authz
from dazi.accounts.services import Actor
from dazi.errors import DaziError, PayloadTooLarge
from dazi.gitserver.protocol import FLUSH, ZERO_OID, CommandSplitter, ProtocolError, SideBand
from dazi.hub import Hub
from dazi.repos import services as repos
from dazi.repos.git import DIR_MODE, SUBMODULE_MODE, LfsPointer, ObjectStore, insert_objects
from dazi.repos.models import LfsObject, Ref, Repo
from dazi.repos.names import check_path, check_ref_name

TYPE_NAMES = {1: "commit", 2: "tree", 3: "blob", 4: "tag"}
FILE_MODES = frozenset({0o100644, 0o100755, 0o100664, 0o120000})
MiB = 1 << 20
MAIN = f"refs/heads/{repos.DEFAULT_BRANCH}"
# ModelScope's clients clone and push ``master``, their default branch: while a repo has no real ``master``
# it is another name for ``main`` (as in the ModelScope API, ``dazi.mscompat.vocab``).
MASTER_ALIAS = "refs/heads/master"


class Refused(Exception):
    """A ref cannot be updated: ``reason`` goes into its ``ng`` line, ``details`` to the client's terminal."""

    def __init__(self, reason: str, details: Iterable[str] = (), refs: Iterable[str] = ()):
        super().__init__(reason)
        self.reason = reason
        self.details = list(details)
        self.refs = list(refs)  # the refs it concerns; empty: all of them


@dataclass(frozen=True)
class Command:
    old: str
    new: str
    ref: str  # the ref it updates
    sent_as: str = ""  # the name the client used, when that is an alias of ``ref``

    @property
    def shown(self) -> str:
        return self.sent_as or self.ref

    @property
    def is_delete(self) -> bool:
        return self.new == ZERO_OID

    @property
    def is_create(self) -> bool:
        return self.old == ZERO_OID


@dataclass
class PushRequest:
    commands: list[Command] = field(default_factory=list)
    capabilities: set[bytes] = field(default_factory=set)

    @classmethod
    def parse(cls, lines: list[bytes]) -> PushRequest:
        req = cls()
        for raw in lines:
            line, _, caps = raw.rstrip(b"\n").partition(b"\0")
            if caps and not req.commands:
                req.capabilities = set(caps.split())
            if line.startswith(b"shallow "):
                continue  # a shallow clone pushing: its boundary commits are ours already
            parts = line.split(b" ")
            if len(parts) != 3 or any(len(p) != 40 for p in parts[:2]):
                raise ProtocolError(f"invalid ref update line {line[:120]!r}")
            old, new = parts[0].decode("ascii", "replace"), parts[1].decode("ascii", "replace")
            if not all(c in "0123456789abcdef" for c in old + new):
                raise ProtocolError(f"invalid ref update line {line[:120]!r}")
            req.commands.append(Command(old, new, parts[2].decode("utf-8", "replace")))
        return req


class PackObjects:
    """The objects of a received pack, deltas resolved, spooled to a temporary file by id."""

    def __init__(self) -> None:
        self._spool: IO[bytes] = tempfile.TemporaryFile()  # noqa: SIM115 (closed by close())
        self._index: dict[str, tuple[int, int, int]] = {}  # oid -> (type, offset, length)
        self.parsed: dict[str, ShaFile] = {}  # commits, trees and tags (small), checked

    def __contains__(self, oid: object) -> bool:
        return oid in self._index

    def __len__(self) -> int:
        return len(self._index)

    def type_of(self, oid: str) -> int:
        return self._index[oid][0]

    def size_of(self, oid: str) -> int:
        return self._index[oid][2]

    def raw(self, oid: str) -> bytes:
        _type, offset, length = self._index[oid]
        self._spool.seek(offset)
        return self._spool.read(length)

    def load(self, pack: IO[bytes], read: Callable[[list[str]], dict[str, tuple[int, bytes]]]) -> None:
        """Inflate ``pack`` (a complete pack file); thin-pack delta bases come from ``read``."""

        def external(sha: bytes) -> tuple[int, list[bytes]]:
            oid = sha.decode() if len(sha) == 40 else sha_to_hex(sha).decode()  # type: ignore[arg-type]
            found = read([oid]).get(oid)
            if found is None:
                raise KeyError(oid)
            return found[0], [found[1]]

        pack.seek(0)
        data = PackData("push.pack", SHA1, file=pack)
        try:
            data.check()
            for unpacked in UnpackedObjectIterator.for_pack_data(data, resolve_ext_ref=external):
                assert unpacked.obj_type_num is not None and unpacked.obj_chunks is not None
                self._add(sha_to_hex(unpacked.sha()).decode(), unpacked.obj_type_num, b"".join(unpacked.obj_chunks))
        finally:
            data.close()

    def _add(self, oid: str, type_num: int, data: bytes) -> None:
        if oid in self._index:
            return
        offset = self._spool.seek(0, 2)
        self._spool.write(data)
        self._index[oid] = (type_num, offset, len(data))
        if type_num != 3:
            obj = ShaFile.from_raw_string(type_num, data, sha=oid.encode())  # type: ignore[arg-type]
            obj.check()
            self.parsed[oid] = obj

    def close(self) -> None:
        self._spool.close()


def receive(hub: Hub, actor: Actor, repo_type: str, repo_id: str, chunks: Iterator[bytes]) -> bytes:
    """Read a push body, apply it all-or-nothing, and return the report-status answer."""
    splitter = CommandSplitter()
    limit = hub.settings.git_max_push_size
    with tempfile.TemporaryFile() as pack:
        size = 0
        for chunk in chunks:
            rest = splitter.feed(chunk)
            if rest:
                size += len(rest)
                if size > limit:
                    raise PayloadTooLarge(f"This push is larger than the limit of {limit} bytes.")
                pack.write(rest)
        if splitter.lines is None:
            raise ProtocolError("the push ended before its command list did")
        request = PushRequest.parse(splitter.lines)
        if not request.commands:
            return b""  # git's probe before a large push, or nothing to do
        return Push(hub, actor, repo_type, repo_id, request).run(pack if size else None)


class Push:
    """One push: unpack, check every ref, then apply them all in one transaction or none."""

    def __init__(self, hub: Hub, actor: Actor, repo_type: str, repo_id: str, request: PushRequest):
        self.hub, self.actor, self.repo_type, self.repo_id, self.req = hub, actor, repo_type, repo_id, request
        self.objects = PackObjects()
        self.reachable: list[str] = []  # pack objects reachable from the new tips, to insert
        self.lfs: dict[str, tuple[int, str, str]] = {}  # pointer oid -> (size, path, ref)
        self.reached: set[str] = set()
        self.messages: list[str] = []

    def run(self, pack: IO[bytes] | None) -> bytes:
        try:
            return self._run(pack)
        finally:
            self.objects.close()

    def _run(self, pack: IO[bytes] | None) -> bytes:
        unpack = "ok"
        failures: dict[str, str] = {}
        try:
            with self.hub.db.read() as session:
                repo = repos.get_writable_repo(session, self.actor, self.repo_type, self.repo_id)
                self.repo_pk = repo.id
                current = {r.name: r.target for r in repos.refs(session, repo)}
            self._resolve_alias(current)
            if pack is not None:
                self._unpack(pack)
            with self.hub.db.read() as session:
                repo = repos.get_writable_repo(session, self.actor, self.repo_type, self.repo_id)
                failures = self._check(session, repo, current)
            if not failures:
                self._apply()
        except _UnpackError as exc:
            unpack = exc.reason
            failures = {c.ref: "unpacker error" for c in self.req.commands}
        except Refused as exc:
            self.messages.extend(exc.details)
            failures = {c.ref: exc.reason for c in self.req.commands}
        if failures:
            failures = {c.ref: failures.get(c.ref, "atomic push failed") for c in self.req.commands}
        return self._report(unpack, failures)

    # -- unpacking ------------------------------------------------------------------------

    def _resolve_alias(self, current: dict[str, str]) -> None:
        if MASTER_ALIAS in current or MAIN not in current:
            return
        commands = [replace(c, ref=MAIN, sent_as=c.ref) if c.ref == MASTER_ALIAS else c for c in self.req.commands]
        if len({c.ref for c in commands}) != len(commands):
            raise Refused(f"{MASTER_ALIAS} is another name for {MAIN} on this hub: push only one of them")
        self.req.commands = commands

    def _unpack(self, pack: IO[bytes]) -> None:
        try:
            self.objects.load(pack, self._read_objects)
        except (
            ChecksumMismatch,
            ApplyDeltaError,
            ObjectFormatException,
            UnresolvedDeltas,
            AssertionError,
            zlib.error,
            ValueError,
            KeyError,
        ) as exc:
            raise _UnpackError(f"error: invalid pack ({type(exc).__name__}: {str(exc)[:200]})") from None

    # -- checks ---------------------------------------------------------------------------

    def _read_objects(self, oids: list[str]) -> dict[str, tuple[int, bytes]]:
        """Objects of the repo (thin-pack delta bases), each look-up in its own short transaction."""
        with self.hub.db.read() as session:
            return ObjectStore(session, self.repo_pk).raw_many(oids)

    def _check(self, session: Session, repo: Repo, current: dict[str, str]) -> dict[str, str]:
        store = ObjectStore(session, repo.id)
        failures: dict[str, str] = {}
        for cmd in self.req.commands:
            try:
                self._check_command(store, repo, current, cmd)
            except Refused as exc:
                failures[cmd.ref] = exc.reason
                self.messages.extend(exc.details)
        if not failures:
            try:
                self._check_lfs(session, repo)
            except Refused as exc:
                self.messages.extend(exc.details)
                failures = {ref: exc.reason for ref in (exc.refs or [c.ref for c in self.req.commands])}
        return failures

    def _check_command(self, store: ObjectStore, repo: Repo, current: dict[str, str], cmd: Command) -> None:
        kind = _check_ref(cmd.ref)
        if current.get(cmd.ref) != (None if cmd.is_create else cmd.old):
            raise Refused("stale info: the ref moved since you fetched; fetch and try again")
        if cmd.is_delete:
            if cmd.ref == f"refs/heads/{repos.DEFAULT_BRANCH}":
                raise Refused(f"deletion of the default branch {repos.DEFAULT_BRANCH!r} is not allowed")
            return
        target_type = self._walk(store, cmd)
        if kind == "branch" and target_type != 1:
            raise Refused(f"a branch must point to a commit, not a {TYPE_NAMES.get(target_type or 0, '?')}")
        if kind == "tag" and self._peeled_type(store, cmd.new) != 1:
            raise Refused("a tag must point to a commit (or to an annotated tag of a commit)")
        if cmd.is_create or authz.can_admin(self.actor, repo):
            return
        if kind == "tag":
            raise Refused("tag already exists (only owners of the repository may move a tag)")
        if not self._is_ancestor(store, cmd.old, cmd.new):
            raise Refused(
                "non-fast-forward (only owners of the repository may force-push)",
                [f"error: {cmd.ref} cannot be rewritten: only owners and admins of {repo.repo_id} may force-push."],
            )

    def _type(self, store: ObjectStore, oid: str) -> int | None:
        if oid in self.objects:
            return self.objects.type_of(oid)
        return store.types_of([oid]).get(oid)

    def _peeled_type(self, store: ObjectStore, oid: str) -> int | None:
        for _ in range(20):
            if self._type(store, oid) != 4:
                return self._type(store, oid)
            tag = self.objects.parsed.get(oid) or store.get_many([oid]).get(oid)
            assert isinstance(tag, Tag)
            oid = tag.object[1].decode()
        return None

    def _walk(self, store: ObjectStore, cmd: Command) -> int | None:
        """Check everything the new tip reaches that the repo does not have yet; returns the tip's type."""
        todo: list[tuple[str, int | None, str]] = [(cmd.new, None, "")]
        seen: set[str] = set()
        while todo:
            outside: dict[str, tuple[int | None, str]] = {}
            while todo:
                oid, expected, path = todo.pop()
                if oid in seen:
                    continue
                seen.add(oid)
                if oid not in self.objects:
                    outside[oid] = (expected, path)
                    continue
                type_num = self.objects.type_of(oid)
                _expect(oid, type_num, expected)
                if oid not in self.reached:
                    self.reached.add(oid)
                    self.reachable.append(oid)
                    todo.extend(self._children(oid, type_num, path, cmd.ref))
            types = store.types_of(outside)
            for oid, (expected, _path) in outside.items():
                if oid not in types:
                    raise Refused("missing necessary objects", [f"error: object {oid} is missing from the push"])
                _expect(oid, types[oid], expected)
        return self._type(store, cmd.new)

    def _children(self, oid: str, type_num: int, path: str, ref: str) -> list[tuple[str, int | None, str]]:
        obj = self.objects.parsed.get(oid)
        if isinstance(obj, Commit):
            return [(obj.tree.decode(), 2, ""), *((p.decode(), 1, "") for p in obj.parents)]
        if isinstance(obj, Tag):
            cls, target = obj.object
            return [(target.decode(), cls.type_num, "")]
        if isinstance(obj, Tree):
            return [self._entry(path, e.path, e.mode, e.sha.decode()) for e in obj.iteritems()]
        self._check_blob(oid, path, ref)
        return []

    def _entry(self, parent: str, name: bytes, mode: int, oid: str) -> tuple[str, int, str]:
        path = parent + name.decode("utf-8", "surrogateescape")
        try:
            check_path(path)
        except DaziError as exc:
            raise Refused(f"invalid path {path[:200]!r}", [f"error: {exc.message}"]) from None
        if mode == DIR_MODE:
            return oid, 2, path + "/"
        if mode == SUBMODULE_MODE:
            raise Refused(f"submodules are not supported ({path})")
        if mode not in FILE_MODES:
            raise Refused(f"invalid file mode {mode:o} for {path}")
        return oid, 3, path

    def _check_blob(self, oid: str, path: str, ref: str) -> None:
        size = self.objects.size_of(oid)
        limit = self.hub.settings.git_max_blob_size
        if size > limit:
            raise Refused(
                f"file {path} is {size / MiB:.2f} MiB, over the limit of {limit / MiB:.2f} MiB; use git-lfs",
                [
                    f"error: File {path} is {size / MiB:.2f} MiB; this exceeds the file size limit of "
                    f"{limit / MiB:.2f} MiB for files stored in git.",
                    "error: Track large files with Git LFS (`git lfs track '<pattern>'`), move them into LFS "
                    "(`git lfs migrate import --include='<pattern>'`), and push again.",
                ],
            )
        if size <= 200:
            pointer = LfsPointer.parse(self.objects.raw(oid))
            if pointer is not None:
                self.lfs.setdefault(pointer.oid, (pointer.size, path, ref))

    def _is_ancestor(self, store: ObjectStore, old: str, new: str) -> bool:
        seen: set[str] = set()
        frontier = [new]
        while frontier:
            if old in frontier:
                return True
            seen.update(frontier)
            inside = [o for o in frontier if o in self.objects.parsed]
            found = {o: self.objects.parsed[o] for o in inside} | store.get_many(
                o for o in frontier if o not in self.objects.parsed
            )
            nxt = [p.decode() for c in found.values() if isinstance(c, Commit) for p in c.parents]
            frontier = [o for o in dict.fromkeys(nxt) if o not in seen]
        return False

    def _check_lfs(self, session: Session, repo: Repo) -> None:
        """Every LFS pointer in the push names an object uploaded to this repo, with its size."""
        if not self.lfs:
            return
        rows = session.execute(
            select(LfsObject.oid, LfsObject.size).where(LfsObject.repo_id == repo.id, LfsObject.oid.in_(self.lfs))
        ).all()
        have = {oid: int(size) for oid, size in rows}
        missing = [(oid, path, ref) for oid, (_s, path, ref) in self.lfs.items() if oid not in have]
        if missing:
            oid, path, _ref = missing[0]
            raise Refused(
                f"missing Git LFS object {oid} for {path}",
                [
                    "error: Your push references Git LFS objects that were not uploaded to this repository:",
                    *(f"error:     {o} ({p})" for o, p, _r in missing[:20]),
                    "error: Try to push them with 'git lfs push --all origin', then push again.",
                ],
                dict.fromkeys(r for _o, _p, r in missing),
            )
        for oid, (size, path, ref) in self.lfs.items():
            if have[oid] != size:
                raise Refused(f"Git LFS pointer {path} says {size} bytes, the object has {have[oid]}", (), [ref])

    # -- applying -------------------------------------------------------------------------

    def _apply(self) -> None:
        try:
            with self.hub.db.write() as session:
                repo = repos.get_writable_repo(session, self.actor, self.repo_type, self.repo_id)
                if repo.id != self.repo_pk:
                    raise Refused("the repository was replaced while pushing")
                current = {r.name: r.target for r in repos.refs(session, repo)}
                for cmd in self.req.commands:
                    if current.get(cmd.ref) != (None if cmd.is_create else cmd.old):
                        raise Refused("stale info: the ref moved while pushing; fetch and try again")
                self._check_lfs(session, repo)
                insert_objects(
                    session, repo.id, ((o, self.objects.type_of(o), self.objects.raw(o)) for o in self.reachable)
                )
                repos.mark_lfs_committed(session, repo, set(self.lfs))
                self._move_refs(session, repo)
        except IntegrityError:
            raise Refused("stale info: the ref was created while pushing; fetch and try again") from None

    def _move_refs(self, session: Session, repo: Repo) -> None:
        main = f"refs/heads/{repos.DEFAULT_BRANCH}"
        for cmd in self.req.commands:
            if cmd.is_create:
                session.add(Ref(repo_id=repo.id, name=cmd.ref, target=cmd.new))
            elif cmd.is_delete:
                result = session.execute(
                    delete(Ref).where(Ref.repo_id == repo.id, Ref.name == cmd.ref, Ref.target == cmd.old)
                )
                if result.rowcount != 1:  # type: ignore[attr-defined]
                    raise Refused("stale info: the ref moved while pushing; fetch and try again")
            elif not repos.compare_and_swap(session, repo, cmd.ref, cmd.old, cmd.new):
                raise Refused("stale info: the ref moved while pushing; fetch and try again")
        session.flush()
        moved_main = [c.new for c in self.req.commands if c.ref == main and not c.is_delete]
        if moved_main:
            repos.refresh_metadata(session, repo, moved_main[0])
        repo.last_modified = dt.datetime.now(dt.UTC)

    # -- the answer -----------------------------------------------------------------------

    def _report(self, unpack: str, failures: dict[str, str]) -> bytes:
        caps = self.req.capabilities
        band = SideBand(65520 if b"side-band-64k" in caps else 0)
        out = [band.progress(m + "\n") for m in dict.fromkeys(self.messages)]
        if b"report-status" in caps:
            lines = [pkt_line(f"unpack {unpack}\n".encode())]
            for cmd in self.req.commands:
                reason = failures.get(cmd.ref)
                text = f"ok {cmd.shown}\n" if reason is None else f"ng {cmd.shown} {reason}\n"
                lines.append(pkt_line(text.encode("utf-8", "replace")))
            inner = b"".join(lines) + FLUSH
            out.extend(band.data(inner) if band.max_packet else [inner])
        if band.max_packet:
            out.append(FLUSH)
        return b"".join(out)


class _UnpackError(Exception):
    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def _expect(oid: str, actual: int, expected: int | None) -> None:
    if expected is not None and actual != expected:
        raise Refused(f"object {oid} is a {TYPE_NAMES.get(actual, '?')}, expected a {TYPE_NAMES.get(expected, '?')}")


def _check_ref(ref: str) -> str:
    """``"branch"`` or ``"tag"`` for a ref the hub accepts; Refused otherwise."""
    for prefix, kind in (("refs/heads/", "branch"), ("refs/tags/", "tag")):
        if ref.startswith(prefix):
            if not check_ref_format(RefName(ref.encode())):
                raise Refused(f"funny refname: {ref!r} is not a valid ref name")
            try:
                check_ref_name(ref[len(prefix) :], kind)
            except DaziError as exc:
                raise Refused(f"invalid ref name: {exc.message}") from None
            return kind
    raise Refused("invalid ref name: only branches (refs/heads/*) and tags (refs/tags/*) can be pushed")
