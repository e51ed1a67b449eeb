"""The offline demo end to end: the sample site served on 127.0.0.1, the real CLI run once.

The demo runs once per module into a temporary directory; every test then reads the flags
and articles through the CLI (`flags list --format json`, `articles list --format json`).
"""

from __future__ import annotations

import json
import subprocess
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from demo import SITE_DIR, pipeline_command, pipeline_env, run_demo, serve_site

CANONICAL_ENTITIES = {
    "National Development Complex",
    "Akhtar and Sons Private Limited",
    "Affiliates International",
    "Rockside Enterprise",
    "Executive Order 13382",
}
EXPLAINER = "/chronicle/2024/12/19/explainer-us-designates-ndc-and-karachi-firms.html"
WIRE_COPY = "/wire/2024/12/19/us-sanctions-pakistan-missile-developer.html"
LOCAL_SPELLING = "/chronicle/2024/12/21/karachi-importers-screen-dealings-after-us-listing.html"
NESCOM_ANALYSIS = "/meridian/analysis/2024/12/23/shaheen-iii-nescom-and-the-limits-of-pressure.html"
MISSING_PAGE = "/chronicle/2024/12/20/foreign-office-rejects-us-sanctions.html"

MUST_NOT_FLAG = {
    "Ghana's NDC party": "/meridian/africa/2024/12/10/ghana-ndc-returns-to-power.html",
    "climate NDCs (Pakistan named)": (
        "/meridian/climate/2024/12/12/countries-race-to-file-new-ndcs.html"
    ),
    "cricket, sanctions headlines in sidebar": (
        "/chronicle/sport/2024/12/22/pakistan-complete-odi-whitewash-in-south-africa.html"
    ),
    "business, sanctions headlines in sidebar": (
        "/wire/2024/12/16/sbp-cuts-policy-rate-to-13-percent.html"
    ),
    "a baker named Akhtar and his sons": (
        "/chronicle/2024/12/17/hyderabad-bakers-keep-rusk-tradition-alive.html"
    ),
    "suit No. 13382": "/chronicle/2024/12/18/shc-suspends-auction-of-clifton-plot.html",
    "Urdu: National Development Council (این ڈی سی)": (
        "/urdu/2024/12/19/national-development-council-meeting.html"
    ),
}
URDU_STORY = "/urdu/2024/12/19/us-sanctions-missile-programme.html"

Row = dict[str, Any]


