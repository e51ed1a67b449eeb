"""The benchmark's workload: F feeds x E entries spread over 50 loopback sites.

Everything is a pure function of (articles, seed), so the server process and the bench
process agree on it without talking. Entry ``k`` of the workload is one of:

- an **original**: page ``templates[k % pages]`` at ``http://<site k % 50>/news/<k>`` with a
  sentence of its own (so its text is unique);
- a **syndicated copy** of an earlier original ``o``: the same page and sentence as ``o``, at
  ``/wire/<k>`` on another site (a content-hash duplicate);
- a **tracking-link variant** of an earlier original: ``o``'s URL with utm_* parameters
  (one canonical URL: never fetched twice).

Cycling 113 pages would make every later copy of a page a near-duplicate of the first (the
pipeline's near-duplicate detection is right to say so), so each original's sentence is
followed by filler text of its own, 60% of the page's article length, drawn from a word-bigram
chain over the corpus texts: two cycles of one page then share under half their words.
A share of originals names a watchlist entity in its sentence, so matching and flags do work.
"""

from __future__ import annotations

import itertools
import random
from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from functools import cache
from typing import Literal
from xml.sax.saxutils import escape

HOSTS = tuple(f"127.0.0.{n}" for n in range(2, 52))  # loopback on Linux: 127.0.0.0/8
ENTRIES_PER_FEED = 40
SYNDICATED_SHARE = 0.10
TRACKING_SHARE = 0.05
FLAGGED_SHARE = 0.05
FILLER_SHARE = 1.0  # filler words per word of the page's own article text
_DEFAULT_WORDS = 600
STEADY_FEEDS = 2000

Kind = Literal["original", "syndicated", "tracking"]

