"""Data of the quota page (``/settings/quota``): where the logged-in user stands on every policy.

The figures come from the app's one ``QuotaService`` (``dazi.quotas``), the same counters ``/v1`` admits
and charges and ``GET /api/quota`` shows; reading them counts nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

from dazi.accounts.models import User
from dazi.accounts.services import Actor
from dazi.hub import Hub
from dazi.quotas.services import REQUESTS, TOKENS, QuotaService, Usage, key_for
from dazi.web import people
from dazi.web.i18n import marker as N_

# One window of one unit: a title of its own (reads better than "per 1 minute" in both languages).
_TITLES = {
    (REQUESTS, "second"): N_("Requests per second"),
    (REQUESTS, "minute"): N_("Requests per minute"),
    (REQUESTS, "hour"): N_("Requests per hour"),
    (REQUESTS, "day"): N_("Requests per day"),
    (REQUESTS, "month"): N_("Requests per month"),
    (REQUESTS, "year"): N_("Requests per year"),
    (TOKENS, "second"): N_("Tokens per second"),
    (TOKENS, "minute"): N_("Tokens per minute"),
    (TOKENS, "hour"): N_("Tokens per hour"),
    (TOKENS, "day"): N_("Tokens per day"),
    (TOKENS, "month"): N_("Tokens per month"),
    (TOKENS, "year"): N_("Tokens per year"),
}
_PER_WINDOW = {REQUESTS: N_("Requests per %(window)s"), TOKENS: N_("Tokens per %(window)s")}


@dataclass(frozen=True)
class PolicyRow:
    name: str  # as in the RateLimit headers, e.g. "requests_minute"
    title: str  # a marked string (``tr()``); "%(window)s" to fill when ``per_window``
    per_window: bool
    window_seconds: int
    quota: int
    used: int
    remaining: int
    reset_seconds: int
    started: bool  # a window is running (something was counted); otherwise it starts with the next call

    @property
    def used_share(self) -> float:
        return min(1.0, self.used / self.quota) if self.quota else 1.0


@dataclass
class QuotaPage:
    account: people.Account
    policies: list[PolicyRow]

    @property
    def user(self) -> User:  # what the settings navigation shows
        return self.account.user

    @property
    def orgs(self) -> list[tuple[str, str]]:
        return self.account.orgs


def row(usage: Usage) -> PolicyRow:
    policy = usage.policy
    granularity = policy.item.GRANULARITY.name
    single = policy.item.multiples == 1 and (policy.unit, granularity) in _TITLES
    title = _TITLES[(policy.unit, granularity)] if single else _PER_WINDOW.get(policy.unit, _PER_WINDOW[REQUESTS])
    used = max(0, policy.quota - usage.remaining)
    return PolicyRow(
        name=policy.name,
        title=title,
        per_window=not single,
        window_seconds=policy.window,
        quota=policy.quota,
        used=used,
        remaining=max(0, usage.remaining),
        reset_seconds=usage.reset_seconds,
        started=usage.remaining < policy.quota,
    )


def quota_page(hub: Hub, actor: Actor, quotas: QuotaService) -> QuotaPage:
    return QuotaPage(people.account(hub, actor), [row(u) for u in quotas.usage(key_for(actor))])
