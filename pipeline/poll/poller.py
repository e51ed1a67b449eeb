"""One feed poll, end to end: fetch feed -> parse -> new entries -> fetch page -> extract ->
dedup -> match -> store. One poll is the unit of failure: whatever goes wrong is recorded
against the feed (or counted against the entry) and never escapes to the scheduler.

The feed body's path is here; each entry's article path is pipeline.poll.article_ingest, the
poll's record pipeline.poll.outcomes, the draft pipeline.dedup.drafts.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from typing import Literal

from pipeline.core.config import Config
from pipeline.core.errors import FeedParseError, FetchError, InvalidURLError, PipelineError
from pipeline.core.records import FeedEntry, FetchedResponse
from pipeline.dedup.drafts import EntryLink as EntryLink
from pipeline.dedup.drafts import amp_free, entry_link
from pipeline.dedup.drafts import build_draft as build_draft
from pipeline.dedup.drafts import choose_text as choose_text
from pipeline.extract.pool import PageExtractor
from pipeline.fetch.client import Fetcher
from pipeline.fetch.politeness import HostThrottledError, HostThrottles, host_of
from pipeline.match.matcher import Matcher
from pipeline.poll.article_ingest import ArticleIngester
from pipeline.poll.outcomes import EntryResult as EntryResult
from pipeline.poll.outcomes import EntryStatus as EntryStatus
from pipeline.poll.outcomes import PollCounts as PollCounts
from pipeline.poll.outcomes import PollOutcomes, SuccessOutcome, body_hash
from pipeline.sources.feeds import parse_feed
from pipeline.sources.sitemaps import read_sitemap
from storage.repository import FeedToPoll, KnownEntry, PollRecord, Repository

log = logging.getLogger("pipeline.poll.poller")


class FeedPoller:
    """Polls feeds with the worker's shared fetcher, extractor and matcher."""

    def __init__(
        self,
        *,
        config: Config,
        repository: Repository,
        fetcher: Fetcher,
        extractor: PageExtractor,
        matcher: Matcher,
        worker: str,
        stop: asyncio.Event,
        clock: Callable[[], datetime],
        rng: random.Random | None = None,
    ) -> None:
        self.config = config
        self.repository = repository
        self.fetcher = fetcher
        self.articles = ArticleIngester(
            config=config,
            repository=repository,
            fetcher=fetcher,
            extractor=extractor,
            matcher=matcher,
            worker=worker,
            stop=stop,
            clock=clock,
        )
        self.worker = worker
        self.clock = clock
        self.rng = rng or random.Random()
        self._ignores_validators = {f.name for f in config.feeds if f.ignore_validators}
        # Hosts that answered 429/503 to any request of this worker (pipeline.fetch.politeness).
        self.hosts = HostThrottles(clock)
        fetcher.host_gate.add_listener(self.hosts.note)
        self.outcomes = PollOutcomes(
            config=config,
            worker=worker,
            clock=clock,
            rng=self.rng,
            hosts=self.hosts,
            ignores_validators=self._ignores_validators,
        )

    def use_matcher(self, matcher: Matcher) -> None:
        """Match with ``matcher`` from now on (a changed watchlist): every worker reloads it."""
        self.articles.use_matcher(matcher)

    async def poll(self, feed: FeedToPoll) -> PollRecord:
        started_at, started = self.clock(), time.monotonic()
        # A sitemap index's children change behind an unchanged index: always read it whole.
        sitemap = feed.kind == "sitemap"
        validators = feed.name not in self._ignores_validators and not sitemap
        try:
            self._check_host(feed)
            response = await self.fetcher.fetch(
                feed.url,
                etag=feed.etag if validators else None,
                last_modified=feed.last_modified if validators else None,
                trusted=True,
            )
        except FetchError as exc:
            return self._failure(feed, started_at, started, exc)
        if response.not_modified:
            return self._success(feed, started_at, started, response, PollCounts(), "not_modified")
        if not sitemap and body_hash(response.body) == feed.body_hash:  # new ETag, same bytes
            return self._success(feed, started_at, started, response, PollCounts(), "unchanged")
        try:
            if sitemap:  # a news sitemap or sitemap index (pipeline.sources.sitemaps)
                parsed = await read_sitemap(self.fetcher, response, self.config.fetch.max_bytes)
            else:
                # Off the event loop: a 10,000-entry feed parses for seconds, and a blocked
                # loop would run out the deadlines of every other feed's request in flight.
                parsed = await asyncio.to_thread(
                    parse_feed,
                    response.body,
                    base_url=response.final_url,
                    content_type=response.content_type,
                )
        except FeedParseError as exc:
            return self._failure(feed, started_at, started, exc, response)
        entries = parsed.entries[: self.config.fetch.max_entries_per_poll]
        counts = await self._ingest_entries(feed, entries)
        outcome: Literal["ok", "interrupted"] = "interrupted" if counts.skipped else "ok"
        return self._success(
            feed, started_at, started, response, counts, outcome, parsed.update_seconds
        )

    def _check_host(self, feed: FeedToPoll) -> None:
        wait = self.hosts.remaining(host_of(feed.url))
        if wait > 0:
            raise HostThrottledError(
                f"{host_of(feed.url)} answered 429/503: left alone for {wait:.0f}s more",
                url=feed.url,
                retry_after=wait,
            )

    async def _ingest_entries(self, feed: FeedToPoll, entries: list[FeedEntry]) -> PollCounts:
        counts = PollCounts(entries=len(entries))
        links: dict[str, EntryLink] = {}
        for entry in entries:
            try:
                link = entry_link(entry)
            except InvalidURLError as exc:
                log.warning("entry skipped: %s", exc, extra={"feed": feed.name, "stage": "feed"})
                counts.errors += 1
                continue
            links.setdefault(link.canonical_url, link)  # one feed listing a link twice
        to_fetch = self._new_or_changed(links)
        results = await asyncio.gather(*(self.articles.ingest(feed, link) for link in to_fetch))
        for result in results:
            counts.add(result)
        return counts

    def _new_or_changed(self, links: dict[str, EntryLink]) -> list[EntryLink]:
        """Entries to fetch: new links, and stored ones whose feed entry changed since it was
        last seen (title, summary, content or date: the article may have been revised).

        A link is stored when it or its AMP-free form is; a stored link seen for the first
        time from a feed (an alias, a redirect) only records the entry as the baseline."""
        amp_free_urls = {url: amp_free(url) for url in links}
        known = self.repository.known_entries([*links, *filter(None, amp_free_urls.values())])
        to_fetch: list[EntryLink] = []
        baselines: list[KnownEntry] = []
        for url, link in links.items():
            stored = known.get(url) or known.get(amp_free_urls[url] or url)
            if stored is None:
                to_fetch.append(link)
            elif stored.url != url or stored.entry_fingerprint is None:
                baselines.append(KnownEntry(url, stored.article_id, link.fingerprint))
            elif stored.entry_fingerprint != link.fingerprint:
                to_fetch.append(replace(link, revises=stored.article_id))
        if baselines:
            self.repository.remember_entries(baselines)
        return to_fetch

    # ---- poll outcomes (pipeline.poll.outcomes), after the host throttles are saved ----------

    def _success(
        self,
        feed: FeedToPoll,
        started_at: datetime,
        started: float,
        response: FetchedResponse,
        counts: PollCounts,
        outcome: SuccessOutcome,
        update_seconds: float | None = None,
    ) -> PollRecord:
        self._save_host_throttles()
        return self.outcomes.success(
            feed, started_at, started, response, counts, outcome, update_seconds
        )

    def _failure(
        self,
        feed: FeedToPoll,
        started_at: datetime,
        started: float,
        error: PipelineError,
        response: FetchedResponse | None = None,
    ) -> PollRecord:
        self._save_host_throttles()
        return self.outcomes.failure(feed, started_at, started, error, response)

    def _save_host_throttles(self) -> None:
        """Write new host throttles where other workers (and a restarted one) see them."""
        throttles = self.hosts.take_pending()
        if throttles:
            self.repository.throttle_hosts(throttles, self.clock())