_CITIES = ("KARACHI", "ISLAMABAD", "LAHORE", "DUBAI", "LONDON", "WASHINGTON", "BEIJING", "DELHI")
_DESKS = ("Reuters", "AP", "AFP", "staff", "Bloomberg", "Dawn", "our correspondent")
_WATCHLIST_SENTENCES = (
    "Analysts tied the case to Pakistan's National Development Complex, designated by the "
    "United States under Executive Order 13382.",
    "The shipment was traced to Akhtar and Sons Private Limited, a Karachi firm under US "
    "sanctions.",
    "Officials said Rockside Enterprise and Affiliates International of Karachi had supplied "
    "parts for the ballistic missile program.",
)
_EPOCH = datetime(2025, 1, 6, 6, 0, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class Entry:
    index: int
    kind: Kind
    source: int  # the original it copies (itself for an original)
    link: str
    title: str


class Workload:
    def __init__(
        self,
        articles: int,
        *,
        port: int,
        pages: int = 1,
        page_words: Sequence[int] | None = None,
        seed: int = 7,
    ) -> None:
        self.articles = articles
        self.feeds = max(1, -(-articles // ENTRIES_PER_FEED))
        self.port = port
        # article words of each page template (what the filler is sized on)
        self.page_words = list(page_words) if page_words else [_DEFAULT_WORDS] * pages
        self.pages = len(self.page_words)
        self.seed = seed

    @classmethod
    def on_corpus(cls, articles: int, *, port: int, seed: int = 7) -> Workload:
        """The workload over the corpus page templates (``bench.corpus.templates``)."""
        from bench.corpus import templates

        words = [template.words for template in templates()]
        return cls(articles, port=port, page_words=words, seed=seed)

    # ---- entries ----------------------------------------------------------------------------

    def kind(self, k: int) -> Kind:
        draw = random.Random(f"{self.seed}:kind:{k}").random()
        if k < ENTRIES_PER_FEED:  # the first feed is all originals: copies need a source
            return "original"
        if draw < SYNDICATED_SHARE:
            return "syndicated"
        if draw < SYNDICATED_SHARE + TRACKING_SHARE:
            return "tracking"
        return "original"

    def source(self, k: int) -> int:
        """The original that entry k shows (k itself for an original)."""
        if self.kind(k) == "original":
            return k
        rng = random.Random(f"{self.seed}:source:{k}")
        while True:
            candidate = rng.randrange(0, k)
            if self.kind(candidate) == "original":
                return candidate

    def url(self, path: str, site: int) -> str:
        return f"http://{HOSTS[site % len(HOSTS)]}:{self.port}{path}"

    def entry(self, k: int) -> Entry:
        kind, source = self.kind(k), self.source(k)
        if kind == "original":
            link = self.url(f"/news/{k}", k)
        elif kind == "syndicated":
            link = self.url(f"/wire/{k}", k + 17)
        else:
            link = self.url(f"/news/{source}", source)
            link += f"?utm_source=rss&utm_medium=feed&utm_campaign=c{k}"
        return Entry(k, kind, source, link, self.title(source))

    def entries(self) -> Iterator[Entry]:
        return (self.entry(k) for k in range(self.articles))

    def title(self, k: int) -> str:
        return f"{_CITIES[k % len(_CITIES)].title()} report {k}: page {k % self.pages}"

    def sentence(self, original: int) -> str:
        """The sentence that makes original ``original``'s text unique."""
        rng = random.Random(f"{self.seed}:sentence:{original}")
        city, desk = rng.choice(_CITIES), rng.choice(_DESKS)
        text = f"{city}, dispatch {original} ({desk}, file {rng.randrange(10**6):06d}):"
        if rng.random() < FLAGGED_SHARE:
            text = f"{text} {rng.choice(_WATCHLIST_SENTENCES)}"
        words = int(FILLER_SHARE * self.page_words[original % self.pages])
        return f"{text} {filler(rng, words)}"

    def page_of(self, path: str) -> tuple[int, str, str] | None:
        """(template index, canonical URL, sentence) of an article path, or None."""
        try:
            section, number = path.split("/")[1:3]
            k = int(number)
        except ValueError:
            return None
        if not 0 <= k < self.articles:
            return None
        expected = {"news": "original", "wire": "syndicated"}.get(section)
        if expected is None or self.kind(k) != expected:
            return None
        source = self.source(k)
        site = k if section == "news" else k + 17
        return source % self.pages, self.url(path, site), self.sentence(source)

    # ---- feeds ------------------------------------------------------------------------------

    def feed_url(self, f: int) -> str:
        return self.url(f"/feeds/{f}.xml", f)

    def steady_url(self, f: int) -> str:
        return self.url(f"/steady/{f}.xml", f)

    def feed_entries(self, f: int) -> list[Entry]:
        start = f * ENTRIES_PER_FEED
        return [self.entry(k) for k in range(start, min(start + ENTRIES_PER_FEED, self.articles))]

    def feed_xml(self, f: int) -> bytes:
        items = [_item(entry) for entry in self.feed_entries(f)]
        return _rss(f"Bench feed {f}", items)

    def steady_xml(self, f: int) -> bytes:
        return _rss(f"Steady feed {f}", [])


@cache
def _chain() -> dict[str, list[str]]:
    from bench.corpus import ground_truth

    chain: defaultdict[str, list[str]] = defaultdict(list)
    for page in ground_truth().values():
        words = page["articleBody"].split()
        for first, second in itertools.pairwise(words):
            chain[first].append(second)
    return dict(chain)


def filler(rng: random.Random, words: int) -> str:
    """``words`` words of a random walk on the corpus's word bigrams."""
    chain = _chain()
    starts = list(chain)
    word = rng.choice(starts)
    out = []
    for _ in range(words):
        out.append(word)
        followers = chain.get(word)
        word = rng.choice(followers) if followers else rng.choice(starts)
    return " ".join(out)


def _item(entry: Entry) -> str:
    published = format_datetime(_EPOCH - timedelta(minutes=entry.index), usegmt=True)
    return (
        f"<item><title>{escape(entry.title)}</title><link>{escape(entry.link)}</link>"
        f'<guid isPermaLink="false">bench-{entry.index}</guid><pubDate>{published}</pubDate>'
        f"<description>{escape(entry.title)}: the full story on the site.</description></item>"
    )


def _rss(title: str, items: list[str]) -> bytes:
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0"><channel>'
        f"<title>{escape(title)}</title><link>http://127.0.0.2/</link>"
        f"<description>benchmark feed</description>{''.join(items)}</channel></rss>"
    ).encode()
