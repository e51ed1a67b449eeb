"""Feed bytes -> entries: RSS 0.9x/1.0/2.0 and Atom (feedparser), JSON Feed 1.0/1.1 (json).

The body is always handed to feedparser as an in-memory stream, so it never fetches anything
(feedparser treats a ``str`` argument as a URL or a file name). Before any XML parser sees the
document, its prolog is checked: a DOCTYPE whose internal subset declares entities (billion
laughs, quadratic blow-up, XXE) is refused. A plain external DTD reference is allowed:
feedparser turns off external entities and never loads DTDs.

Character encodings are decoded by feedparser's own RFC 3023 rules (HTTP charset, BOM, XML
declaration, then guesses) *before* the prolog check, so the check sees exactly the text the
parser will see, whatever encoding an attacker picks.
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from time import struct_time
from typing import Any
from urllib.parse import urljoin

import feedparser
import lxml.html
from feedparser.encodings import convert_to_utf8
from lxml import etree

from pipeline.core.errors import FeedParseError
from pipeline.core.intervals import feed_update_seconds
from pipeline.core.records import FeedEntry, ParsedFeed

JSON_FEED_VERSION_PREFIXES = ("https://jsonfeed.org/version/", "http://jsonfeed.org/version/")
# feedparser spends tens of microseconds per element: 10 MB of "<x>" would cost minutes of CPU.
# 250,000 is 25 elements for each of 10,000 entries.
MAX_ELEMENTS = 250_000

# C0/C1 controls, and lone UTF-16 surrogates (JSON "\ud800"), which no database can store.
_CONTROL_CHARACTERS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")
# A tag or comment start: a title that has one is read as HTML, as feed readers do.
_MARKUP = re.compile(r"<[A-Za-z/!]")
_WHITESPACE = re.compile(r"\s+")
_HORIZONTAL_SPACE = re.compile(r"[^\S\n]+")
_BLANK_LINES = re.compile(r"\n\s*\n")
_ENTITY_DECLARATION = re.compile(rb"<!\s*ENTITY", re.IGNORECASE)
_DOCTYPE = re.compile(rb"<!DOCTYPE", re.IGNORECASE)
# The root element starts at "<" + an ASCII word character: the same rule feedparser uses to
# split off the head it takes entity declarations from, so our prolog always covers its head.
_ELEMENT_START = re.compile(rb"<\w")
_DOCTYPE_TOKEN = re.compile(rb"\"[^\"]*\"|'[^']*'|<!--.*?-->|<\?.*?\?>|[\[\]>]", re.DOTALL)

# Month names of the languages whose feeds most often localise RFC 822 dates, by their first
# three letters (four for French "juin"/"juil"): Italian, French, Spanish, Portuguese, German,
# Dutch.
_MONTHS = {
    name: number
    for number, names in enumerate(
        (
            "jan gen ene janv",
            "feb fev fév",
            "mar mär mrz maa mrt",
            "apr avr abr",
            "may mag mai mei",
            "jun giu juin",
            "jul lug juil",
            "aug ago aoû aou",
            "sep set",
            "oct ott out okt",
            "nov",
            "dec dic dez déc",
        ),
        start=1,
    )
    for name in names.split()
}
_LOCALISED_RFC822 = re.compile(
    r"\s*(?:[^\W\d]+\.?,?\s+)?(\d{1,2})\s+([^\W\d]+)\.?\s+(\d{4})\s+"
    r"(\d{1,2}):(\d{2})(?::(\d{2}))?\s*([+-]\d{4}|[A-Za-z]{1,3})?\s*$"
)

_SKIPPED_TAGS = frozenset({"script", "style", "noscript", "template", "head", "iframe", "object"})
_BLOCK_TAGS = frozenset(
    {
        "address", "article", "aside", "blockquote", "dd", "details", "div", "dl", "dt",
        "fieldset", "figcaption", "figure", "footer", "form", "h1", "h2", "h3", "h4", "h5",
        "h6", "header", "hr", "li", "main", "nav", "ol", "p", "pre", "section", "summary",
        "table", "tr", "ul",
    }
)  # fmt: skip
_PARAGRAPH_BREAK = "\x00"  # never in the text: control characters are removed first
_HTML_PARSER = lxml.html.HTMLParser(
    encoding="utf-8", remove_comments=True, remove_pis=True, no_network=True
)


def parse_feed(body: bytes, *, base_url: str, content_type: str | None = None) -> ParsedFeed:
    """Parse an RSS, Atom, RDF or JSON Feed document; raise FeedParseError if it is not one."""
    if not body.strip():
        raise FeedParseError("not a feed: the body is empty")
    if body.removeprefix(b"\xef\xbb\xbf").lstrip()[:1] == b"{":
        return _parse_json_feed(body, base_url)
    return _parse_xml_feed(body, base_url, content_type)


def html_to_text(fragment: str) -> str:
    """Plain text of an HTML fragment: entities decoded, paragraphs separated by a blank line."""
    cleaned = _CONTROL_CHARACTERS.sub("", fragment)
    if not cleaned.strip():
        return ""
    try:
        document = lxml.html.document_fromstring(
            cleaned.encode("utf-8", "replace"), parser=_HTML_PARSER
        )
    except (etree.LxmlError, ValueError):  # "Document is empty": markup without any text
        return ""
    return _tidy_paragraphs("".join(_text_pieces(document)))


def _parse_xml_feed(body: bytes, base_url: str, content_type: str | None) -> ParsedFeed:
    utf8_body, encoding_warning = _decode_to_utf8(body, content_type)
    _refuse_entity_declarations(utf8_body)
    _refuse_too_many_elements(utf8_body)
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
    bozo_reason = _bozo_reason(result)
    if not raw_entries and not result.get("version"):
        reason = bozo_reason or "no RSS, Atom, RDF or JSON Feed document found"
        raise FeedParseError(f"not a feed: {reason}")
    channel = result.get("feed", {})
    return ParsedFeed(
        title=_one_line(_detail_text(channel, "title")),
        entries=[_xml_entry(raw, base_url) for raw in raw_entries],
        warning=bozo_reason or encoding_warning,
        update_seconds=feed_update_seconds(
            channel.get("ttl"), channel.get("sy_updateperiod"), channel.get("sy_updatefrequency")
        ),
    )


def _decode_to_utf8(body: bytes, content_type: str | None) -> tuple[bytes, str | None]:
    """Re-encode the body as UTF-8 exactly as feedparser would decode it."""
    result: dict[str, Any] = {}
    headers = {"content-type": content_type} if content_type else {}
    try:
        utf8_body: bytes = convert_to_utf8(headers, body, result)
    except Exception as error:
        raise FeedParseError(f"not a feed: cannot decode: {error!r}") from error
    if not result.get("encoding"):
        raise FeedParseError(f"not a feed: {_bozo_reason(result) or 'unknown encoding'}")
    return utf8_body, _bozo_reason(result)


def _refuse_entity_declarations(document: bytes) -> None:
    # UTF-16 text mis-decoded as UTF-8 (a BOM without an encoding declaration) keeps its NULs
    # between characters: look at it without them too, whatever a lenient parser might do.
    views = (document, document.replace(b"\x00", b"")) if b"\x00" in document else (document,)
    if any(_ENTITY_DECLARATION.search(_prolog(view)) for view in views):
        raise FeedParseError("feed declares XML entities; refused")


def _refuse_too_many_elements(document: bytes) -> None:
    elements = _element_count(document)
    if elements > MAX_ELEMENTS:
        raise FeedParseError(f"feed has {elements} elements, more than {MAX_ELEMENTS}; refused")


def _element_count(document: bytes) -> int:
    """Start tags outside CDATA sections (one piece of text to the parser, whatever they hold).

    An unterminated CDATA section hides nothing: a lenient parser reads on after it."""
    count = position = 0
    while (start := document.find(b"<![CDATA[", position)) >= 0:
        count += len(_ELEMENT_START.findall(document, position, start))
        position = start
        end = document.find(b"]]>", start)
        if end < 0:
            break
        position = end + 3
    return count + len(_ELEMENT_START.findall(document, position))


def _prolog(document: bytes) -> bytes:
    """Everything before the root element, stepping over comments, PIs and the DOCTYPE.

    An unterminated construct makes the whole document prolog (refusing errs on the safe
    side); stray text is stepped over, as a lenient parser would.
    """
    position = 0
    while (start := document.find(b"<", position)) >= 0:
        if document.startswith(b"<?", start):
            end = _end_after(document, b"?>", start + 2)
        elif document.startswith(b"<!--", start):
            end = _end_after(document, b"-->", start + 4)
        elif _DOCTYPE.match(document, start):
            end = _doctype_end(document, start)
        elif _ELEMENT_START.match(document, start):
            return document[:start]
        else:
            end = start + 1
        if end < 0:
            return document
        position = end
    return document


def _end_after(document: bytes, terminator: bytes, start: int) -> int:
    found = document.find(terminator, start)
    return found + len(terminator) if found >= 0 else -1


def _doctype_end(document: bytes, start: int) -> int:
    """Index just past the DOCTYPE's closing ">", honouring quotes and the internal subset."""
    in_subset = False
    for token in _DOCTYPE_TOKEN.finditer(document, start + len(b"<!DOCTYPE")):
        text = token.group()
        if text == b"[":
            in_subset = True
        elif text == b"]":
            in_subset = False
        elif text == b">" and not in_subset:
            return token.end()
    return -1


