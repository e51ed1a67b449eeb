"""News sitemaps as sources: sitemap bytes -> feed entries.

A feed of ``kind: sitemap`` is a Google News sitemap (``<urlset>`` of ``<url>`` with ``<loc>``,
``<lastmod>`` and ``<news:news>`` holding ``<news:title>`` and ``<news:publication_date>``), a
plain sitemap, or a sitemap index (``<sitemapindex>`` of ``<sitemap><loc>``) whose most recent
children (by ``<lastmod>``, at most ``MAX_CHILDREN``) are fetched through the same Fetcher and
read in turn. Entries come out newest first, so ``fetch.max_entries_per_poll`` keeps the newest
of a large sitemap.

Hostile XML is refused as feeds are: any DOCTYPE or entity declaration is refused before
lxml sees the document, and lxml runs with entities unresolved, no network, no DTD and no huge
trees. A gzip'd sitemap (``.xml.gz``) is inflated up to ``fetch.max_bytes``.
"""

from __future__ import annotations

import asyncio
import logging
import re
import zlib
from dataclasses import dataclass
from datetime import UTC, datetime

from lxml import etree

from pipeline.core.errors import FeedParseError, FetchError
from pipeline.core.records import FeedEntry, FetchedResponse, ParsedFeed
from pipeline.core.urls import is_http_url
from pipeline.fetch.client import Fetcher

log = logging.getLogger("pipeline.sources.sitemaps")

MAX_CHILDREN = 5  # child sitemaps of an index read per poll: news sits in the newest
_GZIP_MAGIC = b"\x1f\x8b"
_DECLARATION = re.compile(rb"<!\s*(DOCTYPE|ENTITY)", re.IGNORECASE)
_OLDEST = datetime.min.replace(tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class ChildSitemap:
    url: str
    lastmod: datetime | None


@dataclass(frozen=True, slots=True)
class Sitemap:
    """One sitemap document: article entries (a urlset) or child sitemaps (an index)."""

    entries: list[FeedEntry]
    children: list[ChildSitemap]


def parse_sitemap(body: bytes, *, base_url: str, max_bytes: int) -> Sitemap:
    """Read a sitemap or sitemap index; raise FeedParseError when it is neither."""
    root = _root(_inflated(body, max_bytes), base_url)
    kind = etree.QName(root).localname
    if kind == "sitemapindex":
        children = [
            ChildSitemap(url, _date(_child_text(item, "lastmod")))
            for item in _children(root, "sitemap")
            if (url := _http_url(_child_text(item, "loc")))
        ]
        return Sitemap([], children)
    if kind == "urlset":
        entries = [entry for item in _children(root, "url") if (entry := _entry(item))]
        entries.sort(key=lambda entry: entry.published or _OLDEST, reverse=True)
        return Sitemap(entries, [])
    raise FeedParseError(f"not a sitemap: the root element is <{kind}>")


async def read_sitemap(fetcher: Fetcher, response: FetchedResponse, max_bytes: int) -> ParsedFeed:
    """The entries of a fetched sitemap; for an index, those of its newest children."""
    sitemap = await asyncio.to_thread(
        parse_sitemap, response.body, base_url=response.final_url, max_bytes=max_bytes
    )
    if not sitemap.children:
        return ParsedFeed(title=response.final_url, entries=sitemap.entries)
    newest = sorted(sitemap.children, key=lambda c: c.lastmod or _OLDEST, reverse=True)
    results = await asyncio.gather(
        *(_read_child(fetcher, child.url, max_bytes) for child in newest[:MAX_CHILDREN])
    )
    errors = [result for result in results if isinstance(result, str)]
    entries = [entry for result in results if not isinstance(result, str) for entry in result]
    if errors and len(errors) == len(results):
        raise FeedParseError(f"sitemap index: no child sitemap could be read ({errors[0]})")
    entries.sort(key=lambda entry: entry.published or _OLDEST, reverse=True)
    warning = f"{len(errors)} child sitemap(s) failed: {errors[0]}" if errors else None
    return ParsedFeed(title=response.final_url, entries=entries, warning=warning)


async def _read_child(fetcher: Fetcher, url: str, max_bytes: int) -> list[FeedEntry] | str:
    """A child sitemap's entries, or why it could not be read."""
    try:
        # The index comes from feeds.yaml, so its children on the same host are trusted too.
        response = await fetcher.fetch(url, trusted=True)
        child = await asyncio.to_thread(
            parse_sitemap, response.body, base_url=response.final_url, max_bytes=max_bytes
        )
    except (FetchError, FeedParseError) as exc:
        log.warning("child sitemap failed: %s", exc, extra={"url": url, "stage": "feed"})
        return f"{url}: {exc}"
    if child.children:  # an index of indexes: one level is what news sitemaps use
        return f"{url}: a sitemap index inside a sitemap index is not read"
    return child.entries


def _inflated(body: bytes, max_bytes: int) -> bytes:
    if not body.startswith(_GZIP_MAGIC):
        return body
    inflater = zlib.decompressobj(zlib.MAX_WBITS | 16)
    try:
        inflated = inflater.decompress(body, max_bytes + 1)
    except zlib.error as exc:
        raise FeedParseError(f"not a sitemap: broken gzip ({exc})") from exc
    if len(inflated) > max_bytes:
        raise FeedParseError(f"sitemap inflates to more than fetch.max_bytes ({max_bytes})")
    return inflated


def _root(document: bytes, base_url: str) -> etree._Element:
    if not document.strip():
        raise FeedParseError("not a sitemap: the body is empty")
    # Sitemaps never need a DOCTYPE; UTF-16 keeps NULs between characters, so look without.
    if _DECLARATION.search(document) or _DECLARATION.search(document.replace(b"\x00", b"")):
        raise FeedParseError("sitemap has a DOCTYPE or entity declaration; refused")
    parser = etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        huge_tree=False,
        remove_comments=True,
        remove_pis=True,
    )
    try:
        root = etree.fromstring(document, parser=parser, base_url=base_url)
    except (etree.XMLSyntaxError, ValueError) as exc:
        raise FeedParseError(f"not a sitemap: {exc}") from exc
    if root is None:
        raise FeedParseError("not a sitemap: no root element")
    return root


def _children(parent: etree._Element, name: str) -> list[etree._Element]:
    """Child elements by local name: some sitemaps forget the namespace."""
    return [
        child
        for child in parent
        if isinstance(child.tag, str) and etree.QName(child).localname == name
    ]


def _child_text(parent: etree._Element, name: str) -> str:
    found = _children(parent, name)
    return (found[0].text or "").strip() if found else ""


def _entry(item: etree._Element) -> FeedEntry | None:
    link = _http_url(_child_text(item, "loc"))
    if link is None:
        return None
    news = _children(item, "news")
    title = _child_text(news[0], "title") if news else ""
    published = _date(_child_text(news[0], "publication_date")) if news else None
    return FeedEntry(
        link=link,
        guid=link,
        title=" ".join(title.split()),
        published=published or _date(_child_text(item, "lastmod")),
        summary="",
        content="",
    )


def _http_url(text: str) -> str | None:
    return text if text and is_http_url(text) else None


def _date(text: str) -> datetime | None:
    """A W3C datetime (2025-01-06, 2025-01-06T10:00:00Z, ...+05:00) in UTC, or None."""
    if not text:
        return None
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        return None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
