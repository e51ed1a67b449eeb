"""HTML bytes -> the article's title, main text, author, date, language and canonical URL.

The text comes from the extraction chain (pipeline.extract.chain): trafilatura
(``favor_precision``, tables kept, comments dropped, chosen by measurement on
``shared/corpora/news-pages``), with readability-lxml and the page's JSON-LD ``articleBody`` as
second opinions when its answer looks weak. ``ExtractedPage.extractor`` records which method
gave the text: ``trafilatura``, ``readability``, ``json-ld`` or ``trafilatura+readability``
(trafilatura's text with boilerplate edges cut). A first line repeating a title is dropped
(the benchmark's bodies never start with the headline, and the title is stored on its own).

The fields prefer what the page declares (pipeline.extract.structured) over what is guessed:
title = JSON-LD ``headline``, else ``og:title``, else trafilatura's; authors = JSON-LD
``author`` names, else trafilatura's; date = JSON-LD ``datePublished``, else
``article:published_time``, else an Urdu dateline at the start of the text
(pipeline.extract.urdu_dates: htmldate knows no Urdu month and guesses a bare year there), else
htmldate (which reads <meta> and JSON data before the URL), never in the future and never
before 1995 (placeholders like 0001-01-01). language = the declared one, except for
an Arabic-script body, whose language is identified from the body (pipeline.extract.language:
Urdu pages are often labelled ``ar``, ``fa`` or nothing).

``extract_page`` is a top-level function taking and returning picklable values, so it can run
in a ``ProcessPoolExecutor``. It never lets a third-party exception escape: anything lxml,
htmldate or trafilatura raises becomes ``ExtractionError``; a failing readability leaves
trafilatura's answer standing.
"""

from __future__ import annotations

import codecs
import contextlib
import logging
import re
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urljoin

import charset_normalizer
import trafilatura
from trafilatura.settings import Document

from pipeline.core.clock import as_utc, utcnow
from pipeline.core.errors import ExtractionError
from pipeline.core.records import ExtractedPage
from pipeline.core.urls import is_http_url
from pipeline.extract.chain import (
    FIRST_ANSWER_KEPT,
    JSON_LD,
    READABILITY,
    TRAFILATURA,
    ChainResult,
    decide,
    paragraph_words,
    readability_text,
    weak_signals,
)
from pipeline.extract.language import body_language
from pipeline.extract.structured import StructuredData, read_structured
from pipeline.extract.urdu_dates import urdu_dateline
from pipeline.extract.version import EXTRACTOR_VERSION

log = logging.getLogger(__name__)

EXTRACTOR_NAME = "trafilatura"
# placeholders such as 0001-01-01 are not publication dates (htmldate's own lower bound)
EARLIEST_DATE = datetime(1995, 1, 1, tzinfo=UTC)
MIN_WORDS = 20  # fewer words than this is a teaser, a paywall or an error page, not an article
# More elements than this and the page is refused: extraction time grows faster than the
# element count (15 s for 40,000 links here), and articles come nowhere near it (the 123 pages
# of shared/corpora/news-pages have at most 1,737 tags).
MAX_ELEMENTS = 20_000
# <script>/<style> bodies longer than this are emptied before parsing: libxml2 ends the whole
# document at a text node of over 10,000,000 characters, losing the article after it.
MAX_RAW_TEXT = 1_000_000

