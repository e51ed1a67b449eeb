"""One new (or changed) feed entry, end to end: fetch its page -> extract, hash, fingerprint
and match in an extraction worker -> archive the raw body -> store the article (or its
revision). An entry's failure is counted against it, never against the poll, unless storage
failed or the feed's lease was lost.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime

from pipeline.archive.store import (
    ArchivedResponse,
    PageArchive,
    archived_page_record,
    keep_response,
)
from pipeline.core.config import Config
from pipeline.core.errors import (
    ExtractionError,
    FetchError,
    LeaseLostError,
    PipelineError,
    StorageError,
)
from pipeline.core.records import ArticleDraft, FetchedResponse, Lease
from pipeline.core.urls import canonicalize
from pipeline.dedup.drafts import EntryLink, TextAnalysis, build_draft
from pipeline.extract.pool import PageExtractor
from pipeline.fetch.client import Fetcher
from pipeline.match.matcher import Matcher
from pipeline.poll.article_job import (
    MATCHER,
    ArticleJob,
    ArticleWork,
    analyse_text,
    prepare_article,
)
from pipeline.poll.outcomes import EntryResult
from storage.repository import ArchivedPageRecord, FeedToPoll, Repository

log = logging.getLogger("pipeline.poll.poller")

HTML_TYPES = ("text/html", "application/xhtml+xml")


class ArticleIngester:
    """Ingests the entries of the worker's polls with its shared fetcher, extractor and matcher."""

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
        # Bounds the entries of one worker in flight at once (bodies held in memory). No more
        # than the fetch limit: past it, an entry only holds its fetched body while it waits
        # for an extraction worker (8 MB of the main process's peak, no faster).
        self._entry_slots = asyncio.Semaphore(config.fetch.concurrency)
        self.archive = PageArchive(config.archive.path) if config.archive.enabled else None

    def use_matcher(self, matcher: Matcher) -> None:
        """Match with ``matcher`` from now on (a changed watchlist): every worker reloads it."""
        self.matcher = matcher
        self._matcher_ref = self.extractor.publish(MATCHER, matcher)

    async def ingest(self, feed: FeedToPoll, link: EntryLink) -> EntryResult:
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
        if self._redirects_to_known(link, final_canonical):
            return EntryResult("known")
        work = await self._prepare(link, response)
        page_error = fetch_error or work.page_error
        kept = await self._keep(response, work)
        analysis = work.analysis
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
        return await self._store(feed, link, final_url, final_canonical, work, analysis, kept)

    def _redirects_to_known(self, link: EntryLink, final_canonical: str | None) -> bool:
        """The link redirects to an article we have: remember this link for it too."""
        redirected = final_canonical and final_canonical != link.canonical_url
        if (
            link.revises is None  # a revision's page may redirect to its own stored article
            and final_canonical
            and redirected
            and self.repository.known_urls([final_canonical])
        ):
            self.repository.add_url_aliases(final_canonical, [link.canonical_url])
            return True
        return False

    async def _store(
        self,
        feed: FeedToPoll,
        link: EntryLink,
        final_url: str | None,
        final_canonical: str | None,
        work: ArticleWork,
        analysis: TextAnalysis,
        kept: ArchivedResponse | None,
    ) -> EntryResult:
        now = self.clock()
        draft = build_draft(feed.id, link, final_url, final_canonical, work.page, analysis, now)
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
        if not is_html(response):
            kind = response.content_type or "no content type"
            return response, f"page is {kind}, not HTML"
        return response, None

    async def _prepare(self, link: EntryLink, response: FetchedResponse | None) -> ArticleWork:
        """The article's CPU work, in a worker: the page (when the response is HTML), then
        the text's hash, fingerprint and matches, and the body compressed for the archive."""
        html = response if response is not None and is_html(response) else None
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


def _lease(feed: FeedToPoll, worker: str) -> Lease:
    """The claim this poll runs under: its writes count only while it holds."""
    return Lease(feed.id, worker, feed.lease_generation)


def is_html(response: FetchedResponse) -> bool:
    content_type = (response.content_type or "").split(";")[0].strip().lower()
    if content_type in HTML_TYPES:
        return True
    # Servers that send no or a generic type: look at the bytes.
    head = response.body[:512].lstrip().lower()
    return content_type in ("", "application/octet-stream", "text/plain") and head.startswith(
        (b"<!doctype html", b"<html", b"<head", b"<body")
    )
