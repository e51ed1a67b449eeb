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

from pipeline.core import output
from pipeline.core.clock import utcnow
from pipeline.core.config import Config, load_config, parse_duration, resolve_config_path
from pipeline.core.errors import ConfigError, PipelineError
from pipeline.ops.logs import configure_logging
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
users_app = typer.Typer(no_args_is_help=True, help="Desk users (`pipeline serve`).")
app.add_typer(users_app, name="users")
alerts_app = typer.Typer(no_args_is_help=True, help="Alert deliveries (webhooks, e-mail).")
app.add_typer(alerts_app, name="alerts")

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


class UserRole(StrEnum):
    reviewer = "reviewer"
    observer = "observer"


MIN_AUTH_TOKEN_LENGTH = 16


class ImportFormat(StrEnum):
    ofac_csv = "ofac-csv"
    opensanctions_ftm = "opensanctions-ftm"
    opensanctions_csv = "opensanctions-csv"


POLLED = ("ok", "failing")  # feed statuses that have a next poll


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
    metrics_port: Annotated[
        int | None,
        typer.Option(min=0, max=65535, help="Serve this worker's metrics on 127.0.0.1:PORT."),
    ] = None,
) -> None:
    """Run the daemon (or one round with --once)."""
    from pipeline.poll.scheduler import (
        Worker,
    )  # the daemon's imports are heavy; keep other commands fast

    config = _config()
    if metrics_port is not None:
        from pipeline.ops.metrics import serve_worker_metrics

        try:
            serve_worker_metrics(metrics_port)
        except OSError as exc:
            _fail(f"cannot serve metrics on 127.0.0.1:{metrics_port}: {exc}", 1)
    _guard(lambda: asyncio.run(Worker(config).run(once=once)))


@app.command()
def rescan(
    since: Annotated[
        str | None, typer.Option(help="Only articles fetched since (ISO date or 2d).")
    ] = None,
) -> None:
    """Re-match stored articles against the watchlist (after a watchlist change)."""
    from pipeline.archive.rescan import rescan_articles

    config = _config()
    added = _guard(lambda: rescan_articles(config, _since(since), stdout))
    stdout.print(f"rescan done: {added} new flag(s)")


@app.command()
def reprocess(
    since: Annotated[
        str | None, typer.Option(help="Only pages fetched since (ISO date or 2d).")
    ] = None,
) -> None:
    """Re-extract, dedup and re-match archived pages without the network (after an upgrade
    or a rule change); never duplicates articles, never changes reviewed flags."""
    from pipeline.archive.reprocess import reprocess_archive

    config = _config()
    counts = _guard(lambda: reprocess_archive(config, _since(since), Console(stderr=True)))
    stdout.print(counts.summary(), soft_wrap=True, markup=False)


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
    """Feeds with health: last attempt, success and new item, interval, next poll, error."""
    feeds = _guard(lambda: _configured_feeds_repository().list_feeds())
    if fmt is ListFormat.json:
        print(output.render_json(feeds))
        return
    _print_feeds(f"{len(feeds)} feeds", feeds)


@feeds_app.command("stale")
def feeds_stale(
    older: Annotated[
        str, typer.Option("--older", help="No success or no new item for this long (2d, 12h).")
    ] = "2d",
    fmt: Annotated[ListFormat, typer.Option("--format")] = ListFormat.table,
) -> None:
    """Feeds with no success or no new item for --older; exit 1 when there is any (cron)."""
    try:
        span = parse_duration(older)
    except ValueError as exc:
        _fail(f"--older: {exc}", 2)
    before = utcnow() - timedelta(seconds=span)
    feeds = _guard(lambda: _configured_feeds_repository().stale_feeds(before))
    if fmt is ListFormat.json:
        print(output.render_json(feeds))
    else:
        _print_feeds(f"{len(feeds)} feeds with no success or no new item for {older}", feeds)
    if feeds:
        raise typer.Exit(1)


