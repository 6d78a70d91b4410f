"""upload-pack: what ``git clone``, ``fetch`` and ``pull`` talk to, over the objects in the database.

Each HTTP POST is one stateless round, answered the way git's own ``upload-pack.c`` answers it
(``multi_ack_detailed``, ``no-done``, ``shallow``/``deepen``, ``include-tag``): ``ACK``/``NAK`` lines, and,
once the client says ``done`` (or the server knows enough), the pack. Objects are read in batches of
``repos.git.BATCH`` ids per query; the pack is written without deltas and streamed, blobs fetched batch by
batch in short read transactions, so a clone never holds the whole repository in memory.
"""

from __future__ import annotations

import hashlib
import zlib
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass, field

from dulwich.object_format import SHA1
from dulwich.objects import Commit, ShaFile, Tag, Tree
from dulwich.pack import pack_header_chunks, pack_object_header
from dulwich.protocol import format_ack_line, pkt_line
from sqlalchemy.orm import Session

from dazi.gitserver.protocol import FLUSH, PktReader, ProtocolError, SideBand
from dazi.repos.git import DIR_MODE, SUBMODULE_MODE, ObjectStore

HEX = frozenset("0123456789abcdef")
INFINITE_DEPTH = 0x7FFFFFFF
COMPRESSION = 1  # zlib level for pack entries: loopback and LAN clones are CPU-bound, not network-bound
BLOB_BATCH_BYTES = 16 << 20
OUTPUT_CHUNK = 256 << 10


class MissingObject(Exception):
    """An object the repository should have is missing (a broken repo, or one deleted meanwhile)."""


def _oid(raw: bytes) -> str:
    oid = raw.decode("ascii", "replace")
    if len(oid) != 40 or not set(oid) <= HEX:
        raise ProtocolError(f"expected an object id, got {raw[:60]!r}")
    return oid


@dataclass
class UploadRequest:
    """One stateless round: the wants (with the client's capabilities), shallow state, haves, ``done``."""

    wants: list[str] = field(default_factory=list)
    capabilities: set[bytes] = field(default_factory=set)
    client_shallow: list[str] = field(default_factory=list)
    depth: int = 0
    haves: list[str] = field(default_factory=list)
    done: bool = False
    negotiates: bool = False  # False: the body ended after the wants (a deepen request asking for the shallow list)

    @classmethod
    def parse(cls, body: bytes) -> UploadRequest:
        req = cls()
        reader = PktReader(body)
        while (line := reader.read()) is not None:
            req._want_section(line.rstrip(b"\n"))
        req.negotiates = not reader.at_end
        while not reader.at_end:
            line = reader.read()
            if line is None:
                break
            line = line.rstrip(b"\n")
            if line.startswith(b"have "):
                req.haves.append(_oid(line[5:]))
            elif line == b"done":
                req.done = True
                break
            else:
                raise ProtocolError(f"expected have or done, got {line[:60]!r}")
        return req

    def _want_section(self, line: bytes) -> None:
        if line.startswith(b"want "):
            parts = line.split(b" ")
            if not self.wants:
                self.capabilities = set(parts[2:])
            self.wants.append(_oid(parts[1]))
        elif line.startswith(b"shallow "):
            self.client_shallow.append(_oid(line[8:]))
        elif line.startswith(b"deepen "):
            try:
                self.depth = int(line[7:])
            except ValueError:
                self.depth = 0
            if self.depth <= 0:
                raise ProtocolError(f"invalid deepen: {line[:60]!r}")
        elif line.split(b" ", 1)[0] in (b"deepen-since", b"deepen-not", b"filter", b"deepen-relative"):
            raise ProtocolError(f"{line.split(b' ', 1)[0].decode()} is not supported by this server")
        else:
            raise ProtocolError(f"expected want, got {line[:60]!r}")

    @property
    def multi_ack(self) -> int:
        if b"multi_ack_detailed" in self.capabilities:
            return 2
        return 1 if b"multi_ack" in self.capabilities else 0


