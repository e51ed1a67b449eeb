"""`pipeline articles`: the stored articles (the api_articles view)."""

from __future__ import annotations

from typing import Annotated

import typer

from pipeline.cli.context import guard, session, since_option
from pipeline.cli.render import Column, Format, FormatOption, emit, plural
from pipeline.core import output

group = typer.Typer(no_args_is_help=True, help="Stored articles.")


@group.command("list")
def articles_list(
    ctx: typer.Context,
    since: Annotated[str | None, typer.Option(help="Fetched since (ISO date or 2d).")] = None,
    fmt: FormatOption = Format.table,
) -> None:
    """Stored articles (the api_articles view)."""
    fetched_since = since_option(since)
    articles = guard(lambda: session(ctx).repository().list_articles(fetched_since))
    columns = [
        Column.of("id", right=True, min_width=3),
        Column.of("feed", flexible=True, min_width=8),
        Column("fetched", lambda article: output.compact_time(article["fetched_at"])),
        Column.of("text_source", "src"),
        Column.of("duplicate_of", "dup of", right=True),
        Column.of("title", flexible=True, min_width=12),
    ]
    emit(fmt, articles, title=plural(len(articles), "article"), columns=columns)
