"""Text normalisation shared by watchlist names and article text, with an offset map.

Names and articles go through the same steps, so an alias matches wherever the article says the
same words:

1. Characters: Unicode NFKC, case folding, accents dropped (NFD, combining marks removed), so
   "ＮＤＣ" = "ndc", "Société" = "societe", a no-break space is a space.
2. Words: runs of letters and digits. Whitespace of any kind (spaces, no-break spaces, tabs,
   single line breaks) only separates words.
3. Punctuation inside a name is tolerated: ``. " ( ) [ ] - / \\`` and quotes only separate
   words ("(Pvt.) Ltd." = "pvt ltd", "M/s" = "m s"); "&" is the word "and". An apostrophe
   inside a word joins it ("Int'l" = "intl", "O'Brien" = "obrien") except a final possessive
   "'s", which becomes a word of its own ("Complex's" = "complex s").
4. A comma stays a token of its own (so "National, Development, Complex" in a tag list is not
   the name), except right before a legal form ("Co., Ltd.").
5. Barriers no name runs across: a full stop that ends a sentence (". " between two words,
   unless the word before it is an abbreviation from aliases.yaml or a single letter, or the next
   word starts in lower case), "!", "?", ";", ":", "|", dashes, bullets and every other symbol,
   and a paragraph break (two line breaks).
6. Spelling equivalences from aliases.yaml ``token_equivalents`` ("limited" -> "ltd",
   "private" -> "pvt", "centre" -> "center").
7. Arabic script (Urdu): a text holding any is folded by ``pipeline/match/arabic.py`` (yeh,
   kaf and heh folds, hamza composed, harakat, tatweel and invisible characters dropped, every
   digit system -> ASCII). The Urdu comma "،" is a comma, "۔" and "؟" end sentences, and a word
   mixing scripts is split where they meet ("آرڈر13382کے" = "آرڈر 13382 کے").

Every token keeps the offsets of the original text it came from, so a match found in the
normalised text maps back to the exact characters of the article.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import NamedTuple

from pipeline.match import arabic

BARRIER = "|"  # a token no name can contain: names never run across it
COMMA = ","

# A word may hold apostrophes ("Int'l", "O'Brien"); a final "'s" is split off as a possessive.
_WORD_OR_SYMBOL = re.compile(r"[^\W_]+(?:['\u2019][^\W_]+)*|\S")
_WORD = re.compile(r"[^\W_]+(?:['\u2019][^\W_]+)*")  # the word half of the pattern above
_POSSESSIVE = re.compile(r"(.+)['\u2019]s")
_APOSTROPHE_CHARS = frozenset("'\u2019")
_APOSTROPHES = str.maketrans("", "", "'\u2019")
_LETTER_OR_DIGIT = re.compile(r"[^\W_]")
# Punctuation that may sit inside a name without ending it.
_JOINERS = frozenset(
    ".'\"()[]{}-\u2010\u2011/\\\u2018\u2019\u201a\u201b\u201c\u201d\u00ab\u00bb`\u00b4"
)
_CLOSERS = frozenset("'\")]}\u2019\u201d\u00bb")
_NEWLINES = frozenset("\n\r\u2028\u2029\x0b\x0c\x85")
_SENTENCE_ENDS = frozenset("!?") | arabic.SENTENCE_ENDS
_COMMAS = frozenset(",") | arabic.COMMAS


class Token(NamedTuple):
    """One normalised word (or a barrier/comma) and the original characters it came from.
    (A NamedTuple: an article has thousands and a frozen dataclass is slow to build.)"""

    text: str
    start: int
    end: int

    @property
    def is_word(self) -> bool:
        return self.text not in (BARRIER, COMMA)


@dataclass(frozen=True, slots=True)
class Document:
    """A text cut into normalised tokens, with the offsets where sentences end."""

    text: str  # the original text
    tokens: list[Token]
    sentence_breaks: list[int]  # sorted original offsets just after a sentence end or line break


@lru_cache(maxsize=4096)
def fold_char(char: str) -> str:
    """NFKC + case folding + accents dropped, for one character (may become 0..n characters)."""
    folded = unicodedata.normalize("NFKC", char).casefold()
    decomposed = unicodedata.normalize("NFD", folded)
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def fold(text: str) -> tuple[str, list[int] | None]:
    """The folded text and, when lengths differ, the original index of every folded character."""
    if text.isascii():
        return text.lower(), None
    if arabic.has_arabic(text):
        return arabic.fold_mixed(text, _fold_one)
    # One translation table for the distinct characters: articles repeat a few hundred.
    table = {ord(char): _fold_one(char) for char in set(text)}
    folded = text.translate(table)
    if len(folded) == len(text):  # every character folded to one: offsets are unchanged
        return folded, None
    # Some characters became 0 or several ("…" -> "...", a lone accent -> ""): map those.
    resized = "".join(chr(code) for code, value in table.items() if len(value) != 1)
    origin: list[int] = []
    previous = 0
    for found in re.finditer(f"[{re.escape(resized)}]", text):
        index = found.start()
        origin.extend(range(previous, index))
        origin.extend([index] * len(table[ord(text[index])]))
        previous = index + 1
    origin.extend(range(previous, len(text)))
    return folded, origin


def _fold_one(char: str) -> str:
    return char.lower() if char < "\x80" else fold_char(char)


class Normalizer:
    """Cuts text into normalised tokens; built once from the rules of aliases.yaml."""

    def __init__(
        self,
        *,
        token_equivalents: Mapping[str, str],
        abbreviations: Iterable[str],
        legal_form_starts: Iterable[str],
    ) -> None:
        self._equivalents = {fold_plain(k): fold_plain(v) for k, v in token_equivalents.items()}
        self._abbreviations = frozenset(fold_plain(a) for a in abbreviations)
        self._legal_form_starts = frozenset(
            self._equivalents.get(fold_plain(w), fold_plain(w)) for w in legal_form_starts
        )

    def document(
        self, text: str, prefolded: tuple[str, list[int] | None] | None = None
    ) -> Document:
        """Tokens of ``text`` with original offsets, plus where its sentences end; ``prefolded``
        is ``fold(text)`` when the caller has it already."""
        folded, origin = prefolded if prefolded is not None else fold(text)
        equivalents = self._equivalents
        tokens: list[Token] = []
        breaks: list[int] = []
        previous_end = 0
        for found in _WORD_OR_SYMBOL.finditer(folded):
            gap = folded[previous_end : found.start()]
            if gap != " " and not _NEWLINES.isdisjoint(gap):
                breaks.append(_original(origin, previous_end))
                if sum(c in _NEWLINES for c in gap.replace("\r\n", "\n")) >= 2:
                    _append_barrier(tokens, _original(origin, previous_end))
            previous_end = found.end()
            if origin is None:
                start, end = found.start(), previous_end
            else:
                start = _original(origin, found.start())
                end = _original(origin, previous_end - 1) + 1
            piece = found.group()
            if piece[0].isalnum():
                if not piece.isascii() and arabic.mixes_scripts(piece):
                    tokens.extend(_script_tokens(piece, found.start(), origin, equivalents))
                elif _APOSTROPHE_CHARS.isdisjoint(piece):  # a plain word: the common case
                    tokens.append(Token(equivalents.get(piece, piece), start, end))
                else:
                    tokens.extend(self._word_tokens(piece, found.start(), origin, start, end))
            elif piece == "&":
                tokens.append(Token("and", start, end))
            elif piece in _COMMAS:
                tokens.append(Token(COMMA, start, end))
            elif piece == ".":
                if self._ends_sentence(text, folded, found.end(), tokens, start):
                    _append_barrier(tokens, start)
                    breaks.append(end)
            elif piece in _JOINERS:
                continue
            else:
                _append_barrier(tokens, start)
                if piece in _SENTENCE_ENDS:
                    breaks.append(end)
        return Document(text, self._drop_commas_before_legal_forms(tokens), breaks)

    def _word_tokens(
        self, piece: str, folded_start: int, origin: list[int] | None, start: int, end: int
    ) -> list[Token]:
        possessive = _POSSESSIVE.fullmatch(piece)
        if possessive is None:
            word = piece.translate(_APOSTROPHES)  # "int'l" -> "intl", "o'brien" -> "obrien"
            return [Token(self._equivalents.get(word, word), start, end)]
        base = possessive.group(1).translate(_APOSTROPHES)
        base_end = _original(origin, folded_start + len(possessive.group(1)) - 1) + 1
        return [
            Token(self._equivalents.get(base, base), start, base_end),
            Token("s", end - 1, end),
        ]

    def surface_forms(self, word: str) -> set[str]:
        """Every folded word (apostrophes removed) that becomes the normalised ``word``: the
        word itself, the spellings that ``token_equivalents`` maps to it, and "&" for "and"."""
        forms = {word} | {written for written, same in self._equivalents.items() if same == word}
        if word == "and":
            forms.add("&")
        return forms

    def words(self, text: str) -> list[str]:
        """The normalised tokens of a short phrase (a name, a context term)."""
        return [token.text for token in self.document(text).tokens]

    def key(self, text: str) -> str:
        """A phrase as one normalised string: its tokens joined by single spaces."""
        return " ".join(self.words(text))

    def _ends_sentence(
        self, text: str, folded: str, after: int, tokens: list[Token], dot_start: int
    ) -> bool:
        # ". " ends a sentence unless it closes an abbreviation or an initial, or the next
        # word is in lower case ("Pvt. limited", "approx. ten").
        position = after
        while position < len(folded) and folded[position] in _CLOSERS:
            position += 1
        if position < len(folded) and not folded[position].isspace():
            return False
        previous = tokens[-1] if tokens else None
        if previous is not None and previous.is_word and previous.end == dot_start:
            written = fold_plain(text[previous.start : previous.end]).translate(_APOSTROPHES)
            if written in self._abbreviations or len(previous.text) == 1:
                return False
        next_word = _LETTER_OR_DIGIT.search(text, dot_start + 1)
        return next_word is None or not next_word.group().islower()

    def _drop_commas_before_legal_forms(self, tokens: list[Token]) -> list[Token]:
        kept: list[Token] = []
        for index, token in enumerate(tokens):
            following = tokens[index + 1] if index + 1 < len(tokens) else None
            if (
                token.text == COMMA
                and following is not None
                and following.text in self._legal_form_starts
            ):
                continue
            kept.append(token)
        return kept


def written_words(folded: str) -> set[str]:
    """Every word the tokenizer makes of a text (``folded`` is ``fold(text)[0]``) before
    spelling equivalences (possessive bases included), plus "&" when the text has one: a cheap
    superset test for "may this text contain that normalised word", without building tokens."""
    words: set[str] = set()
    for piece in set(_WORD.findall(folded)):
        if _APOSTROPHE_CHARS.isdisjoint(piece):
            words.add(piece)
            continue
        words.add(piece.translate(_APOSTROPHES))
        possessive = _POSSESSIVE.fullmatch(piece)
        if possessive is not None:
            words.add(possessive.group(1).translate(_APOSTROPHES))
    if "&" in folded:
        words.add("&")
    return words


def fold_plain(text: str) -> str:
    """Fold a word of the rules table (NFKC, case folding, accents dropped)."""
    return "".join(fold_char(c) for c in text).strip()


def _original(origin: list[int] | None, folded_index: int) -> int:
    if origin is None:
        return folded_index
    if folded_index >= len(origin):
        return origin[-1] + 1 if origin else 0
    return origin[folded_index]


def _script_tokens(
    piece: str, folded_start: int, origin: list[int] | None, equivalents: Mapping[str, str]
) -> list[Token]:
    """A word mixing Arabic letters with digits or Latin letters, one token per run."""
    tokens: list[Token] = []
    for run_start, run_end in arabic.script_runs(piece):
        word = piece[run_start:run_end].translate(_APOSTROPHES)
        start = _original(origin, folded_start + run_start)
        end = _original(origin, folded_start + run_end - 1) + 1
        tokens.append(Token(equivalents.get(word, word), start, end))
    return tokens


def _append_barrier(tokens: list[Token], at: int) -> None:
    if tokens and tokens[-1].text == BARRIER:
        return
    tokens.append(Token(BARRIER, at, at))
