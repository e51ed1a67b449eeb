"""Feed discovery: the feeds and news sitemaps a site advertises, checked by reading them.

Candidates, in this order: the homepage's ``<link rel="alternate">`` feeds (RSS, Atom, JSON
Feed), the usual paths (``/feed``, ``/rss.xml``, ``/news-sitemap.xml`` ...) and the
``Sitemap:`` lines of ``/robots.txt``. Each is fetched and parsed (pipeline.sources.feeds, else
pipeline.sources.sitemaps); only those that parse are reported, once each, as feeds.yaml entries.

The homepage and every candidate on its host are fetched as trusted (the operator named the
site); a candidate on another host passes the address guard like any article link.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Literal
from urllib.parse import urljoin, urlsplit

import lxml.html
import yaml
from lxml import etree

from pipeline.core.errors import FeedParseError, FetchError, InvalidURLError
from pipeline.core.records import FetchedResponse
from pipeline.core.urls import canonicalize, is_http_url
from pipeline.fetch.client import Fetcher
from pipeline.sources.feeds import parse_feed
from pipeline.sources.sitemaps import parse_sitemap

log = logging.getLogger("pipeline.sources.discover")

FEED_TYPES = frozenset(
    {
        "application/rss+xml",
        "application/atom+xml",
        "application/feed+json",
        "application/json",
        "application/rdf+xml",
        "application/xml",
        "text/xml",
    }
)
COMMON_PATHS = (
    "/feed",
    "/rss",
    "/rss.xml",
    "/feed.xml",
    "/atom.xml",
    "/index.xml",
    "/feeds/posts/default",
    "/news-sitemap.xml",
    "/sitemap_news.xml",
)
MAX_ROBOTS_SITEMAPS = 10  # a robots.txt may list hundreds; news sitemaps come first in practice


@dataclass(frozen=True, slots=True)
class DiscoveredFeed:
    name: str
    url: str
    kind: Literal["feed", "sitemap"]

    def as_config(self) -> dict[str, str]:
        """The feeds.yaml entry (``kind`` only when it is not the default)."""
        entry = {"name": self.name, "url": self.url}
        if self.kind == "sitemap":
            entry["kind"] = "sitemap"
        return entry


async def discover_feeds(fetcher: Fetcher, url: str, *, max_bytes: int) -> list[DiscoveredFeed]:
    """The verified feeds of the site at ``url``; InvalidURLError for a URL we cannot fetch.
    ``max_bytes`` bounds a gzip'd sitemap's inflated size (fetch.max_bytes)."""
    if not is_http_url(url):
        raise InvalidURLError(f"{url!r} is not an http(s) URL with a host")
    site_host = urlsplit(url).hostname
    base = url
    advertised: list[tuple[str, str | None]] = []
    try:
        homepage = await fetcher.fetch(url, trusted=True)
        base = homepage.final_url
        advertised = _advertised_feeds(homepage)
    except InvalidURLError:
        raise
    except FetchError as exc:  # the usual paths may still answer
        log.warning("homepage not read: %s", exc, extra={"url": url, "stage": "discover"})
    candidates = [
        *advertised,
        *((urljoin(base, path), None) for path in COMMON_PATHS),
        *((sitemap, None) for sitemap in await _robots_sitemaps(fetcher, base, site_host)),
    ]
    unique = list({_key(candidate): (candidate, title) for candidate, title in candidates}.values())
    checked = await asyncio.gather(
        *(_verified(fetcher, candidate, title, site_host, max_bytes) for candidate, title in unique)
    )
    found: dict[str, DiscoveredFeed] = {}
    for feed in checked:
        if feed is not None:
            found.setdefault(_key(feed.url), feed)  # two paths redirecting to one feed
    return list(found.values())


def feeds_yaml(feeds: list[DiscoveredFeed]) -> str:
    """The feeds as a YAML list, ready to paste under ``feeds:`` in feeds.yaml."""
    entries = [feed.as_config() for feed in feeds]
    return yaml.safe_dump(entries, sort_keys=False, allow_unicode=True, width=1000)


def _advertised_feeds(homepage: FetchedResponse) -> list[tuple[str, str | None]]:
    """(absolute URL, title) of each ``<link rel="alternate">`` with a feed type."""
    try:
        document = lxml.html.document_fromstring(homepage.body)
    except (etree.LxmlError, ValueError):
        return []
    links: list[tuple[str, str | None]] = []
    for element in document.iter("link"):
        rel = (element.get("rel") or "").lower().split()
        kind = (element.get("type") or "").split(";")[0].strip().lower()
        href = (element.get("href") or "").strip()
        if "alternate" in rel and kind in FEED_TYPES and href:
            absolute = urljoin(homepage.final_url, href)
            if is_http_url(absolute):
                links.append((absolute, (element.get("title") or "").strip() or None))
    return links


async def _robots_sitemaps(fetcher: Fetcher, base: str, site_host: str | None) -> list[str]:
    robots = urljoin(base, "/robots.txt")
    try:
        response = await fetcher.fetch(robots, trusted=urlsplit(robots).hostname == site_host)
    except FetchError:
        return []
    sitemaps: list[str] = []
    for line in response.body.decode("utf-8", "replace").splitlines():
        name, _, value = line.partition(":")
        if name.strip().lower() == "sitemap" and is_http_url(value.strip()):
            sitemaps.append(value.strip())
    return sitemaps[:MAX_ROBOTS_SITEMAPS]


async def _verified(
    fetcher: Fetcher, url: str, title: str | None, site_host: str | None, max_bytes: int
) -> DiscoveredFeed | None:
    """The candidate as a feeds.yaml entry if it is a readable feed or sitemap, else None."""
    try:
        response = await fetcher.fetch(url, trusted=urlsplit(url).hostname == site_host)
    except FetchError as exc:
        log.debug("candidate not fetched: %s", exc, extra={"url": url, "stage": "discover"})
        return None
    final = response.final_url
    try:
        sitemap = await asyncio.to_thread(
            parse_sitemap, response.body, base_url=final, max_bytes=max_bytes
        )
    except FeedParseError:
        sitemap = None
    if sitemap is not None and (sitemap.entries or sitemap.children):
        return DiscoveredFeed(title or _name_from_url(final, "sitemap"), final, "sitemap")
    try:
        parsed = await asyncio.to_thread(
            parse_feed, response.body, base_url=final, content_type=response.content_type
        )
    except FeedParseError:
        return None
    return DiscoveredFeed(title or parsed.title or _name_from_url(final, "feed"), final, "feed")


def _name_from_url(url: str, kind: str) -> str:
    parts = urlsplit(url)
    return f"{parts.hostname} {kind} {parts.path}".strip()


def _key(url: str) -> str:
    try:
        return canonicalize(url)
    except InvalidURLError:
        return url
