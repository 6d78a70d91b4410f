"""git's wire format for smart HTTP (protocol v0/v1): pkt-lines, side-band, ref advertisements.

Framing comes from dulwich (``pkt_line``, ``format_ref_line``, the capability helpers); this module adds
the pieces a stateless HTTP server needs around them: a reader over a request body held in memory, an
incremental splitter for a push body (commands, then a pack that may be gigabytes), and side-band output.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from dulwich.protocol import (
    CAPABILITIES_REF,
    PEELED_TAG_SUFFIX,
    SIDE_BAND_CHANNEL_DATA,
    SIDE_BAND_CHANNEL_FATAL,
    SIDE_BAND_CHANNEL_PROGRESS,
    capability_object_format,
    format_ref_line,
    pkt_line,
)

from dazi import __version__

ZERO_OID = "0" * 40
FLUSH = pkt_line(None)
AGENT = f"agent=dazi/{__version__}".encode()
MAX_PKT_PAYLOAD = 65520 - 4

UPLOAD_CAPABILITIES = [
    b"multi_ack",
    b"multi_ack_detailed",
    b"no-done",
    b"side-band",
    b"side-band-64k",
    b"ofs-delta",
    b"shallow",
    b"no-progress",
    b"include-tag",
    b"allow-tip-sha1-in-want",
    b"allow-reachable-sha1-in-want",
    capability_object_format("sha1"),
    AGENT,
]
RECEIVE_CAPABILITIES = [
    b"report-status",
    b"delete-refs",
    b"side-band-64k",
    b"quiet",
    b"atomic",
    b"ofs-delta",
    capability_object_format("sha1"),
    AGENT,
]


class ProtocolError(Exception):
    """The client sent something that is not the git protocol (answered with ``ERR``)."""


class PktReader:
    """pkt-lines from a body held in memory; ``read()`` returns None for a flush-pkt."""

    def __init__(self, data: bytes):
        self._data = data
        self._pos = 0

    @property
    def at_end(self) -> bool:
        return self._pos >= len(self._data)

    def read(self) -> bytes | None:
        if self.at_end:
            raise ProtocolError("the request ended in the middle of a command list")
        found = _read_pkt(self._data, self._pos)
        if found is None:
            raise ProtocolError("truncated pkt-line")
        line, self._pos = found
        return line


def _read_pkt(data: bytes | bytearray, pos: int) -> tuple[bytes | None, int] | None:
    """One pkt-line at ``pos``: ``(payload, next position)``, payload None for a flush-pkt; None if incomplete."""
    if len(data) < pos + 4:
        return None
    head = bytes(data[pos : pos + 4])
    if any(c not in b"0123456789abcdefABCDEF" for c in head):
        raise ProtocolError(f"invalid pkt-line length {head!r}")
    size = int(head, 16)
    if size == 0:
        return None, pos + 4
    if size < 4:
        raise ProtocolError(f"invalid pkt-line length {head!r}")
    if len(data) < pos + size:
        return None
    return bytes(data[pos + 4 : pos + size]), pos + size


class CommandSplitter:
    """Feeds a push body: collects the pkt-lines up to the first flush, then hands the rest over as pack bytes."""

    def __init__(self, max_header: int = 1 << 20):
        self._buf = bytearray()
        self._max = max_header
        self.lines: list[bytes] | None = None  # set once the flush-pkt was seen

    def feed(self, data: bytes | bytearray) -> bytes:
        """Consume ``data``; return what belongs to the pack (empty until the command list is complete)."""
        if self.lines is not None:
            return bytes(data)
        self._buf += data
        lines: list[bytes] = []
        pos = 0
        while True:
            found = _read_pkt(self._buf, pos)
            if found is None:
                if len(self._buf) > self._max:
                    raise ProtocolError("the command list of this push is too long")
                return b""
            line, pos = found
            if line is None:
                self.lines = lines
                rest = bytes(self._buf[pos:])
                self._buf = bytearray()
                return rest
            lines.append(line)


@dataclass(frozen=True)
class SideBand:
    """Output channels: side-band(-64k) packets when the client asked for them, else raw data."""

    max_packet: int  # 0: no side-band; 1000 for side-band; 65520 for side-band-64k

    @classmethod
    def for_capabilities(cls, caps: Iterable[bytes]) -> SideBand:
        caps = set(caps)
        if b"side-band-64k" in caps:
            return cls(65520)
        if b"side-band" in caps:
            return cls(1000)
        return cls(0)

    def data(self, payload: bytes) -> Iterator[bytes]:
        if not self.max_packet:
            yield payload
            return
        step = self.max_packet - 5
        for i in range(0, len(payload), step):
            yield pkt_line(bytes([SIDE_BAND_CHANNEL_DATA]) + payload[i : i + step])

    def progress(self, message: str) -> bytes:
        return self._channel(SIDE_BAND_CHANNEL_PROGRESS, message)

    def fatal(self, message: str) -> bytes:
        if not self.max_packet:
            return pkt_line(f"ERR {message}".encode()[:MAX_PKT_PAYLOAD])
        return self._channel(SIDE_BAND_CHANNEL_FATAL, message)

    def _channel(self, band: int, message: str) -> bytes:
        if not self.max_packet:
            return b""
        text = message.encode("utf-8", "replace")
        step = self.max_packet - 5
        return b"".join(pkt_line(bytes([band]) + text[i : i + step]) for i in range(0, len(text), step))


def service_header(service: str) -> bytes:
    return pkt_line(f"# service={service}\n".encode()) + FLUSH


def advertise_refs(
    refs: list[tuple[str, str]], peeled: dict[str, str], capabilities: list[bytes], head: str | None
) -> bytes:
    """The v0 ref advertisement: ``HEAD`` (if given) and every ref, capabilities on the first line."""
    caps = list(capabilities)
    lines: list[tuple[bytes, bytes]] = []
    if head is not None:
        caps.append(b"symref=HEAD:" + head.encode())
        target = dict(refs).get(head)
        if target is not None:
            lines.append((b"HEAD", target.encode()))
    for name, target in refs:
        lines.append((name.encode(), target.encode()))
        if name in peeled:
            lines.append((name.encode() + PEELED_TAG_SUFFIX, peeled[name].encode()))
    if not lines:
        lines.append((CAPABILITIES_REF, ZERO_OID.encode()))
    out = [pkt_line(format_ref_line(lines[0][0], lines[0][1], caps))]
    out.extend(pkt_line(format_ref_line(name, sha)) for name, sha in lines[1:])
    out.append(FLUSH)
    return b"".join(out)


def error_line(message: str) -> bytes:
    """``ERR <message>``: git prints it as ``remote error: <message>`` and stops."""
    return pkt_line(f"ERR {message}\n".encode("utf-8", "replace")[:MAX_PKT_PAYLOAD])
