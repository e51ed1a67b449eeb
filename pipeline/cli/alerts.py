"""`pipeline alerts`: alert deliveries (webhooks, e-mail) and retrying those that gave up."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any

import typer

from pipeline.cli.context import guard, session
from pipeline.cli.render import Column, Format, FormatOption, emit, plural, write
from pipeline.core import output
from pipeline.core.clock import utcnow

group = typer.Typer(no_args_is_help=True, help="Alert deliveries (webhooks, e-mail).")


class DeliveryStatusFilter(StrEnum):
    pending = "pending"
    sent = "sent"
    failed = "failed"
    all = "all"


@group.command("list")
def alerts_list(
    ctx: typer.Context,
    status: Annotated[DeliveryStatusFilter, typer.Option()] = DeliveryStatusFilter.all,
    fmt: FormatOption = Format.table,
) -> None:
    """Alert deliveries: one per flag and channel, with attempts and the last error."""
    wanted = None if status is DeliveryStatusFilter.all else status.value
    deliveries = guard(lambda: session(ctx).repository().list_deliveries(wanted))
    columns = [
        Column.of("id", right=True),
        Column.of("flag_id", "flag", right=True),
        Column.of("channel", flexible=True, min_width=8),
        Column.of("status", min_width=7),
        Column.of("attempts", "tries", right=True),
        Column("next", _next_attempt),
        Column.of("last_error", "last error", flexible=True, min_width=12),
    ]
    emit(fmt, deliveries, title=plural(len(deliveries), "delivery", "deliveries"), columns=columns)


@group.command("retry")
def alerts_retry(
    ctx: typer.Context,
    channel: Annotated[str | None, typer.Option(help="Only this channel.")] = None,
) -> None:
    """Queue deliveries that gave up (`failed`) again, with a fresh count of attempts."""
    queued = guard(lambda: session(ctx).repository().retry_failed_deliveries(utcnow(), channel))
    write(f"{plural(queued, 'delivery', 'deliveries')} queued again")


def _next_attempt(delivery: dict[str, Any]) -> str | None:
    pending = delivery["status"] == "pending"
    return output.compact_time(delivery["next_attempt_at"]) if pending else None
