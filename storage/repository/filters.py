"""The one filter builder over api_flags, shared by the CLI, the desk and the API."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, or_

from storage.repository.records import QueueQuery
from storage.views import api_flags


def flag_filters(query: QueueQuery) -> list[Any]:
    """WHERE clauses over api_flags for the queue's filters (not the status: counts span it)."""
    filters: list[Any] = []
    if query.entity:
        filters.append(
            or_(
                func.lower(api_flags.c.entity).like(like_contains(query.entity), escape="\\"),
                func.lower(api_flags.c.entity_id) == query.entity.lower(),
            )
        )
    if query.feed:
        filters.append(api_flags.c.feed == query.feed)
    if query.since is not None:
        filters.append(api_flags.c.first_seen_at >= query.since)
    if query.until is not None:
        filters.append(api_flags.c.first_seen_at < query.until)
    if query.search:
        pattern = like_contains(query.search)
        filters.append(
            or_(
                func.lower(api_flags.c.title).like(pattern, escape="\\"),
                func.lower(api_flags.c.snippet).like(pattern, escape="\\"),
            )
        )
    return filters


def like_contains(text: str) -> str:
    """A LIKE pattern matching `text` anywhere, its own % and _ taken literally."""
    escaped = text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"
