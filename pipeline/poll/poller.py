"""One feed poll, end to end: fetch feed -> parse -> new entries -> fetch page -> extract ->
dedup -> match -> store. One poll is the unit of failure: whatever goes wrong is recorded
against the feed (or counted against the entry) and never escapes to the scheduler.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Literal
from urllib.parse import urlsplit

from pipeline.archive.store import (
    ArchivedResponse,
    PageArchive,
    archived_page_record,
    keep_response,
)
from pipeline.core import backoff, intervals
from pipeline.core.config import Config
from pipeline.core.errors import (
    ExtractionError,
    FeedParseError,
    FetchError,
    HTTPStatusError,
    InvalidURLError,
    LeaseLostError,
    PipelineError,
    StorageError,
)
from pipeline.core.records import (
    ArticleDraft,
    ExtractedPage,
    FeedEntry,
    FetchedResponse,
    Lease,
    TextSource,
)
from pipeline.core.urls import amp_variants_removed, canonicalize, canonicalize_or_none
from pipeline.dedup.fingerprints import entry_fingerprint
from pipeline.extract.page import EXTRACTOR_VERSION
from pipeline.extract.pool import PageExtractor
from pipeline.fetch.client import Fetcher
from pipeline.fetch.politeness import THROTTLE_STATUSES, HostThrottledError, HostThrottles, host_of
from pipeline.match.matcher import Matcher
from pipeline.poll.article_job import (
    MATCHER,
    ArticleJob,
    ArticleWork,
    TextAnalysis,
    analyse,
    analyse_text,
    prepare_article,
)
from pipeline.poll.article_job import choose_text as choose_text  # pipeline.archive.reprocess
from pipeline.sources.feeds import parse_feed
from pipeline.sources.sitemaps import read_sitemap
from storage.repository import ArchivedPageRecord, FeedToPoll, KnownEntry, PollRecord, Repository

log = logging.getLogger("pipeline.poll.poller")

EntryStatus = Literal["stored", "duplicate", "known", "revised", "error", "skipped"]
HTML_TYPES = ("text/html", "application/xhtml+xml")


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


@dataclass(frozen=True, slots=True)
class EntryLink:
    entry: FeedEntry
    link: str
    canonical_url: str
    fingerprint: str  # pipeline.dedup.fingerprints.entry_fingerprint of the entry
    revises: int | None = None  # a stored article whose feed entry changed: look for a revision


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
        self.extractor = extractor
        # The per-article CPU (extraction, hash, fingerprint, matching, compression) runs in
        # the extractor's workers, each keeping the published matcher compiled.
        extractor.preload("pipeline.poll.article_job")
        self.use_matcher(matcher)
        self.worker = worker
        self.stop = stop
        self.clock = clock
        self.rng = rng or random.Random()
        # Bounds the entries of one worker in flight at once (bodies held in memory).
        self._entry_slots = asyncio.Semaphore(config.fetch.concurrency * 2)
        self.archive = PageArchive(config.archive.path) if config.archive.enabled else None
        self._ignores_validators = {f.name for f in config.feeds if f.ignore_validators}
        # Hosts that answered 429/503 to any request of this worker (pipeline.fetch.politeness).
        self.hosts = HostThrottles(clock)
        fetcher.host_gate.add_listener(self.hosts.note)

    def use_matcher(self, matcher: Matcher) -> None:
        """Match with ``matcher`` from now on (a changed watchlist): every worker reloads it."""
        self.matcher = matcher
        self._matcher_ref = self.extractor.publish(MATCHER, matcher)

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
        if not sitemap and _body_hash(response.body) == feed.body_hash:  # new ETag, same bytes
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
                link = _entry_link(entry)
            except InvalidURLError as exc:
                log.warning("entry skipped: %s", exc, extra={"feed": feed.name, "stage": "feed"})
                counts.errors += 1
                continue
            links.setdefault(link.canonical_url, link)  # one feed listing a link twice
        to_fetch = self._new_or_changed(links)
        results = await asyncio.gather(*(self._ingest_guarded(feed, link) for link in to_fetch))
        for result in results:
            counts.add(result)
        return counts

    def _new_or_changed(self, links: dict[str, EntryLink]) -> list[EntryLink]:
        """Entries to fetch: new links, and stored ones whose feed entry changed since it was
        last seen (title, summary, content or date: the article may have been revised).

        A link is stored when it or its AMP-free form is; a stored link seen for the first
        time from a feed (an alias, a redirect) only records the entry as the baseline."""
        amp_free = {url: _amp_free(url) for url in links}
        known = self.repository.known_entries([*links, *filter(None, amp_free.values())])
        to_fetch: list[EntryLink] = []
        baselines: list[KnownEntry] = []
        for url, link in links.items():
            stored = known.get(url) or known.get(amp_free[url] or url)
            if stored is None:
                to_fetch.append(link)
            elif stored.url != url or stored.entry_fingerprint is None:
                baselines.append(KnownEntry(url, stored.article_id, link.fingerprint))
            elif stored.entry_fingerprint != link.fingerprint:
                to_fetch.append(replace(link, revises=stored.article_id))
        if baselines:
            self.repository.remember_entries(baselines)
        return to_fetch

    async def _ingest_guarded(self, feed: FeedToPoll, link: EntryLink) -> EntryResult:
        async with self._entry_slots:
            if self.stop.is_set():
                return EntryResult("skipped")
            try:
                return await self._ingest_entry(feed, link)
            except (StorageError, LeaseLostError):
                raise  # not this entry's fault: the poll fails (or belongs to another worker)
            except PipelineError as exc:
                log.error(
                    "entry failed: %s",
                    exc,
                    extra={"feed": feed.name, "url": link.link, "stage": "store"},
                )
                return EntryResult("error")

    async def _ingest_entry(self, feed: FeedToPoll, link: EntryLink) -> EntryResult:
        response, fetch_error = await self._fetch_page(link.link)
        final_url = response.final_url if response else None
        final_canonical = canonicalize(final_url) if final_url else None
        redirected = final_canonical and final_canonical != link.canonical_url
        if (
            link.revises is None  # a revision's page may redirect to its own stored article
            and final_canonical
            and redirected
            and self.repository.known_urls([final_canonical])
        ):
            # The link redirects to an article we have: remember this link for it too.
            self.repository.add_url_aliases(final_canonical, [link.canonical_url])
            return EntryResult("known")
        work = await self._prepare(link, response)
        page, analysis = work.page, work.analysis
        page_error = fetch_error or work.page_error
        kept = await self._keep(response, work)
        if analysis is None:
            log.warning(
                "no text from the page (%s) nor the feed entry",
                page_error or "empty",
                extra={"feed": feed.name, "url": link.link, "stage": "extract"},
            )
            return EntryResult("error")
        if page_error:
            log.info(
                "using the feed's text: %s",
                page_error,
                extra={"feed": feed.name, "url": link.link, "stage": "extract"},
            )
        now = self.clock()
        draft = build_draft(
            feed.id,
            link,
            final_url,
            final_canonical,
            page,
            analysis.text,
            analysis.source,
            self.matcher,
            now,
            min_words=self.config.dedup.min_words,
            analysis=analysis,
        )
        # The raw page's archive row (for `pipeline reprocess`) is written in the article's
        # own transaction: one commit per article.
        archived = None
        if kept is not None:
            archived = archived_page_record(
                feed_id=feed.id, entry=link.entry, url=link.link, kept=kept, now=now
            )
        if link.revises is not None:
            return await self._store_revision(feed, link, link.revises, draft, archived)
        outcome = await asyncio.to_thread(
            self.repository.store_article,
            draft,
            now,
            dedup=self.config.dedup,
            entry_fingerprint=link.fingerprint,
            lease=_lease(feed, self.worker),
            archived=archived,
        )
        return EntryResult(outcome.status, outcome.new_flags)

    async def _store_revision(
        self,
        feed: FeedToPoll,
        link: EntryLink,
        article_id: int,
        draft: ArticleDraft,
        archived: ArchivedPageRecord | None,
    ) -> EntryResult:
        revision = await asyncio.to_thread(
            self.repository.store_revision,
            article_id,
            draft,
            self.clock(),
            entry_fingerprint=link.fingerprint,
            lease=_lease(feed, self.worker),
            archived=archived,
        )
        if revision.status != "revised":
            return EntryResult("known")
        log.info(
            "article revised (revision %d, %d new flags)",
            revision.revision,
            revision.new_flags,
            extra={"feed": feed.name, "url": link.link, "stage": "store"},
        )
        return EntryResult("revised", revision.new_flags)

    async def _fetch_page(self, url: str) -> tuple[FetchedResponse | None, str | None]:
        """(the response, why there is no page to extract): an HTML response, or None."""
        try:
            response = await self.fetcher.fetch(url)
        except FetchError as exc:
            return None, f"{type(exc).__name__}: {exc}"
        if not _is_html(response):
            kind = response.content_type or "no content type"
            return response, f"page is {kind}, not HTML"
        return response, None

    async def _prepare(self, link: EntryLink, response: FetchedResponse | None) -> ArticleWork:
        """The article's CPU work, in a worker: the page (when the response is HTML), then
        the text's hash, fingerprint and matches, and the body compressed for the archive."""
        html = response if response is not None and _is_html(response) else None
        job = ArticleJob(
            body=html.body if html else None,
            url=html.final_url if html else link.link,
            content_type=html.content_type if html else None,
            entry=link.entry,
            min_words=self.config.dedup.min_words,
            matcher=self._matcher_ref,
            archive=self.archive is not None,
        )
        try:
            return await self.extractor.run(prepare_article, job, url=job.url)
        except ExtractionError as exc:  # the worker died: the feed's text, analysed here
            analysis = analyse_text(None, link.entry, self.matcher, self.config.dedup.min_words)
            return ArticleWork(None, f"extraction: {exc}", None, analysis)

    async def _keep(
        self, response: FetchedResponse | None, work: ArticleWork
    ) -> ArchivedResponse | None:
        """Write the body the worker compressed to the archive (kept even when extraction
        failed: a later extractor may not)."""
        if self.archive is None or response is None or work.compressed is None:
            return None
        return await asyncio.to_thread(keep_response, self.archive, response, work.compressed)

    # ---- poll outcomes -----------------------------------------------------------------------

    def _success(
        self,
        feed: FeedToPoll,
        started_at: datetime,
        started: float,
        response: FetchedResponse,
        counts: PollCounts,
        outcome: Literal["ok", "not_modified", "unchanged", "interrupted"],
        update_seconds: float | None = None,
    ) -> PollRecord:
        self._save_host_throttles()
        now = self.clock()
        interval, floor = self._next_interval(feed, response, counts, outcome, update_seconds, now)
        if outcome == "interrupted":  # come back soon for the entries we did not reach
            next_poll = now
        else:
            next_poll = backoff.after_success(now, interval, self.config.schedule.jitter, self.rng)
        fresh = response.status == 200
        validators = fresh and feed.name not in self._ignores_validators
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
            body_hash=_body_hash(response.body) if complete else None,
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
        outcome: Literal["ok", "not_modified", "unchanged", "interrupted"],
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

    def _failure(
        self,
        feed: FeedToPoll,
        started_at: datetime,
        started: float,
        error: PipelineError,
        response: FetchedResponse | None = None,
    ) -> PollRecord:
        self._save_host_throttles()
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

    def _save_host_throttles(self) -> None:
        """Write new host throttles where other workers (and a restarted one) see them."""
        throttles = self.hosts.take_pending()
        if throttles:
            self.repository.throttle_hosts(throttles, self.clock())


