"""Finding occurrences: the automaton pass over the normalised words, legal references, the
case rules and acronyms that the document spells out as another name.

A mixin of ``Matcher`` (``matcher.py``).
"""

from __future__ import annotations

import bisect
import re

import ahocorasick

from pipeline.match.aliases import RuleSet
from pipeline.match.compiling import EntityContext, Pattern, Term
from pipeline.match.normalize import Document, Token
from pipeline.match.trace import Hit, Occurrence
from pipeline.match.watchlist import WatchlistEntity

# Over the normalised text: words separated by single spaces, "E.O." -> "e o".
_EXECUTIVE_ORDER_REFERENCE = re.compile(
    r"(?<= )(?:executive orders?(?: (?:e o|eo)s?)?|(?:e o|eo)s?)"
    r"(?: (?:no|nos|number|numbers))? ?"
    r"(?P<numbers>\d{4,6}(?:(?: ,)? (?:and |or )?\d{4,6})*)(?= )"
)
_NUMBER = re.compile(r"\d{4,6}")
_BARE_ORDER_REFERENCE = re.compile(r"(?<= )order (?:no |number )?(?P<number>\d{4,6})(?= )")


class Scanning:
    """Occurrences of name forms and hits of context terms in one document."""

    _rules: RuleSet
    _entities: list[WatchlistEntity]
    _patterns: list[Pattern]
    _terms: list[Term]
    _orders: dict[str, list[int]]
    _contexts: list[EntityContext]
    _automaton: ahocorasick.Automaton | None

    def _scan(
        self, haystack: str, starts: list[int], document: Document
    ) -> tuple[list[Occurrence], list[Hit]]:
        candidates: list[Occurrence] = []
        hits: list[Hit] = []
        if self._automaton is None:
            return candidates, hits
        for end, payload in self._automaton.iter(haystack):
            for code in payload:
                length = self._patterns[code].length if code >= 0 else self._terms[-code - 1].length
                first = bisect.bisect_left(starts, end - length + 2)
                last = bisect.bisect_right(starts, end - 1) - 1
                if code < 0:
                    hits.append(Hit(-code - 1, first, last))
                else:
                    candidates.append(self._candidate(self._patterns[code], first, last, document))
        return candidates, hits

    def _candidate(self, pattern: Pattern, first: int, last: int, document: Document) -> Occurrence:
        form = pattern.form
        return Occurrence(
            entity=pattern.entity,
            first=first,
            last=last,
            start=document.tokens[first].start,
            end=document.tokens[last].end,
            alias=form.alias,
            strength=form.strength,
            name_class=form.name_class,
            needs_context=form.needs_context,
            case_rule=form.case_rule,
        )

    def _legal_references(
        self, haystack: str, starts: list[int], document: Document
    ) -> list[Occurrence]:
        found: list[Occurrence] = []
        for reference in _EXECUTIVE_ORDER_REFERENCE.finditer(haystack):
            first = bisect.bisect_left(starts, reference.start())
            for number in _NUMBER.finditer(reference.group("numbers")):
                last = bisect.bisect_right(starts, reference.start("numbers") + number.start()) - 1
                for entity in self._orders.get(number.group(), []):
                    found.append(self._reference(entity, first, last, document))
        # "order 13382" without "executive" or "E.O.": a court order or an invoice may carry
        # the same number, so it only confirms, like a weak alias (an "executive order 13382"
        # around it is the longer match and wins).
        for reference in _BARE_ORDER_REFERENCE.finditer(haystack):
            first = bisect.bisect_left(starts, reference.start())
            last = bisect.bisect_left(starts, reference.start("number"))
            for entity in self._orders.get(reference.group("number"), []):
                found.append(self._reference(entity, first, last, document, strong=False))
        return found

    def _reference(
        self, entity: int, first: int, last: int, document: Document, *, strong: bool = True
    ) -> Occurrence:
        return Occurrence(
            entity=entity,
            first=first,
            last=last,
            start=document.tokens[first].start,
            end=document.tokens[last].end,
            alias=self._entities[entity].name,
            strength="strong" if strong else "weak",
            name_class="legal-reference",
            needs_context=not strong,
            case_rule="any",
        )

    def _case_fits(self, candidate: Occurrence, document: Document) -> bool:
        if candidate.case_rule == "any":
            return True
        for token in document.tokens[candidate.first : candidate.last + 1]:
            if not token.is_word or token.text in self._rules.small_words:
                continue
            original = document.text[token.start : token.end]
            if candidate.case_rule == "upper" and not original.isupper():
                return False
            lower = not (original[0].isupper() or original[0].isdigit())
            if (
                candidate.case_rule == "title"
                and lower
                and token.text not in self._rules.legal_words
            ):
                return False
        return True

    def _drop_acronyms_defined_otherwise(
        self, candidates: list[Occurrence], document: Document
    ) -> tuple[list[Occurrence], dict[Occurrence, str]]:
        """The occurrences kept, and the acronyms dropped with the other name spelt out."""
        defined: dict[tuple[int, str], str | None] = {}
        kept: list[Occurrence] = []
        dropped: dict[Occurrence, str] = {}
        for candidate in candidates:
            if candidate.name_class == "acronym":
                acronym = document.tokens[candidate.first].text
                marker = (candidate.entity, acronym)
                if marker not in defined:
                    defined[marker] = self._spelt_out_otherwise(acronym, candidate.entity, document)
                if (spelt_out := defined[marker]) is not None:
                    dropped[candidate] = spelt_out
                    continue
            kept.append(candidate)
        return kept, dropped

    def _spelt_out_otherwise(self, acronym: str, entity: int, document: Document) -> str | None:
        tokens = document.tokens
        for index, token in enumerate(tokens):
            if token.text[:1] != acronym[0] or not _capitalised(token, document):
                continue
            words = _initials_run(tokens, index, acronym, document, self._rules.small_words)
            if words and " ".join(t.text for t in words) not in self._contexts[entity].keys:
                return document.text[words[0].start : words[-1].end]
        return None


