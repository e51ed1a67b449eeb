"""Rendering rows for people (tables that fit 80 columns) and machines (JSON, CSV).

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

from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

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


def short_time(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M") if value else "-"


def compact_time(value: datetime | None) -> str:
    """Month, day and time: enough for a table cell that must fit an 80-column terminal."""
    return value.strftime("%m-%d %H:%M") if value else "-"


def print_table(
    console: Console,
    title: str,
    columns: Sequence[tuple[str, Any]],
    rows: list[list[Any]],
) -> None:
    # No vertical borders: every column of an 80-column terminal goes to the data.
    table = Table(
        title=title,
        title_justify="left",
        box=box.SIMPLE_HEAD,
        padding=(0, 1, 0, 0),
        pad_edge=False,
        show_edge=False,
    )
    for header, options in columns:
        table.add_column(header, **options)
    for row in rows:
        # Text(...) never interprets [markup] inside stored text.
        table.add_row(*(Text("-" if cell is None else str(cell)) for cell in row))
    console.print(table)
