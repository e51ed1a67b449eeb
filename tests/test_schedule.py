"""Adaptive schedules, feed-body hashes, validators, stale feeds and duplicate feeds: pure
interval rules, then polls of a real loopback site into SQLite and PostgreSQL with an injected
clock (no test sleeps for a schedule)."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from pipeline.cli.app import app
from pipeline.core import intervals
from pipeline.core.config import load_config
from pipeline.poll.scheduler import Worker
from pipeline.sources.feeds import parse_feed
from storage.db import Database
from storage.repository import Repository
from tests.site import Page, Site, article_html, rss
from tests.test_ingest_e2e import CRICKET_STORY

T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
MIN, MAX = 600.0, 43200.0


# ---- pure rules --------------------------------------------------------------------------------


def step(current: float, outcome: Any = "ok", entries: int = 10, new: int = 0) -> float:
    return intervals.next_interval(
        current,
        outcome=outcome,
        entries=entries,
        new_entries=new,
        min_interval=MIN,
        max_interval=MAX,
    )


def test_mostly_new_is_faster_none_new_is_slower_some_new_a_little_faster() -> None:
    assert step(3600, new=5) == 1800
    assert step(3600, new=1) == 2880
    assert step(3600, new=0) == 5400
    assert step(3600, outcome="unchanged") == 5400
    assert step(3600, outcome="not_modified") == 5400
    assert step(3600, entries=0) == 3600  # an empty feed says nothing either way
    assert step(700, new=10) == MIN and step(40000, new=0) == MAX  # clamped


def test_floor_keeps_the_interval_up_but_never_above_the_maximum() -> None:
    floor = intervals.floor_seconds(3 * 3600, None, max_interval=MAX)
    assert floor == 3 * 3600
    fast = intervals.next_interval(
        3600, outcome="ok", entries=4, new_entries=4, min_interval=MIN, max_interval=MAX,
        floor=floor,
    )  # fmt: skip
    assert fast == 3 * 3600
    assert intervals.floor_seconds(7 * 86400, max_interval=MAX) == MAX


def test_feed_and_header_hints() -> None:
    assert intervals.feed_update_seconds("60", None, None) == 3600
    assert intervals.feed_update_seconds(None, "hourly", "2") == 1800
    assert intervals.feed_update_seconds("10", "daily", None) == 86400
    assert intervals.feed_update_seconds("soon", "sometimes", "x") is None
    headers = {"cache-control": "public, max-age=1800"}
    assert intervals.header_floor_seconds(headers, T0) == 1800
    expires = {"expires": "Mon, 02 Mar 2026 10:00:00 GMT"}
    assert intervals.header_floor_seconds(expires, T0) == 7200
    assert intervals.header_floor_seconds({"cache-control": "no-cache, max-age=60"}, T0) is None
    assert intervals.header_floor_seconds({"expires": "0"}, T0) is None


def test_parsed_feed_carries_ttl_and_syndication_hints() -> None:
    body = (
        b'<?xml version="1.0"?><rss version="2.0" '
        b'xmlns:sy="http://purl.org/rss/1.0/modules/syndication/"><channel><title>t</title>'
        b"<ttl>30</ttl><sy:updatePeriod>hourly</sy:updatePeriod>"
        b"<sy:updateFrequency>1</sy:updateFrequency>"
        b"<item><title>a</title><link>http://example.org/a</link></item></channel></rss>"
    )
    assert parse_feed(body, base_url="http://example.org/feed").update_seconds == 3600


# ---- polls with an injected clock ---------------------------------------------------------------


def poll_round(config: Path, now: datetime) -> None:
    """One `run --once` round of the real worker at the time `now`."""
    asyncio.run(Worker(load_config(config), clock=lambda: now).run(once=True))


def feeds(config: Path) -> dict[str, dict[str, Any]]:
    repository = Repository(Database(load_config(config).database))
    try:
        return {feed["name"]: feed for feed in repository.list_feeds()}
    finally:
        repository.db.dispose()


def outcomes(config: Path, name: str) -> list[tuple[str, float | None]]:
    database = Database(load_config(config).database)
    try:
        with database.engine.connect() as connection:
            from sqlalchemy import text

            rows = connection.execute(
                text(
                    "SELECT a.outcome, a.interval_seconds FROM fetch_attempt a"
                    " JOIN feed f ON f.id = a.feed_id WHERE f.name = :name ORDER BY a.id"
                ),
                {"name": name},
            )
            return [(str(outcome), interval) for outcome, interval in rows]
    finally:
        database.dispose()


def items(site: Site, count: int, prefix: str = "s") -> list[dict[str, str]]:
    for number in range(count):
        path = f"/{prefix}/{number}"
        if path not in site.routes:
            site.add(path, Page(article_html(f"Story {prefix}{number}", CRICKET_STORY)))
    return [
        {"title": f"Story {prefix}{number}", "link": site.url(f"/{prefix}/{number}")}
        for number in range(count)
    ]


def test_unchanged_body_with_a_new_etag_is_unchanged(
    site: Site, make_config: Callable[..., Path]
) -> None:
    site.add("/feed.xml", Page(rss(items(site, 2)), content_type="application/rss+xml", etag='"1"'))
    config = make_config([{"name": "News", "url": site.url("/feed.xml")}])

    poll_round(config, T0)
    site.routes["/feed.xml"].etag = '"2"'  # the server changes its ETag, not its feed
    poll_round(config, T0 + timedelta(hours=1))

    assert [outcome for outcome, _ in outcomes(config, "News")] == ["ok", "unchanged"]
    assert len(site.hits("/s/0")) == 1  # no entry work the second time
    state = feeds(config)["News"]
    assert state["last_success_at"] == T0 + timedelta(hours=1)
    assert state["last_new_item_at"] == T0
    assert site.hits("/feed.xml")[1].headers.get("If-None-Match") == '"1"'
    poll_round(config, T0 + timedelta(hours=2))
    assert site.hits("/feed.xml")[2].headers.get("If-None-Match") == '"2"'  # stored after 200


def test_ignore_validators_for_a_server_whose_304_lies(
    site: Site, make_config: Callable[..., Path]
) -> None:
    # The server keeps one ETag whatever its feed says: a conditional GET never sees news.
    site.add("/liar.xml", Page(rss(items(site, 1)), content_type="application/rss+xml", etag='"x"'))
    site.add("/truth.xml", Page(rss(items(site, 1, "t")), content_type="application/rss+xml",
                                etag='"y"'))  # fmt: skip
    config = make_config(
        [
            {"name": "Liar", "url": site.url("/liar.xml"), "ignore_validators": True},
            {"name": "Trusting", "url": site.url("/truth.xml")},
        ]
    )
    poll_round(config, T0)
    site.routes["/liar.xml"].body = rss(items(site, 2))
    site.routes["/truth.xml"].body = rss(items(site, 2, "t"))
    poll_round(config, T0 + timedelta(hours=1))

    assert "If-None-Match" not in site.hits("/liar.xml")[1].headers
    assert len(site.hits("/s/1")) == 1  # the new entry was found
    assert len(site.hits("/t/1")) == 0  # the trusting feed got the lying 304
    state = feeds(config)
    assert state["Liar"]["last_new_item_at"] == T0 + timedelta(hours=1)
    assert outcomes(config, "Trusting")[1][0] == "not_modified"


def test_intervals_move_over_simulated_rounds(site: Site, make_config: Callable[..., Path]) -> None:
    site.add("/busy.xml", Page(rss(items(site, 6, "b")[:2]), content_type="application/rss+xml"))
    site.add("/pinned.xml", Page(rss(items(site, 1, "p")), content_type="application/rss+xml"))
    hinted = rss(items(site, 1, "h")).replace(b"<description>", b"<ttl>120</ttl><description>")
    site.add("/hinted.xml", Page(hinted, content_type="application/rss+xml"))
    cached = Page(rss(items(site, 1, "c")), content_type="application/rss+xml",
                  headers={"Cache-Control": "max-age=5400"})  # fmt: skip
    site.add("/cached.xml", cached)
    config = make_config(
        [
            {"name": "Busy", "url": site.url("/busy.xml")},
            {"name": "Pinned", "url": site.url("/pinned.xml"), "interval": "20m"},
            {"name": "Hinted", "url": site.url("/hinted.xml")},
            {"name": "Cached", "url": site.url("/cached.xml")},
        ],
        schedule={"interval": "1h", "min_interval": "10m", "max_interval": "12h"},
    )
    seen: list[float] = []
    now = T0
    # Busy's rounds: 2 of 2 new; the same body twice; 1 new of 3 (x0.8); 3 new of 6; a new body
    # (the same entries in another order) with nothing new.
    busy = items(site, 6, "b")
    bodies = [None, None, None, busy[:3], busy, list(reversed(busy))]
    first_round: dict[str, dict[str, Any]] = {}
    for body in bodies:
        if body is not None:
            site.routes["/busy.xml"].body = rss(body)
        poll_round(config, now)
        state = feeds(config)
        first_round = first_round or state
        seen.append(state["Busy"]["interval_seconds"])
        now += timedelta(hours=13)  # the worker restarts each round: sync keeps the interval

    assert seen == [1800, 2700, 4050, 3240, 1620, 2430]
    assert [interval for _, interval in outcomes(config, "Busy")] == seen
    assert [outcome for outcome, _ in outcomes(config, "Busy")][:3] == [
        "ok",
        "unchanged",
        "unchanged",
    ]
    assert first_round["Hinted"]["interval_seconds"] == 7200  # <ttl>120</ttl> is the floor
    assert first_round["Hinted"]["interval_floor_seconds"] == 7200
    assert first_round["Cached"]["interval_seconds"] == 5400  # so is Cache-Control: max-age
    state = feeds(config)
    assert state["Pinned"]["interval_seconds"] == 1200  # pinned: never moves
    assert state["Pinned"]["interval_pinned"] is True
    assert state["Hinted"]["interval_seconds"] > 7200  # unchanged since: slower from the floor


# ---- stale feeds ------------------------------------------------------------------------------


def test_feeds_stale_finds_the_feed_with_nothing_new(
    site: Site, make_config: Callable[..., Path]
) -> None:
    site.add("/live.xml", Page(rss(items(site, 1, "l")), content_type="application/rss+xml"))
    site.add("/quiet.xml", Page(rss(items(site, 1, "q")), content_type="application/rss+xml"))
    config = make_config(
        [
            {"name": "Live", "url": site.url("/live.xml")},
            {"name": "Quiet", "url": site.url("/quiet.xml")},
            {"name": "Broken", "url": site.url("/missing.xml")},
        ]
    )
    now = datetime.now(UTC)
    poll_round(config, now - timedelta(days=3))
    site.routes["/live.xml"].body = rss(items(site, 2, "l"))
    poll_round(config, now - timedelta(hours=1))  # Quiet succeeds, but has nothing new

    stale = CliRunner().invoke(app, ["--config", str(config), "feeds", "stale", "--older", "2d"])
    listed = CliRunner().invoke(
        app, ["--config", str(config), "feeds", "stale", "--format", "json"]
    )
    calm = CliRunner().invoke(app, ["--config", str(config), "feeds", "stale", "--older", "5d"])
    bad = CliRunner().invoke(app, ["--config", str(config), "feeds", "stale", "--older", "2x"])

    assert stale.exit_code == 3, stale.output  # "stale found": distinct from the error codes
    assert {row["name"] for row in json.loads(listed.stdout)} == {"Quiet", "Broken"}
    assert "Quiet" in stale.stdout and "Live" not in stale.stdout
    # Broken never succeeded in the 3 days since it was added: stale for 2d, not for 5d.
    assert calm.exit_code == 0 and "Broken" not in calm.stdout and "Quiet" not in calm.stdout
    assert bad.exit_code == 2 and "--older" in bad.stderr


def test_feeds_list_shows_health_in_80_columns(
    site: Site, make_config: Callable[..., Path]
) -> None:
    site.add("/feed.xml", Page(rss(items(site, 1)), content_type="application/rss+xml"))
    config = make_config(
        [
            {"name": "A rather long feed name indeed", "url": site.url("/feed.xml")},
            {"name": "Broken", "url": site.url("/missing.xml"), "interval": "30m"},
        ]
    )
    poll_round(config, datetime.now(UTC))

    table = CliRunner().invoke(
        app, ["--config", str(config), "feeds", "list"], env={"COLUMNS": "80"}
    )

    assert table.exit_code == 0, table.output
    assert max(len(line) for line in table.stdout.splitlines()) <= 80
    broken = next(line for line in table.stdout.splitlines() if line.startswith("Broken"))
    assert "error (1x)" in broken and "30m*" in broken and "never" in broken  # never worked
    assert "HTTPStatus" in broken  # the error, clipped to what fits


# ---- the same feed twice ----------------------------------------------------------------------


def test_url_variants_of_one_feed_are_polled_once(
    site: Site, make_config: Callable[..., Path], caplog: pytest.LogCaptureFixture
) -> None:
    site.add("/feed.xml", Page(rss(items(site, 1)), content_type="application/rss+xml"))
    host_port = site.base.removeprefix("http://").replace("127.0.0.1", "localhost")
    site.redirect("/old.xml", f"http://{host_port}/feed.xml")
    config = make_config(
        [
            {"name": "Main", "url": f"http://{host_port}/feed.xml"},
            {"name": "Secure", "url": f"https://{host_port}/feed.xml"},
            {"name": "WWW", "url": f"http://www.{host_port}/feed.xml"},
            {"name": "Moved", "url": site.url("/old.xml")},
        ]
    )
    caplog.set_level(logging.WARNING)

    poll_round(config, T0)
    poll_round(config, T0 + timedelta(hours=1))

    assert len(site.hits("/old.xml")) == 1  # found to redirect to Main's feed after one poll
    assert len(site.hits("/feed.xml")) == 3  # Main twice, Moved's redirect once
    state = feeds(config)
    assert {name: state[name]["duplicate_of"] for name in state} == {
        "Main": None,
        "Secure": "Main",
        "WWW": "Main",
        "Moved": "Main",
    }
    assert {state[name]["status"] for name in ("Secure", "WWW", "Moved")} == {"duplicate"}
    warnings = " ".join(record.getMessage() for record in caplog.records)
    assert "'Secure' is the same feed as 'Main'" in warnings
    assert "'Moved' is the same feed as 'Main'" in warnings
    listing = CliRunner().invoke(app, ["--config", str(config), "feeds", "list"])
    assert "dup of Main" in listing.stdout