def _cli_json(config: Path, *args: str) -> list[Row]:
    result = subprocess.run(
        pipeline_command(config, *args, "--format", "json"),
        env=pipeline_env(),
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    rows: list[Row] = json.loads(result.stdout)
    return rows


@pytest.fixture(scope="module")
def demo_config(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return run_demo(tmp_path_factory.mktemp("demo"))


@pytest.fixture(scope="module")
def flags(demo_config: Path) -> list[Row]:
    return _cli_json(demo_config, "flags", "list", "--status", "all")


@pytest.fixture(scope="module")
def articles(demo_config: Path) -> list[Row]:
    return _cli_json(demo_config, "articles", "list")


def _story_urls(flag: Row) -> list[str]:
    return [str(flag["url"]), *map(str, flag.get("duplicates") or [])]


def _flags_for(flags: list[Row], path: str) -> list[Row]:
    return [flag for flag in flags if any(url.endswith(path) for url in _story_urls(flag))]


def test_every_watchlist_entity_is_flagged(flags: list[Row]) -> None:
    assert {flag["entity"] for flag in flags} == CANONICAL_ENTITIES


def test_explainer_and_its_wire_copy_make_one_story(flags: list[Row]) -> None:
    story_flags = _flags_for(flags, EXPLAINER)
    assert {flag["entity"] for flag in story_flags} == CANONICAL_ENTITIES
    assert len(story_flags) == len(CANONICAL_ENTITIES)  # one flag per (story, entity)
    for flag in story_flags:
        urls = _story_urls(flag)
        assert any(url.endswith(WIRE_COPY) for url in urls), urls


def test_local_spelling_of_a_company_is_flagged(flags: list[Row]) -> None:
    by_entity = {flag["entity"]: flag for flag in _flags_for(flags, LOCAL_SPELLING)}
    akhtar = by_entity["Akhtar and Sons Private Limited"]
    assert "Akhtar & Sons (Pvt) Ltd" in akhtar["matched"]
    assert {"Affiliates International", "Rockside Enterprise"} <= by_entity.keys()


def test_abbreviation_in_missile_context_is_flagged(flags: list[Row]) -> None:
    entities = {flag["entity"] for flag in _flags_for(flags, NESCOM_ANALYSIS)}
    assert "National Development Complex" in entities


def test_missing_page_falls_back_to_the_feed_summary(flags: list[Row], articles: list[Row]) -> None:
    [article] = [row for row in articles if str(row["url"]).endswith(MISSING_PAGE)]
    assert article["text_source"] == "feed"
    assert "Foreign Office" in article["text"]
    entities = {flag["entity"] for flag in _flags_for(flags, MISSING_PAGE)}
    assert entities == {"National Development Complex"}


@pytest.mark.parametrize("path", MUST_NOT_FLAG.values(), ids=MUST_NOT_FLAG.keys())
def test_lookalike_stories_are_stored_but_not_flagged(
    path: str, flags: list[Row], articles: list[Row]
) -> None:
    assert [row for row in articles if str(row["url"]).endswith(path)], "article not stored"
    assert _flags_for(flags, path) == []


def test_the_urdu_story_flags_with_english_canonical_names(flags: list[Row]) -> None:
    by_entity = {flag["entity"]: flag for flag in _flags_for(flags, URDU_STORY)}
    assert set(by_entity) == CANONICAL_ENTITIES
    assert by_entity["National Development Complex"]["matched"] == "نیشنل ڈیولپمنٹ کمپلیکس"
    assert by_entity["Executive Order 13382"]["matched"] == "ایگزیکٹو آرڈر ۱۳۳۸۲"
    assert "«نیشنل ڈیولپمنٹ کمپلیکس»" in by_entity["National Development Complex"]["snippet"]


def test_every_flag_carries_a_snippet_of_context(flags: list[Row]) -> None:
    for flag in flags:
        assert len(flag["snippet"]) >= 40, flag
        assert flag["matched"].lower() in flag["snippet"].lower(), flag


def test_site_server_substitutes_its_address() -> None:
    with serve_site() as base_url:
        assert base_url.startswith("http://127.0.0.1:")
        with urllib.request.urlopen(base_url + "/feeds/chronicle.rss") as response:
            assert response.headers["Content-Type"].startswith("application/rss+xml")
            feed = response.read().decode("utf-8")
    assert "{BASE}" not in feed
    assert f"<link>{base_url}/chronicle/</link>" in feed


def test_site_server_answers_404_outside_the_site(tmp_path: Path) -> None:
    (tmp_path / "site").mkdir()
    (tmp_path / "site" / "page.html").write_text("<p>{BASE}</p>", encoding="utf-8")
    (tmp_path / "secret.html").write_text("<p>outside</p>", encoding="utf-8")
    (tmp_path / "site" / "notes.txt").write_text("not a served type", encoding="utf-8")
    with serve_site(tmp_path / "site") as base_url:
        with urllib.request.urlopen(base_url + "/page.html") as response:
            assert response.read().decode("utf-8") == f"<p>{base_url}</p>"
        for path in ("/../secret.html", "/notes.txt", "/missing.html"):
            with pytest.raises(urllib.error.HTTPError) as refused:
                urllib.request.urlopen(base_url + path)
            assert refused.value.code == 404, path


def test_every_feed_item_links_to_a_page_of_the_site() -> None:
    links = set()
    for feed in sorted((SITE_DIR / "feeds").iterdir()):
        text = feed.read_text(encoding="utf-8")
        links |= {part.split("<")[0].split('"')[0] for part in text.split("{BASE}")[1:]}
    pages = {"/" + str(p.relative_to(SITE_DIR)) for p in SITE_DIR.rglob("*.html")}
    article_links = {link for link in links if link.endswith(".html")}
    assert article_links - pages == {MISSING_PAGE}
    assert pages <= article_links
