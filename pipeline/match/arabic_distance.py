"""How far a run of document words is from an Arabic-script form: a bounded edit distance
(rapidfuzz Levenshtein) over the skeletons, with every edit attributed to the word of the name
where it falls (see arabic_names.py)."""

from __future__ import annotations

from rapidfuzz.distance import Levenshtein

from pipeline.match.arabic_forms import ArabicForm
from pipeline.match.arabic_words import ArabicWords

# On top of the skeleton's edits, a word may differ by this many weak letters (ایگزیکیٹیو /
# ایگزیکٹو), no more: فلیٹس has the skeleton of ایفیلیئٹس but four letters fewer.
WEAK_LETTER_SLACK = 2


def compared(vocabulary: ArabicWords, form: ArabicForm, word: str) -> str:
    """What of a document word is compared with the form: its letters or its skeleton."""
    return word if form.letters else vocabulary.skeleton(word)


def distance(vocabulary: ArabicWords, form: ArabicForm, words: list[str]) -> int | None:
    """The edits between the form and the words, or None when a word has too many."""
    joined = "".join(compared(vocabulary, form, w) for w in words)
    if form.exact:
        return 0 if joined == form.joined else None
    total = sum(form.bounds)
    found = Levenshtein.distance(form.joined, joined, score_cutoff=total)
    if found > total:
        return None
    if found and not _within(form.joined, joined, form.word_ends, form.bounds):
        return None
    if not form.letters:
        slack = tuple(bound + WEAK_LETTER_SLACK for bound in form.bounds)
        if not _within(form.written, "".join(words), form.written_ends, slack):
            return None
    return int(found)


def _within(name: str, written: str, word_ends: tuple[int, ...], bounds: tuple[int, ...]) -> bool:
    """Whether every word of ``name`` is within its bound of edits from ``written``."""
    edits = [0] * len(word_ends)
    for operation in Levenshtein.editops(name, written):
        edits[_word_at(word_ends, operation.src_pos)] += 1
    return all(count <= bound for count, bound in zip(edits, bounds, strict=True))


def _word_at(word_ends: tuple[int, ...], position: int) -> int:
    for word, end in enumerate(word_ends):
        if position < end:
            return word
    return len(word_ends) - 1
