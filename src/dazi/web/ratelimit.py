"""Log-in rate limiting: failed attempts per (client IP, user name) in a sliding window.

In memory, per process: enough for one server process; with several workers each counts on its own
(a shared limiter belongs to a ``ratelimit`` domain once the hub has one). The limit and the window
are read from the settings on every check.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict, deque


class LoginLimiter:
    def __init__(self, max_keys: int = 100_000):
        self.max_keys = max_keys
        self._failures: OrderedDict[str, deque[float]] = OrderedDict()
        self._lock = threading.Lock()

    def retry_after(self, key: str, max_failures: int, window: float, now: float | None = None) -> int:
        """Seconds until ``key`` may try again; 0 when it may try now."""
        now = time.monotonic() if now is None else now
        with self._lock:
            times = self._prune(key, window, now)
            if len(times) < max_failures:
                return 0
            return max(1, int(times[-max_failures] + window - now) + 1)

    def failed(self, key: str, window: float, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        with self._lock:
            times = self._prune(key, window, now)
            times.append(now)
            self._failures[key] = times
            self._failures.move_to_end(key)
            while len(self._failures) > self.max_keys:
                self._failures.popitem(last=False)

    def succeeded(self, key: str) -> None:
        with self._lock:
            self._failures.pop(key, None)

    def _prune(self, key: str, window: float, now: float) -> deque[float]:
        times = self._failures.get(key) or deque()
        while times and times[0] <= now - window:
            times.popleft()
        if not times:
            self._failures.pop(key, None)
        return times


def login_key(client_ip: str, user_name: str) -> str:
    return f"{client_ip}|{user_name.strip().lower()}"


_create_lock = threading.Lock()


def limiter_for(state: object) -> LoginLimiter:
    """The app's one log-in limiter, created on first use (kept on ``app.state``)."""
    with _create_lock:
        limiter: LoginLimiter | None = getattr(state, "web_login_limiter", None)
        if limiter is None:
            limiter = LoginLimiter()
            state.web_login_limiter = limiter  # type: ignore[attr-defined]
        return limiter
