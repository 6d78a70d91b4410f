"""Test helpers that keep clients on loopback and the ml extra honest in CI."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

LOOPBACK = {"127.0.0.1", "localhost", "::1"}


def missing_ml_extra(exc: ImportError, what: str) -> None:
    """In CI the ml extra is part of the contract: a missing import fails; elsewhere the module is skipped."""
    if os.environ.get("CI"):
        raise ImportError(f"the ml extra ({what}) must be installed in CI: {exc}") from exc
    pytest.skip(f"the ml extra is not installed: {exc}", allow_module_level=True)


@contextmanager
def loopback_lookups(monkeypatch: pytest.MonkeyPatch, tolerated: frozenset[str] = frozenset()) -> Iterator[list[str]]:
    """Refuse (and record) every name look-up other than loopback; fail on any not in ``tolerated``."""
    attempts: list[str] = []
    real = socket.getaddrinfo

    def guarded(host: Any, *args: Any, **kwargs: Any) -> Any:
        name = host.decode() if isinstance(host, bytes) else str(host)
        if name not in LOOPBACK:
            attempts.append(name)
            raise OSError(f"test network guard: refused look-up of {name!r}")
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", guarded)
    yield attempts
    unexpected = sorted(set(attempts) - tolerated)
    assert unexpected == [], f"clients tried to reach hosts other than the hub: {unexpected}"
