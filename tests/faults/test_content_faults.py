"""Odd and hostile feed content, end to end, on SQLite and PostgreSQL: entries with no link,
relative, javascript: and data: links, duplicate guids, future and unparseable dates, HTML,
markup, formulas and control characters in titles, a lone surrogate, 10,000 entries.
"""

from __future__ import annotations

import csv as csv_module
import io
import json
import logging
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from pipeline.cli.app import app
from tests.conftest import run_once
from tests.db_engines import ENGINES, database_url
from tests.faults.hostile import HostileServer, Request, respond, serve
from tests.faults.support import (
    RSS_TYPE,
    SUMMARY,
    add_healthy_feed,
    assert_consistent,
    assert_healthy_feed_ingested,
    attempts,
    feed_state,
    rows,
    rss_document,
    rss_item,
    write_config,
)
from tests.test_ingest_e2e import NDC_STORY

ENTRIES_CAP = 40
BULK_ENTRIES = 10_000
FORMULA_TITLE = '=HYPERLINK("http://127.0.0.1:9/x","click")'
MARKUP_TITLE = "[bold red]Sanctions[/bold red] and [link=http://127.0.0.1:9]here[/link]"


FORMULA_STORY = [
    "Executive Order 13382 was used again on Friday, when the Treasury added two more suppliers "
    "of the National Development Complex to its list of blocked proliferation networks.",
    "Officials said the suppliers had shipped filament winding machines and specialised steel "
    "to the complex through intermediaries in the Gulf over the past three years.",
    "Neither supplier answered requests for comment, and the foreign office in Islamabad said "
    "it had not been informed of the decision before it was announced.",
]


def dateless_article(paragraphs: list[str]) -> bytes:
    """No date anywhere on the page: the entry's date is the only one."""
    return (
        "<html><head><title>Sanctions story</title></head><body><article>"
        + "".join(f"<p>{paragraph}</p>" for paragraph in paragraphs)
        + "</article></body></html>"
    ).encode()


def item(link: str | None, title: str, *, guid: str | None = None, date: str | None = None) -> str:
    link_element = "" if link is None else f"<link>{link}</link>"
    guid_element = f"<guid>{guid}</guid>" if guid else ""
    date_element = f"<pubDate>{date}</pubDate>" if date else ""
    return (
        f"<item><title>{title}</title>{link_element}{guid_element}"
        f"<description>{title}: {SUMMARY}</description>{date_element}</item>"
    )


def content_feed(server: HostileServer) -> bytes:
    url = server.url
    items = [
        item(None, "no link at all"),
        item("/relative/story", "a relative link"),
        item("javascript:alert(document.cookie)", "a javascript link"),
        item("data:text/html,&lt;script&gt;alert(1)&lt;/script&gt;", "a data link"),
        item(url("/guid/first"), "first of a shared guid", guid="shared-guid"),
        item(url("/guid/second"), "second of a shared guid", guid="shared-guid"),
        item(url("/guid/first"), "the first again, listed twice", guid="shared-guid"),
        item(url("/dates/future"), "from the future", date="Sat, 01 Jan 2300 00:00:00 GMT"),
        item(url("/dates/garbage"), "unparseable date", date="the day after tomorrow-ish"),
        item(
            url("/titles/html"),
            "&lt;script&gt;alert(1)&lt;/script&gt;Breaking &lt;b&gt;x&lt;/b&gt;",
        ),
        item(url("/titles/markup"), MARKUP_TITLE),
        item(url("/titles/formula"), FORMULA_TITLE.replace("&", "&amp;").replace('"', "&quot;")),
    ]
    return rss_document(items)


