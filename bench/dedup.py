"""Near-duplicate detection: quality on the corpus test pairs, and cost at archive scale.

    python -m bench.dedup --pairs        precision/recall by threshold on the corpus pairs
    python -m bench.dedup --scale        per-article dedup time at 1k, 10k, 100k stored articles
    python -m bench.dedup                both (--sizes 1000,10000 --database URL to change)

**Pairs.** Every page of ``shared/corpora/news-pages`` is extracted as the pipeline does. A
*syndicated copy* of each (its human-checked text in another site's template, under another
headline, with an editor's note on top and the last paragraph cut) should join the original's
story. Independently written articles on one event (``SAME_EVENT``: they share names and
facts, not sentences) and all other pairs of pages should not. A pair is judged by the rule of
``storage.repository``: same content hash (a short text also needs the same title), else an
LSH candidate (a shared band key) whose estimated Jaccard reaches the threshold.

**Scale.** ``run_dedup_bench`` fills a database with realistic distinct texts (a word-bigram
chain over the corpus texts; 5% are near copies of an earlier article, so stories have
several members) by bulk inserts, and at each size times the dedup of new articles (a third
near copies of stored ones, the rest new): fingerprint, exact-hash lookup, LSH candidate
query and confirmation, as ``Repository.find_story``. Each article is timed in PASSES passes
spread over the run and its fastest kept (machines are shared); the figure is the median over
articles. A full run (100k articles) takes 10-20 minutes, mostly generating the texts.
"""

from __future__ import annotations

import argparse
import gzip
import html
import itertools
import json
import multiprocessing
import os
import random
import re
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

from sqlalchemy import insert

from pipeline.core.config import DedupSettings, FeedConfig
from pipeline.core.errors import ExtractionError
from pipeline.dedup.fingerprints import (
    TextFingerprint,
    content_hash,
    estimated_jaccard,
    text_fingerprint,
)
from pipeline.extract.page import extract_page
from storage.db import Database
from storage.models import Article, ArticleUrl, DedupBand, DedupSignature, Story
from storage.repository import Repository
from storage.repository.dedup import signature_to_bytes

CORPORA = Path(
    os.environ.get("PIPELINE_CORPORA", Path(__file__).resolve().parents[2] / "shared" / "corpora")
)
NEWS_PAGES = CORPORA / "news-pages"
THRESHOLDS = (0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)
# Independently written articles on one event, found by reading the corpus URLs.
SAME_EVENT = (
    ("06e5123e", "1ace8c85"),  # New York's attorney general investigates WeWork
    ("14cc2a0c", "686bb170"),  # water vapour found above Europa
    ("156770d6", "3f65af7b", "776a1c04"),  # South Dakota's "Meth. We're on it." campaign
    ("7bb1ca90", "9eef8162", "a078b365"),  # a man's feather duvet gave him a lung disease
    ("6ebac05f", "7a457a4f"),  # a New York man pleads guilty to threatening Ilhan Omar
    ("432362af", "8b194530"),  # bubonic plague after eating a wild rabbit
    ("35b15891", "9cb8224b", "ac1bfdd4"),  # the Doobie Brothers' reunion tour
    ("2c46804d", "51d066b0"),  # a kidnapped girl rescued in Fort Worth
    ("042bb7b5", "680c2848", "8267acac", "aade2ec8"),  # Google Stadia's launch
)
EDITORS_NOTE = (
    "Editor's note: This article was first published by a partner outlet and is republished "
    "here with permission. It has been edited for length."
)
NOW = datetime(2025, 1, 6, 12, 0, tzinfo=UTC)


# ---- the corpus test pairs ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CorpusArticle:
    id: str
    url: str
    title: str
    text: str  # extracted from the real page, as the pipeline stores it
    paragraphs: tuple[str, ...]  # the human-checked article text


@dataclass(frozen=True, slots=True)
class Pair:
    kind: str  # syndicated | same-event | unrelated
    first: tuple[str, str]  # (title, text)
    second: tuple[str, str]
    label: str

    @property
    def is_duplicate(self) -> bool:
        return self.kind == "syndicated"


def page_html(page_id: str) -> bytes:
    return gzip.decompress((NEWS_PAGES / "html" / f"{page_id}.html.gz").read_bytes())


@cache
def ground_truth() -> dict[str, dict[str, str]]:
    truth: dict[str, dict[str, str]] = json.loads(
        (NEWS_PAGES / "ground-truth.json").read_text(encoding="utf-8")
    )
    return truth


def full_id(prefix: str) -> str:
    (page_id,) = (key for key in ground_truth() if key.startswith(prefix))
    return page_id


