"""The real-data paths on the project's own fixtures (tests/fixtures/), so that a fresh clone
without ../shared/corpora still runs them: every feed format, pages in legacy charsets, every
watchlist import format, and `run --once` over them end to end (SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from pipeline.core.config import SHIPPED_WATCHLIST
from pipeline.extract.page import extract_page
from pipeline.match.importers import import_list
from pipeline.match.matcher import Matcher
from pipeline.match.watchlist import WatchlistEntity, load_watchlist
from pipeline.sources.feeds import parse_feed
from tests.conftest import db_rows, run_once
from tests.site import Page, Site

FIXTURES = Path(__file__).parent / "fixtures"
FEEDS = {
    "rss2.xml": "application/rss+xml",
    "atom.xml": "application/atom+xml",
    "rdf.xml": "application/rdf+xml",
    "feed.json": "application/feed+json",
}
BASE = "https://herald.example.org/feed"
STORIES = [  # (title, link, published) as every fixture feed tells them
    (
        "Treasury lists Pakistan's National Development Complex",
        "https://herald.example.org/2025/01/ndc-listed",
        datetime(2025, 1, 6, 10, 0, tzinfo=UTC),
    ),
    (
        "Karachi firm denies shipping machinery",
        "https://herald.example.org/2025/01/rockside-denies?utm_source=rss",
        datetime(2025, 1, 7, 3, 30, tzinfo=UTC),  # 08:30 +0500 in the RSS 2.0 feed
    ),
    (
        "Monsoon forecast for Sindh",
        "https://herald.example.org/2025/01/monsoon",
        datetime(2025, 1, 8, 6, 0, tzinfo=UTC),
    ),
]
URDU_PAGE = FIXTURES / "pages" / "urdu-windows-1256.html"
LATIN1_PAGE = FIXTURES / "pages" / "latin1-iso-8859-1.html"
NDC = "ofac-52049"


@pytest.mark.parametrize("name", FEEDS)
def test_every_feed_format_gives_the_same_three_stories(name: str) -> None:
    parsed = parse_feed(
        (FIXTURES / "feeds" / name).read_bytes(), base_url=BASE, content_type=FEEDS[name]
    )
    assert [(entry.title, entry.link, entry.published) for entry in parsed.entries] == STORIES
    first = parsed.entries[0]
    text = first.content or first.summary
    assert "National Development Complex was designated" in text and "<b>" not in text
    assert all(entry.guid for entry in parsed.entries)


def test_rss_ttl_is_the_publishers_floor() -> None:
    parsed = parse_feed((FIXTURES / "feeds" / "rss2.xml").read_bytes(), base_url=BASE)
    assert parsed.update_seconds == 30 * 60


def test_a_windows_1256_urdu_page_decodes_and_names_ndc() -> None:
    page = extract_page(
        URDU_PAGE.read_bytes(), url="https://urdu.example.pk/a/1", content_type="text/html"
    )
    assert page.language == "ur"
    # Legacy pages carry Arabic yeh (U+064A): the text is as the page has it...
    assert "نيشنل ڈويلپمنٹ کمپليکس" in page.text and "\ufffd" not in page.text
    # ...and the matcher folds it to the Urdu spelling of the watchlist.
    matches = Matcher(load_watchlist(SHIPPED_WATCHLIST)).match(page.title or "", page.text)
    assert NDC in {match.entity_id for match in matches}


def test_an_iso_8859_1_page_decodes_by_its_header_charset() -> None:
    page = extract_page(
        LATIN1_PAGE.read_bytes(),
        url="https://times.example.org/a/1",
        content_type="text/html; charset=iso-8859-1",
    )
    for word in ("Zürich", "Genève", "résumé", "café"):
        assert word in page.text
    matches = Matcher(load_watchlist(SHIPPED_WATCHLIST)).match(page.title or "", page.text)
    assert NDC in {match.entity_id for match in matches}


def imported(
    tmp_path: Path, source: Path, fmt: str, **filters: list[str]
) -> dict[str, WatchlistEntity]:
    tmp_path.mkdir(exist_ok=True)
    target = tmp_path / "watchlist.yaml"
    import_list(source, fmt, target=target, seed=SHIPPED_WATCHLIST, **filters)
    return {entity.id: entity for entity in load_watchlist(target).entities}


def test_ofac_sdn_csv_with_its_side_files(tmp_path: Path) -> None:
    entities = imported(tmp_path, FIXTURES / "watchlists" / "ofac" / "sdn.csv", "ofac-csv")
    person, vessel = entities["ofac-90001"], entities["ofac-90002"]
    assert (person.kind, person.country, person.programs) == ("person", "PK", ["NPWMD"])
    assert person.strong_aliases == ["KHAN, Tariq"] and person.weak_aliases == ["KHAN SAHIB"]
    assert person.identifiers == {"passport": "AB1234567"}
    assert vessel.identifiers == {"imo": "9123456", "mmsi": "352001234"}
    fze = entities["ofac-90003"]
    assert fze.programs == ["SDGT", "IRAN-EO13902"] and fze.country == "AE"
    assert fze.strong_aliases == ["HARBOUR LINE GENERAL TRADING"]  # an f.k.a. from alt.csv
    # The shipped NDC entry is updated in place, not doubled.
    same_tax_id = [e.id for e in entities.values() if e.identifiers.get("tax_id") == "9010629"]
    assert same_tax_id == [NDC] and entities[NDC].weak_aliases[0] == "NDC"
    only_npwmd = imported(
        tmp_path / "f", FIXTURES / "watchlists" / "ofac" / "sdn.csv", "ofac-csv", programs=["NPWMD"]
    )
    assert "ofac-90001" in only_npwmd and "ofac-90002" not in only_npwmd


def test_opensanctions_ftm_json_lines_import_parties_only(tmp_path: Path) -> None:
    entities = imported(
        tmp_path, FIXTURES / "watchlists" / "opensanctions.ftm.json", "opensanctions-ftm"
    )
    ndc, person = entities["os-NK-fixture-ndc"], entities["os-NK-fixture-person"]
    assert ndc.programs == ["US-NPWMD", "NPWMD"]  # from the Sanction entity that names it
    assert ndc.weak_aliases == ["NDC"] and ndc.identifiers == {"tax_id": "9010629"}
    assert (person.kind, person.country) == ("person", "PK")
    assert person.strong_aliases == ["طارق محمود خان"] and person.weak_aliases == ["Khan Sahib"]
    assert "os-NK-fixture-owner" not in entities  # target: false, a related party
    assert "os-NK-fixture-address" not in entities


def test_opensanctions_targets_csv(tmp_path: Path) -> None:
    entities = imported(
        tmp_path, FIXTURES / "watchlists" / "opensanctions-targets.csv", "opensanctions-csv"
    )
    person, vessel = entities["os-NK-fixture-person"], entities["os-NK-fixture-vessel"]
    assert person.strong_aliases == ["طارق محمود خان", "Khan; Tariq"]  # a quoted ';' in a value
    assert person.programs == ["NPWMD"]  # the program part of the sanctions text
    assert vessel.programs == ["US-IRAN"] and vessel.country == "Panama"


def test_run_once_over_the_fixture_pages_stores_and_flags_them(
    site: Site, make_config: Callable[..., Path]
) -> None:
    feed = (FIXTURES / "feeds" / "rss2.xml").read_text(encoding="utf-8")
    feed = feed.replace("https://herald.example.org/2025/01/ndc-listed", site.url("/urdu"))
    feed = feed.replace("https://herald.example.org/2025/01/monsoon", site.url("/latin1"))
    feed = feed.replace("/2025/01/rockside-denies?utm_source=rss", site.url("/missing"))
    site.add("/feed.xml", Page(feed.encode(), content_type="application/rss+xml"))
    site.add("/urdu", Page(URDU_PAGE.read_bytes(), content_type="text/html"))
    site.add(
        "/latin1", Page(LATIN1_PAGE.read_bytes(), content_type="text/html; charset=iso-8859-1")
    )
    config = make_config([{"name": "Fixture Herald", "url": site.url("/feed.xml")}])

    (record,) = run_once(config)

    assert (record.entries, record.new_entries, record.errors) == (3, 3, 0)
    stored = dict(db_rows(config, "SELECT url, text_source FROM article"))
    assert stored == {
        site.url("/urdu"): "page",
        site.url("/latin1"): "page",
        site.url("/missing"): "feed",
    }
    flags = set(db_rows(config, "SELECT url, entity_id FROM api_flags"))
    assert {(site.url("/urdu"), NDC), (site.url("/latin1"), NDC)} <= flags
