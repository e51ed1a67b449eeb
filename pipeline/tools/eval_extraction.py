"""Score article extraction on the real news pages of ``shared/corpora/news-pages``.

``python -m pipeline.tools.eval_extraction [CORPUS_DIR] [--pages]`` (``make eval-extraction``)
prints
F1, precision and recall for trafilatura alone, each candidate extractor and the chain, on the
tuning half, the held-out half and all pages; then how often the chain ran a second opinion
and which method it kept; then title and date checks. It exits 1 when the chain's F1 on all
pages is below the floor the test suite pins, or when the chain does not beat trafilatura
alone on the held-out half.

The metric is the article-extraction-benchmark's (see the corpus's SOURCE.md): per page,
``\\w+`` tokens become multisets of 4-token shingles; tp/fp/fn are normalised per page;
precision and recall are means over pages, and F1 is computed from those two means.

The halves: page ids sorted by their SHA-256, the first 62 are the tuning half (every rule
and threshold of pipeline.extract.chain was chosen looking at these only), the other 61 are
held out.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import os
import re
import statistics
import sys
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import cached_property
from pathlib import Path
from typing import Any

import justext  # type: ignore[import-untyped]  # ships no type hints
import trafilatura
from trafilatura.settings import Document

from pipeline.core.errors import ExtractionError
from pipeline.core.records import ExtractedPage
from pipeline.extract.chain import FIRST_ANSWER_KEPT, ChainResult, readability_text
from pipeline.extract.page import decode_html, explain_extraction
from pipeline.extract.structured import read_structured

DEFAULT_CORPUS = (
    Path(
        os.environ.get(
            "PIPELINE_CORPORA", Path(__file__).resolve().parents[3] / "shared" / "corpora"
        )
    )
    / "news-pages"
)
F1_FLOOR = 0.977  # the chain measured 0.9794 on all 123 pages; tests/test_extract.py gates on it
NOW = datetime(2025, 6, 1, tzinfo=UTC)  # after every page of the corpus: no date is "future"
TUNING_SIZE = 62

Scores = tuple[float, float, float]  # normalised tp, fp, fn of one page
_TOKEN = re.compile(r"\w+")
_URL_DATE = re.compile(r"/(20\d\d)[/-]?(0[1-9]|1[0-2])[/-]?(0[1-9]|[12]\d|3[01])(?:/|[^\d]|$)")


# --- the benchmark's metric -------------------------------------------------------------------


def shingles(text: str, size: int = 4) -> Counter[tuple[str, ...]]:
    tokens = _TOKEN.findall(text)
    windows = (tuple(tokens[i : i + size]) for i in range(max(1, len(tokens) - size + 1)))
    return Counter(window for window in windows if window)  # an empty text has none


def page_scores(truth: str, prediction: str) -> Scores:
    """Normalised tp, fp, fn of one page (the benchmark's string_shingle_matching)."""
    expected, predicted = shingles(truth), shingles(prediction)
    tp = sum((expected & predicted).values())
    fp = sum((predicted - expected).values())
    fn = sum((expected - predicted).values())
    total = tp + fp + fn
    return (tp / total, fp / total, fn / total) if total else (0.0, 0.0, 0.0)


def benchmark(scores: Iterable[Scores]) -> Scores:
    """(F1, precision, recall): F1 of the mean per-page precision and recall."""
    scores = list(scores)

    def precision(tp: float, fp: float, fn: float) -> float:
        return 1.0 if fp == fn == 0 else (0.0 if tp == fp == 0 else tp / (tp + fp))

    def recall(tp: float, fp: float, fn: float) -> float:
        return 1.0 if fp == fn == 0 else (0.0 if tp == fn == 0 else tp / (tp + fn))

    mean_precision = statistics.mean(precision(*s) for s in scores if s[0] + s[1] > 0)
    mean_recall = statistics.mean(recall(*s) for s in scores if s[0] + s[2] > 0)
    f1 = 2 * mean_precision * mean_recall / (mean_precision + mean_recall)
    return f1, mean_precision, mean_recall


# --- the corpus -------------------------------------------------------------------------------


@dataclass(frozen=True)
class CorpusPage:
    id: str
    url: str
    truth: str
    body: bytes
    tuning: bool  # in the half the chain was tuned on

    @cached_property
    def html(self) -> str:
        return decode_html(self.body)


def load_corpus(directory: Path = DEFAULT_CORPUS) -> list[CorpusPage]:
    """The pages sorted by id hash, the tuning half first."""
    truth = json.loads((directory / "ground-truth.json").read_text(encoding="utf-8"))
    ordered = sorted(truth, key=lambda page_id: hashlib.sha256(page_id.encode()).hexdigest())
    return [
        CorpusPage(
            id=page_id,
            url=truth[page_id]["url"],
            truth=truth[page_id]["articleBody"],
            body=gzip.decompress((directory / "html" / f"{page_id}.html.gz").read_bytes()),
            tuning=index < TUNING_SIZE,
        )
        for index, page_id in enumerate(ordered)
    ]


# --- the extractors compared ------------------------------------------------------------------


Outcome = tuple[ExtractedPage, ChainResult] | None  # None: ExtractionError


def extract(page: CorpusPage, *, chain: bool = True) -> Outcome:
    try:
        return explain_extraction(page.body, url=page.url, now=NOW, chain=chain)
    except ExtractionError:
        return None


def _trafilatura(**options: Any) -> Callable[[CorpusPage], str]:
    def run(page: CorpusPage) -> str:
        document = trafilatura.bare_extraction(
            page.html, url=page.url, include_comments=False, include_tables=True, **options
        )
        return str(document.text or "") if isinstance(document, Document) else ""

    return run


def _readability(page: CorpusPage) -> str:
    return readability_text(page.html)


def _justext(page: CorpusPage) -> str:
    stoplist = frozenset().union(*map(justext.get_stoplist, justext.get_stoplists()))
    paragraphs = justext.justext(page.html.encode(), stoplist)
    return "\n".join(paragraph.text for paragraph in paragraphs if not paragraph.is_boilerplate)


def _json_ld(page: CorpusPage) -> str:
    tree = trafilatura.load_html(page.html)
    return (read_structured(tree).article_body or "") if tree is not None else ""


ALONE = "trafilatura alone (before the chain: precision, built-in fallback)"
CHAIN = "chain"
CANDIDATES: dict[str, Callable[[CorpusPage], str]] = {
    "trafilatura precision, fast (chain's first answer)": _trafilatura(
        favor_precision=True, fast=True
    ),
    "trafilatura default": _trafilatura(),
    "trafilatura recall": _trafilatura(favor_recall=True),
    "readability-lxml": _readability,
    "jusText": _justext,
    "JSON-LD articleBody (pages without one score 0)": _json_ld,
}


# --- report -----------------------------------------------------------------------------------


def score_row(pages: list[CorpusPage], texts: dict[str, str]) -> list[Scores]:
    """(F1, P, R) on the tuning half, the held-out half and all pages."""
    halves = ([p for p in pages if p.tuning], [p for p in pages if not p.tuning], pages)
    return [benchmark(page_scores(p.truth, texts[p.id]) for p in half) for half in halves]


def markdown_table(rows: dict[str, list[Scores]]) -> str:
    header = (
        "| method | tuning F1 | P | R | held-out F1 | P | R | all F1 | P | R |\n"
        "|---|---|---|---|---|---|---|---|---|---|"
    )
    lines = [
        f"| {name} | " + " | ".join(f"{value:.4f}" for scores in row for value in scores) + " |"
        for name, row in rows.items()
    ]
    return "\n".join([header, *lines])


def url_date(url: str) -> date | None:
    match = _URL_DATE.search(url)
    if match is None:
        return None
    try:
        return date(*map(int, match.groups()))
    except ValueError:
        return None


def field_checks(pages: list[CorpusPage], outcomes: dict[str, dict[str, Outcome]]) -> list[str]:
    """Title and date checks where the corpus allows them: it has neither title nor date, so
    the references are the page's own <h1> and the date in its URL (both imperfect)."""
    lines = []
    headings = {page.id: _only_heading(page) for page in pages}
    for name, by_page in outcomes.items():
        checked = [(by_page[p.id], headings[p.id]) for p in pages if headings[p.id]]
        same = sum(1 for o, h1 in checked if o and _normal(o[0].title or "") == h1)
        lines.append(f"title ({name}): equals the page's only <h1> on {same}/{len(checked)}")
    dated = [(page, day) for page in pages if (day := url_date(page.url)) is not None]
    for name, by_page in outcomes.items():
        found = sum(1 for page in pages if (o := by_page[page.id]) and o[0].published)
        close = sum(1 for page, day in dated if _published_near(by_page[page.id], day))
        lines.append(
            f"date ({name}): found on {found}/{len(pages)} pages; within a day of the date in "
            f"the URL on {close}/{len(dated)} pages whose URL has one"
        )
    return lines


def _only_heading(page: CorpusPage) -> str | None:
    tree = trafilatura.load_html(page.html)
    headings = {_normal(h1.text_content()) for h1 in tree.iter("h1")} if tree is not None else set()
    headings.discard("")
    return headings.pop() if len(headings) == 1 else None


def _published_near(outcome: Outcome, day: date) -> bool:
    published = outcome[0].published if outcome else None
    return published is not None and abs(published.date() - day) <= _DAY


_DAY = timedelta(days=1)


def _normal(text: str) -> str:
    return " ".join(_TOKEN.findall(text.casefold()))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pipeline.tools.eval_extraction")
    parser.add_argument("corpus", nargs="?", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--pages", action="store_true", help="print per-page F1 of the chain")
    args = parser.parse_args(argv)
    pages = load_corpus(args.corpus)
    outcomes = {
        ALONE: {page.id: extract(page, chain=False) for page in pages},
        CHAIN: {page.id: extract(page) for page in pages},
    }
    texts = {name: {p.id: run(p) for p in pages} for name, run in CANDIDATES.items()}
    for name, by_page in outcomes.items():
        texts[name] = {page_id: (o[0].text if o else "") for page_id, o in by_page.items()}
    order = [ALONE, *CANDIDATES, CHAIN]
    rows = {name: score_row(pages, texts[name]) for name in order}
    print(f"news-pages: {len(pages)} pages, tuning half {TUNING_SIZE}, held-out half "
          f"{len(pages) - TUNING_SIZE}")  # fmt: skip
    print(markdown_table(rows))
    print(_chain_summary(outcomes[CHAIN]))
    for line in field_checks(pages, outcomes):
        print(line)
    if args.pages:
        _print_pages(pages, texts, outcomes[CHAIN])
    chain_f1, held_f1, alone_held_f1 = rows[CHAIN][2][0], rows[CHAIN][1][0], rows[ALONE][1][0]
    if chain_f1 < F1_FLOOR or held_f1 <= alone_held_f1:
        print(f"FAIL: chain F1 {chain_f1:.4f} (floor {F1_FLOOR}); held-out {held_f1:.4f} vs "
              f"trafilatura alone {alone_held_f1:.4f}", file=sys.stderr)  # fmt: skip
        return 1
    return 0


def _chain_summary(outcomes: dict[str, Outcome]) -> str:
    second = sum(1 for o in outcomes.values() if o and o[1].reason != FIRST_ANSWER_KEPT)
    methods = Counter(o[0].extractor if o else "no text" for o in outcomes.values())
    listed = ", ".join(f"{name} {count}" for name, count in methods.most_common())
    return f"chain: second opinion run on {second}/{len(outcomes)} pages; text from {listed}"


def _print_pages(
    pages: list[CorpusPage], texts: dict[str, dict[str, str]], outcomes: dict[str, Outcome]
) -> None:
    for page in pages:
        chain_scores = page_scores(page.truth, texts[CHAIN][page.id])
        alone_scores = page_scores(page.truth, texts[ALONE][page.id])
        method = o[1].method if (o := outcomes[page.id]) else "no text"
        half = "tuning" if page.tuning else "held-out"
        print(f"{page.id[:12]} {half:8} {method:24} chain {_f1(chain_scores):.3f} "
              f"alone {_f1(alone_scores):.3f}")  # fmt: skip


def _f1(scores: Scores) -> float:
    tp, fp, fn = scores
    return 2 * tp / (2 * tp + fp + fn) if tp else 0.0


if __name__ == "__main__":
    sys.exit(main())
