"""What an XML feed must pass before feedparser sees it: one decoding, no entities, a size cap.

Character encodings are decoded by feedparser's own RFC 3023 rules (HTTP charset, BOM, XML
declaration, then guesses) *before* the prolog check, so the check sees exactly the text the
parser will see, whatever encoding an attacker picks. A DOCTYPE whose internal subset declares
entities (billion laughs, quadratic blow-up, XXE) is refused. A plain external DTD reference is
allowed: feedparser turns off external entities and never loads DTDs.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from feedparser.encodings import convert_to_utf8

from pipeline.core.errors import FeedParseError

# feedparser spends tens of microseconds per element: 10 MB of "<x>" would cost minutes of CPU.
# 250,000 is 25 elements for each of 10,000 entries.
MAX_ELEMENTS = 250_000

_ENTITY_DECLARATION = re.compile(rb"<!\s*ENTITY", re.IGNORECASE)
_DOCTYPE = re.compile(rb"<!DOCTYPE", re.IGNORECASE)
# The root element starts at "<" + an ASCII word character: the same rule feedparser uses to
# split off the head it takes entity declarations from, so our prolog always covers its head.
_ELEMENT_START = re.compile(rb"<\w")
_DOCTYPE_TOKEN = re.compile(rb"\"[^\"]*\"|'[^']*'|<!--.*?-->|<\?.*?\?>|[\[\]>]", re.DOTALL)


def decode_to_utf8(body: bytes, content_type: str | None) -> tuple[bytes, str | None]:
    """Re-encode the body as UTF-8 exactly as feedparser would decode it (+ any warning)."""
    result: dict[str, Any] = {}
    headers = {"content-type": content_type} if content_type else {}
    try:
        utf8_body: bytes = convert_to_utf8(headers, body, result)
    except Exception as error:
        raise FeedParseError(f"not a feed: cannot decode: {error!r}") from error
    if not result.get("encoding"):
        raise FeedParseError(f"not a feed: {bozo_reason(result) or 'unknown encoding'}")
    return utf8_body, bozo_reason(result)


def bozo_reason(result: Mapping[str, Any]) -> str | None:
    """Why feedparser found the document malformed ("bozo"), or None if it did not."""
    if not result.get("bozo"):
        return None
    return str(result.get("bozo_exception") or "malformed document").strip() or "malformed"


def refuse_entity_declarations(document: bytes) -> None:
    # UTF-16 text mis-decoded as UTF-8 (a BOM without an encoding declaration) keeps its NULs
    # between characters: look at it without them too, whatever a lenient parser might do.
    views = (document, document.replace(b"\x00", b"")) if b"\x00" in document else (document,)
    if any(_ENTITY_DECLARATION.search(_prolog(view)) for view in views):
        raise FeedParseError("feed declares XML entities; refused")


def refuse_too_many_elements(document: bytes) -> None:
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
