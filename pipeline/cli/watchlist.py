"""`pipeline watchlist import`: a sanctions list into a watchlist file."""

from __future__ import annotations

import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from pipeline.cli.context import guard, session
from pipeline.cli.render import write

group = typer.Typer(no_args_is_help=True, help="Watchlist files: import sanctions lists.")


class ImportFormat(StrEnum):
    ofac_csv = "ofac-csv"
    opensanctions_ftm = "opensanctions-ftm"
    opensanctions_csv = "opensanctions-csv"


@group.command("import")
def watchlist_import(
    ctx: typer.Context,
    file: Annotated[
        Path,
        typer.Argument(
            metavar="FILE",
            help="OFAC sdn.csv (alt.csv, add.csv beside it), FtM JSON lines or targets.simple.csv.",
        ),
    ],
    fmt: Annotated[ImportFormat, typer.Option("--format", help="The file's format.")],
    program: Annotated[
        list[str] | None,
        typer.Option(metavar="PROGRAM", help="Only this programme (NPWMD); repeatable."),
    ] = None,
    country: Annotated[
        list[str] | None,
        typer.Option(metavar="COUNTRY", help="Only this country (PK or Pakistan); repeatable."),
    ] = None,
    output: Annotated[
        Path | None,
        typer.Option(metavar="PATH", help="Watchlist file to write (default: the configured one)."),
    ] = None,
) -> None:
    """Import a sanctions list into a watchlist file; a re-import updates, never duplicates."""
    from pipeline.match.importers import import_list, resolve_target

    config = session(ctx).config()
    target = guard(lambda: resolve_target(config.watchlist, output))
    outcome = guard(
        lambda: import_list(
            file,
            fmt.value,
            target=target,
            seed=config.watchlist,
            programs=program or [],
            countries=country or [],
        )
    )
    for line in outcome.warnings():
        print(f"warning: {line}", file=sys.stderr)
    for line in outcome.summary(config.watchlist):
        write(line)
