"""The `pipeline` command. Thin: parses arguments, calls the pipeline, prints.

Exit codes: 0 success, 1 runtime failure, 2 usage or configuration error. Errors go to stderr
as one line; data goes to stdout.
"""

from __future__ import annotations

import asyncio
import re
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, NoReturn, TypeVar

import typer
from rich.console import Console

from pipeline import output
from pipeline.clock import utcnow
from pipeline.config import Config, load_config, parse_duration, resolve_config_path
from pipeline.errors import ConfigError, PipelineError
from pipeline.logs import configure_logging
from storage.db import Database, redact
from storage.repository import Repository

app = typer.Typer(
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    help="sanctions-watch: poll news feeds and flag coverage of a sanctions watchlist.",
)
feeds_app = typer.Typer(no_args_is_help=True, help="Configured feeds and their health.")
flags_app = typer.Typer(no_args_is_help=True, help="Watchlist flags and their review.")
articles_app = typer.Typer(no_args_is_help=True, help="Stored articles.")
db_app = typer.Typer(no_args_is_help=True, help="Database schema.")
watchlist_app = typer.Typer(no_args_is_help=True, help="Watchlist files: import sanctions lists.")
app.add_typer(feeds_app, name="feeds")
app.add_typer(flags_app, name="flags")
app.add_typer(articles_app, name="articles")
app.add_typer(db_app, name="db")
app.add_typer(watchlist_app, name="watchlist")

stdout = Console(soft_wrap=False, highlight=False)


class FlagStatusFilter(StrEnum):
    new = "new"
    relevant = "relevant"
    dismissed = "dismissed"
    all = "all"


class ReviewStatus(StrEnum):
    relevant = "relevant"
    dismissed = "dismissed"
    new = "new"


class FlagFormat(StrEnum):
    table = "table"
    json = "json"
    csv = "csv"


class ListFormat(StrEnum):
    table = "table"
    json = "json"


class ImportFormat(StrEnum):
    ofac_csv = "ofac-csv"
    opensanctions_ftm = "opensanctions-ftm"
    opensanctions_csv = "opensanctions-csv"


class State:
    config_path: str | None = None


STATE = State()

FLAG_CSV_COLUMNS = [
    "id", "article_id", "url", "title", "feed", "published_at", "first_seen_at", "entity_id",
    "entity", "matched", "snippet", "mentions", "status", "note", "reviewed_by", "reviewed_at",
    "duplicates",
]  # fmt: skip


SHOW_FIELDS = (
    "id", "entity", "status", "feed", "title", "url", "published_at", "first_seen_at", "matched",
    "mentions", "rule", "score", "note", "reviewed_by", "reviewed_at",
)  # fmt: skip


@app.callback()
def _global_options(
    config: Annotated[
        str | None, typer.Option("--config", help="feeds.yaml path (else $PIPELINE_CONFIG).")
    ] = None,
    log_format: Annotated[str, typer.Option(help="Log lines as text or json.")] = "text",
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Debug logging.")] = False,
) -> None:
    STATE.config_path = config
    configure_logging(log_format, verbose)


# ---- run ---------------------------------------------------------------------------------------


@app.command()
def run(
    once: Annotated[bool, typer.Option("--once", help="Poll every feed once, then exit.")] = False,
) -> None:
    """Run the daemon (or one round with --once)."""
    from pipeline.scheduler import (
        Worker,
    )  # the daemon's imports are heavy; keep other commands fast

    config = _config()
    _guard(lambda: asyncio.run(Worker(config).run(once=once)))


@app.command()
def rescan(
    since: Annotated[
        str | None, typer.Option(help="Only articles fetched since (ISO date or 2d).")
    ] = None,
) -> None:
    """Re-match stored articles against the watchlist (after a watchlist change)."""
    from pipeline.rescan import rescan_articles

    config = _config()
    added = _guard(lambda: rescan_articles(config, _since(since), stdout))
    stdout.print(f"rescan done: {added} new flag(s)")


@app.command()
def stats(fmt: Annotated[ListFormat, typer.Option("--format")] = ListFormat.table) -> None:
    """Counts: feeds, articles, duplicates, flags by status."""
    figures = _guard(lambda: _repository().stats())
    if fmt is ListFormat.json:
        print(output.render_json(figures))
        return
    rows = [
        ["feeds", figures["feeds"]],
        *[[f"  {status}", count] for status, count in sorted(figures["feeds_by_status"].items())],
        ["articles", figures["articles"]],
        ["  duplicates", figures["duplicates"]],
        ["stories", figures["stories"]],
        ["flags", figures["flags"]],
        *[[f"  {status}", count] for status, count in figures["flags_by_status"].items()],
    ]
    output.print_table(
        stdout, "sanctions-watch", [("what", {}), ("count", {"justify": "right"})], rows
    )


