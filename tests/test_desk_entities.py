"""Entity pages and their JSON over a real server, for known coverage: six stories of one
entity on three days in two languages. The timeline API counts them per day and per week,
the entity page's SVG has one bar per day with stories and one segment per language in it,
and the overview draws one small timeline per covered entity."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text

from pipeline.core.clock import utcnow
from storage.db import Database
from tests.desk import Desk, desk_on_copy, seed_coverage, seeded_database
from tests.test_web import signed_in

NDC = "ofac-52049"
MONDAY = date(2026, 11, 2)
# (days after MONDAY, language) of each story, in story order.
COVERAGE = [(0, "en"), (0, "en"), (0, "ur"), (2, "en"), (5, "ur"), (5, "en")]


@pytest.fixture(scope="module")
def seeded_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    seeded = seeded_database(
        tmp_path_factory.mktemp("coverage"),
        lambda site, url, directory: seed_coverage(site, url, directory, len(COVERAGE)),
    )
    database = Database(f"sqlite:///{seeded}")
    with database.engine.begin() as connection:
        ids = [row[0] for row in connection.execute(text("SELECT id FROM article ORDER BY id"))]
        assert len(ids) == len(COVERAGE)
        for article_id, (days, language) in zip(ids, COVERAGE, strict=True):
            published = datetime.combine(MONDAY + timedelta(days=days), datetime.min.time())
            connection.execute(
                text("UPDATE article SET published_at = :at, language = :lang WHERE id = :id"),
                {"at": published + timedelta(hours=9), "lang": language, "id": article_id},
            )
    database.dispose()
    return seeded


@pytest.fixture
def desk(seeded_file: Path, tmp_path: Path) -> Iterator[Desk]:
    with desk_on_copy(seeded_file, tmp_path) as running:
        yield running


def api(desk: Desk, path: str, **params: str) -> httpx.Response:
    return httpx.get(
        f"{desk.base}{path}",
        params=params,
        headers={"Authorization": f"Bearer {desk.api_token}"},
        timeout=30,
    )


def test_entities_api_lists_coverage(desk: Desk) -> None:
    entities = {entity["id"]: entity for entity in api(desk, "/api/entities").json()}
    assert len(entities) == 5  # the shipped watchlist
    ndc = entities[NDC]
    assert ndc["stories"] == len(COVERAGE) and ndc["flags"]["new"] == len(COVERAGE)
    assert ndc["first_coverage_at"].startswith(MONDAY.isoformat())
    assert ndc["latest_coverage_at"].startswith((MONDAY + timedelta(days=5)).isoformat())
    assert entities["ofac-52051"]["stories"] == 0


def test_timeline_counts_per_day_and_week(desk: Desk) -> None:
    days = api(desk, f"/api/entities/{NDC}/timeline", bucket="day").json()
    assert [b["start"] for b in days["buckets"]] == [
        (MONDAY + timedelta(days=n)).isoformat() for n in range(6)
    ]
    assert [b["stories"] for b in days["buckets"]] == [3, 0, 1, 0, 0, 2]
    assert days["buckets"][0]["by"] == {"en": 2, "ur": 1}
    by_feed = api(desk, f"/api/entities/{NDC}/timeline", by="feed").json()
    assert by_feed["buckets"][5]["by"] == {"Coverage Wire": 2}
    weeks = api(desk, f"/api/entities/{NDC}/timeline", bucket="week").json()
    assert [(b["start"], b["stories"]) for b in weeks["buckets"]] == [(MONDAY.isoformat(), 6)]
    since = api(desk, f"/api/entities/{NDC}/timeline", since="2026-11-04").json()
    assert [b["stories"] for b in since["buckets"]] == [1, 0, 0, 2]
    assert api(desk, "/api/entities/no-such-entity/timeline").status_code == 404
    assert api(desk, f"/api/entities/{NDC}/timeline", bucket="month").status_code == 422
    assert httpx.get(f"{desk.base}/api/entities/{NDC}/timeline").status_code == 401


def test_decisions_are_counted_where_they_were_made(desk: Desk) -> None:
    flag = next(f for f in desk.repository.list_flags() if f["published_at"].day == 4)
    desk.repository.review_flag(flag["id"], status="relevant", note=None, by="alice", now=utcnow())
    buckets = api(desk, f"/api/entities/{NDC}/timeline").json()["buckets"]
    today = datetime.now(UTC).date().isoformat()
    assert buckets[2]["relevant"] == 1 and buckets[2]["decisions"] == 0
    assert (buckets[-1]["start"], buckets[-1]["decisions"]) == (today, 1)
    assert sum(b["stories"] for b in buckets) == len(COVERAGE)


def test_entity_page_draws_one_bar_per_day_with_stories(desk: Desk) -> None:
    browser, _csrf = signed_in(desk)
    page = browser.get(f"/entities/{NDC}").text
    chart = page[page.index('id="timeline"') :]
    chart = chart[: chart.index("</svg>")]
    assert 'data-bars="3"' in chart
    assert len(re.findall(r'<g class="bar"', chart)) == 3
    assert len(re.findall(r'<rect class="segment s\d"', chart)) == 5  # en+ur, en, ur+en
    assert "2026-11-02: 3 stories (en 2, ur 1)" in chart
    assert "9010629" in page and "NATIONAL DEFENSE COMPLEX" in page  # identifiers, aliases
    assert "Coverage Wire" in page  # the top outlet
    assert page.count('class="story-row"') == len(COVERAGE)
    filtered = browser.get(f"/entities/{NDC}", params={"language": "ur"}).text
    assert filtered.count('class="story-row"') == 2
    nothing = browser.get(f"/entities/{NDC}", params={"status": "dismissed"}).text
    assert "No story matches these filters" in nothing and "Clear filters" in nothing
    assert browser.get("/entities/no-such-entity").status_code == 404


def test_overview_has_one_small_timeline_per_covered_entity(desk: Desk) -> None:
    browser, _csrf = signed_in(desk)
    page = browser.get("/entities").text
    assert page.count('class="timeline compact"') == 1  # only the NDC has coverage
    assert f'href="/entities/{NDC}"' in page and "4 entities without coverage" in page
