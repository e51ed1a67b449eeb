"""Re-run extraction, dedup and matching over the raw archive, with no network at all.

For the latest archived page of each article (older pages would only replay its history), in
id order: decompress, extract as ingest does, rebuild the draft from the page and the stored
feed entry, then

- the same text (and title): re-match the stored article, adding only the flags its story
  lacks (as `pipeline rescan` does);
- a different text: store it as the article's next revision through the same path a revised
  page takes (re-indexed for near-duplicates, new flags only; the article stays one row in its
  story);

Existing flags are never modified, so analysts' decisions (relevant, dismissed) stay as they
are. Running it twice changes nothing the second time.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from pipeline.archive import Progress, no_progress
from pipeline.archive.store import PageArchive, entry_from_json
from pipeline.core.clock import utcnow
from pipeline.core.config import Config
from pipeline.core.errors import ExtractionError, InvalidURLError, NotFoundError, StorageError
from pipeline.core.output import plural
from pipeline.core.urls import canonicalize
from pipeline.dedup.drafts import EntryLink, analysed_text, build_draft, choose_text, draft_title
from pipeline.dedup.fingerprints import entry_fingerprint
from pipeline.extract.page import extract_page
from pipeline.match.matcher import Matcher
from pipeline.match.watchlist import load_watchlist
from storage.repository import ArchivedPageRecord, Repository

BATCH = 100


@dataclass(slots=True)
class ReprocessCounts:
    pages: int = 0
    unchanged: int = 0  # same text: re-matched only
    revised: int = 0  # a new text: stored as a revision
    missing: int = 0  # the archive file is gone or damaged
    errors: int = 0  # no text from the page nor the entry, or no usable link
    new_flags: int = 0

    def summary(self) -> str:
        return (
            f"reprocess done: {plural(self.pages, 'page')}, {self.unchanged} unchanged, "
            f"{self.revised} revised, {self.missing} missing, {plural(self.errors, 'error')}, "
            f"{plural(self.new_flags, 'new flag')}"
        )


def reprocess_archive(
    repository: Repository,
    config: Config,
    since: datetime | None,
    *,
    progress: Progress = no_progress,
    clock: Callable[[], datetime] = utcnow,
) -> ReprocessCounts:
    """Reprocess the archived pages fetched since `since` (all when None)."""
    watchlist = load_watchlist(config.watchlist)
    repository.sync_entities(watchlist.entity_records(), clock())
    job = _Reprocessor(config, repository, PageArchive(config.archive.path), Matcher(watchlist))
    counts = ReprocessCounts()
    total = repository.count_archived_pages(since)
    progress(counts.pages, total)
    after_id = 0
    while batch := repository.archived_pages_batch(since=since, after_id=after_id, limit=BATCH):
        for page in batch:
            job.reprocess(page, counts, clock())
        after_id = batch[-1].id or after_id
        progress(counts.pages, total)
    return counts


class _Reprocessor:
    def __init__(
        self, config: Config, repository: Repository, archive: PageArchive, matcher: Matcher
    ) -> None:
        self.config = config
        self.repository = repository
        self.archive = archive
        self.matcher = matcher

    def reprocess(self, page: ArchivedPageRecord, counts: ReprocessCounts, now: datetime) -> None:
        counts.pages += 1
        article_id = page.article_id
        if article_id is None:  # never returned by archived_pages_batch
            counts.errors += 1
            return
        try:
            body = self.archive.get(page.sha256, page.size)
        except (NotFoundError, StorageError):
            counts.missing += 1
            return
        entry = entry_from_json(page.entry)
        link_url = entry.link or page.url
        try:
            link = EntryLink(entry, link_url, canonicalize(link_url), entry_fingerprint(entry))
            final_canonical = canonicalize(page.final_url)
        except InvalidURLError:
            counts.errors += 1
            return
        content_type = page.headers.get("content-type")
        try:
            extracted = extract_page(body, url=page.final_url, content_type=content_type, now=now)
        except ExtractionError:
            extracted = None  # as at ingest: the feed's text stands in
        text, source = choose_text(extracted, entry)
        if not text:
            counts.errors += 1
            return
        title = draft_title(entry, extracted)
        matches, candidates = self.matcher.match_all(title, text)
        analysis = analysed_text(
            title,
            text,
            source,
            list(matches),
            list(candidates),
            min_words=self.config.dedup.min_words,
        )
        draft = build_draft(
            page.feed_id, link, page.final_url, final_canonical, extracted, analysis, now
        )
        try:
            # No entry fingerprint: the feed's baseline for revisions is not ours to move.
            revision = self.repository.store_revision(article_id, draft, now)
        except NotFoundError:
            counts.errors += 1
            return
        if revision.status == "revised":
            counts.revised += 1
            counts.new_flags += revision.new_flags
            return
        # Same text (or a feed text that never replaces page text): re-match what is stored.
        stored = self.repository.stored_text(article_id)
        matches, candidates = self.matcher.match_all(stored.title, stored.text)
        counts.unchanged += 1
        counts.new_flags += self.repository.add_flags(stored.id, stored.story_id, matches, now)
        self.repository.add_candidates(stored.id, stored.story_id, candidates, matches, now)