# ---- feeds -------------------------------------------------------------------------------------


@feeds_app.command("list")
def feeds_list(fmt: Annotated[ListFormat, typer.Option("--format")] = ListFormat.table) -> None:
    """Feeds with health: status, last success, last error, next poll."""
    feeds = _guard(lambda: _repository().list_feeds())
    if fmt is ListFormat.json:
        print(output.render_json(feeds))
        return
    columns = [
        ("feed", _clipped(16)),
        ("status", {"no_wrap": True, "min_width": 7}),
        ("success", {"no_wrap": True, "min_width": 11}),
        ("next poll", {"no_wrap": True, "min_width": 11}),
        ("arts", {"justify": "right", "no_wrap": True, "min_width": 4}),
        ("flags", {"justify": "right", "no_wrap": True, "min_width": 5}),
        ("last error", _clipped(max(stdout.width - 64, 8))),
    ]
    rows = [
        [
            feed["name"],
            feed["status"]
            + (f" ({feed['consecutive_failures']}x)" if feed["consecutive_failures"] else ""),
            output.compact_time(feed["last_success_at"]),
            output.compact_time(feed["next_poll_at"]),
            feed["articles"],
            feed["flags"],
            feed["last_error"] or "-",
        ]
        for feed in feeds
    ]
    output.print_table(stdout, f"{len(feeds)} feeds", columns, rows)


@feeds_app.command("check")
def feeds_check() -> None:
    """Validate the config and the watchlist; exit 2 with the reason when invalid."""
    from pipeline.watchlist import load_watchlist

    config = _config()
    try:
        watchlist = load_watchlist(config.watchlist)
    except ConfigError as exc:
        _fail(str(exc), 2)
    stdout.print(
        f"ok: {len(config.feeds)} feeds, {len(watchlist.entities)} watchlist entities, "
        f"database {redact(config.database)}"
    )


# ---- flags -------------------------------------------------------------------------------------


@flags_app.command("list")
def flags_list(
    status: Annotated[FlagStatusFilter, typer.Option()] = FlagStatusFilter.all,
    entity: Annotated[str | None, typer.Option(help="Entity id or part of its name.")] = None,
    feed: Annotated[str | None, typer.Option(help="Feed name.")] = None,
    since: Annotated[str | None, typer.Option(help="First seen since (ISO date or 2d).")] = None,
    fmt: Annotated[FlagFormat, typer.Option("--format")] = FlagFormat.table,
) -> None:
    """Flags, newest first."""
    flags = _guard(
        lambda: _repository().list_flags(
            status=None if status is FlagStatusFilter.all else status.value,
            entity=entity,
            feed=feed,
            since=_since(since),
        )
    )
    for flag in flags:
        flag.pop("story_id", None)
    if fmt is FlagFormat.json:
        print(output.render_json(flags))
    elif fmt is FlagFormat.csv:
        sys.stdout.write(output.render_csv(flags, FLAG_CSV_COLUMNS))
    else:
        columns = [
            ("id", {"justify": "right", "no_wrap": True}),
            ("entity", _clipped(22)),
            ("status", {"min_width": 9, "no_wrap": True}),
            ("feed", _clipped(12)),
            ("title", _clipped(max(stdout.width - 56, 12))),
            ("n", {"justify": "right", "no_wrap": True}),
        ]
        rows = [
            [
                flag["id"],
                flag["entity"],
                flag["status"],
                flag["feed"],
                flag["title"],
                flag["mentions"],
            ]
            for flag in flags
        ]
        output.print_table(stdout, f"{len(flags)} flags", columns, rows)


@flags_app.command("show")
def flags_show(
    flag_id: Annotated[int, typer.Argument(metavar="ID")],
    fmt: Annotated[ListFormat, typer.Option("--format")] = ListFormat.table,
) -> None:
    """One flag: the why, the snippet, the text with every mention marked, the duplicates."""
    from rich.text import Text

    detail = _guard(lambda: _repository().flag_detail(flag_id))
    if fmt is ListFormat.json:
        print(output.render_json(detail))
        return
    for label in SHOW_FIELDS:
        value = detail.get(label)
        shown = output.short_time(value) if isinstance(value, datetime) else value
        stdout.print(Text(f"{label:>14}: {'-' if shown is None else shown}"))
    stdout.print(Text(f"{'why':>14}: {output.render_json(detail['why'])}"))
    stdout.print(Text(f"{'snippet':>14}: {detail['snippet']}"))
    for url in detail["duplicates"]:
        stdout.print(Text(f"{'also at':>14}: {url}"))
    for change in detail["history"]:
        stdout.print(
            Text(
                f"{'history':>14}: {output.short_time(change['reviewed_at'])} "
                f"{change['from_status']} -> {change['to_status']} "
                f"by {change['reviewed_by'] or '-'}"
                f"{': ' + change['note'] if change['note'] else ''}"
            )
        )
    stdout.print()
    stdout.print(_highlighted(detail["document"], detail["offsets"]))


