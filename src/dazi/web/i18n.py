"""Languages of the web site: negotiation, gettext catalogs (Babel), locale-aware numbers and dates.

The language comes from ``?lang=``, then the ``dazi_lang`` cookie, then ``Accept-Language``, then the
hub's default. Every Chinese variant maps to ``zh_CN`` (the only Chinese catalog).
"""

from __future__ import annotations

import datetime as dt
import functools
from pathlib import Path

from babel.dates import format_date, format_datetime, format_skeleton, format_timedelta
from babel.numbers import format_compact_decimal, format_decimal, format_percent
from babel.support import NullTranslations, Translations

LOCALES = ("en", "zh_CN")
LANGUAGE_NAMES = {"en": "English", "zh_CN": "中文"}
LANG_COOKIE = "dazi_lang"
LOCALE_DIR = Path(__file__).parent / "locales"
DOMAIN = "messages"


def marker(text: str) -> str:
    """Marks a string in Python code for translation (imported as ``N_``); templates show it with ``tr()``."""
    return text


def normalize(value: str | None) -> str | None:
    """``zh``, ``zh-CN``, ``zh_Hans``… → ``zh_CN``; ``en-GB`` → ``en``; anything else → None."""
    if not value:
        return None
    tag = value.strip().replace("-", "_").lower()
    if tag.startswith("zh"):
        return "zh_CN"
    if tag == "en" or tag.startswith("en_"):
        return "en"
    return None


def from_accept_language(header: str | None) -> str | None:
    """The best supported language of an ``Accept-Language`` header (by q-value, then order)."""
    if not header:
        return None
    ranked: list[tuple[float, int, str]] = []
    for index, part in enumerate(header.split(",")[:20]):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                quality = 0.0
        locale = normalize(tag)
        if locale and quality > 0:
            ranked.append((-quality, index, locale))
    return min(ranked)[2] if ranked else None


def negotiate(query: str | None, cookie: str | None, accept: str | None, default: str) -> str:
    return normalize(query) or normalize(cookie) or from_accept_language(accept) or normalize(default) or "en"


@functools.cache
def translations(locale: str) -> NullTranslations:
    """The compiled catalog of ``locale`` (``locales/<locale>/LC_MESSAGES/messages.mo``)."""
    return Translations.load(str(LOCALE_DIR), [locale], DOMAIN)


class Formatter:
    """Numbers and dates for one locale (what the templates call through ``fmt``)."""

    def __init__(self, locale: str):
        self.locale = locale

    def number(self, value: int | float) -> str:
        return format_decimal(value, locale=self.locale)

    def compact(self, value: int) -> str:
        """1.2K / 1.2万: counts in lists and cards."""
        if abs(value) < 1000:
            return str(value)
        return format_compact_decimal(value, locale=self.locale, fraction_digits=1)

    def date(self, value: dt.datetime | dt.date) -> str:
        return format_date(value, "medium", locale=self.locale)

    def short_date(self, value: dt.date) -> str:
        return format_skeleton("MMMd", value, locale=self.locale)

    def datetime(self, value: dt.datetime) -> str:
        return format_datetime(value, "medium", tzinfo=dt.UTC, locale=self.locale) + " UTC"

    def ago(self, value: dt.datetime, now: dt.datetime | None = None) -> str:
        delta = value - (now or dt.datetime.now(dt.UTC))
        return format_timedelta(delta, add_direction=True, locale=self.locale)

    def duration(self, seconds: int) -> str:
        """A length of time in its largest whole unit: "42 seconds", "59 minutes", "1 hour" / "42秒钟"…
        (never rounded up to a unit it has not reached: a reset in 59 s is not "1 minute")."""
        return format_timedelta(dt.timedelta(seconds=seconds), threshold=1, locale=self.locale)

    def percent(self, share: float) -> str:
        return format_percent(share, locale=self.locale)

    def size(self, value: int) -> str:
        units = ("B", "kB", "MB", "GB", "TB", "PB")
        amount, unit = float(value), 0
        while amount >= 1000 and unit < len(units) - 1:
            amount, unit = amount / 1000, unit + 1
        if unit == 0:
            return f"{value} B"
        return f"{format_decimal(round(amount, 1), locale=self.locale)} {units[unit]}"

    def params(self, value: int) -> str:
        """Parameter counts as models are described: 1.5B, 7M, 350K (the same in both languages)."""
        for limit, suffix in ((10**12, "T"), (10**9, "B"), (10**6, "M"), (10**3, "K")):
            if value >= limit:
                return f"{value / limit:.3g}{suffix}"
        return str(value)
