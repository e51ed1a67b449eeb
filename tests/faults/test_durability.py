"""Durability: SIGKILL at random moments, a read-only database, a full disk, secrets in errors.

SIGKILL: `pipeline run --once` subprocesses against a slow-ish feed that grows every round,
killed 20 times at random moments (mostly while articles are being fetched and stored, some
during start-up and schema creation). After every kill the SQLite file passes
`PRAGMA integrity_check` and holds nothing half-stored; a final clean run ingests everything
that was missed.
"""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event
from sqlalchemy.engine import Engine
from typer.testing import CliRunner

from pipeline.cli.app import app
from storage import db as storage_db
from tests.conftest import run_once
from tests.faults.hostile import HostileServer, Request, respond, serve
from tests.faults.support import (
    RSS_TYPE,
    assert_consistent,
    rows,
    rss_document,
    rss_item,
    write_config,
)
from tests.site import article_html
from tests.test_ingest_e2e import NDC_STORY

KILLS = 20
ARTICLES_PER_ROUND = 6
PAGE_DELAY = 0.05  # seconds per article page: a run spends most of its time ingesting
ROOT = Path(__file__).resolve().parents[2]


class GrowingFeed:
    """A feed that lists ARTICLES_PER_ROUND more articles every round; slow article pages."""

    def __init__(self, server: HostileServer) -> None:
        self.server = server
        self.published = 0
        server.route("/feed.xml", self.feed)
        server.route("/article", self.article)

    def link(self, number: int) -> str:
        return self.server.url(f"/article?n={number}")

    def next_round(self) -> None:
        self.published += ARTICLES_PER_ROUND

    def feed(self, connection: Any, request: Request) -> None:
        items = [rss_item(self.link(n), f"Report {n}") for n in range(self.published)]
        respond(rss_document(items), content_type=RSS_TYPE)(connection, request)

    def article(self, connection: Any, request: Request) -> None:
        number = request.path.rsplit("=", 1)[1]
        time.sleep(PAGE_DELAY)
        page = article_html(f"Report {number}", [f"Report number {number}.", *NDC_STORY])
        respond(page)(connection, request)


def start_run(config: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "pipeline", "--config", str(config), "run", "--once"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )


def kill_at_random(
    process: subprocess.Popen[bytes], server: HostileServer, backlog: int, rng: random.Random
) -> str:
    """SIGKILL during start-up (one time in five), else after a random share of the round's
    article pages was served: while articles are being fetched, extracted and stored."""
    served_before = len(server.hits("/article"))
    if rng.random() < 0.2:
        time.sleep(rng.uniform(0.2, 2.0))
    else:
        served = served_before + rng.randint(1, max(backlog, 1))
        give_up = time.monotonic() + 30
        while len(server.hits("/article")) < served and process.poll() is None:
            if time.monotonic() > give_up:
                break
            time.sleep(0.005)
        time.sleep(rng.uniform(0, 0.3))
    if process.poll() is None:
        process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    if process.returncode != -signal.SIGKILL:
        return "finished"
    return "ingestion" if len(server.hits("/article")) > served_before else "start-up"


def stored_count(config: Path) -> int:
    if not rows(config, "SELECT 1 FROM sqlite_master WHERE name = 'article'"):
        return 0  # killed before the schema was created
    count: int = rows(config, "SELECT COUNT(*) FROM article")[0][0]
    return count


def half_stored(config: Path) -> dict[str, int]:
    """Articles whose story has no flag (every article here names NDC) and the reverse."""
    queries = {
        "story without flag": "SELECT COUNT(*) FROM story s"
        " WHERE NOT EXISTS (SELECT 1 FROM flag f WHERE f.story_id = s.id)",
        "article without flag": "SELECT COUNT(*) FROM article a"
        " WHERE NOT EXISTS (SELECT 1 FROM flag f WHERE f.story_id = a.story_id)",
    }
    return {name: rows(config, query)[0][0] for name, query in queries.items()}


def test_sigkill_at_random_moments_loses_and_corrupts_nothing(tmp_path: Path) -> None:
    seed = random.randrange(1_000_000)
    rng = random.Random(seed)
    with serve() as server:
        feed = GrowingFeed(server)
        config = write_config(
            tmp_path,
            f"sqlite:///{tmp_path / 'pipeline.db'}",
            [{"name": "growing", "url": server.url("/feed.xml")}],
            fetch={"per_host": 2},  # the default lease: a killed run's is taken over at once
        )
        moments, stored = [], []
        for _ in range(KILLS):
            feed.next_round()
            backlog = feed.published - stored_count(config)
            moments.append(kill_at_random(start_run(config), server, backlog, rng))
            stored.append(stored_count(config))
            if stored[-1]:
                assert_consistent(config, leases_released=False)
                assert half_stored(config) == {"story without flag": 0, "article without flag": 0}

        run_once(config)  # takes the last killed run's lease over (its pid is gone)

    assert moments.count("ingestion") >= KILLS // 2, (seed, moments)
    published = [ARTICLES_PER_ROUND * (round_ + 1) for round_ in range(KILLS)]
    missed = [have < want for have, want in zip(stored, published, strict=True)]
    assert any(missed), (seed, moments, stored)  # kills cut runs short: work was left over
    urls = {row[0] for row in rows(config, "SELECT url FROM article")}
    assert urls == {feed.link(n) for n in range(feed.published)}, seed
    assert_consistent(config)
    assert half_stored(config) == {"story without flag": 0, "article without flag": 0}


# ---- read-only database ---------------------------------------------------------------------


