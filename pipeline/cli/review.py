"""What `flags` and `candidates` share: the `show` page of one item and the marked text.

Both pages list the item's fields, then what is particular to the kind (the matcher's why, the
candidate's context words), then the snippet, the other addresses, the audit trail and the text.
"""

from __future__ import annotations

import getpass
import re
import sys
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any

from pipeline.core import output

LABEL_WIDTH = 14
_UNPRINTABLE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")  # all but tab and newline


def detail_lines(
    detail: dict[str, Any], fields: Iterable[str], particular: Iterable[str]
) -> Iterator[str]:
    """The `show` page: `fields` one a line, the kind's `particular` lines, then the rest."""
    for label in fields:
        value = detail.get(label)
        shown = output.short_time(value) if isinstance(value, datetime) else value
        yield labelled(label, "-" if shown is None else shown)
    yield from particular
    yield labelled("snippet", detail["snippet"])
    for url in detail["duplicates"]:
        yield labelled("also at", url)
    for change in detail["history"]:
        yield labelled(
            "history",
            f"{output.short_time(change['reviewed_at'])} "
            f"{change['from_status']} -> {change['to_status']} "
            f"by {change['reviewed_by'] or '-'}"
            f"{': ' + change['note'] if change['note'] else ''}",
        )
    yield ""
    yield marked(detail["document"], detail["offsets"])


def labelled(label: str, value: object) -> str:
    return f"{label:>{LABEL_WIDTH}}: {value}"


def marked(document: str, offsets: list[list[int]]) -> str:
    """The text with every mention marked: reverse video on a terminal, [[...]] in a pipe."""
    opening, closing = ("\x1b[1;7m", "\x1b[0m") if sys.stdout.isatty() else ("[[", "]]")
    text = _UNPRINTABLE.sub(" ", document)  # same length: the offsets stay right
    pieces, position = [], 0
    for start, end in sorted(offsets):
        if start < position:
            continue
        pieces += [text[position:start], opening, text[start:end], closing]
        position = end
    return "".join([*pieces, text[position:]])


def login_name() -> str | None:
    """Who runs the command, for the audit trail when --by is not given."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no user name for this uid (a bare container)
        return None


def without_story_ids(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The rows as the CLI shows them: the internal story id is not part of the output."""
    for row in rows:
        row.pop("story_id", None)
    return rows
