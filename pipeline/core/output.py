"""Rendering values for machines (JSON, CSV), and times and counts for people; the CLI's
tables are in pipeline.cli.render.

Stored text is hostile input: tables print it as plain text (no console markup is
interpreted), and CSV cells that a spreadsheet would run as a formula are neutralised.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def to_jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    if isinstance(value, dict):
        return {key: to_jsonable(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [to_jsonable(item) for item in value]
    return value


def render_json(rows: Any) -> str:
    return json.dumps(to_jsonable(rows), ensure_ascii=False, indent=2)


def neutralise_cell(value: Any) -> str:
    """A CSV cell that no spreadsheet will evaluate as a formula."""
    text = "" if value is None else str(to_jsonable(value))
    return "'" + text if text.startswith(FORMULA_PREFIXES) else text


def render_csv(rows: Sequence[dict[str, Any]], columns: Sequence[str]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([neutralise_cell(_cell(row.get(column))) for column in columns])
    return buffer.getvalue()


def _cell(value: Any) -> Any:
    return " | ".join(value) if isinstance(value, list) else value


def plural(count: int, noun: str, plural_form: str | None = None) -> str:
    """'1 feed', '0 feeds', '2 deliveries'."""
    return f"{count} {noun if count == 1 else plural_form or noun + 's'}"


def short_time(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M") if value else "-"


def compact_time(value: datetime | None) -> str:
    """Month, day and time: enough for a table cell that must fit an 80-column terminal."""
    return value.strftime("%m-%d %H:%M") if value else "-"


def span(seconds: float | None) -> str:
    """A duration in one unit, short: 45s, 15m, 12h, 3d (the CLI's and the desk's feed health)."""
    if seconds is None:
        return "-"
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= 2 * size:
            return f"{seconds / size:.0f}{unit}"
    return f"{seconds:.0f}s"
