"""Urdu text in the terminal tables: columns stay aligned and every right-to-left cell is a bidi
isolate; JSON keeps the text as written."""

from __future__ import annotations

import json

from rich.cells import cell_len

from pipeline.cli.render import Column, table_lines
from pipeline.core.output import render_json

ROWS = [
    {"entity": "National Development Complex", "matched": "نَیشنل ڈِویلپمنٹ کمپلـیـکس", "n": 1},
    {"entity": "Executive Order 13382", "matched": "ایگزیکٹو آرڈر ۱۳۳۸۲", "n": 12},
    {"entity": "Affiliates International", "matched": "Affiliates International", "n": 3},
]
COLUMNS = [
    Column.of("entity"),
    Column.of("matched", flexible=True, min_width=8),
    Column.of("n", right=True),
]


def _visible(line: str) -> str:
    return line.replace("\u2068", "").replace("\u2069", "")


def test_rtl_cells_keep_the_columns_aligned() -> None:
    lines = table_lines(COLUMNS, ROWS, None)
    matched_column = lines[0].index("matched")
    for line, row in zip(lines[2:], ROWS, strict=True):
        assert cell_len(line) == cell_len(lines[0])  # harakat and tatweel measured right
        assert _visible(line).endswith(f" {row['n']}")
        start = line.index(str(row["matched"])[:3], len(str(row["entity"])))
        assert cell_len(_visible(line[:start])) == matched_column


def test_rtl_cells_are_isolated_and_latin_ones_untouched() -> None:
    lines = table_lines(COLUMNS, ROWS, None)
    for line, row in zip(lines[2:], ROWS, strict=True):
        isolated = f"\u2068{row['matched']}\u2069" in line
        assert isolated == (row["matched"] != "Affiliates International")
        assert line.count("\u2068") == line.count("\u2069")


def test_a_cut_rtl_cell_is_still_a_closed_isolate() -> None:
    lines = table_lines(COLUMNS, ROWS, 44)
    assert all(cell_len(line) <= 44 for line in lines)
    cut = lines[2]
    assert "…\u2069" in cut and cut.count("\u2068") == cut.count("\u2069") == 1


def test_json_keeps_the_text_as_written() -> None:
    assert json.loads(render_json(ROWS)) == ROWS
    assert "نَیشنل" in render_json(ROWS)  # not \\u escapes
