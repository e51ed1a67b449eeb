"""One filter builder for flags (storage.repository.filters): `flags list --entity`, the desk's
queue and the read API find the same flags, and `%` and `_` in a filter are plain characters."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from pipeline.cli.app import app
from pipeline.core.config import DedupSettings, load_config
from pipeline.core.records import ArticleDraft, EntityMatch, EntityRecord, Mention
from pipeline.dedup.fingerprints import content_hash, text_fingerprint
from storage.bootstrap import open_repository
from storage.repository import QueueQuery, Repository

NOW = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
# Names where an unescaped LIKE would match more: `_` is any character, `%` any run of them.
ENTITIES = {
    "t-1": "Al_Noor Trading",
    "t-2": "AlXNoor Group",
    "t-3": "100% Halal Foods",
    "t-4": "1000 Halal Farms",
}


@pytest.fixture
def flagged(make_config: Callable[..., Path]) -> Iterator[tuple[Path, Repository]]:
    """A database with one article and one flag per entity, and its feeds.yaml."""
    config = make_config([{"name": "Wire", "url": "http://127.0.0.1:9/feed.xml"}])
    settings = load_config(config)
    with open_repository(settings.database) as repository:
        repository.sync_feeds(settings.feeds, 900.0, NOW)
        with repository.db.session() as session:
            feed_id = session.execute(text("SELECT id FROM feed")).scalar_one()
        records = [EntityRecord(key, name, "organisation", None, [], [], "test")
                   for key, name in ENTITIES.items()]  # fmt: skip
        repository.sync_entities(records, NOW)
        for number, (key, name) in enumerate(ENTITIES.items()):
            repository.store_article(_draft(feed_id, number, key, name), NOW, dedup=DedupSettings())
        yield config, repository


def _draft(feed_id: int, number: int, entity_id: str, name: str) -> ArticleDraft:
    url = f"https://news.example/{number}"
    text = f"A report {number} on {name} and its trade."
    match = EntityMatch(entity_id, name, name, text, [Mention(0, len(name), name, name.lower())])
    return ArticleDraft(
        feed_id=feed_id,
        url=url,
        canonical_url=url,
        final_url=url,
        known_urls=[url],
        guid=None,
        title=f"Report {number}",
        author=None,
        published_at=NOW,
        language="en",
        text=text,
        text_source="page",
        content_hash=content_hash(text),
        extractor="test",
        extractor_version="1",
        matches=[match],
        fingerprint=text_fingerprint(f"Report {number}", text, min_words=50),
    )


def _cli_entities(config: Path, entity: str) -> list[str]:
    arguments = ["--config", str(config), "flags", "list", "--entity", entity, "--format", "json"]
    result = CliRunner().invoke(app, arguments)
    assert result.exit_code == 0, result.output
    return sorted(row["entity_id"] for row in json.loads(result.stdout))


@pytest.mark.parametrize(
    ("entity", "expected"),
    [
        ("_", ["t-1"]),  # unescaped: every entity
        ("l_n", ["t-1"]),  # unescaped: AlXNoor too
        ("0%", ["t-3"]),  # unescaped: 1000 Halal Farms too
        ("%", ["t-3"]),
        ("halal", ["t-3", "t-4"]),
        ("T-2", ["t-2"]),  # an entity id, in any case
    ],
)
def test_cli_desk_and_api_filter_flags_by_entity_alike(
    flagged: tuple[Path, Repository], entity: str, expected: list[str]
) -> None:
    config, repository = flagged
    stories = repository.desk_stories(QueueQuery(entity=entity)).rows
    desk = [flag for story in stories for flag in story["flags"]]  # one flag per story here
    api = repository.api_flags_page(status=None, since=None, entity=entity, after_id=0, limit=50)
    assert _cli_entities(config, entity) == expected
    assert sorted(row["entity_id"] for row in desk) == expected
    assert sorted(row["entity_id"] for row in api) == expected
