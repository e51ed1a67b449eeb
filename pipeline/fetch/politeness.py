"""Politeness per host, across every feed and article request of a worker.

Two pieces:

- ``HostGate`` (used by ``Fetcher``, real time): request starts to one host name are at least
  ``fetch.host_delay`` seconds apart, whichever feed they serve. It also tells listeners the
  status of every answer, so that a 429/503 can slow the host down.
- ``HostThrottles`` (used by ``FeedPoller``, the injected clock): a host that answered 429 or
  503 is throttled until ``max(Retry-After, 60 s * 2 ** (n - 1))`` (capped at six hours; ``n``
  counts the throttles in a row). A feed poll that would start while its host is throttled
  fails fast with ``HostThrottledError`` and backs off; the throttle is written to the
  ``host_state`` table so that other workers (and a restarted one) claim none of the host's
  feeds before it ends. The first good answer after a throttle ends the series.

Requests of a poll already under way (its redirects and article pages) are not cut off: they
are still held to ``per_host`` and ``host_delay``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import datetime, timedelta

from pipeline.core.errors import FetchError
from pipeline.core.records import HostThrottle
from pipeline.core.urls import host_of as host_of  # re-exported: callers key hosts alike

THROTTLE_STATUSES = frozenset({429, 503})
THROTTLE_BASE = 60.0  # seconds of the first throttle without a Retry-After
THROTTLE_CAP = 6 * 3600.0
_FORGET_AFTER = 1000  # hosts remembered by the gate before past ones are dropped

StatusListener = Callable[[str, int, float | None], None]  # host, status, Retry-After seconds


class HostThrottledError(FetchError):
    """The feed's host asked us to slow down (429/503) and its throttle is not over."""

    def __init__(self, message: str, *, url: str = "", retry_after: float) -> None:
        super().__init__(message, url=url)
        self.retry_after = retry_after


class HostGate:
    """Spaces request starts to one host by ``delay`` seconds (monotonic time)."""

    def __init__(self, delay: float) -> None:
        self._delay = delay
        self._next_start: dict[str, float] = {}
        self._listeners: list[StatusListener] = []

    async def wait_turn(self, host: str) -> None:
        if self._delay <= 0:
            return
        now = time.monotonic()
        start = max(now, self._next_start.get(host, 0.0))
        self._next_start[host] = start + self._delay  # reserved before sleeping: no two alike
        if len(self._next_start) > _FORGET_AFTER:
            self._forget_past(now)
        if start > now:
            await asyncio.sleep(start - now)

    def add_listener(self, listener: StatusListener) -> None:
        self._listeners.append(listener)

    def answered(self, host: str, status: int, retry_after: float | None) -> None:
        for listener in self._listeners:
            listener(host, status, retry_after)

    def _forget_past(self, now: float) -> None:
        for host in [host for host, start in self._next_start.items() if start <= now]:
            del self._next_start[host]


class HostThrottles:
    """Throttled hosts of this worker, by the injected clock; changes wait in ``pending`` until
    the poller writes them to the database."""

    def __init__(self, clock: Callable[[], datetime]) -> None:
        self._clock = clock
        self._throttles: dict[str, HostThrottle] = {}
        self.pending: dict[str, HostThrottle] = {}

    def note(self, host: str, status: int, retry_after: float | None) -> None:
        """A listener for ``HostGate``: every answer's status from every request."""
        if status in THROTTLE_STATUSES:
            previous = self._throttles.get(host)
            count = previous.count + 1 if previous else 1
            step = min(THROTTLE_BASE * 2 ** min(count - 1, 20), THROTTLE_CAP)
            seconds = max(step, min(retry_after or 0.0, THROTTLE_CAP))
            until = self._clock() + timedelta(seconds=seconds)
            if previous is not None and previous.until > until:
                until = previous.until
            throttle = HostThrottle(host, until, count, status)
            self._throttles[host] = self.pending[host] = throttle
        elif status < 400 and host in self._throttles and self.remaining(host) <= 0:
            del self._throttles[host]  # a good answer after the wait ends the series

    def remaining(self, host: str) -> float:
        """Seconds until ``host`` may be asked again (0 when it is not throttled)."""
        throttle = self._throttles.get(host)
        if throttle is None:
            return 0.0
        return max((throttle.until - self._clock()).total_seconds(), 0.0)

    def take_pending(self) -> list[HostThrottle]:
        pending, self.pending = list(self.pending.values()), {}
        return pending
