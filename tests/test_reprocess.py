"""`pipeline reprocess`: extraction, dedup and matching re-run from the raw archive, with the
network cut off, never duplicating articles nor touching reviewed flags."""

from __future__ import annotations

import json
import socket
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import create_engine, text
from typer.testing import CliRunner

from pipeline.archive import reprocess
from pipeline.cli.app import app
from pipeline.core.config import load_config
from pipeline.core.records import ExtractedPage
from pipeline.extract.page import extract_page
from tests.conftest import db_rows, run_once
from tests.site import Page, Site, article_html, rss
from tests.test_ingest_e2e import CRICKET_STORY, NDC_STORY

SHIPPED_WATCHLIST = Path(__file__).parent.parent / "pipeline" / "watchlist.yaml"


def cli(*args: str) -> Any:
    return CliRunner().invoke(app, list(args))


def flags(config: Path) -> dict[int, dict[str, Any]]:
    result = cli("--config", str(config), "flags", "list", "--format", "json")
    assert result.exit_code == 0, result.output
    return {flag["id"]: flag for flag in json.loads(result.stdout)}


@pytest.fixture
def ingested(site: Site, make_config: Callable[..., Path], monkeypatch: pytest.MonkeyPatch) -> Path:
    """Two articles ingested from the loopback site, one flag dismissed; then the site is
    stopped and every socket connect fails: reprocess must not need the network."""
    site.add("/ndc", Page(article_html("US sanctions Pakistani missile body", NDC_STORY)))
    site.add("/cricket", Page(article_html("Pakistan win series", CRICKET_STORY)))
    items = [
        {"title": "US sanctions Pakistani missile body", "link": site.url("/ndc")},
        {"title": "Pakistan win series", "link": site.url("/cricket")},
    ]
    site.add("/feed.xml", Page(rss(items), content_type="application/rss+xml"))
    config = make_config([{"name": "Test", "url": site.url("/feed.xml")}])
    (config.parent / "watchlist.yaml").write_text(SHIPPED_WATCHLIST.read_text())
    config.write_text(config.read_text() + "watchlist: watchlist.yaml\n")
    run_once(config)
    dismissed = min(flags(config))
    cli("--config", str(config), "flags", "review", str(dismissed), "--status", "dismissed")
    site.server.shutdown()
    site.server.server_close()

    def no_network(*args: object, **kwargs: object) -> None:
        raise AssertionError("reprocess opened a network connection")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    monkeypatch.setattr(socket.socket, "connect_ex", no_network)
    monkeypatch.setattr(socket, "create_connection", no_network)
    return config


def add_entity_to_watchlist(config: Path) -> None:
    watchlist = yaml.safe_load((config.parent / "watchlist.yaml").read_text())
    watchlist["entities"].append(
        {
            "id": "test-ayub",
            "name": "Saim Ayub Holdings",
            "kind": "organisation",
            "strong_aliases": ["Saim Ayub Holdings", "Saim Ayub"],
            "source": "test",
        }
    )
    (config.parent / "watchlist.yaml").write_text(yaml.safe_dump(watchlist))


def test_reprocess_re_extracts_identically(ingested: Path) -> None:
    config = ingested
    articles = db_rows(config, "SELECT id, title, text, content_hash, story_id FROM article")
    before = flags(config)

    result = cli("--config", str(config), "reprocess")

    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == (
        "reprocess done: 2 pages, 2 unchanged, 0 revised, 0 missing, 0 errors, 0 new flags"
    )
    assert (
        db_rows(config, "SELECT id, title, text, content_hash, story_id FROM article") == articles
    )
    assert db_rows(config, "SELECT count(*) FROM article_revision") == [(0,)]
    assert flags(config) == before


