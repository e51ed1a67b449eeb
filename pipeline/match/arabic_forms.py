"""What an Arabic-script alias compiles to (``ArabicForm``) and what a match of one is
(``ArabicMention``); see arabic_names.py for how the forms are compared with a document."""

from __future__ import annotations

from dataclasses import dataclass

from pipeline.match.aliases import NameClass, Strength
from pipeline.match.arabic_words import ArabicWords

# Edits allowed in one word of a name, by the length of what is compared: the skeleton (names
# of several words) or the letters (a name of one word, whose skeleton is too short to trust:
# فلیٹس "flats" has the skeleton of ایفیلیئٹس).
SKELETON_BOUNDS = (4, 8)  # below 4 letters: exact; below 8: one edit; else two
LETTER_BOUNDS = (5, 9)


@dataclass(frozen=True, slots=True)
class ArabicForm:
    """One searchable Arabic-script form of one alias."""

    entity: int
    alias: str  # as written in the watchlist
    strength: Strength
    name_class: NameClass
    needs_context: bool
    joined: str  # the words' skeletons (letters, for an acronym) joined without spaces
    word_ends: tuple[int, ...]  # where each word of the name ends in ``joined``
    bounds: tuple[int, ...]  # edits allowed in each word
    exact: bool  # an acronym: letter for letter
    letters: bool  # one significant word: compared on its letters, not its skeleton
    written: str  # the words' letters joined (checked as well when ``joined`` is a skeleton)
    written_ends: tuple[int, ...]
    initial: str  # the first letter of the first word's skeleton ("" for ای, او)
    bigrams: frozenset[str]  # of ``joined``: a document lacking most of them cannot match
    needed: int  # bigrams a match keeps at least: each edit destroys at most two


@dataclass(frozen=True, slots=True)
class ArabicMention:
    form: ArabicForm
    first: int  # token indexes, inclusive
    last: int
    start: int  # original offsets
    end: int
    distance: int


def compile_form(
    vocabulary: ArabicWords, entity: int, alias: str, strength: Strength, words: list[str]
) -> ArabicForm | None:
    """The form of an alias's normalised Arabic-script words (None for no words)."""
    if not words:
        return None
    significant = [
        w for w in words if w not in vocabulary.small and w not in vocabulary.legal_words
    ]
    acronym = all(w in vocabulary.letters for w in words)
    if acronym:
        name_class: NameClass = "acronym"
    elif significant and all(vocabulary.skeleton(w) in vocabulary.common for w in significant):
        name_class = "common-words"
    else:
        name_class = "distinctive"
    needs_context = strength == "weak" or name_class != "distinctive" or len(significant) < 2
    letters = acronym or len(words) == 1
    pieces = words if letters else [vocabulary.skeleton(w) for w in words]
    bounds = [0 if acronym else _edit_bound(p, letters) for p in pieces]
    ends, written_ends = _ends(pieces), _ends(words)
    return ArabicForm(
        entity=entity,
        alias=alias,
        strength="weak" if acronym else strength,
        name_class=name_class,
        needs_context=needs_context,
        joined="".join(pieces),
        word_ends=tuple(ends),
        bounds=tuple(bounds),
        exact=acronym,
        letters=letters,
        written="".join(words),
        written_ends=written_ends,
        initial=vocabulary.initial(words[0]),
        bigrams=bigrams("".join(pieces)),
        needed=len(bigrams("".join(pieces))) - 2 * sum(bounds),
    )


def bigrams(text: str) -> frozenset[str]:
    return frozenset(text[i : i + 2] for i in range(len(text) - 1))


def _ends(pieces: list[str]) -> tuple[int, ...]:
    ends: list[int] = []
    for piece in pieces:
        ends.append((ends[-1] if ends else 0) + len(piece))
    return tuple(ends)


def _edit_bound(compared: str, letters: bool) -> int:
    one, two = LETTER_BOUNDS if letters else SKELETON_BOUNDS
    if len(compared) < one:
        return 0
    return 1 if len(compared) < two else 2