def _bozo_reason(result: Mapping[str, Any]) -> str | None:
    if not result.get("bozo"):
        return None
    return str(result.get("bozo_exception") or "malformed document").strip() or "malformed"


def _xml_entry(raw: Mapping[str, Any], base_url: str) -> FeedEntry:
    contents = raw.get("content") or []
    return FeedEntry(
        link=_absolute_http_link(_alternate_link(raw), base_url),
        guid=_clean_guid(raw.get("id")),
        title=_title_text(_detail_text(raw, "title")),
        published=_entry_date(raw),
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
        return _tidy_paragraphs(_CONTROL_CHARACTERS.sub("", value))
    return html_to_text(value)


def _entry_date(raw: Mapping[str, Any]) -> datetime | None:
    """feedparser's parsed date, else our reading of a date written with non-English names."""
    for key in ("published", "updated"):
        parsed = _struct_to_utc(raw.get(f"{key}_parsed")) or _parse_localised_rfc822(raw.get(key))
        if parsed is not None:
            return parsed
    return None


def _parse_localised_rfc822(value: object) -> datetime | None:
    """RFC 822 dates with day and month names in another language ("mer, 16 nov 2022 ...")."""
    match = _LOCALISED_RFC822.match(value) if isinstance(value, str) else None
    if match is None:
        return None
    day, month_name, year, hour, minute, second, zone = match.groups()
    name = month_name.lower()
    month = _MONTHS.get(name[:4]) or _MONTHS.get(name[:3])
    offset = _zone_offset(zone)
    if month is None or offset is None:
        return None
    try:
        local = datetime(int(year), month, int(day), int(hour), int(minute), int(second or 0))
    except ValueError:
        return None
    return (local - offset).replace(tzinfo=UTC)


def _zone_offset(zone: str | None) -> timedelta | None:
    if zone is None or zone.upper() in ("GMT", "UTC", "UT", "Z"):
        return timedelta(0)
    if zone[0] in "+-" and zone[1:].isdigit():
        sign = -1 if zone[0] == "-" else 1
        return sign * timedelta(hours=int(zone[1:3]), minutes=int(zone[3:5]))
    return None


def _struct_to_utc(value: object) -> datetime | None:
    if not isinstance(value, struct_time):
        return None
    try:
        return datetime(*value[:6], tzinfo=UTC)
    except (ValueError, OverflowError):
        return None


def _parse_json_feed(body: bytes, base_url: str) -> ParsedFeed:
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
        title=_one_line(_string(document.get("title"))),
        entries=entries,
        warning=f"{skipped} JSON Feed items are not objects" if skipped else None,
    )