@flags_app.command("review")
def flags_review(
    flag_id: Annotated[int, typer.Argument(metavar="ID")],
    status: Annotated[ReviewStatus, typer.Option(help="relevant or dismissed (new reopens).")],
    note: Annotated[str | None, typer.Option()] = None,
    by: Annotated[str | None, typer.Option(help="Reviewer name.")] = None,
) -> None:
    """Record an analyst's decision on a flag (kept in the audit trail)."""
    _guard(
        lambda: _repository().review_flag(
            flag_id, status=status.value, note=note, by=by, now=utcnow()
        )
    )
    stdout.print(f"flag {flag_id}: {status.value}")


# ---- articles and db ---------------------------------------------------------------------------


@articles_app.command("list")
def articles_list(
    since: Annotated[str | None, typer.Option(help="Fetched since (ISO date or 2d).")] = None,
    fmt: Annotated[ListFormat, typer.Option("--format")] = ListFormat.table,
) -> None:
    """Stored articles (the api_articles view)."""
    articles = _guard(lambda: _repository().list_articles(_since(since)))
    if fmt is ListFormat.json:
        print(output.render_json(articles))
        return
    columns = [
        ("id", {"justify": "right", "no_wrap": True, "min_width": 3}),
        ("feed", _clipped(14)),
        ("fetched", {"no_wrap": True}),
        ("src", {"no_wrap": True, "min_width": 4}),
        ("dup of", {"justify": "right", "no_wrap": True}),
        ("title", _clipped(max(stdout.width - 48, 12))),
    ]
    rows = [
        [
            a["id"],
            a["feed"],
            output.compact_time(a["fetched_at"]),
            a["text_source"],
            a["duplicate_of"],
            a["title"],
        ]
        for a in articles
    ]
    output.print_table(stdout, f"{len(articles)} articles", columns, rows)


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply database migrations."""
    config = _config()

    def upgrade() -> tuple[str | None, str]:
        database = Database(config.database)
        try:
            before, _head = database.schema_revisions()
            database.upgrade()
            return before, database.schema_revisions()[0] or ""
        finally:
            database.dispose()

    before, after = _guard(upgrade)
    stdout.print(f"database {redact(config.database)}: {before or 'empty'} -> {after}")


# ---- watchlist ---------------------------------------------------------------------------------


@watchlist_app.command("import")
def watchlist_import(
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
    from pipeline.importers import import_list, resolve_target

    config = _config()
    target = _guard(lambda: resolve_target(config.watchlist, output))
    outcome = _guard(
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
        stdout.print(line, markup=False, soft_wrap=True)


# ---- helpers -----------------------------------------------------------------------------------


def _config() -> Config:
    try:
        return load_config(resolve_config_path(STATE.config_path))
    except ConfigError as exc:
        _fail(str(exc), 2)


def _repository() -> Repository:
    database = Database(_config().database)
    database.ensure_schema()
    return Repository(database)


T = TypeVar("T")


def _guard(action: Callable[[], T]) -> T:
    """Run `action`; turn the project's errors into one stderr line and an exit code."""
    try:
        return action()
    except ConfigError as exc:
        _fail(str(exc), 2)
    except PipelineError as exc:
        _fail(str(exc), 1)
    except KeyboardInterrupt:
        _fail("interrupted", 1)


def _fail(message: str, code: int) -> NoReturn:
    # One line: SQLAlchemy's messages go on with the SQL, its parameters and a help link.
    first_line = next((line for line in message.splitlines() if line.strip()), message)
    print(f"error: {first_line}", file=sys.stderr)
    raise typer.Exit(code)


_RELATIVE = re.compile(r"^\d+(\.\d+)?\s*[smhd]$")


def _since(value: str | None) -> datetime | None:
    """An ISO date/datetime (UTC unless it says otherwise) or a span back from now (2d, 12h)."""
    if value is None:
        return None
    if _RELATIVE.match(value.strip()):
        return utcnow() - timedelta(seconds=parse_duration(value))
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        _fail(f"--since: {value!r} is not an ISO date (2025-01-31) or a span (2d, 12h)", 2)
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def _clipped(width: int) -> dict[str, Any]:
    """A column cut to `width` with an ellipsis, so tables fit an 80-column terminal."""
    return {"max_width": width, "overflow": "ellipsis", "no_wrap": True}


def _highlighted(document: str, offsets: list[list[int]]) -> Any:
    from rich.text import Text

    text = Text(document)
    for start, end in offsets:
        text.stylize("bold reverse", start, end)
    return text


def main() -> None:
    app()
