"""Where an Arabic-script form is written: the best run of document words from a start, a name
glued to the word before it or to a postposition after it (see arabic_names.py)."""

from __future__ import annotations

from collections.abc import Iterator

from pipeline.match import arabic
from pipeline.match.arabic_distance import compared, distance
from pipeline.match.arabic_forms import ArabicForm, ArabicMention
from pipeline.match.arabic_words import MIN_GLUED_PIECE, ArabicWords
from pipeline.match.normalize import Document, Token

EXTRA_WORDS = 3  # a name may be split into this many more words than it has


class SpanScanner:
    """Compares forms with runs of document words, starting at one word (or inside it)."""

    def __init__(self, vocabulary: ArabicWords) -> None:
        self._vocabulary = vocabulary

    def best_span(
        self,
        form: ArabicForm,
        tokens: list[Token],
        index: int,
        cut: int,
        piece: str,
        document: Document,
    ) -> ArabicMention | None:
        """The closest match of the form starting at ``piece`` (token ``index`` from ``cut``)."""
        best: ArabicMention | None = None
        glued = self._vocabulary.glued
        # Longer than the name with all its edits and a glued postposition: stop growing.
        limit = len(form.joined) + sum(form.bounds) + max(map(len, glued), default=0) + 1
        pieces = [piece]
        length = len(compared(self._vocabulary, form, piece))
        last = index
        while True:
            for trimmed, trim in self._endings(pieces[-1], last == index):
                edits = distance(self._vocabulary, form, [*pieces[:-1], trimmed])
                if edits is not None and (best is None or edits < best.distance):
                    start, end = _offsets(document, tokens, index, cut, last, trim)
                    best = ArabicMention(form, index, last, start, end, edits)
            last += 1
            if last >= len(tokens) or last - index >= len(form.word_ends) + EXTRA_WORDS:
                break
            if not is_arabic_token(tokens[last]):
                break
            pieces.append(tokens[last].text)
            length += len(compared(self._vocabulary, form, tokens[last].text))
            if length > limit:
                break
        return best

    def _endings(self, word: str, only_word: bool) -> Iterator[tuple[str, int]]:
        """The last word of a span as it is and without a glued postposition."""
        yield word, 0
        for ending in self._vocabulary.glued:
            rest = len(word) - len(ending)
            if word.endswith(ending) and rest >= MIN_GLUED_PIECE + (not only_word):
                yield word[:rest], len(ending)


def starts(word: str) -> Iterator[tuple[int, str]]:
    """The word itself, then what follows each non-joining letter inside it."""
    yield 0, word
    for cut in range(MIN_GLUED_PIECE, len(word) - MIN_GLUED_PIECE + 1):
        if word[cut - 1] in arabic.NON_JOINING:
            yield cut, word[cut:]


def closest(mentions: list[ArabicMention]) -> list[ArabicMention]:
    """Of the overlapping mentions of one alias, the closest spelling (then the longest): "نے
    نیشنل ..." is one edit from the name, "نیشنل ..." none. (Between aliases the longest wins,
    as in English.)"""
    kept: list[ArabicMention] = []
    ranked = sorted(mentions, key=lambda m: (m.distance, m.first - m.last, m.first))
    for mention in ranked:
        if not any(
            k.form.alias == mention.form.alias
            and k.form.entity == mention.form.entity
            and k.first <= mention.last
            and mention.first <= k.last
            and (k.first, k.last) != (mention.first, mention.last)
            and k.distance < mention.distance
            for k in kept
        ):
            kept.append(mention)
    return kept


def is_arabic_token(token: Token) -> bool:
    return token.is_word and arabic.is_arabic_word(token.text)


def _offsets(
    document: Document, tokens: list[Token], first: int, cut: int, last: int, trim: int
) -> tuple[int, int]:
    """Original offsets of a span from inside its first word to before a glued ending."""
    head, tail = tokens[first], tokens[last]
    start = head.start
    if cut:
        start += arabic.original_cut(document.text[head.start : head.end], cut)
    end = tail.end
    if trim:
        written = document.text[tail.start : tail.end]
        end = tail.start + arabic.original_cut(written, len(tail.text) - trim)
    return start, end