_EXTRACTION_OPTIONS: dict[str, Any] = {
    "with_metadata": True,
    "include_comments": False,
    "include_tables": True,
    "favor_precision": True,
}
_DATE_FORMAT = "%Y-%m-%dT%H:%M:%S%z"
_META_SNIFF_BYTES = 4096
_META_CHARSET = re.compile(
    rb"""<meta[^>]*?charset\s*=\s*["']?\s*([-\w.:]+)""", re.IGNORECASE | re.DOTALL
)
_HEADER_CHARSET = re.compile(r"""charset\s*=\s*["']?\s*([-\w.:]+)""", re.IGNORECASE)
_BOMS = (  # UTF-32 before UTF-16: the UTF-32-LE BOM starts with the UTF-16-LE one
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
# Labels browsers decode as a superset (WHATWG Encoding Standard): pages labelled latin-1 are
# in practice windows-1252 ("smart quotes" in 0x80-0x9F), gb2312 pages are GBK, and so on.
_SUPERSETS = {
    "ascii": "cp1252",
    "iso8859_1": "cp1252",
    "iso8859_9": "cp1254",
    "iso8859_11": "cp874",
    "tis_620": "cp874",
    "gb2312": "gb18030",
    "gbk": "gb18030",
    "shift_jis": "cp932",
    "euc_kr": "cp949",
}
_UTF16_AND_32 = frozenset({"utf_16", "utf_16_le", "utf_16_be", "utf_32", "utf_32_le", "utf_32_be"})
_CONTROL_CHARACTERS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
# Chinese and Japanese are written without spaces: count about two characters as a word.
_UNSPACED_SCRIPT = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_UNSPACED_CHARACTER = re.compile(f"[{_UNSPACED_SCRIPT}]")
_SPACED_WORD = re.compile(f"[^\\W{_UNSPACED_SCRIPT}]+")
_LANGUAGE_TAG = re.compile(r"([A-Za-z]{2,3})(?:[-_][A-Za-z0-9]{1,8})*")


def extract_page(
    body: bytes,
    *,
    url: str,
    content_type: str | None = None,
    now: datetime | None = None,
    chain: bool = True,
) -> ExtractedPage:
    """Main content and metadata of an article page; raises ExtractionError.

    ``chain=False`` is trafilatura alone, as extracted before the chain existed (its built-in
    fallback, no structured data): the baseline ``pipeline.tools.eval_extraction`` and
    ``bench/extraction.py`` measure the chain against.
    """
    return explain_extraction(body, url=url, content_type=content_type, now=now, chain=chain)[0]


def explain_extraction(
    body: bytes,
    *,
    url: str,
    content_type: str | None = None,
    now: datetime | None = None,
    chain: bool = True,
) -> tuple[ExtractedPage, ChainResult]:
    """``extract_page`` with the chain's decision: which method gave the text and why."""
    moment = as_utc(now) if now is not None else utcnow()
    html = _without_giant_raw_text(decode_html(body, content_type))
    try:
        tree = trafilatura.load_html(html)
        if tree is None:
            raise ExtractionError("not an HTML document")
        if sum(1 for _ in tree.iter()) > MAX_ELEMENTS:
            raise ExtractionError(f"page has more than {MAX_ELEMENTS} elements; not extracted")
        structured = read_structured(tree) if chain else StructuredData()
        page_words = paragraph_words(tree) if chain else 0
        document = trafilatura.bare_extraction(
            tree,
            url=url,
            date_extraction_params=_date_parameters(moment, structured_first=chain),
            fast=chain,  # the chain brings its own fallback
            **_EXTRACTION_OPTIONS,
        )
        metadata = document if isinstance(document, Document) else Document()
        titles = [structured.headline, structured.og_title, _clean_line(metadata.title)]
        first = _without_headline(_clean_text(metadata.text), titles)
        result = (
            _run_chain(first, html, page_words, structured)
            if chain
            else ChainResult(first, TRAFILATURA, "chain off")
        )
        canonical_url = _canonical_url(tree, url)
        page_language = _page_language(tree)
    except ExtractionError:
        raise
    except Exception as error:  # lxml, htmldate and trafilatura raise many kinds
        raise ExtractionError(f"extraction failed: {error!r}") from error
    text = _without_headline(result.text, titles)
    if _word_count(text) < MIN_WORDS:
        raise ExtractionError("no article text found")
    page = ExtractedPage(
        title=next((title for title in titles if title), None),
        text=text,
        author="; ".join(structured.authors) or _clean_line(metadata.author),
        published=_first_published(
            [structured.published, urdu_dateline(text), metadata.date], moment
        ),
        language=body_language(text, _language_code(metadata.language) or page_language),
        canonical_url=canonical_url,
        extractor=result.method,
        extractor_version=EXTRACTOR_VERSION,
    )
    return page, result


def _run_chain(first: str, html: str, page_words: int, structured: StructuredData) -> ChainResult:
    """The first answer, or a better one when it looks weak (see pipeline.extract.chain)."""
    if not weak_signals(first, page_words=page_words, structured=structured):
        return ChainResult(first, TRAFILATURA, FIRST_ANSWER_KEPT)
    others = {}
    try:
        others[READABILITY] = readability_text(html)
    except Exception as error:  # a failed second opinion leaves the first answer standing
        log.info("readability failed: %r", error, extra={"stage": "extract"})
    if structured.article_body:
        others[JSON_LD] = structured.article_body
    return decide(first, others)


_RAW_TEXT_START = re.compile(r"<(script|style)\b[^>]*>", re.IGNORECASE)


def _without_giant_raw_text(html: str) -> str:
    """The page with every <script>/<style> body longer than MAX_RAW_TEXT emptied."""
    if len(html) <= MAX_RAW_TEXT:
        return html
    lowered = html.lower()
    pieces: list[str] = []
    position = 0
    for opening in _RAW_TEXT_START.finditer(html):
        if opening.start() < position:
            continue  # "<script" inside a body already dropped
        closing = lowered.find(f"</{opening.group(1).lower()}", opening.end())
        closing = len(html) if closing < 0 else closing
        if closing - opening.end() > MAX_RAW_TEXT:
            pieces.append(html[position : opening.end()])
            position = closing
    pieces.append(html[position:])
    return "".join(pieces)


def decode_html(body: bytes, content_type: str | None = None) -> str:
    """Decode an HTML body; never raises.

    Order: byte-order mark, UTF-8 if the body is valid UTF-8 beyond ASCII, the Content-Type
    charset, the page's own <meta> declaration in the first 4 KB, UTF-8, charset_normalizer's
    guess, and last windows-1252 with replacement characters. A declared charset is used only
    if the body decodes with it without errors.
    """
    for bom, encoding in _BOMS:
        if body.startswith(bom):
            return body[len(bom) :].decode(encoding, errors="replace")
    if not body.isascii():
        # A wrong charset label is common; text in another charset that happens to be valid
        # UTF-8 beyond ASCII is not: trusting the label would store mojibake.
        with contextlib.suppress(UnicodeDecodeError):
            return body.decode("utf-8")
    header_match = _HEADER_CHARSET.search(content_type or "")
    meta_match = _META_CHARSET.search(body[:_META_SNIFF_BYTES])
    candidates = [
        *_decodings(header_match.group(1) if header_match else None, from_meta=False),
        *_decodings(meta_match.group(1).decode("ascii") if meta_match else None, from_meta=True),
        "utf-8",
    ]
    for encoding in candidates:
        try:
            return body.decode(encoding)
        except (UnicodeError, LookupError):  # LookupError: "rot13" is no text encoding
            continue
    try:
        return body.decode(_guessed_encoding(body), errors="replace")
    except (UnicodeError, LookupError):
        return body.decode("cp1252", errors="replace")


def _decodings(label: str | None, *, from_meta: bool) -> list[str]:
    """Python codecs to try for a declared charset label, superset first."""
    if not label:
        return []
    try:
        name = codecs.lookup(label).name.replace("-", "_")
    except LookupError:
        return []
    if from_meta and name in _UTF16_AND_32:
        return []  # a page that can declare itself in ASCII is not UTF-16 (WHATWG says so too)
    superset = _SUPERSETS.get(name)
    return [superset, name] if superset else [name]


def _guessed_encoding(body: bytes) -> str:
    try:
        best = charset_normalizer.from_bytes(body[:65536]).best()
    except Exception:  # a guess is optional: windows-1252 always decodes
        best = None
    return best.encoding if best is not None else "cp1252"


def _date_parameters(moment: datetime, *, structured_first: bool) -> dict[str, Any]:
    """htmldate settings: the publication (not modification) date, with its time of day.

    htmldate compares a page's local wall-clock time, zone ignored, with ``max_date``: a
    day of slack keeps today's articles from zones ahead of UTC; ``_published`` then drops
    anything after ``moment`` exactly.
    """
    return {
        "original_date": True,
        "extensive_search": True,
        # the page's <meta> and JSON-LD dates before a date guessed from the URL (no time of
        # day, sometimes a folder's date); trafilatura alone asks the URL first
        "deferred_url_extractor": structured_first,
        "max_date": (moment + timedelta(days=1)).replace(tzinfo=None),
        "outputformat": _DATE_FORMAT,
    }


def _first_published(values: list[object], moment: datetime) -> datetime | None:
    """The first date that parses and is not in the future: the page's structured date, then
    htmldate's (which reads <meta> and JSON-LD before it guesses from the URL or the text)."""
    return next((date for date in (_published(value, moment) for value in values) if date), None)


def _published(value: object, moment: datetime) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    try:
        published = as_utc(parsed)  # a date without a zone is taken to be UTC
    except OverflowError:  # 0001-01-01 with a zone east of UTC
        return None
    return published if EARLIEST_DATE <= published <= moment else None


def _canonical_url(tree: Any, url: str) -> str | None:
    """<link rel=canonical> or og:url, made absolute against the page URL; http(s) only."""
    candidates = [
        *tree.xpath(
            "//link[contains(concat(' ', translate(normalize-space(@rel), "
            "'CANONICAL', 'canonical'), ' '), ' canonical ')]/@href"
        ),
        *tree.xpath("//meta[@property='og:url' or @name='og:url']/@content"),
    ]
    for candidate in candidates:
        absolute = _absolute(str(candidate), url)
        if absolute is not None:
            return absolute
    return None


def _absolute(link: str, base: str) -> str | None:
    link = _CONTROL_CHARACTERS.sub("", link).strip()
    if not link:
        return None
    try:
        absolute = urljoin(base, link)
    except ValueError:
        return None
    return absolute if is_http_url(absolute) else None


def _page_language(tree: Any) -> str | None:
    """The <html lang> attribute, else a content-language or og:locale <meta>."""
    values = [
        tree.get("lang"),
        tree.get("{http://www.w3.org/XML/1998/namespace}lang"),
        *tree.xpath("//meta[translate(@http-equiv, 'CONTENTLANGUAGE', 'contentlanguage')"
                    "='content-language']/@content"),
        *tree.xpath("//meta[@property='og:locale']/@content"),
    ]  # fmt: skip
    return next((code for code in map(_language_code, values) if code), None)


def _language_code(value: object) -> str | None:
    """The primary language subtag, lower-cased ("en-US" -> "en"), or None."""
    if not isinstance(value, str):
        return None
    match = _LANGUAGE_TAG.fullmatch(value.strip())
    return match.group(1).lower() if match else None


def _without_headline(text: str, titles: list[str | None]) -> str:
    """The text without a first line that repeats a title: the title is stored apart, and
    the same story under another headline should give the same text."""
    first_line, _, rest = text.partition("\n")
    if any(title and first_line.casefold() == title.casefold() for title in titles):
        return rest
    return text


def _word_count(text: str) -> int:
    unspaced = len(_UNSPACED_CHARACTER.findall(text))
    return len(_SPACED_WORD.findall(text)) + unspaced // 2


def _clean_text(value: object) -> str:
    if not isinstance(value, str):
        return ""
    lines = (" ".join(line.split()) for line in _CONTROL_CHARACTERS.sub("", value).split("\n"))
    return "\n".join(line for line in lines if line)


def _clean_line(value: object) -> str | None:
    if not isinstance(value, str):
        return None
    return " ".join(_CONTROL_CHARACTERS.sub("", value).split()) or None