def corpus_article(page_id: str) -> CorpusArticle:
    truth = ground_truth()[page_id]
    page = extract_page(page_html(page_id), url=truth["url"], now=NOW)
    paragraphs = tuple(line.strip() for line in truth["articleBody"].split("\n") if line.strip())
    return CorpusArticle(page_id, truth["url"], page.title or "", page.text, paragraphs)


def syndicated_copy_html(article: CorpusArticle, headline: str) -> bytes:
    """The article as another site republishes it: its own template and headline, an editor's
    note on top, the last paragraph cut."""
    kept = article.paragraphs[:-1] if len(article.paragraphs) > 1 else article.paragraphs
    body = "\n".join(f"<p>{html.escape(paragraph)}</p>" for paragraph in kept)
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(headline)} - Wire Daily</title>
</head><body>
<div class="top"><a href="/">Wire Daily</a> | <a href="/markets">Markets</a> |
<a href="/opinion">Opinion</a> | <a href="/subscribe">Subscribe</a></div>
<div id="content"><h1>{html.escape(headline)}</h1><div class="meta">From our partners</div>
<div class="story-body"><p><em>{EDITORS_NOTE}</em></p>
{body}</div></div>
<div class="related"><h3>More from Wire Daily</h3><ul>
<li><a href="/a">Markets close higher on energy shares</a></li>
<li><a href="/b">Storms expected across the region this weekend</a></li></ul></div>
<div class="footer">Wire Daily 2025. Terms. Privacy. Sign up for our newsletter.</div>
</body></html>""".encode()


def syndicated_text(article: CorpusArticle) -> tuple[str, str] | None:
    headline = "Partner story: " + " ".join(reversed(article.title.split()[:6]))
    try:
        page = extract_page(syndicated_copy_html(article, headline), url="https://wire.example/")
    except ExtractionError:
        return None
    return headline, page.text


def corpus_pairs() -> list[Pair]:
    articles = [corpus_article(page_id) for page_id in ground_truth()]
    pairs = []
    for article in articles:
        copy = syndicated_text(article)
        if copy is not None:
            pairs.append(Pair("syndicated", (article.title, article.text), copy, article.id[:8]))
    same_event = {
        frozenset((full_id(a), full_id(b)))
        for group in SAME_EVENT
        for a, b in itertools.combinations(group, 2)
    }
    for first, second in itertools.combinations(articles, 2):
        kind = "same-event" if frozenset((first.id, second.id)) in same_event else "unrelated"
        label = f"{first.id[:8]}-{second.id[:8]}"
        pairs.append(Pair(kind, (first.title, first.text), (second.title, second.text), label))
    return pairs


@dataclass(frozen=True, slots=True)
class Judged:
    pair: Pair
    exact: bool
    candidate: bool  # shares an LSH band key
    similarity: float  # estimated Jaccard (0 for short texts)

    def joins(self, threshold: float) -> bool:
        return self.exact or (self.candidate and self.similarity >= threshold)


def judge(pair: Pair, min_words: int) -> Judged:
    """The storage rule, for the second text arriving after the first."""
    first, first_hash = _fingerprint(*pair.first, min_words)
    second, second_hash = _fingerprint(*pair.second, min_words)
    same_hash = first_hash == second_hash
    if second.signature is None or first.signature is None:
        return Judged(pair, same_hash and first.title_key == second.title_key, False, 0.0)
    candidate = bool(set(first.band_keys) & set(second.band_keys))
    return Judged(pair, same_hash, candidate, estimated_jaccard(first.signature, second.signature))


@cache
def _fingerprint(title: str, text: str, min_words: int) -> tuple[TextFingerprint, str]:
    return text_fingerprint(title, text, min_words=min_words), content_hash(text)


def precision_recall(judged: Sequence[Judged], threshold: float) -> dict[str, Any]:
    joined = [item for item in judged if item.joins(threshold)]
    true_positives = sum(item.pair.is_duplicate for item in joined)
    duplicates = sum(item.pair.is_duplicate for item in judged)
    false = [item for item in joined if not item.pair.is_duplicate]
    return {
        "threshold": threshold,
        "precision": true_positives / len(joined) if joined else 1.0,
        "recall": true_positives / duplicates if duplicates else 1.0,
        "missed": [
            item.pair.label
            for item in judged
            if item.pair.is_duplicate and not item.joins(threshold)
        ],
        "false_same_event": sum(item.pair.kind == "same-event" for item in false),
        "false_unrelated": sum(item.pair.kind == "unrelated" for item in false),
    }


def measure_pairs(min_words: int | None = None) -> dict[str, Any]:
    min_words = min_words or DedupSettings().min_words
    judged = [judge(pair, min_words) for pair in corpus_pairs()]
    counts = {
        kind: sum(item.pair.kind == kind for item in judged)
        for kind in ("syndicated", "same-event", "unrelated")
    }
    highest_negative = max(item.similarity for item in judged if not item.pair.is_duplicate)
    return {
        "pairs": counts,
        "highest_negative_similarity": highest_negative,
        "by_threshold": [precision_recall(judged, threshold) for threshold in THRESHOLDS],
    }


# ---- realistic distinct texts -------------------------------------------------------------------

_TOKEN = re.compile(r"\S+")


class TextGenerator:
    """News-like texts: a word-bigram chain over the corpus's human-checked articles (real
    vocabulary and word frequencies, distinct word sequences). Text ``n`` is a pure function
    of (seed, n), so worker processes agree on it."""

    def __init__(self, seed: int) -> None:
        self.seed = seed
        self.chain: dict[str, list[str]] = {}
        for truth in ground_truth().values():
            if not _is_english(truth["articleBody"]):
                continue
            tokens = _TOKEN.findall(truth["articleBody"])
            for word, following in itertools.pairwise(tokens):
                self.chain.setdefault(word, []).append(following)
        self.words = sorted(self.chain)

    def text(self, number: int) -> tuple[str, str]:
        """(title, text) of 250-700 words in paragraphs of 40-90 words."""
        rng = random.Random(self.seed * 1_000_003 + number)
        words = self._walk(rng, rng.randint(250, 700))
        paragraphs, start = [], 0
        while start < len(words):
            end = start + rng.randint(40, 90)
            paragraphs.append(" ".join(words[start:end]))
            start = end
        title = " ".join(self._walk(rng, rng.randint(6, 12)))
        return title, "\n\n".join(paragraphs)

    def near_copy(self, number: int) -> tuple[str, str]:
        """Text ``number`` republished: another headline, an editor's note, the last
        paragraph cut."""
        title, text = self.text(number)
        paragraphs = text.split("\n\n")
        kept = paragraphs[:-1] if len(paragraphs) > 2 else paragraphs
        return f"Syndicated: {title}", "\n\n".join([EDITORS_NOTE, *kept])

    def _walk(self, rng: random.Random, length: int) -> list[str]:
        word = rng.choice(self.words)
        out = [word]
        while len(out) < length:
            following = self.chain.get(word)
            word = (
                rng.choice(following)
                if following and rng.random() > 0.05
                else rng.choice(self.words)
            )
            out.append(word)
        return out


def _is_english(text: str) -> bool:
    """Mostly ASCII letters (the corpus also has Korean, Russian, German... pages)."""
    letters = [character for character in text if character.isalpha()]
    return sum(character.isascii() for character in letters) >= 0.98 * len(letters)


# ---- the scale benchmark ------------------------------------------------------------------------

COPY_SHARE = 0.05
FILL_BATCH = 1_000
PASSES = 5  # timings per probe; the fastest is kept
_generator: TextGenerator | None = None


@dataclass(frozen=True, slots=True)
class FillRow:
    number: int
    copy_of: int | None  # a stored article this one is a near copy of
    title: str
    text: str
    content_hash: str
    signature: bytes | None
    band_keys: list[int]


def _init_worker(seed: int) -> None:
    global _generator
    _generator = TextGenerator(seed)


def _fill_row(number: int) -> FillRow:
    assert _generator is not None  # set by _init_worker
    copy_of = _copied_original(number)
    title, text = _generator.text(number) if copy_of is None else _generator.near_copy(copy_of)
    fingerprint = text_fingerprint(title, text, min_words=DedupSettings().min_words)
    signature = signature_to_bytes(fingerprint.signature) if fingerprint.signature else None
    return FillRow(
        number, copy_of, title, text, content_hash(text), signature, fingerprint.band_keys
    )


def _copied_original(number: int) -> int | None:
    """The original article that article ``number`` is a near copy of (None: an original)."""
    rng = random.Random(number)
    if number < 10 or rng.random() >= COPY_SHARE:
        return None
    target = rng.randrange(number)
    root = _copied_original(target)
    return target if root is None else root


def _fill_batch(numbers: range) -> list[FillRow]:
    return [_fill_row(number) for number in numbers]


def _fill(database: Database, pool: Any, start: int, stop: int) -> None:
    """Bulk-insert articles number start..stop-1 (article id = story id = number + 1); the
    worker processes write the next batches while this one is inserted."""
    batches = [
        range(first, min(stop, first + FILL_BATCH)) for first in range(start, stop, FILL_BATCH)
    ]
    for rows in pool.imap(_fill_batch, batches):
        with database.engine.begin() as connection:
            _insert_rows(connection, rows)
    with database.engine.begin() as connection:
        connection.exec_driver_sql("ANALYZE")  # planner statistics, as a live database has


def _insert_rows(connection: Any, rows: list[FillRow]) -> None:
    originals = [row for row in rows if row.copy_of is None]
    if originals:
        connection.execute(
            insert(Story),
            [
                {"id": row.number + 1, "title": row.title, "first_article_id": row.number + 1,
                 "created_at": NOW}
                for row in originals
            ],
        )  # fmt: skip
    connection.execute(insert(Article), [_article_values(row) for row in rows])
    connection.execute(
        insert(ArticleUrl),
        [{"url": _url(row.number), "article_id": row.number + 1} for row in rows],
    )
    indexed = [row for row in rows if row.signature is not None]
    connection.execute(
        insert(DedupSignature),
        [{"article_id": row.number + 1, "signature": row.signature} for row in indexed],
    )
    bands = sorted((key, row.number + 1) for row in indexed for key in row.band_keys)
    connection.execute(  # in key order: B-tree inserts close together
        insert(DedupBand), [{"key": key, "article_id": article_id} for key, article_id in bands]
    )


def _article_values(row: FillRow) -> dict[str, Any]:
    story = (row.copy_of if row.copy_of is not None else row.number) + 1
    return {
        "id": row.number + 1,
        "feed_id": 1,
        "story_id": story,
        "duplicate_of": story if row.copy_of is not None else None,
        "url": _url(row.number),
        "canonical_url": _url(row.number),
        "title": row.title,
        "fetched_at": NOW,
        "text": row.text,
        "text_source": "page",
        "content_hash": row.content_hash,
        "extractor": "bench",
        "extractor_version": "1",
        "revision": 1,
    }


def _url(number: int) -> str:
    return f"https://news{number % 97}.example/story/{number}"


@dataclass(frozen=True, slots=True)
class Probe:
    title: str
    text: str
    copy_of: int | None  # the stored article it copies, or None for a new text


def _probes(generator: TextGenerator, stored: int, count: int, round_number: int) -> list[Probe]:
    rng = random.Random(round_number)
    probes = []
    for index in range(count):
        if index % 3 == 0:
            picked = rng.randrange(stored)
            root = _copied_original(picked)
            original = picked if root is None else root
            probes.append(Probe(*generator.near_copy(original), copy_of=original))
        else:  # numbers far beyond any fill: texts the database has never seen
            probes.append(Probe(*generator.text(10_000_000 * round_number + index), copy_of=None))
    return probes


def _time_probes(
    repository: Repository, probes: list[Probe], stories: dict[int, int]
) -> dict[str, Any]:
    """Each probe's fastest of PASSES timings (the passes are spread over the whole run, so a
    burst of load from other processes cannot spoil all of them), and whether it found the
    right story."""
    best: list[tuple[float, float, float, float] | None] = [None] * len(probes)
    found: list[int | None] = [None] * len(probes)
    for _ in range(PASSES):
        for index, probe in enumerate(probes):
            timing, found[index] = _time_probe(repository, probe)
            current = best[index]
            best[index] = timing if current is None or timing[0] < current[0] else current
    timings = [timing for timing in best if timing is not None]
    expected = [stories.get(p.copy_of) if p.copy_of is not None else None for p in probes]
    wrong = [
        {"copy_of": probe.copy_of, "expected": want, "found": got}
        for probe, want, got in zip(probes, expected, found, strict=True)
        if want != got
    ]
    return {
        "dedup_ms": 1000 * statistics.median(timing[0] for timing in timings),
        "dedup_ms_mean": 1000 * statistics.mean(timing[0] for timing in timings),
        "fingerprint_ms": 1000 * statistics.median(timing[1] for timing in timings),
        "lookup_ms": 1000 * statistics.median(timing[2] for timing in timings),
        "dedup_cpu_ms": 1000 * statistics.median(timing[3] for timing in timings),
        "probes": len(probes),
        "correct": len(probes) - len(wrong),
        "wrong": wrong[:5],
    }


def _time_probe(
    repository: Repository, probe: Probe
) -> tuple[tuple[float, float, float, float], int | None]:
    """((total, fingerprint, lookup, total CPU) seconds, the story found) for one article.
    The CPU time of this process is all the work on SQLite (an in-process database) and is
    not inflated by other processes' load; on PostgreSQL the server's share is not in it."""
    settings = DedupSettings()
    cpu_started, started = time.process_time(), time.perf_counter()
    fingerprint = text_fingerprint(probe.title, probe.text, min_words=settings.min_words)
    hashed = content_hash(probe.text)
    fingerprinted = time.perf_counter()
    story = repository.find_story(hashed, fingerprint, settings.threshold)
    done, cpu = time.perf_counter(), time.process_time() - cpu_started
    return (done - started, fingerprinted - started, done - fingerprinted, cpu), story


def _story_of(database: Database, article_numbers: Iterator[int]) -> dict[int, int]:
    numbers = sorted(set(article_numbers))
    with database.engine.connect() as connection:
        rows = connection.exec_driver_sql(
            "SELECT id, story_id FROM article WHERE id IN ({})".format(  # noqa: S608 (integers)
                ",".join(str(number + 1) for number in numbers)
            )
        ).all()
    return {article_id - 1: story_id for article_id, story_id in rows}


def run_dedup_bench(
    sizes: Sequence[int] = (1_000, 10_000, 100_000),
    *,
    database_url: str | None = None,
    probes: int = 300,
    seed: int = 7,
) -> dict[str, Any]:
    """Per-article dedup time (ms) with ``sizes`` articles stored; an empty database at
    ``database_url`` (default: a temporary SQLite file) is filled in place."""
    with tempfile.TemporaryDirectory(prefix="dedup-bench-") as scratch:
        url = database_url or f"sqlite:///{Path(scratch) / 'dedup.db'}"
        database = Database(url)
        try:
            return _bench(database, sorted(sizes), probes, seed)
        finally:
            database.dispose()


def _bench(database: Database, sizes: list[int], probes: int, seed: int) -> dict[str, Any]:
    database.ensure_schema()
    repository = Repository(database)
    feed = FeedConfig.model_validate({"name": "bench", "url": "https://bench.example/feed.xml"})
    repository.sync_feeds([feed], 900.0, NOW)
    generator = TextGenerator(seed)
    results: dict[str, Any] = {"engine": database.engine.dialect.name, "sizes": {}}
    stored = 0
    context = multiprocessing.get_context("spawn")
    with context.Pool(os.cpu_count() or 1, _init_worker, (seed,)) as pool:
        for round_number, size in enumerate(sizes, start=1):
            started = time.perf_counter()
            _fill(database, pool, stored, size)
            stored = size
            fill_seconds = time.perf_counter() - started
            round_probes = _probes(generator, stored, probes, round_number)
            stories = _story_of(
                database, (p.copy_of for p in round_probes if p.copy_of is not None)
            )
            repository.find_story(  # warm the connection pool and caches
                *_hash_and_fingerprint(round_probes[0]), DedupSettings().threshold
            )
            timing = _time_probes(repository, round_probes, stories)
            results["sizes"][size] = {**timing, "fill_seconds": round(fill_seconds, 1)}
            progress = f"{size:>7} stored: {json.dumps(results['sizes'][size])}"
            print(progress, file=sys.stderr, flush=True)  # stdout carries the result
    first, last = results["sizes"][sizes[0]], results["sizes"][sizes[-1]]
    ratio_key = f"dedup_ratio_{_short(sizes[-1])}_{_short(sizes[0])}"
    results[ratio_key] = last["dedup_ms"] / first["dedup_ms"]
    results[ratio_key.replace("dedup_", "dedup_cpu_")] = (
        last["dedup_cpu_ms"] / first["dedup_cpu_ms"]
    )
    results["lookup_" + ratio_key.removeprefix("dedup_")] = last["lookup_ms"] / first["lookup_ms"]
    return results


def _hash_and_fingerprint(probe: Probe) -> tuple[str, TextFingerprint]:
    fingerprint = text_fingerprint(probe.title, probe.text, min_words=DedupSettings().min_words)
    return content_hash(probe.text), fingerprint


def _short(size: int) -> str:
    return f"{size // 1000}k" if size % 1000 == 0 else str(size)


# ---- command line -------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench.dedup", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--pairs", action="store_true", help="precision/recall on the corpus pairs")
    parser.add_argument("--scale", action="store_true", help="dedup time at growing archive sizes")
    parser.add_argument("--sizes", default="1000,10000,100000")
    parser.add_argument(
        "--database", default=None, help="an EMPTY database URL (default: temp SQLite)"
    )
    arguments = parser.parse_args()
    both = not (arguments.pairs or arguments.scale)
    if arguments.pairs or both:
        print(json.dumps(measure_pairs(), indent=2))
    if arguments.scale or both:
        sizes = [int(size) for size in arguments.sizes.split(",")]
        print(json.dumps(run_dedup_bench(sizes, database_url=arguments.database), indent=2))


if __name__ == "__main__":
    main()
