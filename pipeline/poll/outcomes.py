"""What one poll records: the counts of its entries, and the feed's poll row (its next poll,
its interval, its validators and failures) for a success or a failure."""

from __future__ import annotations

import hashlib
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from pipeline.core import backoff, intervals
from pipeline.core.config import Config
from pipeline.core.errors import HTTPStatusError, PipelineError
from pipeline.core.records import FetchedResponse
from pipeline.fetch.politeness import THROTTLE_STATUSES, HostThrottledError, HostThrottles, host_of
from storage.repository import FeedToPoll, PollRecord

EntryStatus = Literal["stored", "duplicate", "known", "revised", "error", "skipped"]
SuccessOutcome = Literal["ok", "not_modified", "unchanged", "interrupted"]


@dataclass(slots=True)
class EntryResult:
    status: EntryStatus
    new_flags: int = 0


@dataclass(slots=True)
class PollCounts:
    entries: int = 0
    new: int = 0
    duplicates: int = 0
    flagged: int = 0
    errors: int = 0
    skipped: int = 0

    def add(self, result: EntryResult) -> None:
        if result.status in ("stored", "duplicate"):
            self.new += 1
        if result.status in ("duplicate", "known"):
            self.duplicates += 1
        if result.status == "error":
            self.errors += 1
        if result.status == "skipped":
            self.skipped += 1
        self.flagged += result.new_flags


def body_hash(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


class PollOutcomes:
    """Turns a poll's result into the feed's poll record (pipeline.poll.recorder writes it)."""

    def __init__(
        self,
        *,
        config: Config,
        worker: str,
        clock: Callable[[], datetime],
        rng: random.Random,
        hosts: HostThrottles,
        ignores_validators: set[str],
    ) -> None:
        self.config = config
        self.worker = worker
        self.clock = clock
        self.rng = rng
        self.hosts = hosts
        self.ignores_validators = ignores_validators

    def success(
        self,
        feed: FeedToPoll,
        started_at: datetime,
        started: float,
        response: FetchedResponse,
        counts: PollCounts,
        outcome: SuccessOutcome,
        update_seconds: float | None = None,
    ) -> PollRecord:
        now = self.clock()
        interval, floor = self._next_interval(feed, response, counts, outcome, update_seconds, now)
        if outcome == "interrupted":  # come back soon for the entries we did not reach
            next_poll = now
        else:
            next_poll = backoff.after_success(now, interval, self.config.schedule.jitter, self.rng)
        fresh = response.status == 200
        validators = fresh and feed.name not in self.ignores_validators
        # A body whose entries all went through is "unchanged" next time; one with entries
        # that failed is parsed again, so they are retried.
        complete = fresh and outcome in ("ok", "unchanged") and not counts.errors
        return PollRecord(
            feed_id=feed.id,
            worker=self.worker,
            started_at=started_at,
            duration_seconds=time.monotonic() - started,
            outcome=outcome,
            next_poll_at=next_poll,
            status="ok",
            consecutive_failures=0,
            http_status=response.status,
            bytes=len(response.body),
            entries=counts.entries,
            new_entries=counts.new,
            duplicates=counts.duplicates,
            flagged=counts.flagged,
            errors=counts.errors,
            etag=response.etag if validators else None,
            last_modified=response.last_modified if validators else None,
            body_hash=body_hash(response.body) if complete else None,
            final_url=response.final_url,
            interval_seconds=interval,
            interval_floor_seconds=floor,
            lease_generation=feed.lease_generation,
        )

    def _next_interval(
        self,
        feed: FeedToPoll,
        response: FetchedResponse,
        counts: PollCounts,
        outcome: SuccessOutcome,
        update_seconds: float | None,
        now: datetime,
    ) -> tuple[float, float | None]:
        """(the feed's interval from now on, the publisher's floor). A 304 or an unchanged
        body was not parsed: the floor the document announced last time still holds."""
        schedule = self.config.schedule
        announced = (
            update_seconds if outcome in ("ok", "interrupted") else feed.interval_floor_seconds
        )
        floor = intervals.floor_seconds(
            announced,
            intervals.header_floor_seconds(response.headers, now),
            max_interval=schedule.max_interval,
        )
        if feed.interval_pinned:
            return feed.interval_seconds, floor
        interval = intervals.next_interval(
            feed.interval_seconds,
            outcome=outcome,
            entries=counts.entries,
            new_entries=counts.new,
            min_interval=schedule.min_interval,
            max_interval=schedule.max_interval,
            floor=floor,
        )
        return interval, floor

    def failure(
        self,
        feed: FeedToPoll,
        started_at: datetime,
        started: float,
        error: PipelineError,
        response: FetchedResponse | None = None,
    ) -> PollRecord:
        failures = feed.consecutive_failures + 1
        status_code = error.status if isinstance(error, HTTPStatusError) else None
        retry_after = (
            error.retry_after if isinstance(error, HTTPStatusError | HostThrottledError) else None
        )
        if status_code in THROTTLE_STATUSES:  # the host's throttle may be longer
            retry_after = max(retry_after or 0.0, self.hosts.remaining(host_of(feed.url)))
        if status_code == 410:
            status = "gone"  # the publisher says it is gone for good: stop polling
        elif failures >= self.config.schedule.failing_after:
            status = "failing"
        else:
            status = "ok"
        now = self.clock()
        return PollRecord(
            feed_id=feed.id,
            worker=self.worker,
            started_at=started_at,
            duration_seconds=time.monotonic() - started,
            outcome="error",
            next_poll_at=backoff.after_failure(
                now,
                interval=feed.interval_seconds,
                failures=failures,
                max_backoff=self.config.schedule.max_backoff,
                jitter=self.config.schedule.jitter,
                rng=self.rng,
                retry_after=retry_after,
            ),
            status=status,
            consecutive_failures=failures,
            http_status=status_code or (response.status if response else None),
            bytes=len(response.body) if response else 0,
            errors=1,
            error=f"{type(error).__name__}: {error}"[:1000],
            etag=feed.etag,
            last_modified=feed.last_modified,
            interval_seconds=feed.interval_seconds,
            lease_generation=feed.lease_generation,
        )
