"""`pipeline stats`: counts of feeds, articles, duplicates, stories and flags by status."""

from __future__ import annotations

from typing import Annotated

import typer

from pipeline.cli.candidates import quality_lines
from pipeline.cli.context import guard, session
from pipeline.cli.render import Column, Format, FormatOption, emit, emit_object


def stats(
    ctx: typer.Context,
    fmt: FormatOption = Format.table,
    quality: Annotated[
        bool, typer.Option("--quality", help="Precision and recall gap from analysts' reviews.")
    ] = False,
) -> None:
    """Counts: feeds, articles, duplicates, flags by status (--quality: review figures)."""
    if quality:
        figures = guard(lambda: session(ctx).repository().quality())
        emit_object(fmt, figures, lambda: quality_lines(figures))
        return
    figures = guard(lambda: session(ctx).repository().stats())
    if fmt is Format.json:
        emit_object(fmt, figures, lambda: ())
        return
    rows = [
        ("feeds", figures["feeds"]),
        *[(f"  {status}", count) for status, count in sorted(figures["feeds_by_status"].items())],
        ("articles", figures["articles"]),
        ("  duplicates", figures["duplicates"]),
        ("stories", figures["stories"]),
        ("flags", figures["flags"]),
        *[(f"  {status}", count) for status, count in figures["flags_by_status"].items()],
    ]
    columns = [Column.of("what"), Column.of("count", right=True)]
    emit(
        fmt,
        [{"what": what, "count": count} for what, count in rows],
        title="sanctions-watch",
        columns=columns,
    )


COMMANDS = (stats,)