def test_reprocess_after_watchlist_change_adds_only_the_new_flags(ingested: Path) -> None:
    config = ingested
    before = flags(config)
    add_entity_to_watchlist(config)

    first = cli("--config", str(config), "reprocess")
    again = cli("--config", str(config), "reprocess")

    assert first.exit_code == 0, first.output
    assert "0 revised" in first.stdout and first.stdout.endswith(", 1 new flag\n")
    assert "0 new flags" in again.stdout
    after = flags(config)
    (new,) = [flag for flag in after.values() if flag["entity_id"] == "test-ayub"]
    assert new["url"].endswith("/cricket") and new["status"] == "new"
    assert len(after) == len(before) + 1
    for flag_id, flag in before.items():  # reviewed decisions untouched
        assert (after[flag_id]["status"], after[flag_id]["note"]) == (flag["status"], flag["note"])
    assert db_rows(config, "SELECT count(*) FROM article") == [(2,)]


def test_changed_extraction_becomes_a_revision_not_a_new_article(
    ingested: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As after an extractor upgrade that finds one more paragraph on the cricket page."""
    config = ingested
    before = flags(config)
    add_entity_to_watchlist(config)

    def upgraded(body: bytes, **kwargs: Any) -> ExtractedPage:
        page = extract_page(body, **kwargs)
        if "cricket" not in kwargs["url"]:
            return page
        extra = "\n\nSaim Ayub Holdings sponsored the trophy presented after the match."
        return ExtractedPage(
            page.title, page.text + extra, page.author, page.published, page.language,
            page.canonical_url, page.extractor, "upgraded",
        )  # fmt: skip

    monkeypatch.setattr(reprocess, "extract_page", upgraded)
    result = cli("--config", str(config), "reprocess")

    assert result.exit_code == 0, result.output
    assert "1 unchanged, 1 revised" in result.stdout and result.stdout.endswith(", 1 new flag\n")
    assert db_rows(config, "SELECT count(*) FROM article") == [(2,)]
    ((revision, version, new_text),) = db_rows(
        config, "SELECT revision, extractor_version, text FROM article WHERE url LIKE '%cricket'"
    )
    assert revision == 2 and version == "upgraded" and "sponsored the trophy" in new_text
    assert db_rows(config, "SELECT count(*) FROM article_revision") == [(1,)]
    after = flags(config)
    assert len(after) == len(before) + 1
    assert all(after[flag_id]["status"] == flag["status"] for flag_id, flag in before.items())
    again = cli("--config", str(config), "reprocess")
    assert "2 unchanged, 0 revised" in again.stdout  # the revision is now the stored text


def test_since_and_missing_archive_files(ingested: Path) -> None:
    config = ingested
    future = cli("--config", str(config), "reprocess", "--since", "2999-01-01")
    assert future.exit_code == 0 and "0 pages," in future.stdout

    archive = load_config(config).archive.path
    victim = next(archive.rglob("*.zst"))
    victim.unlink()
    result = cli("--config", str(config), "reprocess")
    assert result.exit_code == 0, result.output
    assert "1 unchanged" in result.stdout and "1 missing" in result.stdout

    bad = cli("--config", str(config), "reprocess", "--since", "yesterday")
    assert bad.exit_code == 2 and "--since" in bad.stderr


def test_only_the_latest_page_of_an_article_is_reprocessed(ingested: Path) -> None:
    """An article revised at ingest has two archived pages: the older one must not bring the
    old text back."""
    config = ingested
    ((article_id, feed_id),) = db_rows(
        config, "SELECT id, feed_id FROM article WHERE url LIKE '%ndc'"
    )
    engine = create_engine(load_config(config).database)
    with engine.begin() as connection:  # an older archived page whose file is long gone
        connection.execute(
            text(
                "INSERT INTO archived_page (feed_id, article_id, url, final_url, sha256, size,"
                " http_status, headers, entry, fetched_at) VALUES (:feed, :article, 'http://x/old',"
                " 'http://x/old', :sha, 1, 200, '{}', '{}', :at)"
            ),
            {"feed": feed_id, "article": article_id, "sha": "0" * 64, "at": datetime(2020, 1, 1)},
        )
        connection.execute(
            text("UPDATE archived_page SET id = id + 1000 WHERE url <> 'http://x/old'")
        )
    engine.dispose()

    result = cli("--config", str(config), "reprocess")

    assert result.exit_code == 0, result.output
    assert "2 pages, 2 unchanged" in result.stdout and "0 missing" in result.stdout
