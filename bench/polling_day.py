"""One simulated day of 200 feeds: what adaptive intervals and feed-body hashes save.

``python -m bench.polling_day [--feeds 200] [--seed 7] [--json]``

A threaded stdlib server on 127.0.0.1 plays every publisher. Each feed publishes on its own
rhythm (a tenth every ~30 minutes, two fifths every ~4 hours, half about once a day;
times drawn once from a seeded random generator) and serves its ten newest items. Its server
is one of three kinds: honest validators (a 304 when nothing changed), a lying ETag (a new one
on every answer, so never a 304) or no validators at all. A tenth announce ``<ttl>60</ttl>``.
Article links answer 404, so entries are stored from the feed text: no page extraction, the
day stays well under a minute.

The real code runs the day: ``Repository.claim_feeds`` (due feeds only) then
``FeedPoller.poll`` and ``Repository.record_poll`` for each, every simulated minute, with an
injected clock that the server reads too (no sleeping). Two runs on fresh SQLite databases:

- adaptive: the shipped schedule (``schedule.interval`` 15m to start, adaptive between
  ``min_interval`` 10m and ``max_interval`` 12h) with body hashing;
- fixed: every feed pinned at 15 minutes and body hashing off (the hash is hidden from the
  poller), as before issue 9. Running it takes minutes (19,200 polls, most of them parsed), so
  by default it is counted on the same publishers instead (``modelled_fixed_day``);
  ``--run-fixed`` runs it through the real code (at 20 feeds the two agree within the
  schedule's jitter).

It prints polls, 304s, body-hash "unchanged" polls (polls saved from parsing), full parses,
and how long new items waited to be seen (from publication to the first 200 that carried
them).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import random
import statistics
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Literal

import yaml
from sqlalchemy import text

from pipeline.core.config import Config, load_config
from pipeline.extract.pool import PageExtractor
from pipeline.fetch.client import Fetcher
from pipeline.match.matcher import Matcher
from pipeline.match.watchlist import load_watchlist
from pipeline.poll.poller import FeedPoller
from storage.db import Database
from storage.repository import Repository

DAY_START = datetime(2026, 3, 2, 0, 0, tzinfo=UTC)
DAY = timedelta(days=1)
TICK = timedelta(minutes=1)
ITEMS_SHOWN = 10
Validators = Literal["honest", "lying", "none"]


class SimClock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@dataclass
class Publisher:
    """One feed: when its items appear and how its server answers."""

    number: int
    published: list[datetime]  # sorted
    validators: Validators
    ttl_minutes: int | None
    answers: int = 0
    first_served: dict[int, datetime] = field(default_factory=dict)  # item -> first 200

    def visible(self, now: datetime) -> list[int]:
        """Numbers of the newest items published by `now`, newest first."""
        count = sum(1 for when in self.published if when <= now)
        return list(range(count - 1, max(count - ITEMS_SHOWN, 0) - 1, -1))

    def body(self, items: list[int], base: str) -> bytes:
        ttl = f"<ttl>{self.ttl_minutes}</ttl>" if self.ttl_minutes else ""
        parts = [
            '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>',
            f"<title>Feed {self.number}</title><link>{base}/</link>{ttl}",
            "<description>a simulated publisher</description>",
        ]
        for item in items:
            when = self.published[item].strftime("%a, %d %b %Y %H:%M:%S GMT")
            parts.append(
                f"<item><title>Feed {self.number} story {item}</title>"
                f"<link>{base}/a/{self.number}/{item}</link>"
                f"<guid>f{self.number}-{item}</guid><pubDate>{when}</pubDate>"
                f"<description>Story {item} of feed {self.number}: a short report on trade,"
                " ports and shipping schedules in the region this week.</description></item>"
            )
        parts.append("</channel></rss>")
        return "".join(parts).encode()


def publishers(count: int, seed: int) -> list[Publisher]:
    rng = random.Random(seed)
    made = []
    for number in range(count):
        share = number / count
        mean_gap = 1800.0 if share < 0.1 else 4 * 3600.0 if share < 0.5 else 86400.0
        when, times = DAY_START - 2 * DAY, []
        while when < DAY_START + DAY:
            when += timedelta(seconds=rng.expovariate(1 / mean_gap))
            times.append(when)
        kind: Validators = ("honest", "lying", "none")[number % 3]
        ttl = 60 if number % 10 == 5 else None
        made.append(Publisher(number, times, kind, ttl))
    return made


def handler_for(feeds: list[Publisher], clock: SimClock) -> type[BaseHTTPRequestHandler]:
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True  # headers and body go out in two writes: no 40 ms stall

        def do_GET(self) -> None:
            parts = self.path.strip("/").split("/")
            if len(parts) != 2 or parts[0] != "feed":
                self._answer(404, b"no")
                return
            feed = feeds[int(parts[1].removesuffix(".xml"))]
            now = clock()
            items = feed.visible(now)
            etag = f'"{items[0] if items else -1}"'
            with lock:
                feed.answers += 1
                if feed.validators == "lying":
                    etag = f'"{feed.answers}"'  # a new ETag for the same feed, every time
                if feed.validators == "honest" and self.headers.get("If-None-Match") == etag:
                    self._answer(304, b"", etag)
                    return
                for item in items:
                    feed.first_served.setdefault(item, now)
            base = f"http://{self.headers.get('Host', '127.0.0.1')}"
            self._answer(200, feed.body(items, base), etag if feed.validators != "none" else None)

        def _answer(self, status: int, body: bytes, etag: str | None = None) -> None:
            self.send_response(status)
            self.send_header("Content-Type", "application/rss+xml")
            self.send_header("Content-Length", str(len(body)))
            if etag:
                self.send_header("ETag", etag)
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            return

    return Handler


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        return  # a kept-alive connection reset when a run's client closes: not news


@contextmanager
def serve(feeds: list[Publisher], clock: SimClock) -> Iterator[str]:
    server = _QuietServer(("127.0.0.1", 0), handler_for(feeds, clock))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def write_config(directory: Path, base: str, count: int, *, fixed: bool) -> Config:
    feeds: list[dict[str, Any]] = [
        {"name": f"feed {number:03d}", "url": f"{base}/feed/{number}.xml"}
        for number in range(count)
    ]
    if fixed:
        feeds = [{**feed, "interval": "15m"} for feed in feeds]
    document = {
        "database": f"sqlite:///{directory / 'day.db'}",
        "fetch": {
            "allow_private_addresses": True,
            "extract_workers": 0,
            "host_delay": 0,  # every publisher is this one loopback server
            "per_host": 64,
            "concurrency": 64,
        },
        "schedule": {"interval": "15m"},
        "archive": {"enabled": False},
        "feeds": feeds,
    }
    path = directory / "feeds.yaml"
    path.write_text(yaml.safe_dump(document), encoding="utf-8")
    return load_config(path)


async def simulate_day(config: Config, clock: SimClock, *, body_hashing: bool) -> None:
    database = Database(config.database)
    database.ensure_schema()
    repository = Repository(database)
    schedule = config.schedule
    repository.sync_feeds(
        config.feeds,
        schedule.interval,
        clock(),
        min_interval=schedule.min_interval,
        max_interval=schedule.max_interval,
    )
    extractor = PageExtractor(0)
    try:
        async with Fetcher(config.fetch) as fetcher:
            poller = FeedPoller(
                config=config,
                repository=repository,
                fetcher=fetcher,
                extractor=extractor,
                matcher=Matcher(load_watchlist(config.watchlist)),
                worker="polling-day",
                stop=asyncio.Event(),
                clock=clock,
                rng=random.Random(1),
            )
            while clock.now < DAY_START + DAY:
                due = repository.claim_feeds(
                    now=clock.now,
                    owner="polling-day",
                    lease_until=clock.now + TICK,
                    due_only=True,
                    limit=len(config.feeds),
                )
                if not body_hashing:
                    due = [replace(feed, body_hash=None) for feed in due]
                records = await asyncio.gather(*(poller.poll(feed) for feed in due))
                for record in records:
                    repository.record_poll(record)
                clock.now += TICK
    finally:
        extractor.close()
        database.dispose()


def outcome_counts(config: Config) -> Counter[str]:
    database = Database(config.database)
    try:
        with database.engine.connect() as connection:
            rows = connection.execute(
                text("SELECT outcome, COUNT(*) FROM fetch_attempt GROUP BY outcome")
            )
            counts = Counter({str(outcome): int(count) for outcome, count in rows})
            errors = connection.execute(
                text("SELECT error FROM fetch_attempt WHERE error IS NOT NULL LIMIT 5")
            )
            for (error,) in errors:
                logging.getLogger("bench.polling_day").warning("poll error: %s", error)
            return counts
    finally:
        database.dispose()


def detection_delays(feeds: list[Publisher]) -> list[float]:
    """Minutes from publication to the first 200 that carried an item published today."""
    delays = []
    for feed in feeds:
        for item, served in feed.first_served.items():
            published = feed.published[item]
            if published >= DAY_START:
                delays.append((served - published).total_seconds() / 60)
    return delays


def modelled_fixed_day(count: int, seed: int, *, body_hashing: bool = False) -> dict[str, Any]:
    """The fixed 15-minute schedule, counted on the same publishers instead of run (running
    it takes minutes: most of 19,200 polls are parsed): a poll every 15 minutes from
    midnight; an honest server answers 304 when its newest item is the one it served last;
    with body hashing any other answer that repeats the last body is "unchanged"; the rest
    are parsed."""
    feeds = publishers(count, seed)
    polls = not_modified = unchanged = 0
    for feed in feeds:
        newest: int | None = None
        for step in range(int(DAY / timedelta(minutes=15))):
            now = DAY_START + step * timedelta(minutes=15)
            polls += 1
            items = feed.visible(now)
            current = items[0] if items else -1
            if feed.validators == "honest" and current == newest:
                not_modified += 1
                continue
            if body_hashing and current == newest:
                unchanged += 1
                continue
            newest = current
            for item in items:
                feed.first_served.setdefault(item, now)
    parsed = polls - not_modified - unchanged
    outcomes = Counter({"ok": parsed, "not_modified": not_modified, "unchanged": unchanged})
    hashing = "with" if body_hashing else "no"
    return _figures(f"fixed 15m, {hashing} body hash (modelled)", feeds, outcomes, seconds=0.0)


def run(count: int, seed: int, *, fixed: bool) -> dict[str, Any]:
    feeds = publishers(count, seed)
    clock = SimClock(DAY_START)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as directory, serve(feeds, clock) as base:
        config = write_config(Path(directory), base, count, fixed=fixed)
        asyncio.run(simulate_day(config, clock, body_hashing=not fixed))
        outcomes = outcome_counts(config)
    schedule = "fixed 15m, no body hash" if fixed else "adaptive + body hash"
    return _figures(schedule, feeds, outcomes, time.perf_counter() - started)


def _figures(
    schedule: str, feeds: list[Publisher], outcomes: Counter[str], seconds: float
) -> dict[str, Any]:
    delays = detection_delays(feeds)
    published = sum(
        1 for feed in feeds for when in feed.published if DAY_START <= when < DAY_START + DAY
    )
    return {
        "schedule": schedule,
        "polls": sum(outcomes.values()),
        "not_modified_304": outcomes["not_modified"],
        "unchanged_body_hash": outcomes["unchanged"],
        "full_parses": outcomes["ok"] + outcomes["interrupted"],
        "errors": outcomes["error"],
        "items_published_today": published,
        "items_seen_today": len(delays),
        "median_delay_minutes": round(statistics.median(delays), 1) if delays else None,
        "p90_delay_minutes": round(statistics.quantiles(delays, n=10)[-1], 1)
        if len(delays) > 1
        else None,
        "seconds": round(seconds, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--feeds", type=int, default=200)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--json", action="store_true", help="one JSON object on stdout")
    parser.add_argument(
        "--run-fixed",
        action="store_true",
        help="run the fixed schedule through the real code too (minutes) instead of counting it",
    )
    options = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)  # a poll per feed per minute would flood INFO
    adaptive = run(options.feeds, options.seed, fixed=False)
    if options.run_fixed:
        fixed = run(options.feeds, options.seed, fixed=True)
    else:
        fixed = modelled_fixed_day(options.feeds, options.seed)
    fixed_hashed = modelled_fixed_day(options.feeds, options.seed, body_hashing=True)
    if options.json:
        both = {"adaptive": adaptive, "fixed": fixed, "fixed_with_body_hash": fixed_hashed}
        print(json.dumps(both, indent=2))
        return
    print(f"one simulated day, {options.feeds} feeds (seed {options.seed})")
    print(f"{'':24}{'adaptive+hash':>14}{'fixed 15m':>11}{'fixed+hash':>11}")
    for key in adaptive:
        if key != "schedule":
            values = (adaptive[key], fixed[key], fixed_hashed[key])
            print(f"{key:24}{values[0]!s:>14}{values[1]!s:>11}{values[2]!s:>11}")
    saved = fixed["full_parses"] - adaptive["full_parses"]
    print(
        f"body hashing skipped {adaptive['unchanged_body_hash']} parses; full parses "
        f"{fixed['full_parses']} -> {adaptive['full_parses']} ({saved} fewer), polls "
        f"{fixed['polls']} -> {adaptive['polls']}"
    )


if __name__ == "__main__":
    main()
