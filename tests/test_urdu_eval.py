"""The Urdu and mixed-script quality gates: precision and recall >= 0.97, as on English, and
sets that cover every spelling family, digit system and trap class of shared/URDU.md."""

from __future__ import annotations

import re

import pytest

from pipeline.core.config import SHIPPED_WATCHLIST
from pipeline.match.arabic import has_arabic
from pipeline.match.watchlist import load_watchlist
from pipeline.tools.evaluate import (
    EVAL_DATA,
    PRECISION_FLOOR,
    RECALL_FLOOR,
    EvalReport,
    evaluate,
    load_eval_set,
)

URDU_DIR = EVAL_DATA / "eval-ur"
MIXED_DIR = EVAL_DATA / "eval-mixed"
URDU_TRAPS = {
    "urdu-council",  # نیشنل ڈویلپمنٹ کونسل (این ڈی سی)
    "dc-washington",  # واشنگٹن ڈی سی
    "other-body",  # کیپٹل ڈیولپمنٹ اتھارٹی, other ... کمپلیکس
    "other-enterprises",  # other Karachi ... انٹرپرائزز
    "executive-other",  # a firm called ایگزیکٹو ..., court آرڈرز
    "order-no-number",  # ایگزیکٹو آرڈر / انتظامی حکم without a number
    "on-topic-none",  # the Foreign Office, the speech, Commerce lists, Shaheen tests
    "other-eo-target",  # E.O. 13382 against other targets: positives for the order only
}
EXTENDED_DIGITS = re.compile("[\u06f0-\u06f9]")
ARABIC_INDIC_DIGITS = re.compile("[\u0660-\u0669]")


@pytest.fixture(scope="module")
def urdu() -> EvalReport:
    return evaluate(URDU_DIR, load_watchlist(SHIPPED_WATCHLIST))


@pytest.fixture(scope="module")
def mixed() -> EvalReport:
    return evaluate(MIXED_DIR, load_watchlist(SHIPPED_WATCHLIST))


def test_urdu_precision_and_recall_meet_the_floor(urdu: EvalReport) -> None:
    failures = [(o.article_id, sorted(o.missed), sorted(o.spurious)) for o in urdu.errors]
    assert urdu.overall.precision >= PRECISION_FLOOR, failures
    assert urdu.overall.recall >= RECALL_FLOOR, failures


def test_mixed_script_precision_and_recall_meet_the_floor(mixed: EvalReport) -> None:
    failures = [(o.article_id, sorted(o.missed), sorted(o.spurious)) for o in mixed.errors]
    assert mixed.overall.precision >= PRECISION_FLOOR, failures
    assert mixed.overall.recall >= RECALL_FLOOR, failures


def test_every_entity_has_urdu_positives(urdu: EvalReport) -> None:
    assert {s.label: s.positive_articles >= 5 for s in urdu.entities} == {
        s.label: True for s in urdu.entities
    }


def test_the_urdu_set_is_large_varied_and_consistent() -> None:
    articles = load_eval_set(URDU_DIR)
    known = {e.id for e in load_watchlist(SHIPPED_WATCHLIST).entities}
    assert len(articles) >= 50
    assert len({a.id for a in articles}) == len(articles)
    assert all(set(a.expect) <= known for a in articles)
    assert all(has_arabic(a.title) and has_arabic(a.text) for a in articles)
    assert {trap for a in articles for trap in a.traps} >= URDU_TRAPS
    assert sum(not a.expect for a in articles) >= 20
    order_only = [a for a in articles if a.expect == ["eo-13382"]]
    assert order_only, "E.O. 13382 actions against other targets: positives for the order only"


def test_the_urdu_set_has_every_digit_system_for_the_order() -> None:
    positives = [a.text for a in load_eval_set(URDU_DIR) if "eo-13382" in a.expect]
    assert any("13382" in text for text in positives)
    assert any(EXTENDED_DIGITS.search(text) for text in positives)
    assert any(ARABIC_INDIC_DIGITS.search(text) for text in positives)


def test_the_mixed_set_quotes_in_both_directions() -> None:
    articles = load_eval_set(MIXED_DIR)
    latin_titles = [a for a in articles if not has_arabic(a.title)]
    urdu_titles = [a for a in articles if has_arabic(a.title)]
    assert any(has_arabic(a.text) for a in latin_titles)  # English articles quoting Urdu
    assert any(re.search("[A-Za-z]{3}", a.text) for a in urdu_titles)  # Urdu with Latin names
