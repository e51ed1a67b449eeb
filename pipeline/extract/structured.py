"""What a page says about itself: JSON-LD ``Article`` objects and Open Graph ``<meta>`` tags.

Publishers write these for search engines and social sites, so when present they are usually
exact: the headline without the site name, the publication date with its time zone, the
authors, and sometimes the whole ``articleBody``. The extraction chain uses the body as a
second opinion and the fields before anything guessed from the page layout or the URL.

Only objects whose ``@type`` is an article type count (``NewsArticle``, ``BlogPosting``, ...):
a page's ``WebPage``, ``Organization`` or ``BreadcrumbList`` objects carry dates and names
that are not the article's. Reading never raises: broken JSON, odd types and markup inside
strings are skipped or cleaned.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import lxml.html

ARTICLE_TYPES = frozenset(
    {
        "Article",
        "NewsArticle",
        "ReportageNewsArticle",
        "AnalysisNewsArticle",
        "OpinionNewsArticle",
        "BackgroundNewsArticle",
        "ReviewNewsArticle",
        "AskPublicNewsArticle",
        "BlogPosting",
        "LiveBlogPosting",
        "SocialMediaPosting",
        "Report",
        "ScholarlyArticle",
        "TechArticle",
    }
)
_MAX_DEPTH = 8  # JSON-LD nests (@graph, mainEntity, ...), but never deeply in practice
_MARKUP = re.compile(r"<[a-zA-Z/!][^>]*>")
_BLOCK_TAGS = frozenset(
    {"p", "div", "br", "li", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "tr", "section"}
)


@dataclass(frozen=True, slots=True)
class StructuredData:
    """The article fields a page declares; every field is optional."""

    headline: str | None = None
    article_body: str | None = None  # plain text, one paragraph per line
    date_published: str | None = None  # as written (ISO 8601 by schema.org's rules)
    authors: tuple[str, ...] = ()
    og_title: str | None = None
    og_published: str | None = None  # <meta property="article:published_time">

    @property
    def title(self) -> str | None:
        return self.headline or self.og_title

    @property
    def published(self) -> str | None:
        return self.date_published or self.og_published


def read_structured(tree: Any) -> StructuredData:
    """The JSON-LD article object with the longest body (else the first one) and Open Graph."""
    articles = [item for item in _json_ld_objects(tree) if _is_article(item)]
    best = max(articles, key=lambda item: len(_text(item.get("articleBody")) or ""), default={})
    return StructuredData(
        headline=_line(best.get("headline")),
        article_body=_body_text(best.get("articleBody")),
        date_published=_line(best.get("datePublished")),
        authors=_names(best.get("author")),
        og_title=_meta(tree, "og:title"),
        og_published=_meta(tree, "article:published_time"),
    )


def _json_ld_objects(tree: Any) -> Iterator[dict[str, Any]]:
    for script in tree.xpath("//script[@type='application/ld+json']/text()"):
        try:
            data = json.loads(str(script), strict=False)  # raw newlines in strings are common
        except (ValueError, RecursionError):
            continue
        yield from _objects(data, depth=0)


def _objects(data: object, depth: int) -> Iterator[dict[str, Any]]:
    if depth > _MAX_DEPTH:
        return
    if isinstance(data, list):
        for item in data:
            yield from _objects(item, depth + 1)
    elif isinstance(data, dict):
        yield data
        for key in ("@graph", "mainEntity", "mainEntityOfPage", "itemListElement"):
            yield from _objects(data.get(key), depth + 1)


def _is_article(item: dict[str, Any]) -> bool:
    kind = item.get("@type")
    kinds = kind if isinstance(kind, list) else [kind]
    return any(isinstance(name, str) and name in ARTICLE_TYPES for name in kinds)


def _names(value: object) -> tuple[str, ...]:
    """schema.org authors: a name, a Person/Organization object, or a list of either."""
    values = value if isinstance(value, list) else [value]
    names = (_line(item.get("name") if isinstance(item, dict) else item) for item in values)
    return tuple(dict.fromkeys(name for name in names if name and "://" not in name))


def _body_text(value: object) -> str | None:
    """articleBody as plain text: some publishers put HTML or entities in it."""
    text = _text(value)
    if text is None:
        return None
    if _MARKUP.search(text):
        text = _html_to_text(text)
    lines = (" ".join(line.split()) for line in html.unescape(text).split("\n"))
    return "\n".join(line for line in lines if line) or None


def _html_to_text(markup: str) -> str:
    try:
        fragment = lxml.html.fragment_fromstring(markup, create_parent="div")
    except (ValueError, lxml.etree.ParserError):
        return _MARKUP.sub(" ", markup)
    for element in fragment.iter(*_BLOCK_TAGS):
        element.tail = "\n" + (element.tail or "")
    return str(fragment.text_content())


def _meta(tree: Any, name: str) -> str | None:
    values = tree.xpath("//meta[@property=$name or @name=$name]/@content", name=name)
    return next((line for line in map(_line, values) if line), None)


def _text(value: object) -> str | None:
    if isinstance(value, list):  # some sites split the body into a list of paragraphs
        parts = [part for part in value if isinstance(part, str)]
        return "\n".join(parts) if parts else None
    return value if isinstance(value, str) and value.strip() else None


def _line(value: object) -> str | None:
    text = _text(value)
    return " ".join(html.unescape(text).split()) or None if text else None
