"""The worker: shared resources, the tick that takes due feeds, clean shutdown.

The database is the schedule: each feed row has `next_poll_at`. One APScheduler interval job
(the tick) claims the due feeds with a lease and polls them concurrently; a feed's next poll is
written back when its poll ends. The same code serves one worker or many.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Callable
from datetime import datetime
from functools import partial

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from pipeline.alerts.dispatcher import DISPATCH_EVERY, AlertDispatcher
from pipeline.archive.store import PageArchive, prune_archive
from pipeline.core.clock import utcnow
from pipeline.core.config import Config
from pipeline.core.errors import LeaseLostError, PipelineError, StorageError
from pipeline.extract.pool import PageExtractor
from pipeline.fetch.client import Fetcher
from pipeline.match.matcher import Matcher
from pipeline.match.watchlist import load_watchlist
from pipeline.ops.metrics import EXTRACTION_SECONDS
from pipeline.poll.leases import LeaseKeeper
from pipeline.poll.poller import FeedPoller
from pipeline.poll.recorder import PollRecorder
from storage.bootstrap import open_repository
from storage.repository import FeedToPoll, LeaseHolder, PollRecord, Repository

log = logging.getLogger("pipeline.poll.scheduler")


class Worker:
    """One `pipeline run` process."""

    def __init__(self, config: Config, *, clock: Callable[[], datetime] = utcnow) -> None:
        self.config = config
        self.clock = clock
        self.stop = asyncio.Event()
        self.repository = open_repository(config.database)
        self.leases = LeaseKeeper(self.repository, lease_seconds=config.schedule.lease, clock=clock)
        self.id = self.leases.id
        # `run --once`: the feeds other workers held, so this run could not poll them.
        self.not_polled: list[LeaseHolder] = []
        self.recorder = PollRecorder(self.repository)
        self.alerts = AlertDispatcher(config.alerts, self.repository, clock=clock)
        self._in_flight: dict[int, asyncio.Task[PollRecord | None]] = {}
        self.storage_errors: list[str] = []
        # A claim that filled every free slot may have left due feeds behind: polls that end
        # then claim more at once instead of waiting for the next tick (else a round of 2,000
        # due feeds would take 2,000 / concurrency ticks).
        self._backlog = False
        # Feed polls in flight at once: twice the request limit, because a poll also holds its
        # slot while its record is written and while it waits out a host's delay; the
        # Fetcher's own limits keep requests to `fetch.concurrency`.
        self._slots = 2 * config.fetch.concurrency

    def prepare(self) -> Matcher:
        """Bring the database up to date with the config and the watchlist."""
        watchlist = load_watchlist(self.config.watchlist)
        now = self.clock()
        sync_configured_feeds(self.repository, self.config, now)
        self.repository.sync_entities(watchlist.entity_records(), now)
        self.alerts.sync()  # before polling: this run's flags are alerted
        return Matcher(watchlist)

    async def run(self, *, once: bool) -> list[PollRecord]:
        matcher = self.prepare()
        _install_signal_handlers(self.stop)
        extractor = PageExtractor(
            self.config.fetch.extract_workers, observe=EXTRACTION_SECONDS.observe
        )
        try:
            async with Fetcher(self.config.fetch) as fetcher:
                poller = FeedPoller(
                    config=self.config,
                    repository=self.repository,
                    fetcher=fetcher,
                    extractor=extractor,
                    matcher=matcher,
                    worker=self.id,
                    stop=self.stop,
                    clock=self.clock,
                )
                if once:
                    return await self._poll_all_once(poller)
                await self._run_daemon(poller)
                self._raise_storage_errors()
                return []
        finally:
            extractor.close()
            self.repository.close()

    async def _poll_all_once(self, poller: FeedPoller) -> list[PollRecord]:
        feeds = self._claim(due_only=False, limit=len(self.config.feeds) or 1)
        claimed = {feed.id for feed in feeds}
        self.not_polled = [h for h in self.leases.held_by_others() if h.feed_id not in claimed]
        # As many polls at once as the daemon runs: memory stays flat however many feeds
        # (500 feeds of 40 entries polled together held 20,000 entries in memory).
        slots = asyncio.Semaphore(self._slots)
        waiting = set(claimed)  # claimed and not done: the heartbeat renews their leases

        async def poll(feed: FeedToPoll) -> PollRecord | None:
            async with slots:
                try:
                    return await self._poll_and_record(poller, feed)
                finally:
                    waiting.discard(feed.id)

        heartbeat = asyncio.create_task(self.leases.heartbeat(lambda: waiting))
        try:
            records = await asyncio.gather(*(poll(feed) for feed in feeds))
        finally:
            heartbeat.cancel()
        if self.leases.lost:  # taken over mid-poll: polled by their new holder, not by us
            self.not_polled += self.leases.held_by_others(self.leases.lost)
        self._raise_storage_errors()
        await self._dispatch_alerts(flush=True)
        return [record for record in records if record is not None]

    async def _run_daemon(self, poller: FeedPoller) -> None:
        scheduler = AsyncIOScheduler(timezone="UTC")
        scheduler.add_job(
            self._tick,
            "interval",
            args=[poller],
            seconds=self.config.schedule.tick,
            max_instances=1,
            coalesce=True,
            next_run_time=datetime.now(tz=self.clock().tzinfo),
        )
        if self.alerts.configured:
            scheduler.add_job(
                self._dispatch_alerts, "interval", seconds=DISPATCH_EVERY, max_instances=1
            )
        if self.config.archive.enabled:  # at start, then once a day
            start = datetime.now(tz=self.clock().tzinfo)
            scheduler.add_job(self._prune_archive, "interval", days=1, next_run_time=start)
        scheduler.start()
        # Renews the leases of the polls in flight, however long they take (not only per tick).
        heartbeat = asyncio.create_task(self.leases.heartbeat(lambda: self._in_flight))
        log.info("worker %s started with %d feeds", self.id, len(self.config.feeds))
        await self.stop.wait()
        log.info("stopping: letting %d feed polls finish", len(self._in_flight))
        scheduler.shutdown(wait=False)
        await asyncio.gather(*self._in_flight.values(), return_exceptions=True)
        heartbeat.cancel()

    async def _tick(self, poller: FeedPoller) -> None:
        if self.stop.is_set():
            return
        free = max(self._slots - len(self._in_flight), 0)
        try:
            feeds = self._claim(due_only=True, limit=free) if free else []
        except PipelineError as exc:
            log.error("cannot claim feeds: %s", exc, extra={"stage": "schedule"})
            return
        self._start(poller, feeds, free)

    def _start(self, poller: FeedPoller, feeds: list[FeedToPoll], free: int) -> None:
        self._backlog = bool(free) and len(feeds) >= free
        for feed in feeds:
            if feed.id in self._in_flight:  # our own poll, whose lease had lapsed: go on with it
                continue
            task = asyncio.create_task(self._poll_and_record(poller, feed))
            self._in_flight[feed.id] = task
            task.add_done_callback(partial(self._forget, feed.id, poller))

    def _forget(self, feed_id: int, poller: FeedPoller, _task: object) -> None:
        self._in_flight.pop(feed_id, None)
        self.leases.lost.discard(feed_id)  # a later claim of it is a new lease
        free = self._slots - len(self._in_flight)
        # Refill by a quarter of the slots at a time, so that a round costs few claims.
        refill = free >= max(1, self._slots // 4) or not self._in_flight
        if self._backlog and refill and not self.stop.is_set():
            self._backlog = False  # the refill's own claim tells whether more are due
            asyncio.get_running_loop().call_soon(self._refill, poller)

    def _refill(self, poller: FeedPoller) -> None:
        free = max(self._slots - len(self._in_flight), 0)
        if self.stop.is_set() or not free:
            return
        try:
            feeds = self._claim(due_only=True, limit=free)
        except PipelineError as exc:
            log.error("cannot claim feeds: %s", exc, extra={"stage": "schedule"})
            return
        self._start(poller, feeds, free)

    async def _prune_archive(self) -> None:
        settings = self.config.archive
        archive = PageArchive(settings.path)
        try:
            rows, files = await asyncio.to_thread(
                prune_archive, self.repository, archive, settings.keep_days, self.clock()
            )
        except PipelineError as exc:
            log.error("cannot prune the archive: %s", exc, extra={"stage": "archive"})
            return
        log.info("archive pruned: %d rows, %d files", rows, files, extra={"stage": "archive"})

    async def _dispatch_alerts(self, *, flush: bool = False) -> None:
        try:
            await self.alerts.dispatch(flush=flush)
        except PipelineError as exc:  # the deliveries stay queued for the next round
            log.error("cannot dispatch alerts: %s", exc, extra={"stage": "alert"})

    def _claim(self, *, due_only: bool, limit: int) -> list[FeedToPoll]:
        return self.leases.claim(due_only=due_only, limit=limit)

    async def _poll_and_record(self, poller: FeedPoller, feed: FeedToPoll) -> PollRecord | None:
        try:
            record = await poller.poll(feed)
            await self.recorder.record(record)
        except LeaseLostError:  # another worker polls it now: nothing of ours is stored
            self.leases.note_lost([feed.id], feed.name)
            return None
        except StorageError as exc:  # full disk, read-only file, lost server: say so loudly
            log.error("database failed: %s", exc, extra={"feed": feed.name, "stage": "store"})
            self.storage_errors.append(str(exc))
            self.stop.set()  # retrying every tick would only repeat it: stop, exit non-zero
            await self._release_quietly(feed)
            return None
        except Exception:  # one feed poll is the unit of failure: the worker goes on
            log.exception("poll failed", extra={"feed": feed.name, "stage": "poll"})
            await self._release_quietly(feed)
            return None
        _log_poll(feed, record)
        return record

    def _raise_storage_errors(self) -> None:
        # A run that could not store what it fetched must not exit 0.
        if self.storage_errors:
            raise StorageError(f"database write failed: {self.storage_errors[0]}")

    async def _release_quietly(self, feed: FeedToPoll) -> None:
        # If the database is what failed, the lease simply expires: nothing more to do here.
        try:
            await asyncio.to_thread(self.leases.release, [feed.id])
        except PipelineError as exc:
            log.warning("cannot release lease: %s", exc, extra={"feed": feed.name})


def sync_configured_feeds(repository: Repository, config: Config, now: datetime) -> None:
    """Make the feed table match feeds.yaml (new, changed, removed and duplicate feeds)."""
    schedule = config.schedule
    duplicates = repository.sync_feeds(
        config.feeds,
        schedule.interval,
        now,
        min_interval=schedule.min_interval,
        max_interval=schedule.max_interval,
    )
    for name, original in duplicates:
        log.warning(
            "feed %r is the same feed as %r: polling only %r",
            name,
            original,
            original,
            extra={"feed": name, "stage": "schedule"},
        )


def _log_poll(feed: FeedToPoll, record: PollRecord) -> None:
    fields = {
        "feed": feed.name,
        "stage": "poll",
        "outcome": record.outcome,
        "entries": record.entries,
        "new": record.new_entries,
        "duplicates": record.duplicates,
        "flagged": record.flagged,
        "errors": record.errors,
        "seconds": round(record.duration_seconds, 2),
    }
    message = (
        f"{feed.name}: {record.outcome} entries={record.entries} new={record.new_entries} "
        f"duplicates={record.duplicates} flagged={record.flagged} errors={record.errors} "
        f"seconds={record.duration_seconds:.2f}"
    )
    if record.error:
        fields["error"] = record.error
        message += f" error={record.error}"
    # A failed poll is a warning: an operator filtering on WARNING must see every one.
    log.log(logging.WARNING if record.error else logging.INFO, message, extra=fields)


def _install_signal_handlers(stop: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
