"""`pipeline match explain` agrees with what `run --once` stored, on the evaluation sets served
from a loopback site; it reads a FILE, a `--url` (the pipeline's own fetcher and extractor)
and a stored `--article ID`."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable
from html import escape
from pathlib import Path
from typing import Any

import yaml
from typer.testing import CliRunner

from pipeline.cli.app import app
from pipeline.tools.evaluate import DEFAULT_EVAL_DIR, EVAL_DATA, load_eval_set
from tests.conftest import db_rows, run_once
from tests.site import Page, Site, article_html, rss

SHOP = [
    "Rockside Enterprise sells rugs, lamps and chairs at the Sunday market, its owner said, and "
    "the stall has drawn bigger crowds every week since it opened in the spring.",
    "Prices have stayed low because the owner buys directly from weavers in the hills and pays "
    "them in advance, which lets them plan a season of work without borrowing money.",
    "The market committee said it would add more stalls next year if the footfall keeps rising "
    "and the car park is finished before the winter rains begin.",
]
EVAL_DIRS = [DEFAULT_EVAL_DIR, EVAL_DATA / "eval-blind-en"]


def explain(config: Path, *args: str) -> Any:
    result = CliRunner().invoke(app, ["--config", str(config), "match", "explain", *args])
    assert result.exit_code == 0, result.output
    return result


def verdicts(config: Path, article_id: int) -> dict[str, set[str]]:
    found = json.loads(explain(config, "--article", str(article_id), "--format", "json").stdout)
    by_verdict: defaultdict[str, set[str]] = defaultdict(set)
    for occurrence in found:
        by_verdict[occurrence["verdict"]].add(occurrence["entity_id"])
    return by_verdict


def stored(config: Path, table: str) -> defaultdict[int, set[str]]:
    """Entity ids per article that first found them (flags or candidates)."""
    rows = db_rows(config, f"SELECT article_id, entity_id FROM {table}")  # noqa: S608
    per_article: defaultdict[int, set[str]] = defaultdict(set)
    for article_id, entity_id in rows:
        per_article[article_id].add(entity_id)
    return per_article


def test_explain_agrees_with_run_once_on_the_eval_sets(
    site: Site, sqlite_url: str, tmp_path: Path
) -> None:
    # Matching does not depend on the engine: one run on SQLite (test_candidates covers both).
    items = []
    for directory in EVAL_DIRS:
        for article in load_eval_set(directory):
            path = f"/{directory.name}/{article.id}"
            paragraphs = [escape(p) for p in article.text.split("\n\n") if p.strip()]
            site.add(path, Page(article_html(escape(article.title), paragraphs)))
            items.append({"title": escape(article.title), "link": site.url(path)})
    site.add("/feed.xml", Page(rss(items), content_type="application/rss+xml"))
    config = tmp_path / "feeds.yaml"
    settings = {
        "database": sqlite_url,
        "fetch": {"allow_private_addresses": True, "extract_workers": 0, "host_delay": 0},
        "feeds": [{"name": "Eval", "url": site.url("/feed.xml")}],
    }
    config.write_text(yaml.safe_dump(settings), encoding="utf-8")
    run_once(config)
    firsts = [
        row[0] for row in db_rows(config, "SELECT id FROM article WHERE duplicate_of IS NULL")
    ]
    assert len(firsts) >= 100
    flags, candidates = stored(config, "flag"), stored(config, "candidate")
    disagreements = []
    for article_id in firsts:
        explained = verdicts(config, article_id)
        flagged_here = explained["flag"]
        offered_here = explained["candidate"] - flagged_here
        if (flagged_here, offered_here) != (flags[article_id], candidates[article_id]):
            disagreements.append((article_id, dict(explained), flags[article_id]))
    assert disagreements == []
    assert sum(map(len, flags.values())) > 50 and sum(map(len, candidates.values())) > 5


def test_explain_reads_a_file_and_a_url(
    site: Site, make_config: Callable[..., Path], tmp_path: Path
) -> None:
    config = make_config([])
    text = tmp_path / "court.txt"
    text.write_text(
        "A Karachi court kept the frozen accounts of Rockside Enterprise blocked.\n\n"
        "Ghana's National Democratic Congress (NDC) met in Accra.",
        encoding="utf-8",
    )
    printed = explain(config, str(text)).stdout
    assert "'Rockside Enterprise' -> Rockside Enterprise (ofac-52053): FLAG" in printed
    assert "context: 'Karachi' place +1 at 7 words" in printed
    assert "context: 'frozen accounts' generic +1 at 2 words" in printed
    assert "'NDC' -> National Development Complex (ofac-52049): REJECTED" in printed
    assert "spelt out in this document as 'National Democratic Congress'" in printed
    site.add("/shop", Page(article_html("Shop news", SHOP)))
    [found] = json.loads(explain(config, "--url", site.url("/shop"), "--format", "json").stdout)
    assert (found["verdict"], found["entity_id"]) == ("candidate", "ofac-52053")
    assert found["reason"] == "common-word name, no corroborating context within 60 words"


def test_explain_needs_exactly_one_source(make_config: Callable[..., Path]) -> None:
    config = make_config([])
    result = CliRunner().invoke(app, ["--config", str(config), "match", "explain"])
    assert result.exit_code == 2 and "exactly one of FILE" in result.stderr
    assert CliRunner().invoke(app, ["--config", str(config), "db", "upgrade"]).exit_code == 0
    missing = CliRunner().invoke(
        app, ["--config", str(config), "match", "explain", "--article", "99"]
    )
    assert missing.exit_code == 1 and "no article with id 99" in missing.stderr