def _json_entry(item: Mapping[str, Any], base_url: str) -> FeedEntry:
    content_text = _string(item.get("content_text"))
    return FeedEntry(
        link=_absolute_http_link(item.get("url") or item.get("external_url"), base_url),
        guid=_clean_guid(item.get("id")),
        title=_title_text(_CONTROL_CHARACTERS.sub("", _string(item.get("title")))),
        published=_parse_rfc3339(item.get("date_published"))
        or _parse_rfc3339(item.get("date_modified")),
        summary=_tidy_paragraphs(_CONTROL_CHARACTERS.sub("", _string(item.get("summary")))),
        content=_tidy_paragraphs(_CONTROL_CHARACTERS.sub("", content_text))
        if content_text.strip()
        else html_to_text(_string(item.get("content_html"))),
    )


def _string(value: object) -> str:
    return value if isinstance(value, str) else ""


def _clean_guid(value: object) -> str | None:
    if isinstance(value, int | float) and not isinstance(value, bool):
        value = str(value)  # JSON Feeds in the wild use numeric ids
    if not isinstance(value, str):
        return None
    return _CONTROL_CHARACTERS.sub("", value).strip() or None


def _parse_rfc3339(value: object) -> datetime | None:
    """JSON Feed dates are RFC 3339; tolerate RFC 822 ones, which some feeds emit."""
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        try:
            parsed = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def _absolute_http_link(link: object, base_url: str) -> str | None:
    """``link`` made absolute against ``base_url``; None unless the result is http(s)."""
    if not isinstance(link, str) or not link.strip():
        return None
    try:
        absolute = urljoin(base_url, _CONTROL_CHARACTERS.sub("", link).strip())
    except ValueError:  # e.g. a malformed IPv6 host
        return None
    scheme, _, rest = absolute.partition(":")
    if scheme.lower() not in ("http", "https") or not rest.startswith("//"):
        return None
    return absolute


