"""Urdu pages through the extractor: UTF-8 and windows-1256 decoding, trafilatura's text on
right-to-left pages of our own (tests/fixtures/urdu/), Urdu datelines, language from the body."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from pipeline.core.config import SHIPPED_WATCHLIST
from pipeline.core.records import ExtractedPage
from pipeline.extract.language import body_language, identify
from pipeline.extract.page import decode_html, extract_page
from pipeline.extract.urdu_dates import urdu_dateline
from pipeline.match.matcher import Matcher
from pipeline.match.watchlist import load_watchlist

FIXTURES = Path(__file__).parent / "fixtures" / "urdu"
NOW = datetime(2025, 1, 1, tzinfo=UTC)
URL = "https://www.express.pk/story/1"
PAGES = ["express-story.html", "legacy-windows-1256.html", "legacy-undeclared.html"]
ALL_FIVE = {"ofac-52049", "ofac-52051", "ofac-52052", "ofac-52053", "eo-13382"}


def extracted(name: str) -> ExtractedPage:
    return extract_page((FIXTURES / name).read_bytes(), url=URL, now=NOW)


@pytest.mark.parametrize("name", PAGES)
def test_urdu_pages_extract_the_story_and_flag_every_name(name: str) -> None:
    page = extracted(name)
    assert page.title is not None and "کمپل" in page.title
    assert page.text.startswith("واشنگٹن")
    # Navigation, the sidebar and the footer are not the story.
    assert "صفحہ اول" not in page.text and "مزید خبریں" not in page.text
    assert "محفوظ" not in page.text
    flags = Matcher(load_watchlist(SHIPPED_WATCHLIST)).match(page.title, page.text)
    assert {m.entity_id for m in flags} == ALL_FIVE
    assert {m.entity_name for m in flags} >= {"National Development Complex"}


@pytest.mark.parametrize("name", PAGES)
def test_language_is_identified_from_the_body_not_the_label(name: str) -> None:
    # The pages say lang="ar" (a common mislabel of Urdu sites); the body is Urdu.
    assert extracted(name).language == "ur"


@pytest.mark.parametrize("name", PAGES)
def test_the_urdu_dateline_gives_the_date(name: str) -> None:
    assert extracted(name).published == datetime(2024, 12, 19, tzinfo=UTC)


def test_windows_1256_decodes_with_and_without_a_declaration() -> None:
    declared = decode_html((FIXTURES / "legacy-windows-1256.html").read_bytes())
    guessed = decode_html((FIXTURES / "legacy-undeclared.html").read_bytes())
    assert "نيشنل ڈويلپمنٹ کمپليکس" in declared  # Arabic yeh: windows-1256 has no U+06CC
    assert "نيشنل ڈويلپمنٹ کمپليکس" in guessed
    assert "\ufffd" not in declared and "\ufffd" not in guessed


def test_trafilatura_drops_the_zwnj_inside_a_name() -> None:
    # The fixture writes ایفیلی&#x200C;ایٹس; the extractor's text has it joined, so the matcher
    # must compare names without spaces (shared/URDU.md).
    assert "\u200c" in (FIXTURES / "express-story.html").read_text("utf-8").replace(
        "&#x200C;", "\u200c"
    )
    text = extracted("express-story.html").text
    assert "ایفیلیایٹس انٹرنیشنل" in text and "\u200c" not in text


def test_urdu_sentence_ends_survive_extraction() -> None:
    text = extracted("express-story.html").text
    assert "ہیں۔" in text and "گی؟" in text and "گا!" in text


@pytest.mark.parametrize(
    ("dateline", "expected"),
    [
        ("واشنگٹن (اردو پوائنٹ اخبارتازہ ترین۔19دسمبر2024ء) امریکی", "2024-12-19"),
        ("اسلام آباد، ۱۹ دسمبر ۲۰۲۴: حکومت", "2024-12-19"),
        ("کراچی ٣ جنوری، ٢٠٢٥ کو", "2025-01-03"),
        ("لاہور 5 مئی 2023", "2023-05-05"),
        ("جولائي 12", None),  # no year
        ("31 فروری 2024", None),  # no such day
        ("کوئی تاریخ نہیں", None),
    ],
)
def test_urdu_datelines(dateline: str, expected: str | None) -> None:
    assert urdu_dateline(dateline) == expected


def test_a_date_far_down_the_story_is_not_its_dateline() -> None:
    assert urdu_dateline("خبر " * 200 + "19 دسمبر 2024") is None


def test_language_of_latin_pages_stays_as_declared() -> None:
    english = "The United States imposed sanctions on four Pakistani entities this week. " * 3
    assert body_language(english, "de") == "de"
    assert body_language(english, None) == "en"
    assert body_language("too short", None) is None


def test_identification_needs_the_body_not_a_metadata_line() -> None:
    body = extracted("express-story.html").text
    assert identify(body) == "ur"
    assert identify("پابندیاں") is None  # a word is no evidence of a language
