"""How many candidates (possible mentions) a day of the shipped feeds would give analysts.

``python -m pipeline.tools.candidate_volume [CORPORA_DIR] [--config feeds.yaml]`` matches real
text with the shipped watchlist: the article pages of ``news-pages/`` (extracted by the
pipeline's extractor) and every entry of the real publishers' feeds in ``feeds/real-news/``
(title and feed text, as ingest stores a feed-only item). It prints flags and candidates per
1,000 articles, the items per feed per day those feeds publish (entries over the span of their
dates), and the projection: candidates per day = candidate rate x items per feed per day x the
number of feeds in the config. The real corpora are mostly off-topic for the watchlist, as most
of a day's news is: this is the volume analysts see on an ordinary day.
"""

from __future__ import annotations

import argparse
import gzip
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from pipeline.core.config import SHIPPED_WATCHLIST, load_config
from pipeline.core.errors import PipelineError
from pipeline.extract.page import extract_page
from pipeline.match.matcher import Matcher
from pipeline.match.watchlist import load_watchlist
from pipeline.sources.feeds import parse_feed

DEFAULT_CORPORA = Path(__file__).resolve().parents[3] / "shared" / "corpora"
MIN_SPAN_DAYS = 1.0  # a feed whose entries span less counts as one day's worth


@dataclass(slots=True)
class Volume:
    articles: int = 0
    flagged: int = 0
    candidates: int = 0
    by_entity: Counter[str] = field(default_factory=Counter)
    items_per_feed_day: list[float] = field(default_factory=list)

    def add(self, matcher: Matcher, title: str, text: str) -> None:
        matches, candidates = matcher.match_all(title, text)
        self.articles += 1
        self.flagged += bool(matches)
        self.candidates += len(candidates)
        self.by_entity.update(c.entity_id for c in candidates)


def measure(corpora: Path, matcher: Matcher) -> Volume:
    volume = Volume()
    for page in sorted((corpora / "news-pages" / "html").glob("*.html.gz")):
        try:
            extracted = extract_page(gzip.decompress(page.read_bytes()), url="https://example.org/")
        except PipelineError:
            continue
        volume.add(matcher, extracted.title or "", extracted.text)
    for feed in sorted((corpora / "feeds" / "real-news").rglob("*")):
        if feed.suffix not in (".xml", ".rss", ".atom", ".json") or "expected" in feed.parts:
            continue
        try:
            parsed = parse_feed(feed.read_bytes(), base_url="https://example.org/")
        except PipelineError:
            continue
        for entry in parsed.entries:
            volume.add(matcher, entry.title, entry.content or entry.summary)
        dates = sorted(e.published for e in parsed.entries if e.published is not None)
        if len(dates) >= 2:
            span = max(MIN_SPAN_DAYS, (dates[-1] - dates[0]).total_seconds() / 86400)
            volume.items_per_feed_day.append(len(dates) / span)
    return volume


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pipeline.tools.candidate_volume")
    parser.add_argument("corpora", nargs="?", type=Path, default=DEFAULT_CORPORA)
    parser.add_argument("--config", type=Path, default=Path("feeds.yaml"))
    args = parser.parse_args(argv)
    try:
        feeds = len(load_config(args.config).feeds)
        volume = measure(args.corpora, Matcher(load_watchlist(SHIPPED_WATCHLIST)))
    except PipelineError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    rates = volume.items_per_feed_day
    per_feed_day = sum(rates) / len(rates) if rates else 0.0
    per_article = volume.candidates / volume.articles if volume.articles else 0.0
    # None seen in n articles: 3/n is the 95% upper bound of the rate ("rule of three").
    upper = max(per_article, 3 / volume.articles) if volume.articles else 0.0
    daily = feeds * per_feed_day
    print(f"articles matched: {volume.articles} (news pages and real feed entries)")
    print(
        f"flagged: {volume.flagged}; candidates: {volume.candidates} "
        f"({1000 * per_article:.2f} per 1,000 articles) {dict(volume.by_entity)}"
    )
    print(f"items per feed per day (mean of {len(rates)} feeds): {per_feed_day:.1f}")
    print(
        f"projection for {feeds} feeds: {daily:.0f} articles/day, "
        f"{daily * per_article:.2f} candidates/day (95% upper bound {daily * upper:.2f})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