def snapshot(database: Path) -> tuple[bytes, list[tuple[Any, ...]]]:
    with sqlite3.connect(database) as connection:
        counts = [
            (table, connection.execute(f'SELECT COUNT(*) FROM "{table}"').fetchone()[0])  # noqa: S608
            for (table,) in connection.execute("SELECT name FROM sqlite_master WHERE type='table'")
        ]
        assert connection.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    return database.read_bytes(), counts


def test_read_only_database_is_a_clear_error_and_nothing_changes(tmp_path: Path) -> None:
    """Tests run as root, where chmod does not stop writes: SQLite's own read-only mode
    (`?mode=ro`) stands in for a read-only file or file system."""
    with serve() as server:
        items = [rss_item(server.url("/a"), "A report")]
        server.route("/feed.xml", respond(rss_document(items), content_type=RSS_TYPE))
        server.route("/a", respond(article_html("A report", NDC_STORY)))
        database = tmp_path / "pipeline.db"
        feeds = [{"name": "feed", "url": server.url("/feed.xml")}]
        writable = write_config(tmp_path, f"sqlite:///{database}", feeds)
        run_once(writable)
        before = snapshot(database)
        items.append(rss_item(server.url("/b"), "Another report"))
        server.route("/feed.xml", respond(rss_document(items), content_type=RSS_TYPE))
        read_only = write_config(tmp_path, f"sqlite:///file:{database}?mode=ro&uri=true", feeds)

        results = [
            CliRunner().invoke(app, ["--config", str(read_only), *command])
            for command in (["run", "--once"], ["flags", "review", "1", "--status", "relevant"])
        ]

    for result in results:
        assert result.exit_code == 1, result.output
        lines = result.stderr.splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: "), lines
        assert "readonly database" in lines[0]
    assert snapshot(database) == before


# ---- full disk --------------------------------------------------------------------------------


def test_full_disk_is_a_clear_error_and_nothing_is_half_stored(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SQLite's max_page_count makes the file 'full' after a few articles: SQLITE_FULL, the
    error a full disk gives, without filling a disk."""
    database = tmp_path / "pipeline.db"
    with serve() as server:
        items = []
        for number in range(40):
            server.route(
                f"/a/{number}",
                respond(
                    article_html(f"Report {number}", [f"Report number {number}. " * 30, *NDC_STORY])
                ),
            )
            items.append(rss_item(server.url(f"/a/{number}"), f"Report {number}"))
        server.route("/feed.xml", respond(rss_document(items), content_type=RSS_TYPE))
        feeds = [{"name": "feed", "url": server.url("/feed.xml")}]
        config = write_config(tmp_path, f"sqlite:///{database}", feeds)
        # Create the schema first, then cap the file a few pages above its size.
        result = CliRunner().invoke(app, ["--config", str(config), "db", "upgrade"])
        assert result.exit_code == 0, result.output
        pages = database.stat().st_size // 4096

        create_engine = storage_db._create_engine

        def capped_engine(url: str) -> Engine:
            engine = create_engine(url)

            @event.listens_for(engine, "connect")
            def _cap(dbapi_connection: Any, _record: Any) -> None:
                dbapi_connection.execute(f"PRAGMA max_page_count = {pages + 12}")

            return engine

        monkeypatch.setattr(storage_db, "_create_engine", capped_engine)
        result = CliRunner().invoke(app, ["--config", str(config), "run", "--once"])

    assert result.exit_code == 1, result.output
    lines = result.stderr.strip().splitlines()
    assert lines[-1].startswith("error: ") and "full" in lines[-1], lines
    monkeypatch.undo()
    assert_consistent(config, leases_released=False)
    assert half_stored(config) == {"story without flag": 0, "article without flag": 0}


# ---- secrets --------------------------------------------------------------------------------


def unreachable_postgresql(tmp_path: Path) -> Path:
    url = f"postgresql+psycopg://sanctions:{PASSWORD}@127.0.0.1:1/pipeline"  # port 1: refused
    config = tmp_path / "feeds.yaml"
    config.write_text(f"database: {url}\nfeeds: []\n", encoding="utf-8")
    return config


PASSWORD = "s3cret-pa55word"
DATABASE_COMMANDS = [["run", "--once"], ["stats"], ["db", "upgrade"], ["feeds", "list"]]


@pytest.mark.parametrize("command", DATABASE_COMMANDS, ids=" ".join)
def test_database_password_never_appears_in_errors(tmp_path: Path, command: list[str]) -> None:
    config = unreachable_postgresql(tmp_path)
    result = CliRunner().invoke(app, ["--config", str(config), "-v", *command])
    assert result.exit_code == 1
    assert PASSWORD not in result.stdout + result.stderr + repr(result.exception)


@pytest.mark.parametrize("command", DATABASE_COMMANDS, ids=" ".join)
def test_unreachable_database_is_one_clear_line(tmp_path: Path, command: list[str]) -> None:
    config = unreachable_postgresql(tmp_path)
    result = CliRunner().invoke(app, ["--config", str(config), *command])
    assert result.exit_code == 1
    assert result.stderr.startswith("error: ") and result.stderr.count("\n") == 1, result.stderr
    assert "sanctions:***@127.0.0.1:1" in result.stderr


def test_feeds_check_shows_the_database_without_its_password(tmp_path: Path) -> None:
    config = unreachable_postgresql(tmp_path)
    result = CliRunner().invoke(app, ["--config", str(config), "feeds", "check"])
    assert result.exit_code == 1  # `feeds check` reaches the database: down is a failure
    assert result.stdout == "" and result.stderr.count("\n") == 1, result.stderr
    assert "sanctions:***@127.0.0.1:1" in result.stderr
    assert PASSWORD not in result.stdout + result.stderr
