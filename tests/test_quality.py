"""`pipeline stats --quality` and the desk's quality table, from a database with known reviews
(real matcher output stored through the repository; SQLite and PostgreSQL)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from pipeline.cli.app import app
from pipeline.core.config import SHIPPED_WATCHLIST, DedupSettings, FeedConfig
from pipeline.core.records import ArticleDraft
from pipeline.match.matcher import Matcher
from pipeline.match.watchlist import load_watchlist
from storage.db import Database
from storage.repository import Repository
from tests.test_dedup import draft as dedup_draft

NOW = datetime(2025, 1, 6, 12, 0, tzinfo=UTC)
TEXTS = {
    "ndc": "The US designated Pakistan's National Development Complex and Akhtar and Sons "
    "Private Limited under Executive Order 13382 on Wednesday.",
    "rockside-1": "Rockside Enterprise, a Karachi trading firm, saw its accounts frozen.",
    "rockside-2": "Rockside Enterprise of Karachi opened a branch, a blocked property sale aside.",
    "affiliates": "Affiliates International opened a new office this week, its owner said.",
    "trading": "Rockside Trading sold its last rugs at the weekend market on Sunday.",
}


@pytest.fixture
def repo(database: str) -> Iterator[Repository]:
    db = Database(database)
    db.ensure_schema()
    repository = Repository(db)
    watchlist = load_watchlist(SHIPPED_WATCHLIST)
    repository.sync_entities(watchlist.entity_records(), NOW)
    feed = FeedConfig(name="Test", url="https://example.org/feed")  # type: ignore[arg-type]
    repository.sync_feeds([feed], 900.0, NOW)
    matcher = Matcher(watchlist)
    for name, text in TEXTS.items():
        repository.store_article(draft(name, text, matcher), NOW, dedup=DedupSettings())
    yield repository
    db.dispose()


def draft(name: str, text: str, matcher: Matcher) -> ArticleDraft:
    matches, candidates = matcher.match_all(name, text)
    plain = dedup_draft(f"https://example.org/{name}", name, text)
    return replace(plain, matches=matches, candidates=candidates)


def review(repo: Repository) -> None:
    flags = {(f["title"], f["entity_id"]): f["id"] for f in repo.list_flags()}
    decisions = {
        ("ndc", "ofac-52049"): "relevant",
        ("ndc", "eo-13382"): "relevant",
        ("ndc", "ofac-52051"): "dismissed",
        ("rockside-1", "ofac-52053"): "relevant",
        ("rockside-2", "ofac-52053"): "dismissed",
    }
    for key, status in decisions.items():
        repo.review_flag(flags[key], status=status, note=None, by="ayesha", now=NOW)
    candidates = {c["title"]: c["id"] for c in repo.list_candidates()}
    repo.promote_candidate(candidates["affiliates"], note="a real mention", by="omar", now=NOW)
    repo.dismiss_candidate(candidates["trading"], note=None, by="omar", now=NOW)


def by(rows: list[dict[str, Any]], key: str) -> dict[str, dict[str, Any]]:
    return {row[key]: row for row in rows}


def test_quality_figures_come_from_the_reviews(repo: Repository) -> None:
    review(repo)
    quality = repo.quality()
    entities = by(quality["entities"], "entity_id")
    rockside = entities["ofac-52053"]
    assert (rockside["flags"], rockside["reviewed"], rockside["relevant"]) == (2, 2, 1)
    assert (rockside["dismissed"], rockside["precision"]) == (1, 0.5)
    assert (rockside["candidates"], rockside["candidates_dismissed"]) == (1, 1)
    affiliates = entities["ofac-52052"]
    assert (affiliates["candidates_promoted"], affiliates["recall_gap"]) == (1, 1)
    assert affiliates["measured_recall"] == 0.0  # the one real mention was the rules' miss
    assert entities["ofac-52051"]["precision"] == 0.0
    rules = by(quality["rules"], "rule")
    assert (rules["strong-alias"]["reviewed"], rules["strong-alias"]["precision"]) == (2, 0.5)
    assert rules["legal-reference"]["precision"] == 1.0
    assert rules["common-words+context"]["precision"] == 0.5
    assert (rules["analyst"]["flags"], rules["analyst"]["relevant"]) == (1, 1)
    overall = quality["overall"]
    assert (overall["reviewed"], overall["relevant"], overall["dismissed"]) == (6, 4, 2)
    assert overall["precision"] == round(4 / 6, 3)
    assert overall["measured_recall"] == 0.75  # 3 relevant by the rules, 1 analyst catch


def test_stats_quality_prints_the_same_table(repo: Repository, tmp_path: Path) -> None:
    review(repo)
    config = tmp_path / "feeds.yaml"
    config.write_text(yaml.safe_dump({"database": repo.db.url, "feeds": []}), encoding="utf-8")
    runner = CliRunner()
    as_json = runner.invoke(
        app, ["--config", str(config), "stats", "--quality", "--format", "json"]
    )
    assert as_json.exit_code == 0, as_json.output
    assert json.loads(as_json.stdout) == json.loads(json.dumps(repo.quality()))
    table = runner.invoke(app, ["--config", str(config), "stats", "--quality"])
    assert table.exit_code == 0, table.output
    lines = table.stdout.splitlines()
    assert lines[0].startswith("quality per entity")
    rockside = next(line for line in lines if line.startswith("Rockside Enterprise"))
    assert rockside.split()[2:8] == ["2", "2", "1", "1", "0.5", "1"]
    assert any(line.startswith("analyst") for line in lines)
