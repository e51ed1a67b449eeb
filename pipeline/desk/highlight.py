"""Stored text cut into plain and marked pieces, for templates to escape piece by piece.

Article text is hostile input: it is never marked safe. Highlighting happens here, by splitting
the text at the stored mention offsets, so the template only ever emits escaped text inside or
outside <mark>.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

SNIPPET_OPEN, SNIPPET_CLOSE = "«", "»"  # how pipeline.match.matcher.snippet wraps the mention


@dataclass(frozen=True, slots=True)
class Piece:
    text: str
    marked: bool


def marked_pieces(text: str, spans: Iterable[Sequence[int]]) -> list[Piece]:
    """`text` split at the [start, end) spans. Spans past the end (offsets of an earlier
    revision of the text) are clipped or dropped; overlapping spans merge."""
    clean = sorted(
        (max(0, int(span[0])), min(len(text), int(span[1])))
        for span in spans
        if len(span) == 2 and int(span[0]) < int(span[1])
    )
    merged: list[tuple[int, int]] = []
    for start, end in clean:
        if start >= end:
            continue
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    pieces: list[Piece] = []
    position = 0
    for start, end in merged:
        if start > position:
            pieces.append(Piece(text[position:start], False))
        pieces.append(Piece(text[start:end], True))
        position = end
    if position < len(text):
        pieces.append(Piece(text[position:], False))
    return pieces


def snippet_pieces(snippet: str) -> list[Piece]:
    """The snippet with its «mention» marked (and the guillemets dropped)."""
    start = snippet.find(SNIPPET_OPEN)
    end = snippet.find(SNIPPET_CLOSE, start + 1)
    if start < 0 or end < 0:
        return [Piece(snippet, False)]
    text = snippet[:start] + snippet[start + 1 : end] + snippet[end + 1 :]
    return marked_pieces(text, [(start, end - 1)])


@dataclass(frozen=True, slots=True)
class ColouredPiece:
    text: str
    colour: int | None  # the entity's colour index; None: plain text
    label: str = ""  # the entity's name, for the mark's title


def coloured_pieces(
    text: str, marks: Sequence[tuple[int, str, Iterable[Sequence[int]]]]
) -> list[ColouredPiece]:
    """`text` cut at every entity's spans, each span carrying its entity's colour. `marks` is
    (colour, entity name, spans); where spans of two entities overlap, the earlier one wins."""
    owner: list[tuple[int, str] | None] = [None] * len(text)
    for colour, label, spans in marks:
        for span in spans:
            if len(span) != 2:
                continue
            start, end = max(0, int(span[0])), min(len(text), int(span[1]))
            for position in range(start, end):
                if owner[position] is None:
                    owner[position] = (colour, label)
    pieces: list[ColouredPiece] = []
    position = 0
    while position < len(text):
        current = owner[position]
        end = position + 1
        while end < len(text) and owner[end] == current:
            end += 1
        if current is None:
            pieces.append(ColouredPiece(text[position:end], None))
        else:
            pieces.append(ColouredPiece(text[position:end], current[0], current[1]))
        position = end
    return pieces
