"""/feeds/flags.atom over a real server, read by feedparser: token-protected (Bearer header or
?token=), flags per status and per entity, each entry linking to its story and article."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import feedparser
import httpx
import pytest

from pipeline.core.clock import utcnow
from tests.desk import TEAM_TOKEN, Desk, desk_on_copy, seeded_database

NDC = "ofac-52049"


@pytest.fixture(scope="module")
def seeded_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return seeded_database(tmp_path_factory.mktemp("atom"))


@pytest.fixture
def desk(seeded_file: Path, tmp_path: Path) -> Iterator[Desk]:
    with desk_on_copy(seeded_file, tmp_path) as running:
        yield running


def atom(desk: Desk, token: str | None = None, **params: str) -> Any:
    answer = httpx.get(
        f"{desk.base}/feeds/flags.atom",
        params={**params, "token": token or desk.api_token},
        timeout=30,
    )
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("application/atom+xml")
    parsed = feedparser.parse(answer.content)
    assert not parsed.bozo, parsed.get("bozo_exception")
    return parsed


def test_the_feed_needs_a_token(desk: Desk) -> None:
    url = f"{desk.base}/feeds/flags.atom"
    assert httpx.get(url).status_code == 401
    assert httpx.get(url, params={"token": "wrong-token-123456"}).status_code == 401
    bearer = httpx.get(url, headers={"Authorization": f"Bearer {desk.api_token}"})
    assert bearer.status_code == 200
    assert httpx.get(url, params={"token": TEAM_TOKEN}).status_code == 200


def test_new_flags_with_links_to_story_and_article(desk: Desk) -> None:
    flags = desk.repository.list_flags(status="new")
    parsed = atom(desk)
    assert parsed.version == "atom10"
    assert parsed.feed.title == "sanctions-watch: new flags"
    assert len(parsed.entries) == len(flags)
    by_id = {entry.id: entry for entry in parsed.entries}
    for flag in flags:
        entry = by_id[f"{desk.base}/flags/{flag['id']}"]
        assert entry.title == f"{flag['entity']}: {flag['title']}"
        links = {link.rel: link.href for link in entry.links}
        assert links["alternate"] == f"{desk.base}/stories/{flag['story_id']}"
        assert links["related"] == flag["url"]
        assert {tag.term for tag in entry.tags} == {"new", flag["entity_id"]}
        assert flag["snippet"].replace("«", "").split("»")[0][:30].strip("…") in entry.summary


def test_per_status_and_per_entity(desk: Desk) -> None:
    ndc = [f for f in desk.repository.list_flags() if f["entity_id"] == NDC]
    assert len(ndc) >= 2
    desk.repository.review_flag(
        ndc[0]["id"], status="relevant", note=None, by="alice", now=utcnow()
    )
    relevant = atom(desk, status="relevant")
    assert [entry.id for entry in relevant.entries] == [f"{desk.base}/flags/{ndc[0]['id']}"]
    assert {tag.term for tag in relevant.entries[0].tags} == {"relevant", NDC}
    of_ndc = atom(desk, status="all", entity=NDC)
    assert len(of_ndc.entries) == len(ndc)
    assert all(entry.title.startswith("National Development Complex: ") for entry in of_ndc.entries)
    assert atom(desk, status="dismissed").entries == []


def test_the_token_never_reaches_the_access_log() -> None:
    import logging

    from pipeline.desk.atom import TokenRedactor

    record = logging.LogRecord(
        "uvicorn.access", logging.INFO, __file__, 1, '%s - "%s %s HTTP/%s" %d', (
            "127.0.0.1:5000", "GET", "/feeds/flags.atom?status=new&token=s3cret-t0ken&x=1",
            "1.1", 200,
        ), None,
    )  # fmt: skip
    assert TokenRedactor().filter(record)
    line = record.getMessage()
    assert "s3cret-t0ken" not in line and "token=***&x=1" in line
