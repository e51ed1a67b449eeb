"""The CPU work of one fetched article, done in an extraction worker (pipeline.extract.pool):
the archive's zstd frame, the extracted page, the text hash, the MinHash fingerprint and the
watchlist matches. The process that fetches then only writes: one file, one transaction.

The matcher is published to the pool (``PageExtractor.publish``) and named by version in
every job: each worker keeps it compiled and loads it again only when the watchlist changed.
"""

from __future__ import annotations

from dataclasses import dataclass

from pipeline.archive.compress import CompressedBody, compress_body
from pipeline.core.errors import ExtractionError
from pipeline.core.records import (
    CandidateMatch,
    EntityMatch,
    ExtractedPage,
    FeedEntry,
    TextFingerprint,
    TextSource,
)
from pipeline.dedup.fingerprints import content_hash, text_fingerprint
from pipeline.extract.page import extract_page
from pipeline.extract.pool import WarmRef, warm
from pipeline.match.matcher import Matcher

MATCHER = "matcher"  # the name the matcher is published under


@dataclass(frozen=True, slots=True)
class TextAnalysis:
    """What an article's text gives, computed once: its hash, fingerprint and matches."""

    title: str
    text: str
    source: TextSource
    content_hash: str
    fingerprint: TextFingerprint
    matches: list[EntityMatch]
    candidates: list[CandidateMatch]


@dataclass(frozen=True, slots=True)
class ArticleJob:
    body: bytes | None  # None: the page was not HTML (or not fetched): the feed's text only
    url: str
    content_type: str | None
    entry: FeedEntry
    min_words: int
    matcher: WarmRef
    archive: bool  # compress the body for the raw archive


@dataclass(frozen=True, slots=True)
class ArticleWork:
    page: ExtractedPage | None
    page_error: str | None  # why there is no page ("extraction: ...")
    compressed: CompressedBody | None
    analysis: TextAnalysis | None  # None: neither the page nor the entry has any text


def prepare_article(job: ArticleJob) -> ArticleWork:
    """Everything CPU-bound about one article (runs in a worker process)."""
    compressed = compress_body(job.body) if job.archive and job.body is not None else None
    page, error = None, None
    if job.body is not None:
        try:
            page = extract_page(job.body, url=job.url, content_type=job.content_type)
        except ExtractionError as exc:
            error = f"extraction: {exc}"
    matcher = warm(job.matcher)
    assert isinstance(matcher, Matcher)
    return ArticleWork(
        page, error, compressed, analyse_text(page, job.entry, matcher, job.min_words)
    )


def analyse_text(
    page: ExtractedPage | None, entry: FeedEntry, matcher: Matcher, min_words: int
) -> TextAnalysis | None:
    text, source = choose_text(page, entry)
    if not text:
        return None
    title = entry.title or (page.title if page and page.title else "")
    return analyse(title, text, source, matcher, min_words)


def analyse(
    title: str, text: str, source: TextSource, matcher: Matcher, min_words: int
) -> TextAnalysis:
    matches, candidates = match_article(matcher, title, text)
    return TextAnalysis(
        title=title,
        text=text,
        source=source,
        content_hash=content_hash(text),
        fingerprint=text_fingerprint(title, text, min_words=min_words),
        matches=matches,
        candidates=candidates,
    )


def match_article(
    matcher: Matcher, title: str, text: str
) -> tuple[list[EntityMatch], list[CandidateMatch]]:
    """The one call of the matcher on an article: its flags and its possible mentions (a pair,
    whatever the result type's field names)."""
    matches, candidates = matcher.match_all(title, text)
    return list(matches), list(candidates)


def choose_text(page: ExtractedPage | None, entry: FeedEntry) -> tuple[str, TextSource]:
    if page is not None and page.text.strip():
        return page.text.strip(), "page"
    return (entry.content or entry.summary).strip(), "feed"
