"""`pipeline candidates`: possible mentions the rules did not accept, and the analyst's decision.

`promote` makes the candidate a flag (rule `analyst`) that alerts as any flag does; `dismiss`
closes it for good for that story. Both are kept in the audit trail.
"""

from __future__ import annotations

from collections.abc import Iterator
from enum import StrEnum
from typing import Annotated, Any

import typer

from pipeline.cli.context import guard, session, since_option
from pipeline.cli.render import (
    Column,
    Format,
    FormatOption,
    emit,
    emit_object,
    table_lines,
    terminal_width,
    write,
)
from pipeline.cli.review import detail_lines, labelled, without_story_ids
from pipeline.core.clock import utcnow

group = typer.Typer(
    no_args_is_help=True, help="Possible mentions (candidates): promote or dismiss them."
)


class CandidateStatusFilter(StrEnum):
    new = "new"
    promoted = "promoted"
    dismissed = "dismissed"
    all = "all"


SHOW_FIELDS = (
    "id", "entity", "status", "feed", "title", "url", "published_at", "first_seen_at", "matched",
    "score", "reason", "note", "reviewed_by", "reviewed_at", "flag_id", "promoted_rule",
)  # fmt: skip

CANDIDATE_CSV_COLUMNS = [
    "id", "article_id", "url", "title", "feed", "published_at", "first_seen_at", "entity_id",
    "entity", "matched", "snippet", "reason", "score", "status", "note", "reviewed_by",
    "reviewed_at", "flag_id", "duplicates",
]  # fmt: skip

CandidateId = Annotated[int, typer.Argument(metavar="ID")]
NoteOption = Annotated[str | None, typer.Option()]
ReviewerOption = Annotated[str | None, typer.Option(help="Reviewer name.")]


@group.command("list")
def candidates_list(
    ctx: typer.Context,
    status: Annotated[CandidateStatusFilter, typer.Option()] = CandidateStatusFilter.all,
    entity: Annotated[str | None, typer.Option(help="Entity id or part of its name.")] = None,
    since: Annotated[str | None, typer.Option(help="First seen since (ISO date or 2d).")] = None,
    fmt: FormatOption = Format.table,
) -> None:
    """Candidates, newest first (every status unless --status says which)."""
    first_seen = since_option(since)
    rows = guard(
        lambda: without_story_ids(
            session(ctx)
            .repository()
            .list_candidates(
                status=None if status is CandidateStatusFilter.all else status.value,
                entity=entity,
                since=first_seen,
            )
        )
    )
    columns = [
        Column.of("id", right=True),
        Column.of("entity", flexible=True, min_width=12),
        Column.of("status", min_width=9),
        Column.of("score", right=True),
        Column.of("matched", flexible=True, min_width=10),
        Column.of("title", flexible=True, min_width=12),
        Column.of("reason", flexible=True, min_width=16),
    ]
    emit(fmt, rows, title=f"{len(rows)} candidates", columns=columns, fields=CANDIDATE_CSV_COLUMNS)


@group.command("show")
def candidates_show(
    ctx: typer.Context,
    candidate_id: CandidateId,
    fmt: FormatOption = Format.table,
) -> None:
    """One candidate: why it fell short, its context words, the text with the name marked."""
    detail = guard(lambda: session(ctx).repository().candidate_detail(candidate_id))
    emit_object(fmt, detail, lambda: _detail_lines(detail))


@group.command("promote")
def candidates_promote(
    ctx: typer.Context,
    candidate_id: CandidateId,
    note: NoteOption = None,
    by: ReviewerOption = None,
) -> None:
    """Make the candidate a flag (rule `analyst`): it alerts as any flag does."""
    repository = session(ctx).repository()
    flag_id = guard(
        lambda: repository.promote_candidate(candidate_id, note=note, by=by, now=utcnow())
    )
    write(f"candidate {candidate_id}: promoted to flag {flag_id}")


@group.command("dismiss")
def candidates_dismiss(
    ctx: typer.Context,
    candidate_id: CandidateId,
    note: NoteOption = None,
    by: ReviewerOption = None,
) -> None:
    """Dismiss the candidate: never offered again for this story."""
    repository = session(ctx).repository()
    guard(lambda: repository.dismiss_candidate(candidate_id, note=note, by=by, now=utcnow()))
    write(f"candidate {candidate_id}: dismissed")


def _detail_lines(detail: dict[str, Any]) -> Iterator[str]:
    return detail_lines(detail, SHOW_FIELDS, _context_lines(detail))


def _context_lines(detail: dict[str, Any]) -> Iterator[str]:
    yield labelled("context", ", ".join(detail["context"]) or "-")
    for word in detail["why"].get("context_words", []):
        distance = "anywhere" if word["distance"] is None else f"{word['distance']} words"
        yield labelled("", f"{word['text']} ({word['kind']}, {word['weight']:+d}, {distance})")


def quality_lines(figures: dict[str, Any]) -> Iterator[str]:
    """`stats --quality` as two tables: per entity, then per rule."""
    columns = [
        Column.of("flags", right=True),
        Column.of("reviewed", right=True),
        Column.of("relevant", right=True),
        Column.of("dismissed", right=True),
        Column.of("precision", right=True),
        Column.of("candidates", right=True),
        Column.of("candidates_promoted", "promoted", right=True),
        Column.of("candidates_dismissed", "cand. dismissed", right=True),
        Column.of("recall_gap", "recall gap", right=True),
        Column.of("measured_recall", "recall", right=True),
    ]
    entity_rows = [*figures["entities"], {"entity": "overall", **figures["overall"]}]
    rule_rows = [*figures["rules"], {"rule": "overall", **figures["overall"]}]
    yield "quality per entity (precision = relevant / reviewed; recall gap = analyst promotions)"
    yield from table_lines(
        [Column.of("entity", flexible=True), *columns], entity_rows, terminal_width()
    )
    yield ""
    yield "quality per rule"
    yield from table_lines([Column.of("rule"), *columns], rule_rows, terminal_width())