def _text_pieces(document: Any) -> Iterator[str]:
    """Text and tails in document order, with a paragraph break around block elements.

    Whitespace in the markup is insignificant (a newline is a space); only <br> breaks a line.
    """
    walker = etree.iterwalk(document, events=("start", "end"))
    for event, element in walker:
        tag = element.tag if isinstance(element.tag, str) else ""
        skipped = tag in _SKIPPED_TAGS
        if event == "start":
            if tag in _BLOCK_TAGS:
                yield _PARAGRAPH_BREAK
            if tag == "br":
                yield "\n"
            if skipped:
                walker.skip_subtree()
            elif element.text:
                yield _WHITESPACE.sub(" ", element.text)
        else:
            if tag in _BLOCK_TAGS:
                yield _PARAGRAPH_BREAK
            if element.tail:
                yield _WHITESPACE.sub(" ", element.tail)


def _tidy_paragraphs(text: str) -> str:
    """Collapse spaces within lines, drop blank lines, paragraphs separated by one blank line."""
    paragraphs = []
    for block in _BLANK_LINES.sub(_PARAGRAPH_BREAK, text).split(_PARAGRAPH_BREAK):
        lines = (_HORIZONTAL_SPACE.sub(" ", line).strip() for line in block.split("\n"))
        paragraph = "\n".join(line for line in lines if line)
        if paragraph:
            paragraphs.append(paragraph)
    return "\n\n".join(paragraphs)


def _title_text(text: str) -> str:
    """One line of plain text: markup left in a title ("<b>", "<script>") is stripped."""
    return _one_line(html_to_text(text) if _MARKUP.search(text) else text)


def _one_line(text: str) -> str:
    return " ".join(text.split())
