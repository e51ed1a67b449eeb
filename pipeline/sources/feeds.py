"""Feed bytes -> entries: RSS 0.9x/1.0/2.0 and Atom (feedparser), JSON Feed 1.0/1.1 (json).

The body is always handed to feedparser as an in-memory stream, so it never fetches anything
(feedparser treats a ``str`` argument as a URL or a file name). Before any XML parser sees the
document, it is decoded once and its prolog checked (pipeline.sources.xml_guard). JSON Feeds
are read by pipeline.sources.json_feed; entry text and dates by feed_text and feed_dates.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from typing import Any

import feedparser

from pipeline.core.errors import FeedParseError
from pipeline.core.intervals import feed_update_seconds
from pipeline.core.records import FeedEntry, ParsedFeed
from pipeline.sources.feed_dates import entry_date
from pipeline.sources.feed_text import (
    absolute_http_link,
    clean_guid,
    html_to_text,
    one_line,
    plain_text,
    title_text,
)
from pipeline.sources.json_feed import JSON_FEED_VERSION_PREFIXES, parse_json_feed
from pipeline.sources.xml_guard import (
    MAX_ELEMENTS,
    bozo_reason,
    decode_to_utf8,
    refuse_entity_declarations,
    refuse_too_many_elements,
)

__all__ = ["JSON_FEED_VERSION_PREFIXES", "MAX_ELEMENTS", "html_to_text", "parse_feed"]


def parse_feed(body: bytes, *, base_url: str, content_type: str | None = None) -> ParsedFeed:
    """Parse an RSS, Atom, RDF or JSON Feed document; raise FeedParseError if it is not one."""
    if not body.strip():
        raise FeedParseError("not a feed: the body is empty")
    if body.removeprefix(b"\xef\xbb\xbf").lstrip()[:1] == b"{":
        return parse_json_feed(body, base_url)
    return _parse_xml_feed(body, base_url, content_type)


def _parse_xml_feed(body: bytes, base_url: str, content_type: str | None) -> ParsedFeed:
    utf8_body, encoding_warning = decode_to_utf8(body, content_type)
    refuse_entity_declarations(utf8_body)
    refuse_too_many_elements(utf8_body)
    try:
        result = feedparser.parse(
            io.BytesIO(utf8_body),
            # The body is UTF-8 now; content-location is the base for relative links.
            response_headers={
                "content-type": "application/xml; charset=utf-8",
                "content-location": base_url,
            },
            # We keep only plain text (html_to_text), never HTML: feedparser's sanitising and
            # link rewriting would re-parse every content with sgmllib, seconds per MB.
            resolve_relative_uris=False,
            sanitize_html=False,
        )
    except Exception as error:  # feedparser's own bugs must not escape as non-pipeline errors
        raise FeedParseError(f"not a feed: feedparser failed: {error!r}") from error
    raw_entries = result.get("entries") or []
    malformed = bozo_reason(result)
    if not raw_entries and not result.get("version"):
        reason = malformed or "no RSS, Atom, RDF or JSON Feed document found"
        raise FeedParseError(f"not a feed: {reason}")
    channel = result.get("feed", {})
    return ParsedFeed(
        title=one_line(_detail_text(channel, "title")),
        entries=[_xml_entry(raw, base_url) for raw in raw_entries],
        warning=malformed or encoding_warning,
        update_seconds=feed_update_seconds(
            channel.get("ttl"), channel.get("sy_updateperiod"), channel.get("sy_updatefrequency")
        ),
    )


def _xml_entry(raw: Mapping[str, Any], base_url: str) -> FeedEntry:
    contents = raw.get("content") or []
    return FeedEntry(
        link=absolute_http_link(_alternate_link(raw), base_url),
        guid=clean_guid(raw.get("id")),
        title=title_text(_detail_text(raw, "title")),
        published=entry_date(raw),
        summary=_detail_text(raw, "summary"),
        content=next((text for text in map(_content_text, contents) if text), ""),
    )


def _alternate_link(raw: Mapping[str, Any]) -> object:
    """The entry's first rel="alternate" link (feedparser 6.0 may pick an enclosure)."""
    for link in raw.get("links") or []:
        if isinstance(link, Mapping) and link.get("rel") == "alternate" and link.get("href"):
            return link["href"]
    return raw.get("link")


def _detail_text(container: Mapping[str, Any], key: str) -> str:
    """Plain text of feedparser's ``key`` (HTML or text, as its ``key_detail`` says)."""
    value = container.get(key)
    if not isinstance(value, str):
        return ""
    detail = container.get(f"{key}_detail") or {}
    return _content_text({"value": value, "type": detail.get("type", "text/html")})


def _content_text(content: Mapping[str, Any]) -> str:
    value = content.get("value")
    if not isinstance(value, str):
        return ""
    if content.get("type") == "text/plain":
        return plain_text(value)
    return html_to_text(value)
