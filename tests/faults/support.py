"""Helpers of the fault suite: configs, a healthy control feed, and checks that nothing stored
was lost or corrupted."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import create_engine, inspect, text

from pipeline.core.config import load_config
from tests.faults.hostile import HostileServer, respond
from tests.site import article_html

RSS_TYPE = "application/rss+xml"
HEALTHY_FEED = "healthy control feed"
# The control feed's own stories: no hostile page repeats them, so they are never duplicates
# of (and never lose their flags to) an article of another feed.
NDC_NOTICE = [
    "A notice published by the Treasury on Wednesday added the National Development Complex of "
    "Pakistan to the list of entities blocked under Executive Order 13382.",
    "The notice said the complex had acquired items for the Shaheen series of ballistic "
    "missiles, and that any property it held under US jurisdiction was now frozen.",
    "The State Department said the step was part of a long-standing policy on missile "
    "proliferation and was not aimed at the people of Pakistan.",
]
ROCKSIDE_STORY = [
    "Rockside Enterprise, a trading house registered in Karachi, denied on Thursday that it had "
    "shipped any controlled machinery to the National Development Complex in recent years.",
    "A lawyer for the company told reporters in the port city that its business was limited to "
    "textiles and spare parts for the local market, and that it would contest the listing.",
    "Diplomats in Washington said further designations were possible as the review of "
    "procurement networks serving the missile programme continued into the new year.",
]
HEALTHY_STORIES = [NDC_NOTICE, ROCKSIDE_STORY]
HEALTHY_ARTICLES = len(HEALTHY_STORIES)
SUMMARY = (
    "Akhtar and Sons Private Limited, a Karachi firm, was designated by the US Treasury for "
    "supplying Pakistan's missile programme. This summary is the fallback text."
)


def write_config(
    directory: Path,
    database: str,
    feeds: list[dict[str, Any]],
    *,
    fetch: dict[str, Any] | None = None,
    schedule: dict[str, Any] | None = None,
) -> Path:
    """A feeds.yaml for a hostile run: short limits so that every fault shows within seconds."""
    fetch_settings: dict[str, Any] = {
        "allow_private_addresses": True,
        "extract_workers": 0,
        "timeout": 5,
        "deadline": 10,
        "concurrency": 64,
        "per_host": 64,
        "max_bytes": 1_000_000,
        "host_delay": 0,  # every hostile route is on one loopback host
    }
    schedule_settings: dict[str, Any] = {"interval": "15m", "jitter": 0}
    document = {
        "database": database,
        "fetch": fetch_settings | (fetch or {}),
        "schedule": schedule_settings | (schedule or {}),
        "feeds": feeds,
    }
    path = directory / "feeds.yaml"
    path.write_text(yaml.safe_dump(document), encoding="utf-8")
    return path


def rss_document(items: list[str], *, prolog: str = "", title: str = "Hostile feed") -> bytes:
    """An RSS 2.0 document around raw <item> elements."""
    return (
        f'<?xml version="1.0" encoding="utf-8"?>\n{prolog}'
        f'<rss version="2.0"><channel><title>{title}</title><link>http://127.0.0.1/</link>'
        f"<description>d</description>{''.join(items)}</channel></rss>"
    ).encode()


def rss_item(link: str, title: str = "An item", *, guid: str | None = None, extra: str = "") -> str:
    return (
        f"<item><title>{title}</title><link>{link}</link><guid>{guid or link}</guid>"
        f"<description>{SUMMARY}</description>"
        f"<pubDate>Mon, 06 Jan 2025 10:00:00 GMT</pubDate>{extra}</item>"
    )


def add_healthy_feed(server: HostileServer) -> dict[str, str]:
    """A well-behaved feed of two flagged articles, served next to the hostile ones: proof that
    the run went on."""
    items = []
    for number, story in enumerate(HEALTHY_STORIES):
        path = f"/healthy/{number}"
        title = f"Healthy report {number}"
        server.route(path, respond(article_html(title, story)))
        items.append(rss_item(server.url(path), title))
    server.route("/healthy/feed.xml", respond(rss_document(items), content_type=RSS_TYPE))
    return {"name": HEALTHY_FEED, "url": server.url("/healthy/feed.xml")}


def rows(config: Path, query: str, **parameters: Any) -> list[tuple[Any, ...]]:
    """Plain SQL against the database, as a downstream tool would read it."""
    engine = create_engine(load_config(config).database)
    try:
        with engine.connect() as connection:
            return [tuple(row) for row in connection.execute(text(query), parameters)]
    finally:
        engine.dispose()


def feed_state(config: Path, name: str) -> dict[str, Any]:
    engine = create_engine(load_config(config).database)
    try:
        with engine.connect() as connection:
            row = connection.execute(
                text("SELECT * FROM feed WHERE name = :name"), {"name": name}
            ).one()
            return _with_datetimes(dict(row._mapping))
    finally:
        engine.dispose()


def _with_datetimes(row: dict[str, Any]) -> dict[str, Any]:
    """SQLite hands timestamps back as text: read them as (naive UTC) datetimes."""
    for key, value in row.items():
        if key.endswith("_at") and isinstance(value, str):
            row[key] = datetime.fromisoformat(value)
    return row


def attempts(config: Path, name: str) -> list[dict[str, Any]]:
    engine = create_engine(load_config(config).database)
    try:
        with engine.connect() as connection:
            result = connection.execute(
                text(
                    "SELECT a.* FROM fetch_attempt a JOIN feed f ON f.id = a.feed_id"
                    " WHERE f.name = :name ORDER BY a.id"
                ),
                {"name": name},
            )
            return [_with_datetimes(dict(row._mapping)) for row in result]
    finally:
        engine.dispose()


def everything_stored(config: Path) -> str:
    """Every value of every table, as one string: for 'this never reached the database'."""
    engine = create_engine(load_config(config).database)
    try:
        with engine.connect() as connection:
            pieces = []
            for table in inspect(connection).get_table_names():
                for row in connection.execute(text(f'SELECT * FROM "{table}"')):  # noqa: S608
                    pieces.append(repr(tuple(row)))
            return "\n".join(pieces)
    finally:
        engine.dispose()


def assert_healthy_feed_ingested(config: Path) -> None:
    state = feed_state(config, HEALTHY_FEED)
    assert state["status"] == "ok"
    assert state["last_error"] is None
    stored = rows(
        config,
        "SELECT a.text_source FROM article a JOIN feed f ON f.id = a.feed_id WHERE f.name = :n",
        n=HEALTHY_FEED,
    )
    assert stored == [("page",)] * HEALTHY_ARTICLES
    flagged = rows(
        config,
        "SELECT COUNT(*) FROM api_flags WHERE feed = :n AND entity = :e",
        n=HEALTHY_FEED,
        e="National Development Complex",
    )
    assert flagged == [(HEALTHY_ARTICLES,)]


def assert_consistent(config: Path, *, leases_released: bool = True) -> None:
    """Nothing half-stored: integrity check, every article with its story and URL, every flag
    with its article, every story with its first article, no duplicate rows."""
    database = load_config(config).database
    if database.startswith("sqlite"):
        assert rows(config, "PRAGMA integrity_check") == [("ok",)]
        assert rows(config, "PRAGMA foreign_key_check") == []
    checks = {
        "article without story": "SELECT COUNT(*) FROM article a"
        " WHERE NOT EXISTS (SELECT 1 FROM story s WHERE s.id = a.story_id)",
        "article without its URL": "SELECT COUNT(*) FROM article a"
        " WHERE NOT EXISTS (SELECT 1 FROM article_url u WHERE u.url = a.canonical_url"
        " AND u.article_id = a.id)",
        "story without articles": "SELECT COUNT(*) FROM story s"
        " WHERE NOT EXISTS (SELECT 1 FROM article a WHERE a.story_id = s.id)"
        " OR s.first_article_id IS NULL",
        "flag without article": "SELECT COUNT(*) FROM flag f"
        " WHERE NOT EXISTS (SELECT 1 FROM article a WHERE a.id = f.article_id)",
        "url without article": "SELECT COUNT(*) FROM article_url u"
        " WHERE NOT EXISTS (SELECT 1 FROM article a WHERE a.id = u.article_id)",
        "duplicate canonical URLs": "SELECT COUNT(*) FROM (SELECT canonical_url FROM article"
        " GROUP BY canonical_url HAVING COUNT(*) > 1) d",
        "duplicate flags": "SELECT COUNT(*) FROM (SELECT story_id, entity_id FROM flag"
        " GROUP BY story_id, entity_id HAVING COUNT(*) > 1) d",
    }
    if leases_released:
        checks["feed left leased"] = "SELECT COUNT(*) FROM feed WHERE lease_owner IS NOT NULL"
    broken = {name: rows(config, query)[0][0] for name, query in checks.items()}
    assert broken == dict.fromkeys(checks, 0)
