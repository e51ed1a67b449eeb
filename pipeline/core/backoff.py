"""When a feed is polled next: its interval after a success, an exponential backoff after
failures (capped, jittered, never earlier than the server's Retry-After)."""

from __future__ import annotations

import random
from datetime import datetime, timedelta


def after_success(now: datetime, interval: float, jitter: float, rng: random.Random) -> datetime:
    return now + timedelta(seconds=_jittered(interval, jitter, rng))


def after_failure(
    now: datetime,
    *,
    interval: float,
    failures: int,
    max_backoff: float,
    jitter: float,
    rng: random.Random,
    retry_after: float | None = None,
) -> datetime:
    """`failures` counts this one too (1 after the first failure)."""
    exponent = min(max(failures - 1, 0), 30)  # 2**30 already exceeds any sane cap
    delay = min(interval * 2**exponent, max(max_backoff, interval))
    delay = _jittered(delay, jitter, rng)
    if retry_after is not None:
        delay = max(delay, retry_after)
    return now + timedelta(seconds=delay)


def _jittered(seconds: float, jitter: float, rng: random.Random) -> float:
    # Spread polls so that feeds added together do not stay in lock-step forever.
    return seconds * (1 + rng.uniform(-jitter, jitter))
