"""The extraction chain: structured data, weak-answer signals, the decision, and the fields.

Pages are built here as real HTML and go through the real trafilatura and readability-lxml;
three real pages of shared/corpora/news-pages pin the three ways the chain overrides
trafilatura's first answer.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
import trafilatura

from pipeline.extract import chain as extract_chain
from pipeline.extract.chain import (
    FIRST_ANSWER_KEPT,
    READABILITY,
    TRAFILATURA,
    TRIMMED,
    containment,
    decide,
    readability_text,
    trim_unsupported_edges,
    weak_signals,
)
from pipeline.extract.page import explain_extraction, extract_page
from pipeline.extract.structured import StructuredData, read_structured
from pipeline.tools.eval_extraction import DEFAULT_CORPUS, load_corpus, page_scores
from tests import corpora

NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
URL = "https://news.example.com/world/2019/11/18/port-reform.html"

PROSE = [
    "The finance ministry said on Friday that the new customs rules would take effect next "
    "month, after a long consultation with importers, exporters and port authorities.",
    "Officials expect the change to shorten clearance times at the main container terminal, "
    "where ships have waited up to nine days to unload during the busiest weeks of the year.",
    "Traders welcomed the decision but warned that the software behind the new system had not "
    "been tested at full load, and asked for a grace period before penalties apply.",
    "The ministry promised weekly progress reports and a hotline for companies whose shipments "
    "are held, and said it would review the rules again at the end of the year.",
    "Port workers' unions said they had not been consulted on the new shift patterns, and "
    "asked the ministry to publish the staffing plan before the rules come into force.",
    "Shipping lines said the reform was overdue and that they would add two weekly calls at "
    "the terminal if clearance times fell below three days, as the ministry has promised.",
    "Economists at the central bank estimated that faster clearance could lift exports by "
    "as much as one percent next year, mostly through cheaper and more reliable shipping.",
    "The opposition called the timetable rushed and said it would ask parliament to delay "
    "the penalties by six months so that smaller firms have time to adapt their systems.",
]


def article_page(*, head: str = "", paragraphs: list[str] = PROSE, after: str = "") -> bytes:
    body = "".join(f"<p>{text}</p>" for text in paragraphs)
    return (
        "<!DOCTYPE html><html lang='en'><head><title>Port reform | Example News</title>"
        f"{head}</head><body><nav><a href='/'>Home</a></nav><article><h1>Port reform</h1>"
        f"{body}{after}</article><footer>© Example News</footer></body></html>"
    ).encode()


def json_ld(**fields: object) -> str:
    return f'<script type="application/ld+json">{json.dumps(fields)}</script>'


def structured_of(head: str) -> StructuredData:
    return read_structured(trafilatura.load_html(f"<html><head>{head}</head><body></body></html>"))


# --- structured data --------------------------------------------------------------------------


def test_json_ld_article_in_a_graph_with_markup_in_its_body() -> None:
    graph = {
        "@context": "https://schema.org",
        "@graph": [
            {"@type": "WebPage", "datePublished": "2001-01-01", "name": "Not the article"},
            {
                "@type": ["NewsArticle"],
                "headline": "Port reform &amp; customs",
                "datePublished": "2019-11-18T09:30:00+01:00",
                "author": [
                    {"@type": "Person", "name": "Jane Reporter"},
                    {"@type": "Person", "name": "Ali Khan"},
                    "https://news.example.com/staff/jane",
                    {"@type": "Person", "name": "Jane Reporter"},
                ],
                "articleBody": "<p>First paragraph &amp; more.</p><p>Second one.</p>",
            },
        ],
    }
    head = (
        '<script type="application/ld+json">{broken json</script>'
        f'<script type="application/ld+json">{json.dumps(graph)}</script>'
        '<meta property="og:title" content="Port reform - Example News">'
        '<meta property="article:published_time" content="2019-11-18T08:00:00Z">'
    )
    structured = structured_of(head)

    assert structured == StructuredData(
        headline="Port reform & customs",
        article_body="First paragraph & more.\nSecond one.",
        date_published="2019-11-18T09:30:00+01:00",
        authors=("Jane Reporter", "Ali Khan"),
        og_title="Port reform - Example News",
        og_published="2019-11-18T08:00:00Z",
    )
    assert structured.title == "Port reform & customs"
    assert structured.published == "2019-11-18T09:30:00+01:00"


def test_no_structured_data_and_non_article_types() -> None:
    assert structured_of("") == StructuredData()
    organisation = json_ld(**{"@type": "Organization", "name": "Example", "headline": "x"})
    assert structured_of(organisation).headline is None


# --- weak-answer signals ----------------------------------------------------------------------

LONG_PROSE = "\n".join(PROSE)


def test_a_long_answer_with_prose_edges_is_not_weak() -> None:
    assert weak_signals(LONG_PROSE, page_words=400, structured=StructuredData()) == []


def test_weak_answer_signals() -> None:
    short = "\n".join(PROSE[:2])
    with_links = f"Related: more stories\n{LONG_PROSE}\nFollow us"
    body = StructuredData(article_body="Something else entirely, written by someone else.")

    assert "short" in weak_signals(short, page_words=0, structured=StructuredData())
    assert weak_signals(LONG_PROSE, page_words=2000, structured=StructuredData()) == [
        "low page coverage"
    ]
    assert weak_signals(with_links, page_words=0, structured=StructuredData()) == [
        "edge line is not prose"
    ]
    assert weak_signals(LONG_PROSE, page_words=0, structured=body) == ["structured body disagrees"]


def test_a_json_ld_body_that_agrees_confirms_even_a_short_answer() -> None:
    short = "\n".join(PROSE[:2])
    agreeing = StructuredData(article_body=short)
    assert weak_signals(short, page_words=5000, structured=agreeing) == []


# --- the decision -----------------------------------------------------------------------------


def test_a_fragment_gives_way_to_the_second_opinion() -> None:
    result = decide("A photo caption only.", {READABILITY: LONG_PROSE})
    assert (result.text, result.method) == (LONG_PROSE, READABILITY)


def test_a_second_opinion_holding_the_first_and_twice_more_wins() -> None:
    first = "\n".join(PROSE[:3])
    result = decide(first, {READABILITY: LONG_PROSE})
    assert (result.text, result.method) == (LONG_PROSE, READABILITY)


def test_edges_no_second_opinion_has_are_dropped_but_the_middle_is_kept() -> None:
    embedded_post = "What a day at the port, queues everywhere this morning #ports"
    first = "\n".join(
        ["BAAR, SWITZERLAND", *PROSE[:4], embedded_post, *PROSE[4:], "Subscribe to our newsletter"]
    )
    result = decide(first, {READABILITY: LONG_PROSE})

    assert result.method == TRIMMED
    assert result.text == "\n".join([*PROSE[:4], embedded_post, *PROSE[4:]])


def test_an_agreeing_or_unrelated_second_opinion_changes_nothing() -> None:
    assert decide(LONG_PROSE, {READABILITY: LONG_PROSE}).method == TRAFILATURA
    unrelated = " ".join(reversed(LONG_PROSE.split()))  # same words, other article
    assert decide(LONG_PROSE, {READABILITY: unrelated}).text == LONG_PROSE
    assert decide(LONG_PROSE, {READABILITY: ""}).text == LONG_PROSE


def test_trim_keeps_text_without_any_support() -> None:
    assert trim_unsupported_edges("one\ntwo", ["nothing alike"]) == "one\ntwo"
    assert trim_unsupported_edges("one\ntwo", []) == "one\ntwo"


def test_containment_counts_shingles() -> None:
    assert containment("a b c d e", "x a b c d e y") == 1.0
    assert containment("a b c d e", "a b c d") == 0.5
    assert containment("", "anything") == 1.0


def test_readability_text_has_one_block_per_line() -> None:
    text = readability_text(article_page().decode())
    assert text.split("\n")[-len(PROSE) :] == PROSE


# --- through extract_page ---------------------------------------------------------------------


def test_a_strong_first_answer_runs_no_second_opinion() -> None:
    page, result = explain_extraction(article_page(), url=URL, now=NOW)
    assert result.reason == FIRST_ANSWER_KEPT
    assert page.extractor == TRAFILATURA
    assert page.text == LONG_PROSE


def test_boilerplate_at_the_end_is_trimmed_with_readability() -> None:
    promo = "<div class='promo'><p>Get the latest updates in your inbox</p></div>"
    page, result = explain_extraction(article_page(after=promo), url=URL, now=NOW)
    assert result.reason != FIRST_ANSWER_KEPT
    assert page.text.endswith(PROSE[-1])


def test_structured_fields_come_first() -> None:
    head = json_ld(
        **{
            "@type": "NewsArticle",
            "headline": "Customs rules change at the main port",
            "datePublished": "2019-11-20T10:00:00Z",
            "author": [{"name": "Jane Reporter"}, {"name": "Ali Khan"}],
        }
    )
    page = extract_page(article_page(head=head), url=URL, now=NOW)

    assert page.title == "Customs rules change at the main port"
    assert page.author == "Jane Reporter; Ali Khan"
    assert page.published == datetime(2019, 11, 20, 10, 0, tzinfo=UTC)  # not the URL's 18th


@pytest.mark.parametrize("placeholder", ["0001-01-01T00:00:00Z", "2031-01-01T00:00:00Z"])
def test_placeholder_and_future_structured_dates_fall_back(placeholder: str) -> None:
    head = json_ld(**{"@type": "NewsArticle", "datePublished": placeholder})
    page = extract_page(article_page(head=head), url=URL, now=NOW)
    assert page.published is not None
    assert page.published.date() == datetime(2019, 11, 18).date()  # from the URL, last resort


def test_a_failing_second_opinion_leaves_the_first_answer(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(html: str) -> str:
        raise RuntimeError("readability said no")

    monkeypatch.setattr(extract_chain, "readability_text", broken)
    monkeypatch.setattr("pipeline.extract.page.readability_text", broken)
    page, result = explain_extraction(article_page(paragraphs=PROSE[:3]), url=URL, now=NOW)
    assert result.reason != FIRST_ANSWER_KEPT  # short: a second opinion was wanted
    assert page.text == "\n".join(PROSE[:3])


needs_news_pages = corpora.needs(DEFAULT_CORPUS)


def f1(truth: str, text: str) -> float:
    tp, fp, fn = page_scores(truth, text)
    return 2 * tp / (2 * tp + fp + fn)


@needs_news_pages
@pytest.mark.parametrize(
    ("page_id", "method", "gain"),
    [
        ("2f42ef1d", READABILITY, 0.3),  # wired.com: trafilatura keeps one of two containers
        ("5ae11e58", TRIMMED, 0.1),  # a press release: "about the company" blurb at the end
        # trafilatura's fast answer is a 22-word fragment (its built-in fallback saves it too)
        ("0ec95c72", READABILITY, 0.0),
    ],
)
def test_real_pages_where_the_chain_overrides_trafilatura(
    page_id: str, method: str, gain: float
) -> None:
    page = next(p for p in load_corpus() if p.id.startswith(page_id))
    extracted = extract_page(page.body, url=page.url, now=NOW)
    alone = extract_page(page.body, url=page.url, now=NOW, chain=False)

    assert extracted.extractor == method
    assert alone.extractor == TRAFILATURA
    assert f1(page.truth, extracted.text) >= f1(page.truth, alone.text) + gain
    if method == TRIMMED:
        assert "Ascom is headquartered in Baar" in alone.text
        assert "Ascom is headquartered in Baar" not in extracted.text
