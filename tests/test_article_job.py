"""The extraction workers' payload (pipeline.poll.article_job): what a worker returns beside the
page (archive frame, text hash, fingerprint, matches) is what the main process would have
computed, the matcher stays warm per worker and follows a changed watchlist, recycled
workers start warm, and the archive row is written in the article's own transaction."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy
import zstandard

from pipeline.archive.store import PageArchive
from pipeline.core.config import SHIPPED_WATCHLIST
from pipeline.core.records import FeedEntry
from pipeline.dedup.fingerprints import content_hash, text_fingerprint
from pipeline.extract import pool
from pipeline.extract.page import extract_page
from pipeline.extract.pool import PageExtractor
from pipeline.match.matcher import Matcher
from pipeline.match.watchlist import Watchlist, WatchlistEntity, load_watchlist
from pipeline.poll.article_job import (
    MATCHER,
    ArticleJob,
    ArticleWork,
    analyse,
    choose_text,
    prepare_article,
)

FIXTURES = Path(__file__).parent / "fixtures" / "pages"
SENTENCE = "The shipment was traced to Akhtar and Sons Private Limited, a Karachi firm."


def _page(extra: str = SENTENCE) -> bytes:
    words = " ".join(f"word{n} filler text of the story" for n in range(80))
    return (
        "<html><head><title>Port seizure</title></head><body><article><h1>Port seizure</h1>"
        f"<p>{extra}</p><p>{words}</p><p>{words[::-1]}</p></article></body></html>"
    ).encode()


def _entry() -> FeedEntry:
    return FeedEntry(
        link="http://127.0.0.1/news/1",
        guid="1",
        title="Port seizure",
        published=None,
        summary="A short summary.",
        content="",
    )


def _job(body: bytes | None, extractor: PageExtractor, matcher: Matcher) -> ArticleJob:
    return ArticleJob(
        body=body,
        url="http://127.0.0.1/news/1",
        content_type="text/html; charset=utf-8",
        entry=_entry(),
        min_words=50,
        matcher=extractor.publish(MATCHER, matcher),
        archive=True,
    )


def _other_watchlist() -> Watchlist:
    entity = WatchlistEntity(id="test-1", name="Zorblax Shipping Company")
    return Watchlist(entities=[entity])


@pytest.fixture(scope="module")
def shipped() -> Matcher:
    return Matcher(load_watchlist(SHIPPED_WATCHLIST))


def test_the_payload_equals_what_the_main_process_computed(shipped: Matcher) -> None:
    extractor = PageExtractor(0)
    body = _page()
    try:
        work = prepare_article(_job(body, extractor, shipped))
    finally:
        extractor.close()
    page = extract_page(body, url="http://127.0.0.1/news/1", content_type="text/html")
    text, source = choose_text(page, _entry())
    assert work.page == page and work.page_error is None
    assert work.analysis is not None
    assert (work.analysis.text, work.analysis.source) == (text, source)
    assert work.analysis.content_hash == content_hash(text)
    assert work.analysis.fingerprint == text_fingerprint("Port seizure", text, min_words=50)
    assert work.analysis.fingerprint.signature is not None  # long enough for MinHash
    direct = analyse("Port seizure", text, source, shipped, 50)
    assert work.analysis.matches == direct.matches
    assert [m.entity_id for m in work.analysis.matches] == ["ofac-52051"]
    assert work.compressed is not None
    assert zstandard.ZstdDecompressor().decompress(work.compressed.compressed) == body


def test_compressed_bytes_go_to_the_archive_as_they_are(tmp_path: Path, shipped: Matcher) -> None:
    extractor = PageExtractor(0)
    try:
        work = prepare_article(_job(_page(), extractor, shipped))
    finally:
        extractor.close()
    assert work.compressed is not None
    archive = PageArchive(tmp_path / "archive")
    stored = archive.put_compressed(work.compressed)
    assert archive.get(stored.sha256, stored.size) == _page()
    assert archive.put(_page()).sha256 == stored.sha256  # same key as compressing here


def test_no_html_gives_the_feed_text_analysed_in_the_worker(shipped: Matcher) -> None:
    extractor = PageExtractor(0)
    try:
        work = prepare_article(_job(None, extractor, shipped))
    finally:
        extractor.close()
    assert work.page is None and work.compressed is None
    assert work.analysis is not None
    assert (work.analysis.text, work.analysis.source) == ("A short summary.", "feed")
    assert work.analysis.fingerprint.signature is None  # short text: exact hash and title only


async def _run(extractor: PageExtractor, job: ArticleJob) -> ArticleWork:
    return await extractor.run(prepare_article, job, url=job.url)


def _flagged(work: ArticleWork) -> list[str]:
    assert work.analysis is not None
    return [match.entity_id for match in work.analysis.matches]


def test_worker_processes_follow_a_changed_watchlist(shipped: Matcher) -> None:
    other = Matcher(_other_watchlist())
    body = _page(f"{SENTENCE} Zorblax Shipping Company denied it.")
    extractor = PageExtractor(2)
    extractor.preload("pipeline.poll.article_job")
    try:
        first = asyncio.run(_run(extractor, _job(body, extractor, shipped)))
        second = asyncio.run(_run(extractor, _job(body, extractor, other)))
        third = asyncio.run(_run(extractor, _job(body, extractor, shipped)))
    finally:
        extractor.close()
    assert _flagged(first) == ["ofac-52051"]
    assert _flagged(second) == ["test-1"]
    assert _flagged(third) == ["ofac-52051"]


def test_recycled_workers_start_with_the_current_matcher(
    shipped: Matcher, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every worker does one job then is replaced: each new one loads the matcher published
    last in its initializer (the job then finds it loaded: no reload on the job's path)."""
    monkeypatch.setattr(pool, "PAGES_PER_WORKER", 1)
    other = Matcher(_other_watchlist())
    body = _page(f"{SENTENCE} Zorblax Shipping Company denied it.")
    extractor = PageExtractor(1)
    extractor.preload("pipeline.poll.article_job")
    try:
        job = _job(body, extractor, other)
        results = [asyncio.run(_run(extractor, job)) for _ in range(3)]
        loaded = asyncio.run(extractor.run(_loaded_digest, MATCHER, url="-"))
    finally:
        extractor.close()
    assert [_flagged(work) for work in results] == [["test-1"]] * 3
    assert loaded == job.matcher.digest  # a fresh worker, warmed by its initializer


