"""The straight line, end to end: a real loopback site, a real SQLite file, the real CLI."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml
from typer.testing import CliRunner

from pipeline.cli.app import app
from tests.conftest import db_rows, run_once
from tests.site import Page, Site, article_html, rss

NDC_STORY = [
    "The United States on Wednesday designated Pakistan's National Development Complex, the "
    "state-owned body that runs the country's long-range ballistic missile programme, under "
    "Executive Order 13382, which targets proliferators of weapons of mass destruction.",
    "The Treasury also named three Karachi-based firms, including Akhtar and Sons Private "
    "Limited, accusing them of supplying equipment for the missile programme in Islamabad.",
    "Pakistan's foreign office called the sanctions biased and said they would endanger "
    "strategic stability in the region. Officials in Islamabad said the programme was purely "
    "defensive and that no Pakistani entity had violated any law.",
]
CRICKET_STORY = [
    "Pakistan's cricket team beat South Africa by five wickets in Karachi on Sunday, chasing "
    "down a target of 243 with two overs to spare in front of a full house at the stadium.",
    "Opener Saim Ayub made 89 and the captain added an unbeaten 61 as the hosts sealed the series. "
    "The bowlers had earlier restricted the visitors after a strong start from their openers.",
    "The teams now travel to Lahore for the final match of the tour next week, where the "
    "groundsmen expect a flat pitch and another big crowd.",
]


def cli(*args: str) -> Any:
    result = CliRunner().invoke(app, list(args))
    return result


def flags_json(config: Path) -> list[dict[str, Any]]:
    result = cli("--config", str(config), "flags", "list", "--format", "json")
    assert result.exit_code == 0, result.output
    flags: list[dict[str, Any]] = json.loads(result.stdout)
    return flags


def publish(site: Site, items: list[dict[str, str]], path: str = "/feed.xml") -> None:
    site.add(path, Page(rss(items), content_type="application/rss+xml", etag=f'"{len(items)}"'))


def test_article_with_two_entities_gets_two_flags_with_snippets(
    site: Site, make_config: Callable[..., Path]
) -> None:
    site.add("/ndc", Page(article_html("US sanctions Pakistani missile body", NDC_STORY)))
    publish(site, [{"title": "US sanctions Pakistani missile body", "link": site.url("/ndc")}])
    config = make_config([{"name": "Test", "url": site.url("/feed.xml")}])

    run_once(config)

    flags = flags_json(config)
    entities = {flag["entity"] for flag in flags}
    assert {"National Development Complex", "Akhtar and Sons Private Limited"} <= entities
    for flag in flags:
        assert len(flag["snippet"]) >= 40
        assert flag["matched"].lower().replace(" ", "") in flag["snippet"].lower().replace(" ", "")
        assert flag["url"] == site.url("/ndc")
        assert flag["feed"] == "Test"
        assert flag["status"] == "new"
        assert flag["mentions"] >= 1
        assert flag["duplicates"] == []
    assert db_rows(config, "SELECT text_source FROM article") == [("page",)]


def test_sidebar_boilerplate_does_not_flag(site: Site, make_config: Callable[..., Path]) -> None:
    sidebar = ["Akhtar and Sons Private Limited sanctioned under Executive Order 13382"]
    site.add("/cricket", Page(article_html("Pakistan win series", CRICKET_STORY, sidebar=sidebar)))
    publish(site, [{"title": "Pakistan win series", "link": site.url("/cricket")}])
    config = make_config([{"name": "Test", "url": site.url("/feed.xml")}])

    run_once(config)

    assert flags_json(config) == []
    (text,) = db_rows(config, "SELECT text FROM article")[0]
    assert "Saim Ayub" in text
    assert "Akhtar" not in text


def test_unfetchable_page_falls_back_to_feed_summary(
    site: Site, make_config: Callable[..., Path]
) -> None:
    summary = (
        "Akhtar and Sons Private Limited, a Karachi firm, was designated by the US Treasury for "
        "supplying Pakistan's missile programme."
    )
    item = {"title": "Karachi firm designated", "link": site.url("/gone"), "description": summary}
    publish(site, [item])  # /gone is not routed: the site answers 404
    config = make_config([{"name": "Test", "url": site.url("/feed.xml")}])

    run_once(config)

    assert db_rows(config, "SELECT text_source, text FROM article") == [("feed", summary)]
    assert [flag["entity"] for flag in flags_json(config)] == ["Akhtar and Sons Private Limited"]


def test_tracking_and_redirect_variants_are_one_article(
    site: Site, make_config: Callable[..., Path]
) -> None:
    site.add("/story", Page(article_html("US sanctions Pakistani missile body", NDC_STORY)))
    site.redirect("/r/abc", site.url("/story"))
    publish(
        site,
        [
            {"title": "a", "link": site.url("/story?utm_source=rss&utm_medium=feed"), "guid": "1"},
            {"title": "b", "link": site.url("/story?fbclid=XYZ#comments"), "guid": "2"},
        ],
    )
    publish(site, [{"title": "c", "link": site.url("/r/abc"), "guid": "3"}], path="/other.xml")
    config = make_config(
        [
            {"name": "Test", "url": site.url("/feed.xml")},
            {"name": "Other", "url": site.url("/other.xml")},
        ]
    )

    run_once(config)
    run_once(config)

    assert db_rows(config, "SELECT COUNT(*) FROM article") == [(1,)]
    # The two feeds are polled at once: the first link stored names the article; every link
    # (the tracking variants and the redirect) leads to it, and it ends at the story itself.
    [(canonical,)] = db_rows(config, "SELECT canonical_url FROM article")
    assert canonical in {site.url("/story"), site.url("/r/abc")}
    known = {url for (url,) in db_rows(config, "SELECT url FROM article_url")}
    assert {site.url("/story"), site.url("/r/abc")} <= known
    flags = flags_json(config)
    assert len({flag["entity"] for flag in flags}) == len(flags)  # one flag per entity


def test_second_run_sends_conditional_requests_and_adds_nothing(
    site: Site, make_config: Callable[..., Path]
) -> None:
    site.add("/ndc", Page(article_html("US sanctions Pakistani missile body", NDC_STORY)))
    publish(site, [{"title": "US sanctions", "link": site.url("/ndc")}])
    config = make_config([{"name": "Test", "url": site.url("/feed.xml")}])

    run_once(config)
    before = db_rows(config, "SELECT COUNT(*) FROM article"), len(flags_json(config))
    run_once(config)

    feed_requests = site.hits("/feed.xml")
    assert len(feed_requests) == 2
    assert feed_requests[1].headers.get("If-None-Match") == '"1"'
    assert len(site.hits("/ndc")) == 1  # the article was not fetched again
    assert (db_rows(config, "SELECT COUNT(*) FROM article"), len(flags_json(config))) == before
    outcomes = db_rows(config, "SELECT outcome, http_status FROM fetch_attempt ORDER BY id")
    assert outcomes == [("ok", 200), ("not_modified", 304)]


def test_new_item_is_the_only_new_flag(site: Site, make_config: Callable[..., Path]) -> None:
    site.add("/ndc", Page(article_html("US sanctions Pakistani missile body", NDC_STORY)))
    site.add("/cricket", Page(article_html("Pakistan win series", CRICKET_STORY)))
    publish(site, [{"title": "Pakistan win series", "link": site.url("/cricket")}])
    config = make_config([{"name": "Test", "url": site.url("/feed.xml")}])
    run_once(config)
    assert flags_json(config) == []

    publish(
        site,
        [
            {"title": "Pakistan win series", "link": site.url("/cricket")},
            {"title": "US sanctions Pakistani missile body", "link": site.url("/ndc")},
        ],
    )
    run_once(config)

    flags = flags_json(config)
    assert flags and {flag["url"] for flag in flags} == {site.url("/ndc")}
    assert len(site.hits("/cricket")) == 1


def test_identical_text_elsewhere_joins_the_story(
    site: Site, make_config: Callable[..., Path]
) -> None:
    site.add("/ndc", Page(article_html("US sanctions Pakistani missile body", NDC_STORY)))
    site.add("/copy", Page(article_html("Missile body sanctioned", NDC_STORY)))
    publish(site, [{"title": "US sanctions", "link": site.url("/ndc")}])
    publish(site, [{"title": "Copy", "link": site.url("/copy")}], path="/wire.xml")
    config = make_config(
        [
            {"name": "Test", "url": site.url("/feed.xml")},
            {"name": "Wire", "url": site.url("/wire.xml")},
        ]
    )

    run_once(config)

    articles = db_rows(config, "SELECT id, story_id, duplicate_of FROM article ORDER BY id")
    assert len(articles) == 2
    (first_id, story, none), (_, same_story, duplicate_of) = articles
    assert none is None and same_story == story and duplicate_of == first_id
    flags = flags_json(config)
    assert len({flag["entity"] for flag in flags}) == len(flags)
    assert all(len(flag["duplicates"]) == 1 for flag in flags)


def test_broken_feed_is_recorded_and_others_still_processed(
    site: Site, make_config: Callable[..., Path]
) -> None:
    site.add("/ndc", Page(article_html("US sanctions Pakistani missile body", NDC_STORY)))
    publish(site, [{"title": "US sanctions", "link": site.url("/ndc")}])
    site.add("/broken.xml", Page(b"\x00\x01 this is not a feed <<<", content_type="text/xml"))
    config = make_config(
        [
            {"name": "Broken", "url": site.url("/broken.xml")},
            {"name": "Good", "url": site.url("/feed.xml")},
        ]
    )

    run_once(config)

    result = cli("--config", str(config), "feeds", "list", "--format", "json")
    assert result.exit_code == 0, result.output
    feeds = {feed["name"]: feed for feed in json.loads(result.stdout)}
    assert feeds["Broken"]["last_error"] and feeds["Broken"]["consecutive_failures"] == 1
    assert feeds["Broken"]["last_success_at"] is None
    assert feeds["Good"]["last_error"] is None and feeds["Good"]["articles"] == 1
    table = cli("--config", str(config), "feeds", "list")
    assert "Broken" in table.stdout and table.exit_code == 0


def test_article_link_to_loopback_refused_when_guard_is_on(
    site: Site, make_config: Callable[..., Path]
) -> None:
    site.add("/ndc", Page(article_html("US sanctions Pakistani missile body", NDC_STORY)))
    item = {"title": "t", "link": site.url("/ndc"), "description": "A short summary of it all."}
    publish(site, [item])
    config = make_config(
        [{"name": "Test", "url": site.url("/feed.xml")}],
        fetch={"allow_private_addresses": False},
    )

    run_once(config)

    assert site.hits("/feed.xml")  # the feed itself is trusted (listed in feeds.yaml)
    assert site.hits("/ndc") == []  # the article on a loopback address is never requested
    assert db_rows(config, "SELECT text_source FROM article") == [("feed",)]


def test_cli_views_and_exports(site: Site, make_config: Callable[..., Path]) -> None:
    site.add("/ndc", Page(article_html('=HYPERLINK("x") US sanctions', NDC_STORY)))
    publish(site, [{"title": "=HYPERLINK(&quot;x&quot;) US sanctions", "link": site.url("/ndc")}])
    config = make_config([{"name": "Test", "url": site.url("/feed.xml")}])
    run_once(config)

    csv_out = cli("--config", str(config), "flags", "list", "--format", "csv")
    assert csv_out.exit_code == 0
    assert "'=HYPERLINK" in csv_out.stdout and ",=HYPERLINK" not in csv_out.stdout
    articles = cli("--config", str(config), "articles", "list", "--format", "json")
    (article,) = json.loads(articles.stdout)
    assert article["text_source"] == "page" and article["feed"] == "Test"
    assert set(article) >= {"id", "url", "canonical_url", "final_url", "story_id", "duplicate_of"}
    flag_id = flags_json(config)[0]["id"]
    review = cli(
        "--config", str(config), "flags", "review", str(flag_id),
        "--status", "dismissed", "--note", "old news", "--by", "ana",
    )  # fmt: skip
    assert review.exit_code == 0, review.output
    shown = cli("--config", str(config), "flags", "show", str(flag_id), "--format", "json")
    detail = json.loads(shown.stdout)
    assert detail["status"] == "dismissed" and detail["reviewed_by"] == "ana"
    assert detail["history"][0]["from_status"] == "new"
    stats = json.loads(cli("--config", str(config), "stats", "--format", "json").stdout)
    assert stats["articles"] == 1 and stats["flags_by_status"]["dismissed"] == 1
    missing = cli("--config", str(config), "flags", "show", "999")
    assert missing.exit_code == 1 and "no flag with id 999" in missing.stderr


def test_rescan_after_watchlist_change_adds_only_new_flags(
    site: Site, make_config: Callable[..., Path]
) -> None:
    site.add("/ndc", Page(article_html("US sanctions Pakistani missile body", NDC_STORY)))
    site.add("/cricket", Page(article_html("Pakistan win series", CRICKET_STORY)))
    publish(
        site,
        [
            {"title": "US sanctions Pakistani missile body", "link": site.url("/ndc")},
            {"title": "Pakistan win series", "link": site.url("/cricket")},
        ],
    )
    watchlist_path = Path(__file__).parent.parent / "pipeline" / "watchlist.yaml"
    watchlist = yaml.safe_load(watchlist_path.read_text())
    config = make_config([{"name": "Test", "url": site.url("/feed.xml")}])
    (config.parent / "watchlist.yaml").write_text(yaml.safe_dump(watchlist))
    config.write_text(config.read_text() + "watchlist: watchlist.yaml\n")
    run_once(config)
    before = flags_json(config)
    reviewed = before[0]["id"]
    cli("--config", str(config), "flags", "review", str(reviewed), "--status", "dismissed")

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
    result = cli("--config", str(config), "rescan")
    again = cli("--config", str(config), "rescan")

    assert result.exit_code == 0, result.output
    assert "1 new flag" in result.stdout and "0 new flag" in again.stdout
    after = {flag["id"]: flag for flag in flags_json(config)}
    new = [flag for flag in after.values() if flag["entity_id"] == "test-ayub"]
    assert len(new) == 1 and new[0]["url"] == site.url("/cricket")
    assert len(after) == len(before) + 1
    assert after[reviewed]["status"] == "dismissed"
