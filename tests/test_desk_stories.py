"""The story page and decisions over several flags, over a real server: the text once with
each entity's mentions in its own colour, every URL, the evidence, one audit trail; a bulk
decision (audited per flag) and its undo; the offline API documentation page."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from pipeline.core.clock import utcnow
from pipeline.core.records import CandidateMatch
from pipeline.desk.evidence import evidence
from tests.desk import Desk, desk_on_copy, seeded_database
from tests.test_web import signed_in


@pytest.fixture(scope="module")
def seeded_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return seeded_database(tmp_path_factory.mktemp("stories"))


@pytest.fixture
def desk(seeded_file: Path, tmp_path: Path) -> Iterator[Desk]:
    with desk_on_copy(seeded_file, tmp_path) as running:
        yield running


def ndc_story(desk: Desk) -> tuple[int, list[dict[str, Any]]]:
    """The story naming several entities, and its flags."""
    flags = desk.repository.list_flags()
    story = next(f["story_id"] for f in flags if f["url"].endswith("/ndc"))
    return story, [f for f in flags if f["story_id"] == story]


def test_story_page_marks_each_entity_in_its_colour(desk: Desk) -> None:
    browser, _csrf = signed_in(desk)
    story_id, flags = ndc_story(desk)
    assert len(flags) >= 3
    page = browser.get(f"/stories/{story_id}").text
    document = page[page.index('id="document"') :]
    document = document[: document.index("</div>")]
    marks = re.findall(r'<mark class="e(\d)" title="([^"]+)">(.*?)</mark>', document)
    colours = {title: colour for colour, title, _ in marks}
    assert set(colours) == {flag["entity"] for flag in flags}
    assert len(set(colours.values())) == len(flags)  # one colour per entity
    for colour, title, text in marks:
        assert text.replace("&#39;", "'") in document
        assert colours[title] == colour
    assert document.count("The Treasury also named") == 1  # the text once
    assert "/ndc" in page and "/ndc-copy" in page  # every URL
    for flag in flags:  # every entity with its evidence: alias and strength
        row = page[page.index(f'data-flag="{flag["id"]}"') :]
        assert "alias" in row[: row.index("</tr>")] and "strong" in row[: row.index("</tr>")]


def test_a_bulk_decision_is_audited_per_flag_and_undone(desk: Desk) -> None:
    browser, csrf = signed_in(desk)
    story_id, flags = ndc_story(desk)
    changes = [{"flag_id": flag["id"], "status": "relevant"} for flag in flags]
    answer = browser.post("/reviews", json={"changes": changes}, headers={"X-CSRF-Token": csrf})
    assert answer.status_code == 200, answer.text
    decided = answer.json()
    assert decided["reviewed_by"] == "alice"
    assert {(c["from_status"], c["to_status"]) for c in decided["changed"]} == {("new", "relevant")}
    page = browser.get(f"/stories/{story_id}").text
    audit = page[page.index('id="audit"') :]
    assert audit.count("<td>relevant</td>") == len(flags)
    for flag in flags:
        assert flag["entity"] in audit

    undo = [{"flag_id": c["flag_id"], "status": c["from_status"]} for c in decided["changed"]]
    assert browser.post(
        "/reviews", json={"changes": undo}, headers={"X-CSRF-Token": csrf}
    ).is_success
    for flag in flags:
        detail = desk.repository.flag_detail(flag["id"])
        assert detail["status"] == "new"
        assert [h["to_status"] for h in detail["history"]] == ["relevant", "new"]


def test_bulk_decisions_need_a_reviewer_and_change_all_or_nothing(desk: Desk) -> None:
    _story_id, flags = ndc_story(desk)
    changes = [{"flag_id": flag["id"], "status": "dismissed"} for flag in flags]
    assert httpx.post(f"{desk.base}/reviews", json={"changes": changes}).status_code == 403
    browser, csrf = signed_in(desk)
    assert browser.post("/reviews", json={"changes": changes}).status_code == 403  # no CSRF
    observer, observer_csrf = signed_in(desk, "oscar")
    forbidden = observer.post(
        "/reviews", json={"changes": changes}, headers={"X-CSRF-Token": observer_csrf}
    )
    assert forbidden.status_code == 403
    unknown = browser.post(
        "/reviews",
        json={"changes": [*changes, {"flag_id": 99999, "status": "dismissed"}]},
        headers={"X-CSRF-Token": csrf},
    )
    assert unknown.status_code == 404
    assert {desk.repository.flag_detail(f["id"])["status"] for f in flags} == {"new"}
    bad = browser.post(
        "/reviews",
        json={"changes": [{"flag_id": 1, "status": "maybe"}]},
        headers={"X-CSRF-Token": csrf},
    )
    assert bad.status_code == 422


def test_evidence_reads_context_words_with_their_distance() -> None:
    why = {
        "alias": "NDC",
        "strength": "weak",
        "name_class": "acronym",
        "context": ["Shaheen", "Ghana"],
        "context_words": [
            {"text": "Shaheen", "kind": "specific", "weight": 2, "distance": 4},
            {"text": "Ghana", "kind": "negative", "weight": 1, "distance": 12},
        ],
        "evidence": 2,
    }
    found = evidence(why)
    assert (found.alias, found.strength) == ("NDC", "weak")
    assert [(t.text, t.distance) for t in found.context] == [("Shaheen", 4)]
    assert [(t.text, t.distance) for t in found.negative] == [("Ghana", 12)]
    older = evidence({"alias": "NDC", "context": ["Shaheen"]})  # flags stored before distances
    assert [(t.text, t.distance) for t in older.context] == [("Shaheen", None)]


def test_api_docs_are_served_without_a_cdn(desk: Desk) -> None:
    docs = httpx.get(f"{desk.base}/api/docs")
    assert docs.status_code == 200
    sources = re.findall(r'(?:src|href)="([^"]+)"', docs.text)
    assert sources and all(source.startswith("/") for source in sources)  # nothing external
    for source in sources:
        assert httpx.get(f"{desk.base}{source}").status_code == 200
    assert "script-src 'self'" in docs.headers["content-security-policy"]
    assert "SwaggerUIBundle" in httpx.get(f"{desk.base}/static/swagger-init.js").text


def test_open_candidates_sit_in_their_story_row_as_possible(desk: Desk) -> None:
    """A possible mention (issue 17's candidates) of another entity in a flagged story shows
    in that story's row, marked as possible, until it is decided."""
    story_id, flags = ndc_story(desk)
    possible = CandidateMatch(
        entity_id="ofac-52053",
        entity_name="Rockside Enterprise",
        matched="Rockside",
        snippet="… a «Rockside» showroom …",
        start=0,
        end=8,
        reason="no corroborating context",
        context=[],
        score=0.3,
    )
    desk.repository.add_candidates(flags[0]["article_id"], story_id, [possible], [], utcnow())
    browser, _csrf = signed_in(desk)
    page = browser.get("/").text
    rows = page.split('<li class="story-row"')
    row = next(r for r in rows if f'data-story="{story_id}"' in r.split(">", 1)[0])
    assert 'class="chip possible" title="possible: no corroborating context"' in row
    assert '<span class="chip-name">Rockside Enterprise</span>' in row
    assert sum('class="chip possible"' in r for r in rows) == 1  # only in its own story
