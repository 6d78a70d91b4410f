"""The downloads chart of a repo page: bars for the last 30 days, drawn as inline SVG (no JavaScript)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

WIDTH, HEIGHT, GAP = 300, 60, 2


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    day: dt.date
    count: int


@dataclass(frozen=True)
class Chart:
    width: int
    height: int
    bars: list[Bar]
    total: int
    peak: int
    first_day: dt.date
    last_day: dt.date


def downloads_chart(days: list[tuple[dt.date, int]]) -> Chart:
    """Geometry of one bar per day; the tallest bar fills the height (an empty month draws flat)."""
    peak = max((count for _day, count in days), default=0)
    slot = WIDTH / max(len(days), 1)
    bars = []
    for index, (day, count) in enumerate(days):
        height = (HEIGHT - 1) * count / peak if peak else 0.0
        height = max(height, 1.0)  # a hairline, so that empty days are visible as days
        bars.append(Bar(round(index * slot, 2), round(HEIGHT - height, 2), round(slot - GAP, 2), round(height, 2),
                        day, count))
    first = days[0][0] if days else dt.date.today()
    last = days[-1][0] if days else first
    return Chart(WIDTH, HEIGHT, bars, sum(c for _d, c in days), peak, first, last)
