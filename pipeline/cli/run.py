"""`pipeline run`: the daemon (or one round with --once)."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from pipeline.cli.context import EXIT_FAILURE, fail, guard, session
from pipeline.core import eventloop
from pipeline.core.memory import return_freed_memory


def run(
    ctx: typer.Context,
    once: Annotated[bool, typer.Option("--once", help="Poll every feed once, then exit.")] = False,
    metrics_port: Annotated[
        int | None,
        typer.Option(min=0, max=65535, help="Serve this worker's metrics on 127.0.0.1:PORT."),
    ] = None,
) -> None:
    """Run the daemon (or one round with --once)."""
    from pipeline.poll.leases import not_polled_line
    from pipeline.poll.scheduler import Worker  # heavy imports: keep other commands fast

    config = session(ctx).config()
    return_freed_memory()  # a long-running process: page bodies pass through it
    if metrics_port is not None:
        from pipeline.ops.metrics import serve_worker_metrics

        try:
            serve_worker_metrics(metrics_port)
        except OSError as exc:
            fail(f"cannot serve metrics on 127.0.0.1:{metrics_port}: {exc}", EXIT_FAILURE)
    worker = guard(lambda: Worker(config))  # opens the database: a bad schema is one line
    guard(lambda: eventloop.run(worker.run(once=once)))
    line = not_polled_line(worker.not_polled)  # never silently nothing: who holds what
    if line:
        print(f"run --once: {line}", file=sys.stderr)


COMMANDS = (run,)
