"""Politeness per host across feeds: a minimum gap between request starts to one host, and a
host that answers 429 slows every feed on it (in the worker that saw it, in other workers and
after a restart), never the feeds of another host. Real loopback servers; "localhost" and
"127.0.0.1" are two host names of one server, so two hosts."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from pipeline.core.config import FetchSettings, load_config
from pipeline.extract.pool import PageExtractor
from pipeline.fetch.client import Fetcher
from pipeline.fetch.politeness import HostThrottles
from pipeline.match.matcher import Matcher
from pipeline.match.watchlist import load_watchlist
from pipeline.poll.poller import FeedPoller
from pipeline.poll.scheduler import Worker
from storage.db import Database
from storage.repository import FeedToPoll, Repository
from tests.site import Page, Site, rss

T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
RSS = "application/rss+xml"


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def empty_feed(site: Site, path: str) -> None:
    site.add(path, Page(rss([]), content_type=RSS))


def on_localhost(url: str) -> str:
    return url.replace("127.0.0.1", "localhost")


def test_requests_to_one_host_are_spaced_by_host_delay(site: Site) -> None:
    for path in ("/1", "/2", "/3"):
        empty_feed(site, path)
    settings = FetchSettings(allow_private_addresses=True, host_delay=0.25)

    async def fetch_all() -> tuple[float, float]:
        async with Fetcher(settings) as fetcher:
            started = time.monotonic()
            await asyncio.gather(*(fetcher.fetch(site.url(p)) for p in ("/1", "/2", "/3")))
            one_host = time.monotonic() - started
            started = time.monotonic()
            await fetcher.fetch(on_localhost(site.url("/1")))  # another host: no wait
            return one_host, time.monotonic() - started

    one_host, other_host = asyncio.run(fetch_all())

    assert one_host >= 0.5  # three starts, two gaps
    assert other_host < 0.25
    assert len(site.requests) == 4


def test_throttle_steps_grow_and_respect_retry_after() -> None:
    clock = Clock(T0)
    throttles = HostThrottles(clock)
    throttles.note("a.example", 429, None)
    first = throttles.remaining("a.example")
    throttles.note("a.example", 503, 10.0)
    second = throttles.remaining("a.example")
    throttles.note("b.example", 429, 900.0)

    assert (first, second) == (60.0, 120.0)
    assert throttles.remaining("b.example") == 900.0
    assert throttles.remaining("c.example") == 0.0
    clock.now += timedelta(seconds=121)
    throttles.note("a.example", 200, None)  # a good answer after the wait ends the series
    throttles.note("a.example", 429, None)
    assert throttles.remaining("a.example") == 60.0
    assert [t.host for t in throttles.take_pending()] == ["a.example", "b.example"]
    assert throttles.take_pending() == []


def worker_parts(config: Path, clock: Clock) -> tuple[Repository, Callable[[Fetcher], FeedPoller]]:
    loaded = load_config(config)
    database = Database(loaded.database)
    database.ensure_schema()
    repository = Repository(database)
    repository.sync_feeds(loaded.feeds, loaded.schedule.interval, clock())
    matcher = Matcher(load_watchlist(loaded.watchlist))

    def poller(fetcher: Fetcher) -> FeedPoller:
        return FeedPoller(
            config=loaded,
            repository=repository,
            fetcher=fetcher,
            extractor=PageExtractor(0),
            matcher=matcher,
            worker="test",
            stop=asyncio.Event(),
            clock=clock,
            rng=random.Random(1),
        )

    return repository, poller


def claimed(repository: Repository, now: datetime) -> dict[str, FeedToPoll]:
    feeds = repository.claim_feeds(
        now=now, owner="test", lease_until=now + timedelta(minutes=5), due_only=False, limit=10
    )
    return {feed.name: feed for feed in feeds}


def test_429_from_one_feed_slows_the_other_feeds_of_its_host(
    site: Site, make_config: Callable[..., Path]
) -> None:
    site.add("/a.xml", Page(b"slow down", status=429, headers={"Retry-After": "300"}))
    empty_feed(site, "/b.xml")
    empty_feed(site, "/c.xml")
    config = make_config(
        [
            {"name": "A", "url": site.url("/a.xml")},
            {"name": "B", "url": site.url("/b.xml")},
            {"name": "C", "url": on_localhost(site.url("/c.xml"))},
        ]
    )
    clock = Clock(T0)
    repository, make_poller = worker_parts(config, clock)
    feeds = claimed(repository, T0)

    async def poll_in_turn() -> list[Any]:
        async with Fetcher(load_config(config).fetch) as fetcher:
            poller = make_poller(fetcher)
            return [await poller.poll(feeds[name]) for name in ("A", "B", "C")]

    a, b, c = asyncio.run(poll_in_turn())
    for record in (a, b, c):
        repository.record_poll(record)

    assert a.http_status == 429 and a.next_poll_at >= T0 + timedelta(seconds=300)
    assert b.outcome == "error" and "HostThrottledError" in (b.error or "")
    assert b.next_poll_at >= T0 + timedelta(seconds=300)
    assert site.hits("/b.xml") == []  # never asked
    assert c.outcome == "ok"  # another host: not slowed
    assert repository.host_throttles(T0) == {"127.0.0.1": T0 + timedelta(seconds=300)}
    repository.db.dispose()


def test_a_restarted_worker_respects_the_throttle_until_it_ends(
    site: Site, make_config: Callable[..., Path]
) -> None:
    site.add("/a.xml", Page(b"slow down", status=429, headers={"Retry-After": "300"}))
    empty_feed(site, "/b.xml")
    empty_feed(site, "/c.xml")
    feeds = [
        {"name": "A", "url": site.url("/a.xml")},
        {"name": "C", "url": on_localhost(site.url("/c.xml"))},
    ]
    config = make_config(feeds)

    def run_round(now: datetime) -> None:
        asyncio.run(Worker(load_config(config), clock=lambda: now).run(once=True))

    run_round(T0)  # A answers 429: host 127.0.0.1 is throttled for 300 s
    config = make_config([*feeds, {"name": "B", "url": site.url("/b.xml")}])
    run_round(T0 + timedelta(seconds=60))  # a new worker; B is new and due, its host is not

    assert site.hits("/b.xml") == [] and len(site.hits("/a.xml")) == 1
    assert len(site.hits("/c.xml")) == 2
    repository = Repository(Database(load_config(config).database))
    state = {feed["name"]: feed for feed in repository.list_feeds()}
    assert state["B"]["next_poll_at"] == T0 + timedelta(seconds=300)
    assert state["B"]["last_attempt_at"] is None  # deferred, not failed
    repository.db.dispose()

    empty_feed(site, "/a.xml")
    run_round(T0 + timedelta(seconds=301))
    assert len(site.hits("/b.xml")) == 1 and len(site.hits("/a.xml")) == 2