def _print_feeds(title: str, feeds: list[dict[str, Any]]) -> None:
    """Times relative to now (how long ago; how long until the next poll), to fit 80 columns."""
    now = utcnow()
    short = {"no_wrap": True, "justify": "right", "min_width": 5}
    columns = [
        ("feed", _clipped(16)),
        ("status", {**_clipped(14), "min_width": 7}),
        ("tried", short),
        ("ok", short),
        ("new", short),
        ("every", short),
        ("next", short),
        ("arts", {"justify": "right", "no_wrap": True, "min_width": 4}),
        ("last error", _clipped(max(stdout.width - 67, 8))),
    ]
    rows = [
        [
            feed["name"],
            _feed_status(feed),
            _ago(feed["last_attempt_at"], now),
            _ago(feed["last_success_at"], now),
            _ago(feed["last_new_item_at"], now),
            _span(feed["interval_seconds"]) + ("*" if feed["interval_pinned"] else ""),
            _until(feed["next_poll_at"], now) if feed["status"] in POLLED else "-",
            feed["articles"],
            feed["last_error"] or "-",
        ]
        for feed in feeds
    ]
    output.print_table(stdout, f"{title} (times ago, next: from now, * pinned)", columns, rows)


@feeds_app.command("discover")
def feeds_discover(url: Annotated[str, typer.Argument(metavar="URL", help="A homepage.")]) -> None:
    """Print the feeds and news sitemaps a site advertises, as feeds.yaml entries."""
    from pipeline.core.errors import InvalidURLError
    from pipeline.fetch.client import Fetcher
    from pipeline.sources.discover import discover_feeds, feeds_yaml

    # Discovery may come before there is a feeds.yaml: the fetch defaults serve then.
    config = _config() if resolve_config_path(STATE.config_path).exists() else Config()

    async def discover() -> list[Any]:
        async with Fetcher(config.fetch) as fetcher:
            return await discover_feeds(fetcher, url, max_bytes=config.fetch.max_bytes)

    try:
        found = asyncio.run(discover())
    except InvalidURLError as exc:
        _fail(str(exc), 2)
    except PipelineError as exc:
        _fail(str(exc), 1)
    if not found:
        _fail(f"no feed or news sitemap found at {url}", 1)
    sys.stdout.write(feeds_yaml(found))


@feeds_app.command("check")
def feeds_check() -> None:
    """Validate the config and the watchlist; exit 2 with the reason when invalid."""
    from pipeline.match.watchlist import load_watchlist

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


# ---- alerts ------------------------------------------------------------------------------------


class DeliveryStatusFilter(StrEnum):
    pending = "pending"
    sent = "sent"
    failed = "failed"
    all = "all"


@alerts_app.command("list")
def alerts_list(
    status: Annotated[DeliveryStatusFilter, typer.Option()] = DeliveryStatusFilter.all,
    fmt: Annotated[ListFormat, typer.Option("--format")] = ListFormat.table,
) -> None:
    """Alert deliveries: one per flag and channel, with attempts and the last error."""
    wanted = None if status is DeliveryStatusFilter.all else status.value
    deliveries = _guard(lambda: _repository().list_deliveries(wanted))
    if fmt is ListFormat.json:
        print(output.render_json(deliveries))
        return
    columns = [
        ("id", {"justify": "right", "no_wrap": True}),
        ("flag", {"justify": "right", "no_wrap": True}),
        ("channel", _clipped(14)),
        ("status", {"no_wrap": True, "min_width": 7}),
        ("tries", {"justify": "right", "no_wrap": True}),
        ("next", {"no_wrap": True}),
        ("last error", _clipped(max(stdout.width - 56, 12))),
    ]
    rows = [
        [
            d["id"],
            d["flag_id"],
            d["channel"],
            d["status"],
            d["attempts"],
            output.compact_time(d["next_attempt_at"]) if d["status"] == "pending" else None,
            d["last_error"],
        ]
        for d in deliveries
    ]
    output.print_table(stdout, f"{len(deliveries)} deliveries", columns, rows)


@alerts_app.command("retry")
def alerts_retry(
    channel: Annotated[str | None, typer.Option(help="Only this channel.")] = None,
) -> None:
    """Queue deliveries that gave up (`failed`) again, with a fresh count of attempts."""
    queued = _guard(lambda: _repository().retry_failed_deliveries(utcnow(), channel))
    stdout.print(f"{queued} delivery(ies) queued again")


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
    from pipeline.match.importers import import_list, resolve_target

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


