"""`pipeline flags export`: flags into the investigators' tools.

`--format ftm` writes FollowTheMoney entities as JSON lines (pipeline.desk.ftm): the
watchlist entities the flags name (with their identifiers and Sanction), an Article per
story and a Mention per flag. Load them with `ftm validate`/`ftm aggregate`, or into Aleph
with `alephclient write-entities` (docs/analysing.md).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

import typer

from pipeline.cli.context import EXIT_FAILURE, fail, guard, session, since_option
from pipeline.cli.render import write

HELP = "Flags as FollowTheMoney entities (JSON lines), for Aleph, yente and `ftm`."


class ExportFormat(StrEnum):
    ftm = "ftm"


class ExportStatus(StrEnum):
    new = "new"
    relevant = "relevant"
    dismissed = "dismissed"
    all = "all"


def flags_export(
    ctx: typer.Context,
    fmt: Annotated[ExportFormat, typer.Option("--format", help="ftm (FollowTheMoney).")] = (
        ExportFormat.ftm
    ),
    status: Annotated[ExportStatus, typer.Option(help="Only flags in this status.")] = (
        ExportStatus.relevant
    ),
    since: Annotated[str | None, typer.Option(help="First seen since (ISO date or 2d).")] = None,
) -> None:
    """Flags as FollowTheMoney entities, one JSON object per line (relevant ones by default)."""
    try:
        from pipeline.desk.ftm import entity_proxies, ftm_lines, story_proxies
    except ImportError:  # the optional extra: pyproject.toml `ftm`
        fail(
            "flags export --format ftm needs followthemoney: pip install 'sanctions-watch[ftm]'",
            EXIT_FAILURE,
        )
    first_seen = since_option(since)
    repository = session(ctx).repository()
    stories = guard(
        lambda: repository.export_stories(
            status=None if status is ExportStatus.all else status.value, since=first_seen
        )
    )
    named = {flag["entity_id"] for story in stories for flag in story["flags"]}
    entities = {
        entity["id"]: entity
        for entity in guard(repository.entities_overview)
        if entity["id"] in named
    }
    proxies = [proxy for entity in entities.values() for proxy in entity_proxies(entity)]
    for story in stories:
        proxies += story_proxies(story, story["flags"], entities)
    for line in ftm_lines(proxies):
        write(line)
