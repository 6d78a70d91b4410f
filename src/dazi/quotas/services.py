"""Per-user request and token quotas, counted with the ``limits`` library.

Policies come from settings in the ``limits`` notation (``600/minute;20000/day``). Counters are fixed
windows: each resets at a known moment, which the ``RateLimit`` header states exactly, so a client never
has to guess (the complaint about opaque limits). Storage is ``memory://`` (one process) or a Redis URL
(shared by several API workers). When the storage fails, quotas fail open: the request is served and
the failure logged, rather than a hub refusing everyone because its counter store is down.

- A request is admitted when no request policy and no token policy is exhausted; admitting counts one
  request against every request policy.
- Tokens (prompt plus generated) are charged when the response is complete (or the client went away),
  so a token policy can end slightly over its quota; the next request is then refused until the reset.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass
from typing import Any

from limits import RateLimitItem, parse_many
from limits.storage import storage_from_string
from limits.strategies import FixedWindowRateLimiter

from dazi.accounts.services import Actor
from dazi.config import Settings
from dazi.errors import DaziError

log = logging.getLogger("dazi.quotas")
REQUESTS, TOKENS = "requests", "tokens"


class RateLimited(DaziError):
    """429: a quota is used up until its window resets (``Retry-After`` says when)."""

    status_code = 429


@dataclass(frozen=True)
class Policy:
    name: str  # e.g. "requests_minute" (a word: some clients match names with \w+)
    unit: str  # REQUESTS | TOKENS
    item: RateLimitItem

    @property
    def quota(self) -> int:
        return int(self.item.amount)

    @property
    def window(self) -> int:
        return int(self.item.get_expiry())


@dataclass(frozen=True)
class Usage:
    policy: Policy
    remaining: int
    reset_seconds: int  # until the window resets (the whole window when nothing was counted yet)

    def as_json(self) -> dict[str, Any]:
        return {
            "name": self.policy.name,
            "unit": self.policy.unit,
            "quota": self.policy.quota,
            "window_seconds": self.policy.window,
            "used": self.policy.quota - self.remaining,
            "remaining": self.remaining,
            "reset_seconds": self.reset_seconds,
        }


def parse_policies(unit: str, text: str) -> list[Policy]:
    policies = []
    for item in parse_many(text) if text.strip() else []:
        span = item.GRANULARITY.name if item.multiples == 1 else f"{item.multiples}{item.GRANULARITY.name}s"
        policies.append(Policy(f"{unit}_{span}", unit, item))
    return policies


def headers(usages: list[Usage]) -> dict[str, str]:
    """``RateLimit-Policy`` and ``RateLimit`` (IETF draft "RateLimit header fields for HTTP", structured
    fields); the policy closest to running out comes first (clients that read one item read that one)."""
    if not usages:
        return {}
    ordered = sorted(usages, key=lambda u: (u.remaining / max(u.policy.quota, 1), u.reset_seconds))
    policy = ", ".join(f'"{u.policy.name}";q={u.policy.quota};w={u.policy.window}' for u in ordered)
    current = ", ".join(f'"{u.policy.name}";r={u.remaining};t={u.reset_seconds}' for u in ordered)
    return {"RateLimit-Policy": policy, "RateLimit": current}


def key_for(actor: Actor) -> str:
    return f"user:{actor.user_id}"


class QuotaService:
    def __init__(self, settings: Settings):
        self.storage_url = settings.ratelimit_storage_url
        self.limiter = FixedWindowRateLimiter(storage_from_string(settings.ratelimit_storage_url))
        self.policies = parse_policies(REQUESTS, settings.inference_request_limits) + parse_policies(
            TOKENS, settings.inference_token_limits
        )

    def usage(self, key: str) -> list[Usage]:
        """Where ``key`` stands on every policy (counts nothing)."""
        try:
            return [self._usage(p, key) for p in self.policies]
        except Exception:
            log.warning("quota storage %s failed: not enforcing quotas", self.storage_url, exc_info=True)
            return []

    def _usage(self, policy: Policy, key: str) -> Usage:
        stats = self.limiter.get_window_stats(policy.item, key)
        # nothing counted yet: a window would start with the next request
        fresh = stats.remaining >= policy.quota
        reset = policy.window if fresh else max(1, math.ceil(stats.reset_time - time.time()))
        return Usage(policy, int(stats.remaining), reset)

    def admit(self, key: str) -> list[Usage]:
        """Count one request, or raise RateLimited (with the headers) when a quota is used up."""
        usages = self.usage(key)
        exhausted = [u for u in usages if u.remaining <= 0]
        if exhausted:
            raise self._refusal(exhausted, usages)
        try:
            for policy in self.policies:
                if policy.unit == REQUESTS:
                    self.limiter.hit(policy.item, key)
        except Exception:
            log.warning("quota storage %s failed: not enforcing quotas", self.storage_url, exc_info=True)
            return []
        return self.usage(key)

    def charge_tokens(self, key: str, tokens: int) -> None:
        if tokens <= 0:
            return
        try:
            for policy in self.policies:
                if policy.unit == TOKENS:
                    self.limiter.hit(policy.item, key, cost=tokens)
        except Exception:
            log.warning("quota storage %s failed: tokens not counted", self.storage_url, exc_info=True)

    @staticmethod
    def _refusal(exhausted: list[Usage], usages: list[Usage]) -> RateLimited:
        wait = max(u.reset_seconds for u in exhausted)
        first = max(exhausted, key=lambda u: u.reset_seconds)
        what = "requests" if first.policy.unit == REQUESTS else "tokens"
        message = (
            f"Rate limit reached for {what}: {first.policy.quota} {what} per {first.policy.window} s "
            f"(policy {first.policy.name}) are used up; the window resets in {wait} s. "
            "The RateLimit and RateLimit-Policy headers show every quota; GET /api/quota shows your use."
        )
        return RateLimited(
            message,
            headers={"Retry-After": str(wait), **headers(usages)},
            extra={"type": what, "code": "rate_limit_exceeded", "param": None},
        )