@dataclass
class Answer:
    """What one round answers: pkt-lines to send first, and the pack plan if a pack follows."""

    lines: list[bytes]
    plan: PackPlan | None


@dataclass
class PackPlan:
    """The objects of the pack: commits, trees and tags with their bytes; blobs by id (read while streaming)."""

    objects: list[tuple[str, int, bytes]]
    blobs: list[str]
    sideband: SideBand
    progress: bool

    @property
    def count(self) -> int:
        return len(self.objects) + len(self.blobs)


class Walker:
    """Commit and tree walks over one repo's store, one batched query per level."""

    def __init__(self, store: ObjectStore):
        self.store = store

    def objects(self, oids: list[str]) -> dict[str, ShaFile]:
        found = self.store.get_many(oids)
        missing = [o for o in oids if o not in found]
        if missing:
            raise MissingObject(f"object {missing[0]} is missing from the repository")
        return found

    def commit_objects(self, oids: list[str]) -> dict[str, Commit]:
        found: dict[str, Commit] = {}
        for oid, obj in self.objects(oids).items():
            if not isinstance(obj, Commit):
                raise MissingObject(f"{oid} is not a commit")
            found[oid] = obj
        return found

    def commits(self, starts: list[str], stop: set[str], grafts: set[str]) -> list[str]:
        """Commits reachable from ``starts``, not entering ``stop``; ``grafts`` are treated as parentless."""
        seen: set[str] = set()
        order: list[str] = []
        frontier = [o for o in dict.fromkeys(starts) if o not in stop]
        while frontier:
            objs = self.commit_objects(frontier)
            nxt: list[str] = []
            for oid in frontier:
                seen.add(oid)
                order.append(oid)
                if oid not in grafts:
                    nxt.extend(p.decode() for p in objs[oid].parents)
            frontier = [o for o in dict.fromkeys(nxt) if o not in seen and o not in stop]
        return order

    def trees(self, roots: list[str], skip: set[str]) -> tuple[list[ShaFile], list[str]]:
        """The trees and blob ids reachable from ``roots``, not entering anything in ``skip``."""
        seen: set[str] = set(skip)
        trees: list[ShaFile] = []
        blobs: list[str] = []
        frontier = [o for o in dict.fromkeys(roots) if o not in seen]
        while frontier:
            seen.update(frontier)
            objs = self.objects(frontier)
            nxt: list[str] = []
            for oid in frontier:
                tree = objs[oid]
                if not isinstance(tree, Tree):
                    raise MissingObject(f"{oid} is not a tree")
                trees.append(tree)
                for entry in tree.iteritems():
                    child = entry.sha.decode()
                    if child in seen or entry.mode == SUBMODULE_MODE:
                        continue
                    if entry.mode == DIR_MODE:
                        nxt.append(child)
                    else:
                        seen.add(child)
                        blobs.append(child)
            frontier = [o for o in dict.fromkeys(nxt) if o not in seen]
        return trees, blobs

    def peel(self, oid: str) -> tuple[list[ShaFile], str, int]:
        """Follow tags from ``oid``: the tag objects passed, the final object id and its type."""
        tags: list[ShaFile] = []
        while True:
            obj = self.objects([oid])[oid]
            if not isinstance(obj, Tag):
                return tags, oid, obj.type_num
            tags.append(obj)
            oid = obj.object[1].decode()


