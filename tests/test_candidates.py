"""Candidates end to end: a real run on a loopback site, the CLI, the database view, promotion
to an alerting flag, dismissal, rescan after a watchlist change; SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import inspect
from typer.testing import CliRunner

from pipeline.alerts.dispatcher import AlertDispatcher
from pipeline.cli.app import app
from pipeline.core.clock import utcnow
from pipeline.core.config import SHIPPED_WATCHLIST, load_config
from storage.db import Database
from storage.repository import Repository
from tests.conftest import db_rows, run_once
from tests.db_engines import at_revision
from tests.site import Page, Site, article_html, rss
from tests.test_alerts import Receiver

# A common-word name with nothing of its entity around it: a candidate, never nothing.
BARE_STORY = [
    "Rockside Enterprise opened a new showroom on Saturday, offering discounts on furniture, "
    "rugs and lamps to the first hundred customers who came through its doors.",
    "The owner said business had been steady this year and that a second branch would open "
    "before the end of the summer if sales kept growing at the present pace.",
]
CRICKET_STORY = [
    "The national cricket team beat the visitors by five wickets on Sunday, chasing down a "
    "target of 243 with two overs to spare in front of a full house at the stadium.",
]
API_CANDIDATES = {
    "id", "article_id", "url", "title", "feed", "published_at", "first_seen_at", "entity_id",
    "entity", "matched", "snippet", "reason", "score", "status", "note", "reviewed_by",
    "reviewed_at", "story_id", "flag_id", "promoted_rule", "duplicates_count",
}  # fmt: skip


def cli(config: Path, *args: str) -> Any:
    result = CliRunner().invoke(app, ["--config", str(config), *args])
    assert result.exit_code == 0, result.output
    return result


def candidates(config: Path, status: str = "all") -> list[dict[str, Any]]:
    out = cli(config, "candidates", "list", "--status", status, "--format", "json").stdout
    rows: list[dict[str, Any]] = json.loads(out)
    return rows


def flags(config: Path) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = json.loads(cli(config, "flags", "list", "--format", "json").stdout)
    return rows


def publish(site: Site, stories: dict[str, list[str]]) -> None:
    items = []
    for path, paragraphs in stories.items():
        site.add(path, Page(article_html(f"Story {path}", paragraphs)))
        items.append({"title": f"Story {path}", "link": site.url(path)})
    site.add("/feed.xml", Page(rss(items), content_type="application/rss+xml"))


def bare_run(site: Site, make_config: Callable[..., Path], **overrides: Any) -> Path:
    publish(site, {"/bare": BARE_STORY, "/cricket": CRICKET_STORY})
    config = make_config([{"name": "Test", "url": site.url("/feed.xml")}], **overrides)
    run_once(config)
    return config


def test_a_rejected_name_is_stored_as_a_candidate_with_its_reason(
    site: Site, make_config: Callable[..., Path]
) -> None:
    config = bare_run(site, make_config)
    assert flags(config) == []  # candidates never make flags on their own
    [candidate] = candidates(config)
    assert candidate["entity"] == "Rockside Enterprise"
    assert candidate["matched"] == "Rockside Enterprise"
    assert candidate["url"] == site.url("/bare")
    assert candidate["status"] == "new"
    assert "«Rockside Enterprise»" in candidate["snippet"]
    assert candidate["reason"] == ("common-word name, no corroborating context within 60 words")
    assert 0.2 <= candidate["score"] < 0.55 and candidate["duplicates"] == []
    view = db_rows(config, "SELECT entity_id, matched, status FROM api_candidates")
    assert view == [("ofac-52053", "Rockside Enterprise", "new")]
    shown = cli(config, "candidates", "show", str(candidate["id"])).stdout
    assert "no corroborating context" in shown and "[[Rockside Enterprise]]" in shown
    table = cli(config, "candidates", "list").stdout
    assert "1 candidates" in table and "Rockside Enterprise" in table
    csv_lines = cli(config, "candidates", "list", "--format", "csv").stdout.splitlines()
    assert csv_lines[0].startswith("id,article_id,url") and len(csv_lines) == 2


def test_the_view_has_the_contract_columns(site: Site, make_config: Callable[..., Path]) -> None:
    config = bare_run(site, make_config)
    db = Database(load_config(config).database)
    try:
        columns = {column["name"] for column in inspect(db.engine).get_columns("api_candidates")}
    finally:
        db.dispose()
    assert columns >= API_CANDIDATES


def test_promote_makes_an_analyst_flag_that_alerts_once(
    site: Site, make_config: Callable[..., Path], receiver: Receiver
) -> None:
    receiver.up()
    config = bare_run(
        site, make_config, alerts={"webhooks": [{"name": "hook", "url": receiver.url}]}
    )
    [candidate] = candidates(config)
    out = cli(config, "candidates", "promote", str(candidate["id"]), "--by", "ayesha").stdout
    [flag] = flags(config)
    assert out.strip() == f"candidate {candidate['id']}: promoted to flag {flag['id']}"
    assert (flag["entity"], flag["status"], flag["reviewed_by"]) == (
        "Rockside Enterprise",
        "relevant",
        "ayesha",
    )
    assert db_rows(config, "SELECT rule FROM flag") == [("analyst",)]
    assert candidates(config, "promoted")[0]["flag_id"] == flag["id"]
    for _round in range(2):  # a second dispatch sends nothing again
        dispatch_once(config)
    assert [body["id"] for body in receiver.accepted()] == [flag["id"]]
    again = CliRunner().invoke(
        app, ["--config", str(config), "candidates", "promote", str(candidate["id"])]
    )
    assert again.exit_code == 1 and "already promoted" in again.stderr
    history = db_rows(
        config, "SELECT from_status, to_status, reviewed_by FROM candidate_review ORDER BY id"
    )
    assert history == [("new", "promoted", "ayesha")]


def dispatch_once(config: Path) -> None:
    settings = load_config(config)
    db = Database(settings.database)
    try:
        dispatcher = AlertDispatcher(settings.alerts, Repository(db), clock=utcnow)
        asyncio.run(dispatcher.dispatch(flush=True))
    finally:
        db.dispose()


def test_dismiss_is_audited_and_never_offered_again(
    site: Site, make_config: Callable[..., Path]
) -> None:
    config = bare_run(site, make_config)
    [candidate] = candidates(config)
    cli(config, "candidates", "dismiss", str(candidate["id"]), "--note", "a shop", "--by", "omar")
    cli(config, "rescan")
    cli(config, "reprocess")
    [after] = candidates(config)
    assert (after["id"], after["status"], after["note"]) == (candidate["id"], "dismissed", "a shop")
    assert candidates(config, "new") == []
    history = db_rows(
        config, "SELECT from_status, to_status, note, reviewed_by FROM candidate_review"
    )
    assert history == [("new", "dismissed", "a shop", "omar")]


def test_a_candidate_flagged_after_a_watchlist_change_is_closed_by_the_rule(
    site: Site, make_config: Callable[..., Path], tmp_path: Path
) -> None:
    config = bare_run(site, make_config)
    [candidate] = candidates(config)
    watchlist = yaml.safe_load(SHIPPED_WATCHLIST.read_text(encoding="utf-8"))
    for entity in watchlist["entities"]:
        if entity["id"] == "ofac-52053":
            entity["context"].append("showroom")  # the analysts' new corroborating word
    changed = tmp_path / "watchlist.yaml"
    changed.write_text(yaml.safe_dump(watchlist), encoding="utf-8")
    document = yaml.safe_load(config.read_text(encoding="utf-8"))
    config.write_text(yaml.safe_dump({**document, "watchlist": str(changed)}), encoding="utf-8")
    cli(config, "rescan")
    [flag] = flags(config)
    [closed] = candidates(config)
    assert (closed["id"], closed["status"], closed["flag_id"]) == (
        candidate["id"],
        "promoted",
        flag["id"],
    )
    assert closed["promoted_rule"] == "common-words+context"
    quality = json.loads(cli(config, "stats", "--quality", "--format", "json").stdout)
    assert quality["overall"]["recall_gap"] == 0  # the rules found it: no analyst's catch


def test_a_0002_database_is_upgraded_in_place(database: str) -> None:
    db = Database(database)
    try:
        with at_revision(db, "0002"):
            pass  # a 0002 database holds no candidates
        assert "candidate" not in inspect(db.engine).get_table_names()
        db.upgrade()
        assert {"candidate", "candidate_review"} <= set(inspect(db.engine).get_table_names())
        view = {column["name"] for column in inspect(db.engine).get_columns("api_candidates")}
        assert view >= API_CANDIDATES
    finally:
        db.dispose()


@pytest.fixture
def receiver() -> Any:
    running = Receiver()
    yield running
    running.down()


def test_a_copy_of_the_story_joins_its_candidate(
    site: Site, make_config: Callable[..., Path]
) -> None:
    publish(site, {"/bare": BARE_STORY, "/bare-copy": BARE_STORY})
    config = make_config([{"name": "Test", "url": site.url("/feed.xml")}])
    run_once(config)
    [candidate] = candidates(config)
    # The two pages are fetched concurrently: either may be the first copy of the story.
    copies = {site.url("/bare"), site.url("/bare-copy")}
    assert {candidate["url"], *candidate["duplicates"]} == copies
    assert len(candidate["duplicates"]) == 1
    assert db_rows(config, "SELECT duplicates_count FROM api_candidates") == [(1,)]
