"""Rounds: the daemon thread behind the job service and the deployment supervisor.

It calls ``tick`` every ``interval`` seconds, or at once when woken (something was just submitted or
changed); a round that raises is logged and the next one runs as usual. ``stop`` ends the thread after the
round in progress.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable


class Rounds:
    def __init__(self, name: str, tick: Callable[[], None], interval: float, log: logging.Logger):
        self.name, self.tick, self.interval, self.log = name, tick, interval, log
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name=self.name, daemon=True)
        self._thread.start()

    def wake(self) -> None:
        self._wake.set()

    def stop(self, timeout: float = 60) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=timeout)

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.tick()
            except Exception:
                self.log.exception("%s: a round failed; retrying", self.name)
            self._wake.wait(self.interval)
            self._wake.clear()