class Negotiation:
    """One stateless upload-pack round, following git's ``get_common_commits``."""

    def __init__(self, store: ObjectStore, request: UploadRequest, tag_refs: list[str]):
        self.store = store
        self.req = request
        self.walk = Walker(store)
        self.tag_refs = tag_refs  # targets of refs/tags/*, for include-tag
        self.have_obj: list[str] = []
        self.have_commits: list[str] = []
        self.they_have: set[str] = set()
        self.oldest_have = 0
        self._reach: dict[str, bool] = {}

    def run(self) -> Answer:
        req = self.req
        if not req.wants:
            return Answer([], None)
        types = self.store.types_of(req.wants)
        for want in req.wants:
            if want not in types:
                raise ProtocolError(f"upload-pack: not our ref {want}")
        lines: list[bytes] = []
        grafts, extra_wants, extra_edges = self._shallow(lines)
        if not req.negotiates:
            return Answer(lines, None)  # like git's upload-pack, which stops at the end of such a body
        acks, send = self._common_commits()
        lines.extend(acks)
        if not send:
            return Answer(lines, None)
        return Answer(lines, self._plan(grafts, extra_wants, extra_edges))

    # -- shallow ------------------------------------------------------------------------

    def _shallow(self, lines: list[bytes]) -> tuple[set[str], list[str], list[str]]:
        """Shallow/unshallow lines for a deepen request; returns (grafts, extra wants, extra edges)."""
        client = set(self.req.client_shallow) & set(self.store.types_of(self.req.client_shallow))
        if not self.req.depth:
            return client, [], []
        boundary, inner = self._depth_walk(self.req.depth)
        for oid in sorted(boundary - client):
            lines.append(pkt_line(f"shallow {oid}".encode()))
        extra_wants: list[str] = []
        unshallow = sorted(client & inner)
        commits = self.walk.commit_objects(unshallow) if unshallow else {}
        for oid in unshallow:
            lines.append(pkt_line(f"unshallow {oid}".encode()))
            extra_wants.extend(p.decode() for p in commits[oid].parents)
        lines.append(FLUSH)
        return boundary | client, extra_wants, unshallow

    def _depth_walk(self, depth: int) -> tuple[set[str], set[str]]:
        """Commits exactly ``depth`` away from the wants (the new boundary) and those nearer."""
        starts = [self._peeled_commit(w) for w in self.req.wants]
        dist: dict[str, int] = {}
        frontier = [s for s in dict.fromkeys(starts) if s]
        level = 1
        boundary: set[str] = set()
        inner: set[str] = set()
        while frontier:
            objs = self.walk.commit_objects(frontier)
            nxt: list[str] = []
            for oid in frontier:
                dist[oid] = level
                if level >= depth:
                    boundary.add(oid)
                    continue
                inner.add(oid)
                nxt.extend(p.decode() for p in objs[oid].parents)
            frontier = [o for o in dict.fromkeys(nxt) if o not in dist]
            level += 1
        return boundary, inner

    def _peeled_commit(self, oid: str) -> str | None:
        _tags, target, type_num = self.walk.peel(oid)
        return target if type_num == 1 else None

    # -- common commits -------------------------------------------------------------------

    def _common_commits(self) -> tuple[list[bytes], bool]:
        req, multi_ack = self.req, self.req.multi_ack
        out: list[bytes] = []
        present = self.store.types_of(req.haves)
        got_common = got_other = sent_ready = False
        last = ""
        for have in req.haves:
            if have not in present:
                got_other = True
                if multi_ack and self._ok_to_give_up():
                    sent_ready = multi_ack == 2
                    out.append(pkt_line(format_ack_line(have.encode(), b"ready" if sent_ready else b"continue")))
                continue
            self._got_oid(have, present[have])
            got_common, last = True, have
            if multi_ack == 2:
                out.append(pkt_line(format_ack_line(have.encode(), b"common")))
            elif multi_ack:
                out.append(pkt_line(format_ack_line(have.encode(), b"continue")))
            elif len(self.have_obj) == 1:
                out.append(pkt_line(format_ack_line(have.encode())))
        if req.done:
            if self.have_obj:
                if multi_ack:
                    out.append(pkt_line(format_ack_line(last.encode())))
            else:
                out.append(pkt_line(b"NAK\n"))
            return out, True
        if multi_ack == 2 and got_common and not got_other and self._ok_to_give_up():
            sent_ready = True
            out.append(pkt_line(format_ack_line(last.encode(), b"ready")))
        if not self.have_obj or multi_ack:
            out.append(pkt_line(b"NAK\n"))
        if b"no-done" in req.capabilities and sent_ready:
            out.append(pkt_line(format_ack_line(last.encode())))
            return out, True
        return out, False

    def _got_oid(self, oid: str, type_num: int) -> None:
        if oid in self.have_obj:
            return
        self.have_obj.append(oid)
        if type_num != 1:
            return
        self.have_commits.append(oid)
        commit = self.walk.objects([oid])[oid]
        assert isinstance(commit, Commit)
        self.they_have.add(oid)
        self.they_have.update(p.decode() for p in commit.parents)
        if not self.oldest_have or commit.commit_time < self.oldest_have:
            self.oldest_have = commit.commit_time
        self._reach.clear()

    def _ok_to_give_up(self) -> bool:
        """Every want reaches a commit the client has (git's ``can_all_from_reach_with_flag``)."""
        if not self.have_obj:
            return False
        return all(self._reaches_have(w) for w in self.req.wants)

    def _reaches_have(self, want: str) -> bool:
        start = self._peeled_commit(want)
        if start is None:
            return True
        if start not in self._reach:
            self._reach[start] = self._search(start)
        return self._reach[start]

    def _search(self, start: str) -> bool:
        seen: set[str] = set()
        frontier = [start]
        while frontier:
            objs = self.walk.objects(frontier)
            nxt: list[str] = []
            for oid in frontier:
                if oid in self.they_have:
                    return True
                commit = objs[oid]
                if oid in seen or not isinstance(commit, Commit) or commit.commit_time < self.oldest_have:
                    continue
                seen.add(oid)
                nxt.extend(p.decode() for p in commit.parents)
            frontier = [o for o in dict.fromkeys(nxt) if o not in seen]
        return False

    # -- the pack ---------------------------------------------------------------------------

    def _plan(self, grafts: set[str], extra_wants: list[str], extra_edges: list[str]) -> PackPlan:
        walk = self.walk
        tags: dict[str, ShaFile] = {}
        want_commits: list[str] = list(extra_wants)
        want_trees: list[str] = []
        loose_blobs: list[str] = []
        for want in self.req.wants:
            passed, target, type_num = walk.peel(want)
            tags.update((t.id.decode(), t) for t in passed)
            {1: want_commits, 2: want_trees, 3: loose_blobs}[type_num].append(target)
        has = set(walk.commits(self.have_commits + extra_edges, set(), grafts))
        commits = walk.commits(want_commits, has, grafts)
        commit_objs = walk.commit_objects(commits)
        edges = set(self.have_commits) | set(extra_edges)
        for oid in commits:
            if oid not in grafts:
                edges.update(p.decode() for p in commit_objs[oid].parents if p.decode() in has)
        skip: set[str] = set()
        if edges:
            edge_objs = walk.commit_objects(sorted(edges))
            edge_trees, edge_blobs = walk.trees([c.tree.decode() for c in edge_objs.values()], set())
            skip = {t.id.decode() for t in edge_trees} | set(edge_blobs)
        roots = [commit_objs[c].tree.decode() for c in commits] + want_trees
        trees, blobs = walk.trees(roots, skip)
        if b"include-tag" in self.req.capabilities:
            tags.update(self._included_tags(set(commits), tags))
        objects = [(oid, 1, commit_objs[oid].as_raw_string()) for oid in commits]
        objects += [(t.id.decode(), 2, t.as_raw_string()) for t in trees]
        objects += [(oid, 4, t.as_raw_string()) for oid, t in tags.items()]
        caps = self.req.capabilities
        return PackPlan(
            objects,
            blobs + [b for b in loose_blobs if b not in skip],
            SideBand.for_capabilities(caps),
            b"no-progress" not in caps,
        )

    def _included_tags(self, sent: set[str], already: dict[str, ShaFile]) -> dict[str, ShaFile]:
        found: dict[str, ShaFile] = {}
        objs = self.store.get_many(self.tag_refs)
        for oid, obj in objs.items():
            if not isinstance(obj, Tag) or oid in already:
                continue
            passed, target, _type = self.walk.peel(oid)
            if target in sent:
                found.update((t.id.decode(), t) for t in passed)
        return found


