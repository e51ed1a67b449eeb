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
from pipeline.core.records import CandidateMatch, EntityMatch, ExtractedPage, FeedEntry, TextSource
from pipeline.dedup.drafts import TextAnalysis, analysed_text, choose_text, draft_title
from pipeline.extract.pool import WarmRef, warm
from pipeline.match.matcher import Matcher

MATCHER = "matcher"  # the name the matcher is published under


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
    # Imported here: the worker has it from the forkserver, and the process that only
    # fetches and stores (which pickles this function by name) never loads trafilatura.
    from pipeline.extract.page import extract_page

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
    return analyse(draft_title(entry, page), text, source, matcher, min_words)


def analyse(
    title: str, text: str, source: TextSource, matcher: Matcher, min_words: int
) -> TextAnalysis:
    matches, candidates = match_article(matcher, title, text)
    return analysed_text(title, text, source, matches, candidates, min_words=min_words)


def match_article(
    matcher: Matcher, title: str, text: str
) -> tuple[list[EntityMatch], list[CandidateMatch]]:
    """The one call of the matcher on an article: its flags and its possible mentions (a pair,
    whatever the result type's field names)."""
    matches, candidates = matcher.match_all(title, text)
    return list(matches), list(candidates)