# ---- desk and users ----------------------------------------------------------------------------


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on; loopback by default.")] = (
        "127.0.0.1"
    ),
    port: Annotated[int, typer.Option(min=0, max=65535, help="Port to listen on.")] = 8080,
    auth_token: Annotated[
        str | None,
        typer.Option(
            "--auth-token",
            envvar="PIPELINE_AUTH_TOKEN",
            help="A shared token: whoever presents it acts as the reviewer 'team'.",
        ),
    ] = None,
) -> None:
    """The analysts' desk: the review queue, flag pages, feeds, the read API and /metrics."""
    import uvicorn

    from pipeline.desk.app import create_app
    from pipeline.desk.auth import resolve_secret_key

    if auth_token is not None and len(auth_token) < MIN_AUTH_TOKEN_LENGTH:
        _fail(f"--auth-token: use at least {MIN_AUTH_TOKEN_LENGTH} characters", 2)
    repository = _guard(_repository)
    try:
        secret_key = resolve_secret_key(resolve_config_path(STATE.config_path))
    except OSError as exc:
        _fail(f"cannot read or create the session secret key: {exc}", 1)
    application = create_app(repository, secret_key=secret_key, auth_token=auth_token)
    uvicorn.run(application, host=host, port=port, server_header=False, log_level="info")


@users_app.command("add")
def users_add(
    name: Annotated[str, typer.Argument(metavar="NAME")],
    role: Annotated[UserRole, typer.Option(help="reviewer decides; observer only reads.")] = (
        UserRole.reviewer
    ),
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from stdin's first line.")
    ] = False,
) -> None:
    """Create a desk user (the password is asked for, or read with --password-stdin)."""
    from pipeline.desk.users import UserError, add_user

    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    repository = _guard(_repository)

    def create() -> None:
        try:
            add_user(repository, name, password, role=role.value, now=utcnow())
        except UserError as exc:  # a bad name, role or password, or a taken name: usage
            _fail(str(exc), 2)

    _guard(create)
    stdout.print(f"user {name} added ({role.value})", markup=False)


@users_app.command("list")
def users_list(fmt: Annotated[ListFormat, typer.Option("--format")] = ListFormat.table) -> None:
    """Desk users: name, role, whether they have an API token, disabled."""
    users = _guard(lambda: _repository().list_users())
    if fmt is ListFormat.json:
        fields = ("name", "role", "has_api_token", "disabled", "created_at")
        print(output.render_json([{key: getattr(user, key) for key in fields} for user in users]))
        return
    columns = [("name", _clipped(30)), ("role", {}), ("token", {}), ("disabled", {})]
    rows = [
        [
            user.name,
            user.role,
            "yes" if user.has_api_token else "-",
            "yes" if user.disabled else "-",
        ]
        for user in users
    ]
    output.print_table(stdout, f"{len(users)} users", columns, rows)


@users_app.command("token")
def users_token(name: Annotated[str, typer.Argument(metavar="NAME")]) -> None:
    """Create or replace the user's API token and print it (only its hash is stored)."""
    from pipeline.desk.users import rotate_token

    token = _guard(lambda: rotate_token(_repository(), name))
    print(token)


@users_app.command("disable")
def users_disable(name: Annotated[str, typer.Argument(metavar="NAME")]) -> None:
    """Disable a user: sign-in, sessions and the API token stop working at once."""
    _guard(lambda: _repository().set_user_disabled(name, True))
    print(f"user {name!r} disabled")


@users_app.command("enable")
def users_enable(name: Annotated[str, typer.Argument(metavar="NAME")]) -> None:
    """Enable a disabled user again."""
    _guard(lambda: _repository().set_user_disabled(name, False))
    print(f"user {name!r} enabled")


# ---- helpers -----------------------------------------------------------------------------------


def _config() -> Config:
    try:
        return load_config(resolve_config_path(STATE.config_path))
    except ConfigError as exc:
        _fail(str(exc), 2)


def _configured_feeds_repository() -> Repository:
    """The repository with feeds.yaml's feeds synced in, so a feed shows before its first poll."""
    from pipeline.poll.scheduler import sync_configured_feeds

    repository = _repository()
    sync_configured_feeds(repository, _config(), utcnow())
    return repository


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


def _feed_status(feed: dict[str, Any]) -> str:
    if feed["duplicate_of"]:
        return f"dup of {feed['duplicate_of']}"
    failures = feed["consecutive_failures"]
    return str(feed["status"]) + (f" ({failures}x)" if failures else "")


def _span(seconds: float | None) -> str:
    """A duration in one unit, short: 45s, 15m, 12h, 3d."""
    if seconds is None:
        return "-"
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= 2 * size:
            return f"{seconds / size:.0f}{unit}"
    return f"{seconds:.0f}s"


def _ago(value: datetime | None, now: datetime) -> str:
    return "never" if value is None else _span(max((now - value).total_seconds(), 0))


def _until(value: datetime | None, now: datetime) -> str:
    if value is None:
        return "-"
    seconds = (value - now).total_seconds()
    return "due" if seconds <= 0 else _span(seconds)


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
