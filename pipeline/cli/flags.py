"""`pipeline flags`: the watchlist flags, one flag's why, and the analyst's review."""

from __future__ import annotations

from collections.abc import Iterator
from enum import StrEnum
from typing import Annotated, Any

import typer

from pipeline.cli.context import guard, session, since_option
from pipeline.cli.render import Column, Format, FormatOption, emit, emit_object, plural, write
from pipeline.cli.review import detail_lines, labelled, login_name, without_story_ids
from pipeline.core.clock import utcnow
from storage.views import api_flags

group = typer.Typer(no_args_is_help=True, help="Watchlist flags and their review.")


class FlagStatusFilter(StrEnum):
    new = "new"
    relevant = "relevant"
    dismissed = "dismissed"
    all = "all"


class ReviewStatus(StrEnum):
    relevant = "relevant"
    dismissed = "dismissed"
    new = "new"


SHOW_FIELDS = (
    "id", "entity", "status", "feed", "title", "url", "published_at", "first_seen_at", "matched",
    "mentions", "rule", "score", "note", "reviewed_by", "reviewed_at",
)  # fmt: skip

FLAG_CSV_COLUMNS = [
    "id", "article_id", "url", "title", "feed", "published_at", "first_seen_at", "entity_id",
    "entity", "matched", "snippet", "mentions", "status", "note", "reviewed_by", "reviewed_at",
    "duplicates",
]  # fmt: skip
# CSV carries the JSON's fields: the columns above first (their order is a contract), then every
# other column of the api_flags view (score, rule, duplicates_count, ...).
FLAG_CSV_COLUMNS += [
    column.name for column in api_flags.c if column.name not in {*FLAG_CSV_COLUMNS, "story_id"}
]


@group.command("list")
def flags_list(
    ctx: typer.Context,
    status: Annotated[FlagStatusFilter, typer.Option()] = FlagStatusFilter.all,
    entity: Annotated[str | None, typer.Option(help="Entity id or part of its name.")] = None,
    feed: Annotated[str | None, typer.Option(help="Feed name.")] = None,
    since: Annotated[str | None, typer.Option(help="First seen since (ISO date or 2d).")] = None,
    fmt: FormatOption = Format.table,
) -> None:
    """Flags, newest first."""
    first_seen = since_option(since)
    flags = guard(
        lambda: without_story_ids(
            session(ctx)
            .repository()
            .list_flags(
                status=None if status is FlagStatusFilter.all else status.value,
                entity=entity,
                feed=feed,
                since=first_seen,
            )
        )
    )
    columns = [
        Column.of("id", right=True),
        Column.of("entity", flexible=True, min_width=12),
        Column.of("status", min_width=9),
        Column.of("feed", flexible=True, min_width=8),
        Column.of("title", flexible=True, min_width=12),
        Column.of("mentions", "n", right=True),
    ]
    emit(fmt, flags, title=plural(len(flags), "flag"), columns=columns, fields=FLAG_CSV_COLUMNS)


@group.command("show")
def flags_show(
    ctx: typer.Context,
    flag_id: Annotated[int, typer.Argument(metavar="ID")],
    fmt: FormatOption = Format.table,
) -> None:
    """One flag: the why, the snippet, the text with every mention marked, the duplicates."""
    detail = guard(lambda: session(ctx).repository().flag_detail(flag_id))
    emit_object(fmt, detail, lambda: _detail_lines(detail))


def _detail_lines(detail: dict[str, Any]) -> Iterator[str]:
    return detail_lines(detail, SHOW_FIELDS, why_lines(detail["why"]))


def why_lines(why: object) -> Iterator[str]:
    """The matcher's reasons, one `key: value` line each, under the `why` label."""
    if not isinstance(why, dict) or not why:
        yield labelled("why", why or "-")
        return
    for index, (key, value) in enumerate(why.items()):
        yield labelled("why" if index == 0 else "", f"{key.replace('_', ' ')}: {_readable(value)}")


def _readable(value: object) -> str:
    if isinstance(value, list):
        return ", ".join(_readable(item) for item in value) if value else "-"
    if isinstance(value, dict):
        text, rest = value.get("text"), {k: v for k, v in value.items() if k != "text"}
        details = " ".join(f"{key} {_readable(item)}" for key, item in rest.items())
        return f"{text} ({details})" if text is not None else details
    if isinstance(value, float):
        return f"{value:g}"
    return "-" if value is None else str(value)


@group.command("review")
def flags_review(
    ctx: typer.Context,
    flag_id: Annotated[int, typer.Argument(metavar="ID")],
    status: Annotated[
        ReviewStatus, typer.Option(help="relevant, dismissed, or new (reopens a decided flag).")
    ],
    note: Annotated[str | None, typer.Option()] = None,
    by: Annotated[
        str | None, typer.Option(help="Reviewer name (default: your login name).")
    ] = None,
) -> None:
    """Record an analyst's decision on a flag (kept in the audit trail). `--status new`
    reopens a flag that was decided."""
    by = by or login_name()
    guard(
        lambda: (
            session(ctx)
            .repository()
            .review_flag(flag_id, status=status.value, note=note, by=by, now=utcnow())
        )
    )
    write(f"flag {flag_id}: {status.value}")