def stream_pack(
    plan: PackPlan, lines: list[bytes], read: Callable[[], AbstractContextManager[Session]], repo_pk: int
) -> Iterator[bytes]:
    """The answer's bytes: negotiation lines, then the pack in side-band packets, then a flush-pkt."""
    out = _Coalescer()
    yield from out.add(b"".join(lines))
    band = plan.sideband
    if plan.progress:
        yield from out.add(band.progress(f"Enumerating objects: {plan.count}, done.\n"))
    sha = hashlib.sha1(usedforsecurity=False)

    def emit(data: bytes) -> Iterator[bytes]:
        sha.update(data)
        for packet in band.data(data):
            yield from out.add(packet)

    yield from emit(b"".join(pack_header_chunks(plan.count)))
    for _oid, type_num, data in plan.objects:
        yield from emit(_entry(type_num, data))
    try:
        for batch in _blob_batches(plan.blobs, read, repo_pk):
            yield from emit(b"".join(_entry(3, data) for data in batch))
    except MissingObject as exc:
        yield from out.add(band.fatal(f"dazi: {exc}\n"))
        yield from out.flush()
        return
    for packet in band.data(sha.digest()):
        yield from out.add(packet)
    if plan.progress:
        yield from out.add(band.progress(f"Total {plan.count} (delta 0), reused 0 (delta 0), pack-reused 0\n"))
    if band.max_packet:
        yield from out.add(FLUSH)
    yield from out.flush()


