"""Measure the matcher on the hand-written evaluation set: precision and recall per entity.

``python -m pipeline.tools.evaluate [EVAL_DIR] [--watchlist PATH]`` (``make eval``) prints one row
per
watchlist entity and an overall row, then every article the matcher got wrong, and exits 1
when overall precision or recall is below the floor the test suite enforces (0.97).

The unit counted is the (article, entity) pair: a true positive is an expected entity that was
flagged, a false positive an entity flagged but not expected, a false negative one expected but
not flagged. Overall figures are micro-averaged over all pairs. The set lives in
``tests/data/eval/`` (one YAML file per article: id, outlet, traps, expect, title, text; see its
README.md).
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from rich.console import Console
from rich.table import Table

from pipeline.core.config import SHIPPED_WATCHLIST
from pipeline.core.errors import ConfigError
from pipeline.match.matcher import Matcher
from pipeline.match.watchlist import Watchlist, load_watchlist

DEFAULT_EVAL_DIR = Path(__file__).resolve().parents[2] / "tests" / "data" / "eval"
PRECISION_FLOOR = 0.97
RECALL_FLOOR = 0.97


class EvalArticle(BaseModel):
    """One article of the evaluation set with the entities an analyst wants flagged."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(min_length=1)
    outlet: str = ""
    traps: list[str] = Field(default_factory=list)
    expect: list[str] = Field(default_factory=list)
    title: str
    text: str


@dataclass(frozen=True, slots=True)
class Score:
    """Counts of (article, entity) pairs and the ratios drawn from them."""

    label: str
    true_positives: int
    false_positives: int
    false_negatives: int
    positive_articles: int  # articles where this entity is expected

    @property
    def precision(self) -> float:
        flagged = self.true_positives + self.false_positives
        return self.true_positives / flagged if flagged else 1.0

    @property
    def recall(self) -> float:
        expected = self.true_positives + self.false_negatives
        return self.true_positives / expected if expected else 1.0


@dataclass(frozen=True, slots=True)
class ArticleOutcome:
    article_id: str
    expected: frozenset[str]
    flagged: frozenset[str]

    @property
    def missed(self) -> frozenset[str]:
        return self.expected - self.flagged

    @property
    def spurious(self) -> frozenset[str]:
        return self.flagged - self.expected


@dataclass(frozen=True, slots=True)
class EvalReport:
    entities: list[Score]
    overall: Score
    outcomes: list[ArticleOutcome]

    @property
    def errors(self) -> list[ArticleOutcome]:
        return [o for o in self.outcomes if o.missed or o.spurious]

    @property
    def passes(self) -> bool:
        return self.overall.precision >= PRECISION_FLOOR and self.overall.recall >= RECALL_FLOOR


def load_eval_set(eval_dir: Path) -> list[EvalArticle]:
    """Every ``*.yaml`` article of the directory, sorted by file name."""
    articles: list[EvalArticle] = []
    for path in sorted(eval_dir.glob("*.yaml")):
        try:
            articles.append(EvalArticle.model_validate(yaml.safe_load(path.read_text("utf-8"))))
        except (OSError, yaml.YAMLError, ValidationError) as exc:
            raise ConfigError(f"{path}: not a valid evaluation article: {exc}") from None
    if not articles:
        raise ConfigError(f"{eval_dir}: no evaluation articles (*.yaml) found")
    return articles


def evaluate(eval_dir: Path, watchlist: Watchlist) -> EvalReport:
    """Match every article of the set and score the flags against the expected entities."""
    matcher = Matcher(watchlist)
    outcomes = [
        ArticleOutcome(
            article.id,
            frozenset(article.expect),
            frozenset(m.entity_id for m in matcher.match(article.title, article.text)),
        )
        for article in load_eval_set(eval_dir)
    ]
    entities = [_score(e.id, outcomes, {e.id}) for e in watchlist.entities]
    overall = _score("overall", outcomes, {e.id for e in watchlist.entities})
    return EvalReport(entities, overall, outcomes)


def _score(label: str, outcomes: list[ArticleOutcome], entity_ids: set[str]) -> Score:
    tp = fp = fn = positives = 0
    for outcome in outcomes:
        expected = outcome.expected & entity_ids
        flagged = outcome.flagged & entity_ids
        tp += len(expected & flagged)
        fp += len(flagged - expected)
        fn += len(expected - flagged)
        positives += bool(expected)
    return Score(label, tp, fp, fn, positives)


def render(report: EvalReport, watchlist: Watchlist, console: Console) -> None:
    table = Table(title=f"Matching quality on {len(report.outcomes)} articles")
    for column in ("entity", "name", "articles", "TP", "FP", "FN", "precision", "recall"):
        table.add_column(column, justify="left" if column in ("entity", "name") else "right")
    names = {e.id: e.name for e in watchlist.entities}
    for score in [*report.entities, report.overall]:
        table.add_row(
            score.label,
            names.get(score.label, ""),
            str(score.positive_articles),
            str(score.true_positives),
            str(score.false_positives),
            str(score.false_negatives),
            f"{score.precision:.3f}",
            f"{score.recall:.3f}",
        )
    console.print(table)
    for outcome in report.errors:
        console.print(
            f"{outcome.article_id}: missed {sorted(outcome.missed)} "
            f"spurious {sorted(outcome.spurious)}"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pipeline.tools.evaluate", description=__doc__)
    parser.add_argument("eval_dir", nargs="?", type=Path, default=DEFAULT_EVAL_DIR)
    parser.add_argument("--watchlist", type=Path, default=SHIPPED_WATCHLIST)
    args = parser.parse_args(argv)
    console = Console(width=None if sys.stdout.isatty() else 110)  # piped: no wrapped names
    try:
        watchlist = load_watchlist(args.watchlist)
        report = evaluate(args.eval_dir, watchlist)
    except ConfigError as exc:
        Console(stderr=True).print(f"error: {exc}", markup=False, highlight=False)
        return 2
    render(report, watchlist, console)
    verdict = "passes" if report.passes else "is BELOW"
    console.print(
        f"overall {verdict} the floor (precision >= {PRECISION_FLOOR}, recall >= {RECALL_FLOOR})",
        markup=False,
    )
    return 0 if report.passes else 1


if __name__ == "__main__":
    sys.exit(main())