def words_haystack(tokens: list[Token]) -> tuple[str, list[int]]:
    """The normalised words joined by single spaces (with a space at both ends) and where each
    word starts in it: a form " k1 k2 " found there is a run of whole words."""
    starts: list[int] = []
    position = 1
    for token in tokens:
        starts.append(position)
        position += len(token.text) + 1
    return " " + " ".join(t.text for t in tokens) + " ", starts


def longest_only(candidates: list[Occurrence]) -> list[Occurrence]:
    """Drop candidates inside a longer one, and repeats of one span for the same entity."""
    best: dict[tuple[int, int, int], Occurrence] = {}
    for candidate in candidates:
        marker = (candidate.entity, candidate.first, candidate.last)
        if marker not in best or best[marker].needs_context > candidate.needs_context:
            best[marker] = candidate
    spans = {(c.first, c.last) for c in best.values()}
    return [
        c
        for c in best.values()
        if not any(a <= c.first and c.last <= b and (a, b) != (c.first, c.last) for a, b in spans)
    ]


def _capitalised(token: Token, document: Document) -> bool:
    return document.text[token.start : token.start + 1].isupper()


def _initials_run(
    tokens: list[Token], index: int, acronym: str, document: Document, small: frozenset[str]
) -> list[Token] | None:
    """Capitalised words from ``index`` whose initials spell ``acronym`` (small words skipped)."""
    words: list[Token] = []
    letter = 0
    position = index
    while position < len(tokens) and letter < len(acronym):
        token = tokens[position]
        position += 1
        if not token.is_word:
            return None
        if letter > 0 and token.text in small:
            words.append(token)
            continue
        spelled = token.text[:1] == acronym[letter] and len(token.text) > 1
        if not spelled or token.text == acronym or not _capitalised(token, document):
            return None
        words.append(token)
        letter += 1
    return words if letter == len(acronym) else None