def _lease(feed: FeedToPoll, worker: str) -> Lease:
    """The claim this poll runs under: its writes count only while it holds."""
    return Lease(feed.id, worker, feed.lease_generation)


def _body_hash(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


def _entry_link(entry: FeedEntry) -> EntryLink:
    if not entry.link:
        raise InvalidURLError(f"entry {entry.title[:60]!r} has no usable link")
    return EntryLink(entry, entry.link, canonicalize(entry.link), entry_fingerprint(entry))


def build_draft(
    feed_id: int,
    link: EntryLink,
    final_url: str | None,
    final_canonical: str | None,
    page: ExtractedPage | None,
    text: str,
    source: TextSource,
    matcher: Matcher,
    now: datetime,
    *,
    min_words: int,
    analysis: TextAnalysis | None = None,
) -> ArticleDraft:
    """The article a fetched (or archived) page and its feed entry make, with its matches
    (``analysis``: the text's hash, fingerprint and matches, computed in a worker)."""
    entry = link.entry
    title = entry.title or (page.title if page and page.title else "")
    if analysis is None or (analysis.title, analysis.text) != (title, text):
        analysis = analyse(title, text, source, matcher, min_words)
    published = entry.published or (page.published if page else None)
    if published is not None and published > now:
        published = None  # a date in the future is a lie or a time zone bug
    known_urls = [link.canonical_url]
    if final_canonical:
        known_urls.append(final_canonical)
    page_canonical = _usable_canonical(page.canonical_url if page else None)
    if page_canonical:
        known_urls.append(page_canonical)
    amp_free = [plain for plain in map(_amp_free, known_urls) if plain]
    known_urls.extend(amp_free)  # an AMP page and its original are one article
    return ArticleDraft(
        feed_id=feed_id,
        url=link.link,
        canonical_url=link.canonical_url,
        final_url=final_url,
        known_urls=list(dict.fromkeys(known_urls)),
        guid=entry.guid,
        title=title,
        author=page.author if page else None,
        published_at=published,
        language=page.language if page else None,
        text=text,
        text_source=source,
        content_hash=analysis.content_hash,
        extractor=page.extractor if page else "feed",
        extractor_version=page.extractor_version if page else EXTRACTOR_VERSION,
        matches=analysis.matches,
        candidates=analysis.candidates,
        fingerprint=analysis.fingerprint,
    )


def _is_html(response: FetchedResponse) -> bool:
    content_type = (response.content_type or "").split(";")[0].strip().lower()
    if content_type in HTML_TYPES:
        return True
    # Servers that send no or a generic type: look at the bytes.
    head = response.body[:512].lstrip().lower()
    return content_type in ("", "application/octet-stream", "text/plain") and head.startswith(
        (b"<!doctype html", b"<html", b"<head", b"<body")
    )


def _amp_free(canonical_url: str) -> str | None:
    """The URL without AMP markers (``amp.`` host, ``/amp`` path, ``?amp=1``), if it had any
    and is not a site's home page."""
    plain = amp_variants_removed(canonical_url)
    if plain == canonical_url or urlsplit(plain).path in ("", "/"):
        return None
    return plain


def _usable_canonical(url: str | None) -> str | None:
    """A page's canonical link, unless it points at a site's home page (some sites put the
    home page on every article, which would make every article 'the same')."""
    canonical = canonicalize_or_none(url)
    return canonical if canonical and urlsplit(canonical).path not in ("", "/") else None