def _loaded_digest(name: str) -> str | None:
    held = pool._warm.get(name)
    return held[0] if held else None


def test_the_archive_row_is_written_with_its_article(database: str, shipped: Matcher) -> None:
    """Repository.store_article's `archived`: the row is in the article's transaction."""
    from pipeline.archive.store import ArchivedResponse, archived_page_record
    from pipeline.core.config import DedupSettings, FeedConfig
    from pipeline.dedup.drafts import EntryLink, build_draft
    from storage.bootstrap import open_repository

    now = datetime(2026, 1, 5, tzinfo=UTC)
    repository = open_repository(database)
    try:
        feed = FeedConfig(name="Dawn", url="https://www.dawn.com/feeds/home")
        repository.sync_feeds([feed], 900.0, now)
        engine = sqlalchemy.create_engine(database)
        with engine.connect() as connection:
            feed_id = int(connection.execute(sqlalchemy.text("SELECT id FROM feed")).scalar_one())
        engine.dispose()
        entry = _entry()
        link = EntryLink(entry, "http://127.0.0.1/news/1", "http://127.0.0.1/news/1", "f" * 32)
        analysis = analyse(entry.title, "A short summary.", "feed", shipped, 50)
        draft = build_draft(feed_id, link, None, None, None, analysis, now)
        kept = ArchivedResponse("a" * 64, 10, "http://127.0.0.1/news/1", 200, {})
        record = archived_page_record(
            feed_id=feed_id, entry=entry, url=link.link, kept=kept, now=now
        )
        outcome = repository.store_article(draft, now, dedup=DedupSettings(), archived=record)
        again = repository.store_article(draft, now, dedup=DedupSettings(), archived=record)
        rows = repository.archived_pages_batch(since=None, after_id=0, limit=10)
    finally:
        repository.close()
    assert outcome.status == "stored" and again.status == "known"
    assert [(row.article_id, row.sha256) for row in rows] == [(outcome.article_id, "a" * 64)]
