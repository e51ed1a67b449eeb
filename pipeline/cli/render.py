"""The CLI's one way to stdout: JSON, CSV or a table, chosen by the one --format option.

Tables are plain text, one line per row, never wrapped: on a terminal (or with $COLUMNS) the
widest flexible columns are cut with an ellipsis until the row fits; piped, nothing is cut.
Stored text is hostile input: control characters never reach the terminal, and CSV cells that a
spreadsheet would run as a formula are neutralised (pipeline.core.output).
"""

from __future__ import annotations

import os
import re
import shutil
import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated, Any

import typer
from rich.cells import cell_len, set_cell_size

from pipeline.core import output
from pipeline.core.output import plural as plural  # the commands' one import for rendering

Row = dict[str, Any]


class Format(StrEnum):
    table = "table"
    json = "json"
    csv = "csv"


FormatOption = Annotated[
    Format,
    typer.Option("--format", help="table (for people), json or csv (for tools)."),
]

COLUMN_GAP = "  "
ELLIPSIS = "…"
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]+")
# Right-to-left letters (Hebrew, Arabic script): such a cell is wrapped in a bidi isolate
# (FSI ... PDI, zero width) so that a terminal that reorders RTL text keeps it inside its
# column instead of pulling the gap and the next cells into it.
_RIGHT_TO_LEFT = re.compile("[\u0590-\u08ff\ufb1d-\ufdff\ufe70-\ufefe]")
_ISOLATE, _END_ISOLATE = "\u2068", "\u2069"


@dataclass(frozen=True)
class Column:
    """A table column: its header, how to get the cell from a row, how it may be cut."""

    header: str
    cell: Callable[[Row], object]
    right: bool = False
    flexible: bool = False  # cut with an ellipsis when the table is wider than the terminal
    min_width: int = 6

    @classmethod
    def of(cls, key: str, header: str | None = None, **options: Any) -> Column:
        return cls(header or key, lambda row: row.get(key), **options)


def write(text: str = "") -> None:
    """One line (or block) of data to stdout."""
    sys.stdout.write(text if text.endswith("\n") else text + "\n")


def emit(
    fmt: Format,
    rows: Sequence[Row],
    *,
    title: str,
    columns: Sequence[Column],
    fields: Sequence[str] | None = None,
) -> None:
    """`rows` as JSON (every field), CSV (the same fields) or a table (`columns`)."""
    if fmt is Format.json:
        write(output.render_json(list(rows)))
    elif fmt is Format.csv:
        sys.stdout.write(output.render_csv(rows, fields or field_names(rows)))
    else:
        write(title)
        for line in table_lines(columns, rows, terminal_width()):
            write(line)


def emit_object(fmt: Format, value: Row, lines: Callable[[], Iterable[str]]) -> None:
    """One object: JSON, CSV (one row of its scalar fields) or readable lines."""
    if fmt is Format.json:
        write(output.render_json(value))
    elif fmt is Format.csv:
        scalars = {key: item for key, item in value.items() if not isinstance(item, dict | list)}
        sys.stdout.write(output.render_csv([scalars], list(scalars)))
    else:
        for line in lines():
            write(line)


def field_names(rows: Iterable[Row]) -> list[str]:
    """Every key of the rows, in first-seen order."""
    names: dict[str, None] = {}
    for row in rows:
        names.update(dict.fromkeys(row))
    return list(names)


def terminal_width() -> int | None:
    """$COLUMNS, else the terminal's width; None when stdout is not a terminal (no cutting)."""
    if os.environ.get("COLUMNS", "").isdigit():
        return int(os.environ["COLUMNS"])
    if sys.stdout.isatty():
        return shutil.get_terminal_size().columns
    return None


def plain(value: object) -> str:
    """A cell as one line of printable text."""
    if value is None:
        return "-"
    text = _CONTROL.sub(" ", str(value)).rstrip()
    return text if text.strip() else "-"


def table_lines(columns: Sequence[Column], rows: Sequence[Row], width: int | None) -> list[str]:
    cells = [[plain(column.cell(row)) for column in columns] for row in rows]
    widths = [
        max([cell_len(column.header), *(cell_len(line[index]) for line in cells)])
        for index, column in enumerate(columns)
    ]
    if width is not None:
        _fit(columns, widths, width)
    lines = [_line([c.header for c in columns], columns, widths)]
    lines.append(_line(["-" * size for size in widths], columns, widths))
    lines.extend(_line(line, columns, widths) for line in cells)
    return lines


def _fit(columns: Sequence[Column], widths: list[int], width: int) -> None:
    """Narrow the widest flexible column, one cell at a time, until the row fits."""
    budget = width - len(COLUMN_GAP) * (len(columns) - 1)
    while sum(widths) > budget:
        shrinkable = [
            index
            for index, column in enumerate(columns)
            if column.flexible and widths[index] > max(column.min_width, cell_len(column.header))
        ]
        if not shrinkable:
            return
        widest = max(shrinkable, key=lambda index: widths[index])
        widths[widest] -= 1


def _line(values: Sequence[str], columns: Sequence[Column], widths: Sequence[int]) -> str:
    parts = []
    for value, column, size in zip(values, columns, widths, strict=True):
        text = value if cell_len(value) <= size else set_cell_size(value, size - 1) + ELLIPSIS
        padding = " " * (size - cell_len(text))
        if _RIGHT_TO_LEFT.search(text):
            text = f"{_ISOLATE}{text}{_END_ISOLATE}"
        parts.append(padding + text if column.right else text + padding)
    return COLUMN_GAP.join(parts).rstrip()
