"""`pipeline feeds`: the configured feeds, their health, discovery and the config check."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Annotated, Any

import typer

from pipeline.cli.context import EXIT_FAILURE, EXIT_USAGE, fail, guard, session
from pipeline.cli.render import Column, Format, FormatOption, emit, plural, write
from pipeline.cli.usage import STALE_FOUND
from pipeline.core.clock import utcnow
from pipeline.core.config import Config, parse_duration, sqlite_file
from pipeline.core.errors import ConfigError, InvalidURLError, PipelineError
from pipeline.core.output import span
from storage.db import Database, redact
from storage.repository import Repository
from storage.repository.base import POLLABLE_STATUSES

group = typer.Typer(no_args_is_help=True, help="Configured feeds and their health.")

POLLED = POLLABLE_STATUSES  # feed statuses that have a next poll


@group.command("list")
def feeds_list(ctx: typer.Context, fmt: FormatOption = Format.table) -> None:
    """Feeds with health: last attempt, success and new item, interval, next poll, error."""
    feeds = guard(lambda: _configured_feeds_repository(ctx).list_feeds())
    _emit_feeds(fmt, plural(len(feeds), "feed"), feeds)


@group.command("stale")
def feeds_stale(
    ctx: typer.Context,
    older: Annotated[
        str, typer.Option("--older", help="No success or no new item for this long (2d, 12h).")
    ] = "2d",
    fmt: FormatOption = Format.table,
) -> None:
    """Feeds with no success or no new item for --older; exit 3 when there is any (cron)."""
    try:
        span = parse_duration(older)
    except ValueError as exc:
        fail(f"--older: {exc}", EXIT_USAGE)
    before = utcnow() - timedelta(seconds=span)
    feeds = guard(lambda: _configured_feeds_repository(ctx).stale_feeds(before))
    title = f"{plural(len(feeds), 'feed')} with no success or no new item for {older}"
    _emit_feeds(fmt, title, feeds)
    if feeds:
        raise typer.Exit(STALE_FOUND)


@group.command("discover")
def feeds_discover(
    ctx: typer.Context, url: Annotated[str, typer.Argument(metavar="URL", help="A homepage.")]
) -> None:
    """Print the feeds and news sitemaps a site advertises, as feeds.yaml entries."""
    from pipeline.fetch.client import Fetcher
    from pipeline.sources.discover import discover_feeds, feeds_yaml

    state = session(ctx)
    # Discovery may come before there is a feeds.yaml: the fetch defaults serve then.
    config = state.config() if state.config_file.exists() else Config()

    async def discover() -> list[Any]:
        async with Fetcher(config.fetch) as fetcher:
            return await discover_feeds(fetcher, url, max_bytes=config.fetch.max_bytes)

    try:
        found = asyncio.run(discover())
    except InvalidURLError as exc:
        fail(str(exc), EXIT_USAGE)
    except PipelineError as exc:
        fail(str(exc), EXIT_FAILURE)
    if not found:
        fail(f"no feed or news sitemap found at {url}", EXIT_FAILURE)
    write(feeds_yaml(found))


@group.command("check")
def feeds_check(ctx: typer.Context) -> None:
    """Validate the config and the watchlist and reach the database; exit 2 when the config is
    invalid, 1 when the database cannot be reached. Prints every resolved path."""
    from pipeline.match.watchlist import load_watchlist

    state = session(ctx)
    config = state.config()
    try:
        watchlist = load_watchlist(config.watchlist)
    except ConfigError as exc:
        fail(f"{state.config_file}: watchlist: {exc}", EXIT_USAGE)
    schema = guard(lambda: _schema_state(config.database))
    write(
        f"ok: {plural(len(config.feeds), 'feed')}, "
        f"{plural(len(watchlist.entities), 'watchlist entity', 'watchlist entities')}, "
        f"database {redact(config.database)}"
    )
    write(f"  config     {state.config_file.resolve()}")
    write(f"  database   {redact(config.database)} ({schema})")
    write(f"  watchlist  {config.watchlist}")
    archive = config.archive.path if config.archive.enabled else "off"
    write(f"  archive    {archive}")


def _schema_state(url: str) -> str:
    """Where the database's schema stands; StorageError when it cannot be reached."""
    path = sqlite_file(url)
    if path is not None and not path.exists():
        return "not created yet: `pipeline run` creates it"
    database = Database(url)
    try:
        current, head = database.schema_revisions()
    finally:
        database.dispose()
    if current == head:
        return f"schema {current}, up to date"
    if current is None:
        return "empty: the first `pipeline run` creates the schema"
    return f"schema {current}, behind {head}: run `pipeline db upgrade`"


def _configured_feeds_repository(ctx: typer.Context) -> Repository:
    """The repository with feeds.yaml's feeds synced in, so a feed shows before its first poll."""
    from pipeline.poll.scheduler import sync_configured_feeds

    state = session(ctx)
    repository = state.repository()
    sync_configured_feeds(repository, state.config(), utcnow())
    return repository


def _emit_feeds(fmt: Format, title: str, feeds: list[dict[str, Any]]) -> None:
    """Times relative to now (how long ago; how long until the next poll), to fit 80 columns."""
    now = utcnow()
    columns = [
        Column("feed", lambda feed: feed["name"], flexible=True, min_width=8),
        Column("status", feed_status, flexible=True, min_width=7),
        Column("tried", lambda feed: ago(feed["last_attempt_at"], now), right=True),
        Column("ok", lambda feed: ago(feed["last_success_at"], now), right=True),
        Column("new", lambda feed: ago(feed["last_new_item_at"], now), right=True),
        Column("every", _every, right=True),
        Column("next", lambda feed: _next(feed, now), right=True),
        Column.of("articles", "arts", right=True),
        Column.of("last_error", "last error", flexible=True, min_width=8),
    ]
    emit(fmt, feeds, title=f"{title} (times ago, next: from now, * pinned)", columns=columns)


def feed_status(feed: dict[str, Any]) -> str:
    if feed["duplicate_of"]:
        return f"dup of {feed['duplicate_of']}"
    failures = feed["consecutive_failures"]
    status = str(feed["status"])
    if status == "ok" and failures and feed["last_success_at"] is None:
        status = "error"  # never worked: not `ok` until failing_after failures
    return status + (f" ({failures}x)" if failures else "") + _lease_holder(feed)


def _lease_holder(feed: dict[str, Any]) -> str:
    """ ", polled by host:pid" while a worker's lease on the feed holds."""
    from pipeline.poll.leases import holder_name

    owner, until_at = feed.get("lease_owner"), feed.get("lease_expires_at")
    if not owner or until_at is None or until_at < utcnow():
        return ""
    return f", polled by {holder_name(owner)}"


def _every(feed: dict[str, Any]) -> str:
    return span(feed["interval_seconds"]) + ("*" if feed["interval_pinned"] else "")


def _next(feed: dict[str, Any], now: datetime) -> str:
    return until(feed["next_poll_at"], now) if feed["status"] in POLLED else "-"


def ago(value: datetime | None, now: datetime) -> str:
    return "never" if value is None else span(max((now - value).total_seconds(), 0))


def until(value: datetime | None, now: datetime) -> str:
    if value is None:
        return "-"
    seconds = (value - now).total_seconds()
    return "due" if seconds <= 0 else span(seconds)
