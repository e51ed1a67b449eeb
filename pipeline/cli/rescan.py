"""`pipeline rescan` and `pipeline reprocess`: stored articles and archived pages again, after a
watchlist, rule or extraction change. Progress goes to stderr; the summary to stdout."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Annotated, TypeVar

import typer
from rich.console import Console
from rich.progress import Progress

from pipeline.cli.context import guard, session, since_option
from pipeline.cli.render import plural, write

Done = TypeVar("Done")


def rescan(
    ctx: typer.Context,
    since: Annotated[
        str | None, typer.Option(help="Only articles fetched since (ISO date or 2d).")
    ] = None,
) -> None:
    """Re-match stored articles against the watchlist (after a watchlist change)."""
    from pipeline.archive.rescan import rescan_articles

    added = _over_stored(ctx, since, "re-matching articles", rescan_articles)
    write(f"rescan done: {plural(added, 'new flag')}")


def reprocess(
    ctx: typer.Context,
    since: Annotated[
        str | None, typer.Option(help="Only pages fetched since (ISO date or 2d).")
    ] = None,
) -> None:
    """Re-extract, dedup and re-match archived pages without the network (after an upgrade
    or a rule change); never duplicates articles, never changes reviewed flags."""
    from pipeline.archive.reprocess import reprocess_archive

    counts = _over_stored(ctx, since, "reprocessing archived pages", reprocess_archive)
    write(counts.summary())


def _over_stored(
    ctx: typer.Context, since: str | None, description: str, job: Callable[..., Done]
) -> Done:
    """Run a job over what is stored since `since`, its progress on a bar."""
    fetched_since = since_option(since)
    state = session(ctx)
    state.require_database()
    config = state.config()
    with progress_bar(description) as progress:
        return guard(lambda: job(state.repository(), config, fetched_since, progress=progress))


@contextmanager
def progress_bar(description: str) -> Iterator[Callable[[int, int], None]]:
    """A transient bar on stderr, moved by the job's (done, total) reports."""
    with Progress(console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task(description, total=None)

        def report(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        yield report


COMMANDS = (rescan, reprocess)