def _entry(type_num: int, data: bytes) -> bytes:
    return bytes(pack_object_header(type_num, None, len(data), object_format=SHA1)) + zlib.compress(data, COMPRESSION)


def _blob_batches(
    blobs: list[str], read: Callable[[], AbstractContextManager[Session]], repo_pk: int
) -> Iterator[list[bytes]]:
    """Blob contents in the plan's order, about ``BLOB_BATCH_BYTES`` per short read transaction."""
    for start in range(0, len(blobs), 500):
        ids = blobs[start : start + 500]
        with read() as session:
            sizes = ObjectStore(session, repo_pk).sizes_of(ids)
        groups: list[list[str]] = [[]]
        total = 0
        for oid in ids:
            if oid not in sizes:
                raise MissingObject(f"blob {oid} is missing from the repository")
            if groups[-1] and total + sizes[oid] > BLOB_BATCH_BYTES:
                groups.append([])
                total = 0
            groups[-1].append(oid)
            total += sizes[oid]
        for group in groups:
            with read() as session:
                raw = ObjectStore(session, repo_pk).raw_many(group)
            if len(raw) != len(set(group)):
                raise MissingObject("a blob disappeared from the repository while it was being sent")
            yield [raw[oid][1] for oid in group]


class _Coalescer:
    """Groups small writes into chunks of about ``OUTPUT_CHUNK`` bytes (fewer thread hops per response)."""

    def __init__(self) -> None:
        self._parts: list[bytes] = []
        self._size = 0

    def add(self, data: bytes) -> Iterator[bytes]:
        if data:
            self._parts.append(data)
            self._size += len(data)
        if self._size >= OUTPUT_CHUNK:
            yield from self.flush()

    def flush(self) -> Iterator[bytes]:
        if self._parts:
            yield b"".join(self._parts)
            self._parts, self._size = [], 0
