"""The `pipeline` command: the root options and every command group, registered below.

Exit codes: 0 success, 1 runtime failure, 2 usage or configuration error. Errors go to stderr
as one line; data goes to stdout.
"""

from __future__ import annotations

from typing import Annotated

import typer

from pipeline.cli import (
    alerts,
    articles,
    candidates,
    db,
    export,
    feeds,
    flags,
    match,
    rescan,
    run,
    serve,
    stats,
    users,
    watchlist,
)
from pipeline.cli.context import Session
from pipeline.cli.usage import OneLineErrors
from pipeline.ops.logs import LogFormat, configure_logging

app = typer.Typer(
    cls=OneLineErrors,
    rich_markup_mode=None,
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    help="sanctions-watch: poll news feeds and flag coverage of a sanctions watchlist.",
)


@app.callback()
def _global_options(
    ctx: typer.Context,
    config: Annotated[
        str | None, typer.Option("--config", help="feeds.yaml path (else $PIPELINE_CONFIG).")
    ] = None,
    log_format: Annotated[
        LogFormat, typer.Option(help="Log lines as text or json (one object per line).")
    ] = LogFormat.text,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Debug logging.")] = False,
) -> None:
    state = Session(config_path=config)
    ctx.obj = state
    ctx.call_on_close(state.close)
    configure_logging(log_format, verbose)


# Top-level commands: a module's COMMANDS. Groups: a module's `group`, under its name.
for module in (run, rescan, stats, serve):
    for command in module.COMMANDS:
        app.command()(command)
for name, module in {
    "feeds": feeds,
    "flags": flags,
    "articles": articles,
    "db": db,
    "watchlist": watchlist,
    "users": users,
    "alerts": alerts,
    "candidates": candidates,  # possible mentions (issue 17)
    "match": match,  # match explain (issue 17)
}.items():
    app.add_typer(module.group, name=name)
flags.group.command("export", help=export.HELP)(export.flags_export)  # issue 20


def main() -> None:
    app()