def json_feed(server: HostileServer) -> bytes:
    """Control characters (NUL, BEL, ESC) and a lone surrogate, which only JSON can carry."""
    items = [
        {
            "id": "control\u0000chars",
            "url": server.url("/titles/control"),
            "title": "Bell\u0007 NUL\u0000 escape\u001b[31m red\u001b[0m title",
            "content_text": "Control\u0000 characters\u0007 in the body. " + SUMMARY,
        },
        {
            "id": "surrogate",
            "url": server.url("/titles/surrogate"),
            "title": "A lone surrogate \ud800 in the title",
            "content_text": "A lone surrogate \udfff in the text. " + SUMMARY,
        },
    ]
    document = {"version": "https://jsonfeed.org/version/1.1", "title": "json", "items": items}
    return json.dumps(document).encode()  # ensure_ascii: the surrogates travel as \ud800


def bulk_feed(server: HostileServer) -> bytes:
    items = [
        rss_item(server.url(f"/bulk/{number}"), f"Bulk {number}") for number in range(BULK_ENTRIES)
    ]
    return rss_document(items)


@dataclass(frozen=True)
class ContentRun:
    server: HostileServer
    config: Path
    log: list[str]


class Collected(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


@pytest.fixture(scope="module", params=ENGINES)
def content_run(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ContentRun]:
    directory = tmp_path_factory.mktemp("content-faults")
    collected = Collected()
    logger = logging.getLogger("pipeline")
    logger.addHandler(collected)
    previous_level = logger.level
    logger.setLevel(logging.INFO)
    with serve() as server, database_url(request.param, directory) as database:
        page = respond(dateless_article(NDC_STORY))
        for path in ("/relative/story", "/guid/first", "/guid/second", "/dates/future"):
            server.route(path, page)
        for path in ("/dates/garbage", "/titles/html", "/titles/markup"):
            server.route(path, page)
        for path in ("/titles/control", "/titles/surrogate"):
            server.route(path, page)
        # A story of its own, so that its flag carries the formula title.
        server.route("/titles/formula", respond(dateless_article(FORMULA_STORY)))
        server.route("/content.xml", respond(content_feed(server), content_type=RSS_TYPE))
        server.route("/content.json", respond(json_feed(server), content_type="application/json"))
        feeds = [
            add_healthy_feed(server),
            {"name": "content", "url": server.url("/content.xml")},
            {"name": "json", "url": server.url("/content.json")},
        ]
        config = write_config(
            directory,
            database,
            feeds,
            fetch={"max_entries_per_poll": ENTRIES_CAP},
        )
        try:
            run_once(config)
            yield ContentRun(server, config, collected.lines)
        finally:
            logger.removeHandler(collected)
            logger.setLevel(previous_level)


def article(run: ContentRun, path: str) -> dict[str, Any]:
    found = rows(
        run.config,
        "SELECT title, text, published_at, guid, url FROM article WHERE url = :url",
        url=run.server.url(path),
    )
    assert len(found) == 1, f"{path}: {len(found)} articles"
    return dict(zip(("title", "text", "published_at", "guid", "url"), found[0], strict=True))


def test_entries_without_a_usable_link_are_skipped_with_a_log_line(
    content_run: ContentRun,
) -> None:
    titles = {row[0] for row in rows(content_run.config, "SELECT title FROM article")}
    assert not {"no link at all", "a javascript link", "a data link"} & titles
    skipped = [line for line in content_run.log if line.startswith("entry skipped")]
    assert any("no link at all" in line for line in skipped)
    assert any("a javascript link" in line for line in skipped)
    assert any("a data link" in line for line in skipped)
    (attempt,) = attempts(content_run.config, "content")
    assert attempt["errors"] == 3
    assert feed_state(content_run.config, "content")["status"] == "ok"


def test_relative_link_is_resolved_against_the_feed(content_run: ContentRun) -> None:
    assert article(content_run, "/relative/story")["title"] == "a relative link"
    assert len(content_run.server.hits("/relative/story")) == 1


def test_duplicate_guids_store_each_link_once(content_run: ContentRun) -> None:
    # The canonical link, not the guid, identifies an article: both links are stored once.
    first, second = article(content_run, "/guid/first"), article(content_run, "/guid/second")
    assert first["guid"] == second["guid"]
    assert first["guid"].endswith("shared-guid")
    assert len(content_run.server.hits("/guid/first")) == 1  # listed twice, fetched once


def test_future_and_unparseable_dates_are_dropped(content_run: ContentRun) -> None:
    assert article(content_run, "/dates/future")["published_at"] is None
    assert article(content_run, "/dates/garbage")["published_at"] is None


def test_html_in_titles_is_stored_as_plain_text(content_run: ContentRun) -> None:
    title = article(content_run, "/titles/html")["title"]
    assert "<script" not in title and "alert(1)" not in title
    assert "Breaking" in title


def test_control_characters_never_reach_the_database(content_run: ContentRun) -> None:
    stored = article(content_run, "/titles/control")
    for value in (stored["title"], stored["text"], stored["guid"]):
        assert not any(ord(character) < 32 and character not in "\n\t" for character in value)
    assert stored["title"].startswith("Bell NUL escape")


def test_lone_surrogates_are_dropped_before_storage(
    content_run: ContentRun,
) -> None:
    found = rows(
        content_run.config,
        "SELECT title FROM article WHERE url = :url",
        url=content_run.server.url("/titles/surrogate"),
    )
    assert found == [("A lone surrogate in the title",)]


def slow_feed(connection: socket.socket, request: Request) -> None:
    time.sleep(0.5)  # well within the deadline, unless the event loop is blocked
    respond(rss_document([]), content_type=RSS_TYPE)(connection, request)


def test_ten_thousand_entries_are_capped_and_do_not_starve_other_feeds(tmp_path: Path) -> None:
    # On SQLite only: parsing 10,000 entries takes seconds, and no engine matters here. The
    # slow feeds answer while the big one is parsed: parsing must not block their requests.
    with serve() as server:
        server.route("/bulk.xml", respond(bulk_feed(server), content_type=RSS_TYPE))
        server.route("/slow.xml", slow_feed)
        feeds = [
            add_healthy_feed(server),
            {"name": "bulk", "url": server.url("/bulk.xml")},
            *({"name": f"slow {n}", "url": server.url(f"/slow.xml?{n}")} for n in range(3)),
        ]
        fetch = {"max_entries_per_poll": ENTRIES_CAP, "max_bytes": 8_000_000, "deadline": 3}
        config = write_config(tmp_path, f"sqlite:///{tmp_path / 'db.sqlite'}", feeds, fetch=fetch)

        run_once(config)

        (attempt,) = attempts(config, "bulk")
        assert (attempt["outcome"], attempt["entries"]) == ("ok", ENTRIES_CAP)
        assert attempt["new_entries"] == ENTRIES_CAP
        fetched = [r for r in server.requests if r.path.startswith("/bulk/")]
        assert len(fetched) == ENTRIES_CAP
        assert rows(
            config,
            "SELECT COUNT(*) FROM article a JOIN feed f ON f.id = a.feed_id WHERE f.name = 'bulk'",
        ) == [(ENTRIES_CAP,)]
        for n in range(3):
            assert feed_state(config, f"slow {n}")["last_error"] is None
        assert_healthy_feed_ingested(config)
        assert_consistent(config)


def test_stored_text_is_never_interpreted_by_the_cli(content_run: ContentRun) -> None:
    runner = CliRunner()
    config = str(content_run.config)
    table = runner.invoke(app, ["--config", config, "articles", "list"], env={"COLUMNS": "300"})
    csv = runner.invoke(app, ["--config", config, "flags", "list", "--format", "csv"])

    assert table.exit_code == 0 and csv.exit_code == 0
    assert MARKUP_TITLE in table.stdout  # shown as it is, not styled
    assert "\x1b[31m" not in table.stdout  # no escape sequence from stored text
    titles = [row["title"] for row in csv_module.DictReader(io.StringIO(csv.stdout))]
    assert "'" + FORMULA_TITLE in titles  # a spreadsheet shows it, never runs it


def test_healthy_feed_ingested_and_nothing_broken(content_run: ContentRun) -> None:
    for feed in ("content", "json"):
        assert feed_state(content_run.config, feed)["last_error"] is None
    assert_healthy_feed_ingested(content_run.config)
    assert_consistent(content_run.config)
