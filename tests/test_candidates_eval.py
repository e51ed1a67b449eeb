"""`make eval` per set: every expected entity is at least offered (flags and candidates) on the
hand-written set and on every English blind batch; the sets are reported separately."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from pipeline.core.config import SHIPPED_WATCHLIST
from pipeline.match.watchlist import load_watchlist
from pipeline.tools import candidate_volume
from pipeline.tools.evaluate import DEFAULT_EVAL_DIR, EVAL_DATA, default_eval_dirs, evaluate, main
from tests.site import article_html, rss

ENGLISH_SETS = [DEFAULT_EVAL_DIR, *sorted(EVAL_DATA.glob("eval-blind-en*"))]


@pytest.mark.parametrize("eval_dir", ENGLISH_SETS, ids=lambda path: path.name)
def test_flags_and_candidates_together_miss_nothing(eval_dir: Path) -> None:
    report = evaluate(eval_dir, load_watchlist(SHIPPED_WATCHLIST))
    assert report.unseen == []
    assert report.union_recall == 1.0


def test_every_set_is_reported_separately(capsys: pytest.CaptureFixture[str]) -> None:
    dirs = default_eval_dirs()
    assert dirs[0] == DEFAULT_EVAL_DIR and EVAL_DATA / "eval-blind-en" in dirs
    assert main([str(path) for path in ENGLISH_SETS]) == 0
    printed = capsys.readouterr().out
    for path in ENGLISH_SETS:
        assert f"tests/data/{path.name}: P " in printed
    assert printed.count("flags + candidates recall 1.000") == len(ENGLISH_SETS)


def test_a_miss_offered_as_a_candidate_counts_for_the_union_only(tmp_path: Path) -> None:
    text = "Rockside Enterprise sold rugs at the market on Sunday, the owner said. " * 3
    (tmp_path / "a.yaml").write_text(
        f"id: a\nexpect: [ofac-52053]\ntitle: Market day\ntext: '{text}'\n", encoding="utf-8"
    )
    report = evaluate(tmp_path, load_watchlist(SHIPPED_WATCHLIST))
    assert (report.overall.recall, report.union_recall, report.candidates) == (0.0, 1.0, 1)


def test_candidate_volume_counts_pages_and_feed_entries(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pages = tmp_path / "news-pages" / "html"
    pages.mkdir(parents=True)
    paragraphs = [
        "Rockside Enterprise opened a new showroom on Saturday, offering discounts on rugs and "
        "lamps to the first hundred customers who came through its doors this weekend.",
        "The owner said business had been steady this year and that a second branch would open "
        "before the end of the summer if sales kept growing at the present pace.",
    ]
    (pages / "a.html.gz").write_bytes(gzip.compress(article_html("Showroom", paragraphs)))
    feeds = tmp_path / "feeds" / "real-news" / "news"
    feeds.mkdir(parents=True)
    items = [
        {"title": "Cricket in Karachi", "link": "https://example.org/1", "description": "Won."},
        {"title": "Rain in Lahore", "link": "https://example.org/2", "description": "Wet."},
    ]
    (feeds / "feed.xml").write_bytes(rss(items))
    config = tmp_path / "feeds.yaml"
    config.write_text("feeds:\n  - {name: A, url: 'https://example.org/feed'}\n", encoding="utf-8")
    assert candidate_volume.main([str(tmp_path), "--config", str(config)]) == 0
    printed = capsys.readouterr().out
    assert "articles matched: 3" in printed
    assert "candidates: 1 (333.33 per 1,000 articles) {'ofac-52053': 1}" in printed
