"""The quality gate: precision and recall of the matcher on the evaluation set."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.core.config import SHIPPED_WATCHLIST
from pipeline.core.errors import ConfigError
from pipeline.match.watchlist import load_watchlist
from pipeline.tools.evaluate import DEFAULT_EVAL_DIR, EvalReport, evaluate, load_eval_set, main

TRAP_CLASSES = {
    "acronym-clash",
    "common-words",
    "sentence-boundary",
    "akhtar-person",
    "rockside-address",
    "bare-number",
    "other-order",
    "boilerplate",
    "variant-form",
}


@pytest.fixture(scope="module")
def report() -> EvalReport:
    return evaluate(DEFAULT_EVAL_DIR, load_watchlist(SHIPPED_WATCHLIST))


def test_overall_precision_and_recall_meet_the_floor(report: EvalReport) -> None:
    failures = [(o.article_id, sorted(o.missed), sorted(o.spurious)) for o in report.errors]
    assert report.overall.precision >= 0.97, failures
    assert report.overall.recall >= 0.97, failures


def test_every_entity_has_at_least_five_positive_articles(report: EvalReport) -> None:
    assert {s.label: s.positive_articles >= 5 for s in report.entities} == {
        s.label: True for s in report.entities
    }


def test_the_set_is_large_varied_and_consistent() -> None:
    articles = load_eval_set(DEFAULT_EVAL_DIR)
    known = {e.id for e in load_watchlist(SHIPPED_WATCHLIST).entities}
    assert len(articles) >= 80
    assert len({a.id for a in articles}) == len(articles)
    assert all(set(a.expect) <= known for a in articles)
    assert all(150 <= len(f"{a.title} {a.text}".split()) <= 600 for a in articles)
    assert {trap for a in articles for trap in a.traps} >= TRAP_CLASSES
    assert sum(not a.expect for a in articles) >= 30  # plenty of articles that must not flag
    assert len({a.outlet for a in articles}) >= 20


def test_main_prints_the_table(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 0
    printed = capsys.readouterr().out
    assert "precision" in printed and "recall" in printed
    assert "ofac-52049" in printed and "overall" in printed


def test_an_empty_or_bad_set_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no evaluation articles"):
        load_eval_set(tmp_path)
    (tmp_path / "a.yaml").write_text("id: a\ntitle: t\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="not a valid evaluation article"):
        load_eval_set(tmp_path)
    assert main([str(tmp_path)]) == 2


def test_a_wrong_expectation_is_counted(tmp_path: Path) -> None:
    text = "The crowd of 13,382 saw Executive Order 13382 read aloud. " * 5
    (tmp_path / "a.yaml").write_text(
        f"id: a\nexpect: [ofac-52049]\ntitle: t\ntext: '{text}'\n", encoding="utf-8"
    )
    scores = evaluate(tmp_path, load_watchlist(SHIPPED_WATCHLIST))
    assert (scores.overall.true_positives, scores.overall.false_positives) == (0, 1)
    assert scores.overall.false_negatives == 1
    assert not scores.passes
