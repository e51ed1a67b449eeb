"""The extraction chain: trafilatura first, a second opinion only when its answer looks weak.

Every rule and threshold here was chosen on the tuning half of ``shared/corpora/news-pages``
(``python -m pipeline.tools.eval_extraction`` prints the figures for both halves); none names
a site.

1. **trafilatura** (``favor_precision``, ``fast``) gives the first answer. ``fast`` skips
   trafilatura's built-in fallback (its bundled readability and jusText copies run on *every*
   page); the chain runs the real readability-lxml instead, and only when needed, which pays for
   the second opinion.
2. **Weak-answer signals** decide whether a second opinion is worth its CPU
   (:func:`weak_signals`): the answer is short; it covers little of the page's paragraph text
   (an article split over several containers); its first or last line does not read like
   article prose (a heading, a byline, a "follow us" line, a related-story link); or the page's
   own JSON-LD ``articleBody`` disagrees with it. A JSON-LD body that agrees with the answer
   confirms it and nothing else runs.
3. **The decision** (:func:`decide`) compares the answers by agreement, measured as the share
   of one text's 4-word shingles found in the other (the benchmark's unit):
   - the first answer is a fragment of the second (under a quarter of its length): take the
     second, trafilatura picked a caption or a teaser;
   - the second holds all of the first and is at least twice as long: take the second,
     trafilatura kept one of several article containers;
   - otherwise keep the first answer and drop its leading and trailing lines that no second
     opinion contains: boilerplate sits at the edges (headline repeats, bylines, newsletter and
     social-media lines, "about the company" blurbs, related links), while lines missing from
     the second opinion in the middle (embedded posts, quotes) are usually the article.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import lxml.html
import readability  # type: ignore[import-untyped]  # ships no type hints

from pipeline.extract.structured import StructuredData

TRAFILATURA = "trafilatura"
READABILITY = "readability"
JSON_LD = "json-ld"
TRIMMED = "trafilatura+readability"
FIRST_ANSWER_KEPT = "first answer looks right"  # the reason when no second opinion ran

SHORT_WORDS = 150  # answers shorter than this are often a teaser or a caption
LOW_PAGE_COVERAGE = 0.5  # share of the page's <p> words an article normally has
PROSE_LINE_WORDS = 8  # edge lines shorter than this are headings, bylines or links
FRAGMENT_RATIO = 0.25  # first answer under this share of the second one: a fragment
SUPERSET_RATIO = 2.0  # second answer this many times longer, holding the first: more article
HOLDS = 0.9  # share of shingles found in the other text that counts as "holds"
AGREES = 0.95  # both ways: the two answers are the same article text
SAME_ARTICLE = 0.8  # share of the second answer inside the first: both found the same article
LINE_SUPPORTED = 0.5  # share of a line's shingles another answer must contain

_WORD = re.compile(r"\w+")
_SENTENCE_END = re.compile(r"""[.!?…:;"'”’)\]]$""")
_BLOCK_TAGS = (
    "p", "div", "br", "li", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "pre", "tr",
    "section", "article", "figcaption", "dt", "dd", "table",
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class ChainResult:
    """The chosen article text, the method that produced it and why it was chosen."""

    text: str
    method: str
    reason: str


def weak_signals(text: str, *, page_words: int, structured: StructuredData) -> list[str]:
    """Why the first answer may be wrong; empty when it looks right."""
    if structured.article_body and agree(text, structured.article_body):
        return []
    reasons = []
    words = word_count(text)
    if words < SHORT_WORDS:
        reasons.append("short")
    if page_words and words < LOW_PAGE_COVERAGE * page_words:
        reasons.append("low page coverage")
    lines = text.split("\n")
    if not all(map(_reads_like_prose, [*lines[:1], *lines[-2:]])):
        reasons.append("edge line is not prose")
    if structured.article_body:
        reasons.append("structured body disagrees")
    return reasons


def decide(first: str, others: dict[str, str]) -> ChainResult:
    """Pick or repair the first answer (trafilatura's) given second opinions by method."""
    opinions = {method: text for method, text in others.items() if word_count(text)}
    words = word_count(first)
    for method, other in opinions.items():
        if words < FRAGMENT_RATIO * word_count(other):
            return ChainResult(other, method, "first answer is a fragment")
    for method, other in opinions.items():
        if word_count(other) >= SUPERSET_RATIO * words and containment(first, other) >= HOLDS:
            return ChainResult(other, method, "second answer holds the first and more")
    references = [text for text in opinions.values() if containment(text, first) >= SAME_ARTICLE]
    trimmed = trim_unsupported_edges(first, references)
    if trimmed != first:
        return ChainResult(trimmed, TRIMMED, "edge lines no second opinion has were dropped")
    return ChainResult(first, TRAFILATURA, "second opinion agrees")


def trim_unsupported_edges(text: str, references: Sequence[str]) -> str:
    """``text`` without leading and trailing lines that none of ``references`` contains."""
    if not references:
        return text
    supports = [(_shingles(reference), _padded_words(reference)) for reference in references]

    def supported(line: str) -> bool:
        return any(_line_supported(line, shingles, words) for shingles, words in supports)

    lines = text.split("\n")
    first = next((i for i, line in enumerate(lines) if supported(line)), None)
    if first is None:
        return text  # nothing in common: no basis for cutting anything
    last = next(i for i in range(len(lines) - 1, first - 1, -1) if supported(lines[i]))
    return "\n".join(lines[first : last + 1])


def readability_text(html: str) -> str:
    """readability-lxml's article, one block per line."""
    summary = readability.Document(html).summary(html_partial=True)
    if not summary.strip():
        return ""
    return block_text(lxml.html.fragment_fromstring(summary, create_parent="div"))


def block_text(element: Any) -> str:
    """The text of an lxml element, one line per block element, whitespace collapsed."""
    for block in element.iter(*_BLOCK_TAGS):
        block.tail = "\n" + (block.tail or "")
        if block.tag != "br":
            block.text = "\n" + (block.text or "")
    lines = (" ".join(line.split()) for line in str(element.text_content()).split("\n"))
    return "\n".join(line for line in lines if line)


def paragraph_words(tree: Any) -> int:
    """Words in the page's <p> elements: a cheap estimate of its running text."""
    return sum(word_count(str(text)) for text in tree.xpath("//p//text()"))


def agree(first: str, second: str) -> bool:
    return containment(first, second) >= AGREES and containment(second, first) >= AGREES


def containment(part: str, whole: str) -> float:
    """Share of ``part``'s 4-word shingles that ``whole`` contains (1.0 for an empty part)."""
    shingles = _shingles(part)
    total = sum(shingles.values())
    return sum((shingles & _shingles(whole)).values()) / total if total else 1.0


def word_count(text: str) -> int:
    return len(_WORD.findall(text))


def _reads_like_prose(line: str) -> bool:
    return word_count(line) >= PROSE_LINE_WORDS and bool(_SENTENCE_END.search(line))


def _line_supported(line: str, shingles: Counter[tuple[str, ...]], padded: str) -> bool:
    words = _WORD.findall(line.lower())
    if len(words) < 4:  # too short for a shingle: the words must appear in that order
        return not words or f" {' '.join(words)} " in padded
    own = _shingles(line)
    return sum((own & shingles).values()) >= LINE_SUPPORTED * sum(own.values())


def _shingles(text: str, size: int = 4) -> Counter[tuple[str, ...]]:
    words = _WORD.findall(text.lower())
    return Counter(tuple(words[i : i + size]) for i in range(len(words) - size + 1))


def _padded_words(text: str) -> str:
    return f" {' '.join(_WORD.findall(text.lower()))} "
