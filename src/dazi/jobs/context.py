"""What a job function sees while it runs: its log, its progress, and whether it was asked to stop.

Log lines and progress are buffered and written by a background thread at most every ``flush_seconds``
(so a chatty job does not hammer the database); the same thread reads the job's ``cancel_requested``
flag. Job functions call ``ctx.check_cancelled()`` (``ctx.progress`` does too) between units of work.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from typing import Any

from dazi.hub import Hub
from dazi.jobs import services


class JobCancelled(Exception):
    """Raised inside a job function when the job was cancelled."""


class JobFailed(Exception):
    """Raised by a job function to fail with a clear message, keeping a result (e.g. what mismatched)."""

    def __init__(self, message: str, result: dict[str, Any] | None = None):
        super().__init__(message)
        self.result = result


class JobContext:
    def __init__(self, hub: Hub, job_id: str, lease_owner: str, *, flush_seconds: float = 0.5):
        self.hub = hub
        self.job_id = job_id
        self.lease_owner = lease_owner
        self.cancelled = threading.Event()
        self._flush_seconds = flush_seconds
        self._lock = threading.Lock()
        self._lines: list[str] = []
        self._progress: tuple[float, str | None] | None = None
        self._closed = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"dazi-job-{job_id[:8]}-flush", daemon=True)
        self._thread.start()

    # -- for job functions ----------------------------------------------------------------------------

    def log(self, message: str) -> None:
        stamp = dt.datetime.now(dt.UTC).strftime("%H:%M:%S")
        with self._lock:
            self._lines.extend(f"[{stamp}] {line}\n" for line in str(message).splitlines() or [""])

    def progress(self, fraction: float, message: str | None = None) -> None:
        with self._lock:
            self._progress = (float(fraction), message)
        self.check_cancelled()

    def check_cancelled(self) -> None:
        if self.cancelled.is_set():
            raise JobCancelled()

    # -- plumbing ---------------------------------------------------------------------------------------

    def flush(self) -> None:
        with self._lock:
            text, self._lines = "".join(self._lines), []
            progress, self._progress = self._progress, None
        if not text and progress is None:
            return
        with self.hub.db.write() as session:
            services.append_log(session, self.job_id, text, self.hub.settings.jobs_max_log_bytes)
            if progress is not None:
                services.set_progress(session, self.job_id, self.lease_owner, progress[0], progress[1])

    def _run(self) -> None:
        log = logging.getLogger("dazi.jobs")
        while not self._closed.wait(self._flush_seconds):
            try:
                self.flush()
                with self.hub.db.read() as session:
                    if services.cancel_requested(session, self.job_id):
                        self.cancelled.set()
            except Exception:  # a busy database must not kill the job; the next round tries again
                log.warning("job %s: could not write progress", self.job_id, exc_info=True)

    def close(self) -> None:
        self._closed.set()
        self._thread.join(timeout=30)
        self.flush()


class LogHandler(logging.Handler):
    """Forwards warnings logged by libraries during a job into the job's log."""

    def __init__(self, ctx: JobContext):
        super().__init__(level=logging.WARNING)
        self.ctx = ctx

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.ctx.log(f"{record.levelname.lower()}: {record.name}: {record.getMessage()}")
        except Exception:  # pragma: no cover - logging must never raise
            self.handleError(record)
