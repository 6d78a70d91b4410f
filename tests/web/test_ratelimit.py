"""The log-in limiter itself: a sliding window per key, reset by a success."""

from __future__ import annotations

from dazi.web.ratelimit import LoginLimiter, login_key


def test_sliding_window() -> None:
    limiter = LoginLimiter()
    key = login_key("10.0.0.1", " Alice ")
    assert key == "10.0.0.1|alice"
    for t in range(3):
        assert limiter.retry_after(key, 3, 60, now=float(t)) == 0
        limiter.failed(key, 60, now=float(t))
    assert limiter.retry_after(key, 3, 60, now=3.0) == 58  # the oldest failure leaves the window at 60 s
    assert limiter.retry_after(key, 3, 60, now=60.5) == 0  # it did
    assert limiter.retry_after("10.0.0.2|alice", 3, 60, now=3.0) == 0  # another address
    limiter.failed(key, 60, now=61.0)
    limiter.succeeded(key)
    assert limiter.retry_after(key, 3, 60, now=61.5) == 0


def test_memory_is_bounded() -> None:
    limiter = LoginLimiter(max_keys=10)
    for i in range(50):
        limiter.failed(f"k{i}", 60, now=1.0)
    assert len(limiter._failures) == 10
