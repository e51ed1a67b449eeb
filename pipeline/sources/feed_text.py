"""Plain text and links of feed entries: HTML fragments to text, titles, GUIDs and links.

Shared by the XML (feeds) and JSON Feed (json_feed) parsers, so both clean text the same way.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import urljoin

import lxml.html
from lxml import etree

# C0/C1 controls, and lone UTF-16 surrogates (JSON "\ud800"), which no database can store.
CONTROL_CHARACTERS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")
# A tag or comment start: a title that has one is read as HTML, as feed readers do.
_MARKUP = re.compile(r"<[A-Za-z/!]")
_WHITESPACE = re.compile(r"\s+")
_HORIZONTAL_SPACE = re.compile(r"[^\S\n]+")
_BLANK_LINES = re.compile(r"\n\s*\n")

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


def html_to_text(fragment: str) -> str:
    """Plain text of an HTML fragment: entities decoded, paragraphs separated by a blank line."""
    cleaned = CONTROL_CHARACTERS.sub("", fragment)
    if not cleaned.strip():
        return ""
    try:
        document = lxml.html.document_fromstring(
            cleaned.encode("utf-8", "replace"), parser=_HTML_PARSER
        )
    except (etree.LxmlError, ValueError):  # "Document is empty": markup without any text
        return ""
    return tidy_paragraphs("".join(_text_pieces(document)))


def plain_text(text: str) -> str:
    """Text that is already plain: control characters removed, paragraphs tidied."""
    return tidy_paragraphs(CONTROL_CHARACTERS.sub("", text))


def tidy_paragraphs(text: str) -> str:
    """Collapse spaces within lines, drop blank lines, paragraphs separated by one blank line."""
    paragraphs = []
    for block in _BLANK_LINES.sub(_PARAGRAPH_BREAK, text).split(_PARAGRAPH_BREAK):
        lines = (_HORIZONTAL_SPACE.sub(" ", line).strip() for line in block.split("\n"))
        paragraph = "\n".join(line for line in lines if line)
        if paragraph:
            paragraphs.append(paragraph)
    return "\n\n".join(paragraphs)


def title_text(text: str) -> str:
    """One line of plain text: markup left in a title ("<b>", "<script>") is stripped."""
    return one_line(html_to_text(text) if _MARKUP.search(text) else text)


def one_line(text: str) -> str:
    return " ".join(text.split())


def clean_guid(value: object) -> str | None:
    if isinstance(value, int | float) and not isinstance(value, bool):
        value = str(value)  # JSON Feeds in the wild use numeric ids
    if not isinstance(value, str):
        return None
    return CONTROL_CHARACTERS.sub("", value).strip() or None


def absolute_http_link(link: object, base_url: str) -> str | None:
    """``link`` made absolute against ``base_url``; None unless the result is http(s)."""
    if not isinstance(link, str) or not link.strip():
        return None
    try:
        absolute = urljoin(base_url, CONTROL_CHARACTERS.sub("", link).strip())
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
