"""JSON Feed 1.0/1.1 bytes -> entries (the json module; no XML parser involved)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from pipeline.core.errors import FeedParseError
from pipeline.core.records import FeedEntry, ParsedFeed
from pipeline.sources.feed_dates import parse_rfc3339
from pipeline.sources.feed_text import (
    CONTROL_CHARACTERS,
    absolute_http_link,
    clean_guid,
    html_to_text,
    one_line,
    plain_text,
    title_text,
)

JSON_FEED_VERSION_PREFIXES = ("https://jsonfeed.org/version/", "http://jsonfeed.org/version/")


def parse_json_feed(body: bytes, base_url: str) -> ParsedFeed:
    """Parse a JSON Feed document; raise FeedParseError if it is not one."""
    try:
        document = json.loads(body.decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError, RecursionError) as error:
        raise FeedParseError(f"not a feed: invalid JSON: {error}") from error
    version = document.get("version") if isinstance(document, dict) else None
    if not isinstance(version, str) or not version.startswith(JSON_FEED_VERSION_PREFIXES):
        raise FeedParseError("not a feed: a JSON document without a JSON Feed version")
    items = document.get("items")
    if not isinstance(items, list):
        raise FeedParseError("not a feed: JSON Feed without an items list")
    entries = [_json_entry(item, base_url) for item in items if isinstance(item, dict)]
    skipped = len(items) - len(entries)
    return ParsedFeed(
        title=one_line(_string(document.get("title"))),
        entries=entries,
        warning=f"{skipped} JSON Feed items are not objects" if skipped else None,
    )


def _json_entry(item: Mapping[str, Any], base_url: str) -> FeedEntry:
    content_text = _string(item.get("content_text"))
    return FeedEntry(
        link=absolute_http_link(item.get("url") or item.get("external_url"), base_url),
        guid=clean_guid(item.get("id")),
        title=title_text(CONTROL_CHARACTERS.sub("", _string(item.get("title")))),
        published=parse_rfc3339(item.get("date_published"))
        or parse_rfc3339(item.get("date_modified")),
        summary=plain_text(_string(item.get("summary"))),
        content=plain_text(content_text)
        if content_text.strip()
        else html_to_text(_string(item.get("content_html"))),
    )


def _string(value: object) -> str:
    return value if isinstance(value, str) else ""
