"""The article draft a fetched (or archived) page and its feed entry make: which text stands,
its title, the URLs it is known by (an AMP page and its original are one article), its hash
and fingerprint. Shared by ingest (pipeline.poll) and `pipeline reprocess` (pipeline.archive).

The watchlist matches come in already computed (``TextAnalysis``): dedup never matches.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlsplit

from pipeline.core.errors import InvalidURLError
from pipeline.core.records import (
    ArticleDraft,
    CandidateMatch,
    EntityMatch,
    ExtractedPage,
    FeedEntry,
    TextFingerprint,
    TextSource,
)
from pipeline.core.urls import amp_variants_removed, canonicalize, canonicalize_or_none
from pipeline.dedup.fingerprints import content_hash, entry_fingerprint, text_fingerprint
from pipeline.extract.version import EXTRACTOR_VERSION


@dataclass(frozen=True, slots=True)
class EntryLink:
    entry: FeedEntry
    link: str
    canonical_url: str
    fingerprint: str  # pipeline.dedup.fingerprints.entry_fingerprint of the entry
    revises: int | None = None  # a stored article whose feed entry changed: look for a revision


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


def entry_link(entry: FeedEntry) -> EntryLink:
    if not entry.link:
        raise InvalidURLError(f"entry {entry.title[:60]!r} has no usable link")
    return EntryLink(entry, entry.link, canonicalize(entry.link), entry_fingerprint(entry))


def choose_text(page: ExtractedPage | None, entry: FeedEntry) -> tuple[str, TextSource]:
    if page is not None and page.text.strip():
        return page.text.strip(), "page"
    return (entry.content or entry.summary).strip(), "feed"


def draft_title(entry: FeedEntry, page: ExtractedPage | None) -> str:
    return entry.title or (page.title if page and page.title else "")


def analysed_text(
    title: str,
    text: str,
    source: TextSource,
    matches: list[EntityMatch],
    candidates: list[CandidateMatch],
    *,
    min_words: int,
) -> TextAnalysis:
    """The text's hash and fingerprint, with the matches the matcher found in it."""
    return TextAnalysis(
        title=title,
        text=text,
        source=source,
        content_hash=content_hash(text),
        fingerprint=text_fingerprint(title, text, min_words=min_words),
        matches=matches,
        candidates=candidates,
    )


def build_draft(
    feed_id: int,
    link: EntryLink,
    final_url: str | None,
    final_canonical: str | None,
    page: ExtractedPage | None,
    analysis: TextAnalysis,
    now: datetime,
) -> ArticleDraft:
    """The article a fetched (or archived) page and its feed entry make, with the matches of
    ``analysis`` (of this page's ``draft_title`` and ``choose_text``)."""
    entry = link.entry
    published = entry.published or (page.published if page else None)
    if published is not None and published > now:
        published = None  # a date in the future is a lie or a time zone bug
    known_urls = [link.canonical_url]
    if final_canonical:
        known_urls.append(final_canonical)
    page_canonical = usable_canonical(page.canonical_url if page else None)
    if page_canonical:
        known_urls.append(page_canonical)
    amp_free_urls = [plain for plain in map(amp_free, known_urls) if plain]
    known_urls.extend(amp_free_urls)  # an AMP page and its original are one article
    return ArticleDraft(
        feed_id=feed_id,
        url=link.link,
        canonical_url=link.canonical_url,
        final_url=final_url,
        known_urls=list(dict.fromkeys(known_urls)),
        guid=entry.guid,
        title=analysis.title,
        author=page.author if page else None,
        published_at=published,
        language=page.language if page else None,
        text=analysis.text,
        text_source=analysis.source,
        content_hash=analysis.content_hash,
        extractor=page.extractor if page else "feed",
        extractor_version=page.extractor_version if page else EXTRACTOR_VERSION,
        matches=analysis.matches,
        candidates=analysis.candidates,
        fingerprint=analysis.fingerprint,
    )


def amp_free(canonical_url: str) -> str | None:
    """The URL without AMP markers (``amp.`` host, ``/amp`` path, ``?amp=1``), if it had any
    and is not a site's home page."""
    plain = amp_variants_removed(canonical_url)
    if plain == canonical_url or urlsplit(plain).path in ("", "/"):
        return None
    return plain


def usable_canonical(url: str | None) -> str | None:
    """A page's canonical link, unless it points at a site's home page (some sites put the
    home page on every article, which would make every article 'the same')."""
    canonical = canonicalize_or_none(url)
    return canonical if canonical and urlsplit(canonical).path not in ("", "/") else None
