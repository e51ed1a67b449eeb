"""Storage on both engines: schema from migrations, contract views, constraints, leases."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, text
from sqlmodel import SQLModel

from pipeline.core.config import DedupSettings, FeedConfig
from pipeline.core.errors import StorageError
from pipeline.core.records import ArticleDraft, EntityMatch, Mention
from pipeline.dedup.fingerprints import text_fingerprint
from storage.db import Database, redact
from storage.repository import EntityRecord, PollRecord, Repository

NOW = datetime(2025, 1, 6, 12, 0, tzinfo=UTC)
API_ARTICLES = {
    "id", "url", "canonical_url", "final_url", "feed", "title", "author", "published_at",
    "fetched_at", "language", "text", "text_source", "story_id", "duplicate_of",
}  # fmt: skip
API_FLAGS = {
    "id", "article_id", "url", "title", "feed", "published_at", "first_seen_at", "entity_id",
    "entity", "matched", "snippet", "mentions", "status", "note", "reviewed_by", "reviewed_at",
    "duplicates_count",
}  # fmt: skip


@pytest.fixture
def repo(database: str) -> Repository:
    db = Database(database)
    db.ensure_schema()
    repository = Repository(db)
    repository.sync_feeds(
        [FeedConfig(name="Dawn", url="https://www.dawn.com/feeds/home")],  # type: ignore[arg-type]
        900.0,
        NOW,
    )
    repository.sync_entities(
        [
            EntityRecord(
                "ofac-52049", "National Development Complex", "organisation", "PK", [], [], ""
            )
        ],
        NOW,
    )
    yield repository
    db.dispose()


def draft(
    url: str, text: str, *, entity: bool = True, content_hash: str | None = None
) -> ArticleDraft:
    match = EntityMatch(
        entity_id="ofac-52049",
        entity_name="National Development Complex",
        matched="National Development Complex",
        snippet="... the National Development Complex in Islamabad ...",
        mentions=[Mention(4, 32, "National Development Complex", "national development complex")],
    )
    return ArticleDraft(
        feed_id=1,
        url=url,
        canonical_url=url,
        final_url=url,
        known_urls=[url],
        guid=None,
        title="Title",
        author=None,
        published_at=NOW,
        language="en",
        text=text,
        text_source="page",
        content_hash=content_hash or text,
        extractor="trafilatura",
        extractor_version="2.3.1",
        matches=[match] if entity else [],
        fingerprint=text_fingerprint("Title", text, min_words=DedupSettings().min_words),
    )


def test_fresh_database_gets_schema_and_contract_views(repo: Repository) -> None:
    engine = repo.db.engine
    columns = {
        view: {column["name"] for column in inspect(engine).get_columns(view)}
        for view in ("api_articles", "api_flags")
    }
    assert columns["api_articles"] >= API_ARTICLES
    assert columns["api_flags"] >= API_FLAGS
    assert repo.db.schema_revisions()[0] == repo.db.schema_revisions()[1]


def test_models_and_migrations_agree(repo: Repository) -> None:
    with repo.db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        diff = compare_metadata(context, SQLModel.metadata)
    assert diff == []


def test_unknown_revision_is_refused_not_changed(repo: Repository) -> None:
    with repo.db.engine.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = '0000'"))
    with pytest.raises(StorageError, match="does not know"):
        repo.db.ensure_schema()


def test_article_stored_once_with_its_flag(repo: Repository) -> None:
    first = repo.store_article(draft("https://a.example/1", "text one"), NOW, dedup=DedupSettings())
    again = repo.store_article(draft("https://a.example/1", "text one"), NOW, dedup=DedupSettings())
    assert (first.status, first.new_flags) == ("stored", 1)
    assert (again.status, again.article_id, again.new_flags) == ("known", first.article_id, 0)
    flags = repo.list_flags()
    assert len(flags) == 1 and flags[0]["entity"] == "National Development Complex"
    assert flags[0]["first_seen_at"] == NOW and flags[0]["duplicates"] == []


def test_duplicate_joins_story_and_raises_no_new_flag(repo: Repository) -> None:
    first = repo.store_article(
        draft("https://a.example/1", "same", content_hash="h"), NOW, dedup=DedupSettings()
    )
    copy = repo.store_article(
        draft("https://b.example/2", "same", content_hash="h"), NOW, dedup=DedupSettings()
    )
    assert copy.status == "duplicate" and copy.story_id == first.story_id
    assert copy.new_flags == 0
    (flag,) = repo.list_flags()
    assert flag["duplicates"] == ["https://b.example/2"] and flag["duplicates_count"] == 1
    articles = repo.list_articles(None)
    assert [a["duplicate_of"] for a in articles] == [None, first.article_id]


def test_leases_give_a_feed_to_one_worker_until_expiry(repo: Repository) -> None:
    lease = NOW + timedelta(minutes=10)
    first = repo.claim_feeds(now=NOW, owner="w1", lease_until=lease, due_only=True, limit=10)
    second = repo.claim_feeds(now=NOW, owner="w2", lease_until=lease, due_only=False, limit=10)
    assert [feed.name for feed in first] == ["Dawn"] and second == []
    later = lease + timedelta(seconds=1)  # w1 crashed: its lease expired
    taken = repo.claim_feeds(now=later, owner="w2", lease_until=later, due_only=False, limit=10)
    assert [feed.name for feed in taken] == ["Dawn"]


def test_poll_record_updates_health_and_releases_lease(repo: Repository) -> None:
    (feed,) = repo.claim_feeds(
        now=NOW, owner="w1", lease_until=NOW + timedelta(minutes=5), due_only=True, limit=1
    )
    repo.record_poll(
        PollRecord(
            feed_id=feed.id, worker="w1", started_at=NOW, duration_seconds=0.5, outcome="error",
            next_poll_at=NOW + timedelta(minutes=30), status="ok", consecutive_failures=1,
            http_status=503, errors=1, error="HTTPStatusError: 503",
        )
    )  # fmt: skip
    (row,) = repo.list_feeds()
    assert row["consecutive_failures"] == 1 and row["last_error"] == "HTTPStatusError: 503"
    assert row["last_success_at"] is None and row["next_poll_at"] == NOW + timedelta(minutes=30)
    again = repo.claim_feeds(now=NOW, owner="w2", lease_until=NOW, due_only=False, limit=1)
    assert [feed.name for feed in again] == ["Dawn"]  # the lease was released


def test_removed_feed_is_kept_but_not_polled(repo: Repository) -> None:
    repo.sync_feeds([], 900.0, NOW)
    assert repo.list_feeds()[0]["status"] == "removed"
    assert repo.claim_feeds(now=NOW, owner="w", lease_until=NOW, due_only=False, limit=5) == []


def test_review_is_audited(repo: Repository) -> None:
    repo.store_article(draft("https://a.example/1", "text"), NOW, dedup=DedupSettings())
    (flag,) = repo.list_flags()
    repo.review_flag(flag["id"], status="relevant", note="confirmed", by="ana", now=NOW)
    repo.review_flag(flag["id"], status="dismissed", note=None, by="bo", now=NOW)
    detail = repo.flag_detail(flag["id"])
    assert detail["status"] == "dismissed" and detail["reviewed_by"] == "bo"
    assert [(h["from_status"], h["to_status"]) for h in detail["history"]] == [
        ("new", "relevant"),
        ("relevant", "dismissed"),
    ]


def test_password_is_redacted() -> None:
    assert "s3cret" not in redact("postgresql+psycopg://user:s3cret@db/x")


def test_sqlite_file_parent_is_created(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'deep' / 'dir' / 'p.db'}")
    db.ensure_schema()
    assert (tmp_path / "deep" / "dir" / "p.db").exists()
    db.dispose()
