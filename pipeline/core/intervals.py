"""Adaptive poll intervals: pure functions from what a poll yielded to the feed's next interval.

A feed that mostly repeats itself is polled less often, one that is mostly new more often:

- half or more of its entries new            -> interval / 2
- some new                                   -> interval * 0.8 (a news feed's window holds
  many old items, so "some new" is a live feed: keeping the interval there let Poisson gaps
  push busy feeds to an hour; bench/polling_day.py measures the delay)
- none new, an unchanged body or a 304       -> interval * 1.5
- no entries at all, or an interrupted poll  -> unchanged (no evidence either way)

The result stays within ``[max(min_interval, floor), max_interval]``. The floor is what the
publisher asks for: RSS ``<ttl>``, ``sy:updatePeriod``/``sy:updateFrequency``, the response's
``Cache-Control: max-age`` or ``Expires``, the largest of them, never above ``max_interval``.
A feed pinned by an explicit ``interval:`` in feeds.yaml never moves (the caller skips these).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Literal

Outcome = Literal["ok", "not_modified", "unchanged", "interrupted"]

FASTER = 0.5
SOMEWHAT_FASTER = 0.8
SLOWER = 1.5
MOSTLY_NEW = 0.5  # share of new entries that makes a feed "mostly new"

# sy:updatePeriod values (RSS 1.0 syndication module); the frequency divides the period.
_UPDATE_PERIODS = {
    "hourly": 3600.0,
    "daily": 86400.0,
    "weekly": 7 * 86400.0,
    "monthly": 30 * 86400.0,
    "yearly": 365 * 86400.0,
}
_MAX_AGE = re.compile(r"(?:^|,)\s*max-age\s*=\s*\"?(\d+)\"?", re.IGNORECASE)


def next_interval(
    current: float,
    *,
    outcome: Outcome,
    entries: int,
    new_entries: int,
    min_interval: float,
    max_interval: float,
    floor: float | None = None,
) -> float:
    """The interval after a successful poll of an unpinned feed."""
    if outcome in ("not_modified", "unchanged"):
        proposed = current * SLOWER
    elif outcome == "interrupted" or entries <= 0:
        proposed = current
    elif new_entries / entries >= MOSTLY_NEW:
        proposed = current * FASTER
    elif new_entries > 0:
        proposed = current * SOMEWHAT_FASTER
    else:
        proposed = current * SLOWER
    return clamp(proposed, min_interval=min_interval, max_interval=max_interval, floor=floor)


def clamp(
    seconds: float, *, min_interval: float, max_interval: float, floor: float | None = None
) -> float:
    lowest = min(max(min_interval, floor or 0.0), max_interval)
    return min(max(seconds, lowest), max_interval)


def feed_update_seconds(
    ttl: object, update_period: object, update_frequency: object
) -> float | None:
    """Seconds between updates the feed document announces: RSS ``<ttl>`` (minutes) and
    ``sy:updatePeriod`` / ``sy:updateFrequency``; the larger when both; None when neither
    (or unreadable)."""
    found: list[float] = []
    minutes = _positive_number(ttl)
    if minutes is not None:
        found.append(minutes * 60)
    period = _UPDATE_PERIODS.get(str(update_period or "").strip().lower())
    if period is not None:
        frequency = _positive_number(update_frequency) or 1.0
        found.append(period / frequency)
    return max(found) if found else None


def header_floor_seconds(headers: Mapping[str, str], now: datetime) -> float | None:
    """How long the response says it stays fresh: ``Cache-Control: max-age`` and
    ``Expires - now``, the larger; None when neither says (or ``no-cache``/``no-store``)."""
    cache_control = headers.get("cache-control", "")
    if re.search(r"no-cache|no-store", cache_control, re.IGNORECASE):
        return None
    found: list[float] = []
    match = _MAX_AGE.search(cache_control)
    if match:
        found.append(float(match.group(1)))
    expires = _http_date(headers.get("expires"))
    if expires is not None:
        found.append((expires - now).total_seconds())
    positive = [seconds for seconds in found if seconds > 0]
    return max(positive) if positive else None


def floor_seconds(*candidates: float | None, max_interval: float) -> float | None:
    """The largest of the publisher's hints, capped at ``max_interval``."""
    known = [seconds for seconds in candidates if seconds is not None and seconds > 0]
    return min(max(known), max_interval) if known else None


def _positive_number(value: object) -> float | None:
    try:
        number = float(str(value).strip())
    except ValueError:
        return None
    return number if number > 0 and number == number and number != float("inf") else None


def _http_date(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None  # "Expires: 0" and other junk mean "already stale"
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when
