"""The snippet of a mention: the sentence around it, 200-300 characters, the mention in « »."""

from __future__ import annotations

import bisect

from pipeline.match.normalize import Document

SNIPPET_MIN = 200
SNIPPET_MAX = 300
_SENTENCE_ENDS = ".!?\u06d4\u061f"  # Latin, and Urdu "۔" and "؟"


def snippet(document: Document, start: int, end: int) -> str:
    """The sentence around [start, end), widened or cut to 200-300 characters at word
    boundaries, whitespace folded, the mention wrapped in « » and "…" where text was cut."""
    text = document.text
    breaks = document.sentence_breaks
    before = bisect.bisect_right(breaks, start) - 1
    after = bisect.bisect_left(breaks, end)
    left = breaks[before] if before >= 0 else 0
    right = breaks[after] if after < len(breaks) else len(text)
    left, right = _widen(text, left, right)
    left, right = _cut(text, start, end, left, right)
    left, right = _snap(text, left, right, start, end)
    body = f"{text[left:start]}«{text[start:end]}»{text[end:right]}"
    cut_before = text[:left].strip() and text[:left].rstrip()[-1] not in _SENTENCE_ENDS
    cut_after = text[right:].strip() and text[:right].rstrip()[-1:] not in _SENTENCE_ENDS
    opening = "…" if cut_before else ""
    closing = "…" if cut_after else ""
    return f"{opening}{' '.join(body.split())}{closing}"


def _visible(text: str, left: int, right: int) -> int:
    return len(" ".join(text[left:right].split()))


def _widen(text: str, left: int, right: int) -> tuple[int, int]:
    target = SNIPPET_MIN + 20  # snapping to whole words gives a few characters back
    while _visible(text, left, right) < target and (left > 0 or right < len(text)):
        grow = (target - _visible(text, left, right)) // 2 + 1
        left, right = max(0, left - grow), min(len(text), right + grow)
    return left, right


def _cut(text: str, start: int, end: int, left: int, right: int) -> tuple[int, int]:
    """Centre a window of at most 300 visible characters on the mention."""
    if _visible(text, left, right) <= SNIPPET_MAX:
        return left, right
    budget = max(0, SNIPPET_MAX - 10 - (end - start))
    new_left = max(left, start - budget // 2)
    new_right = min(right, end + budget - (start - new_left))
    new_left = max(left, start - (budget - (new_right - end)))  # give unused room to the left
    return new_left, new_right


def _snap(text: str, left: int, right: int, start: int, end: int) -> tuple[int, int]:
    """Move both ends inwards to whitespace so that no word is cut, never into the mention."""
    while 0 < left < start and not text[left - 1].isspace():
        left += 1
    while end < right < len(text) and not text[right].isspace():
        right -= 1
    return left, right
