"""Weighing context: the terms near an entity's names, with their kind, weight and distance,
added up into its evidence; the rule and score of an accepted entity.

A mixin of ``Matcher`` (``matcher.py``); the table of weights is in its docstring.
"""

from __future__ import annotations

from collections.abc import Callable

from pipeline.match.compiling import IDENTIFIER_WEIGHT, PLACE_WEIGHT, EntityContext, Term
from pipeline.match.corroboration import place_in_paragraph, ruling_out
from pipeline.match.normalize import Document
from pipeline.match.trace import ContextKind, ContextWord, Evidence, Hit, Occurrence
from pipeline.match.watchlist import WatchlistEntity

CONTEXT_WINDOW = 60  # words either side of a mention where context counts
GENERIC_CAP = 2  # sanctions/programme vocabulary counts at most this much together
OTHER_ENTITY_WEIGHT = 2


class Weighing:
    """Evidence for an entity from the hits of its context terms."""

    _entities: list[WatchlistEntity]
    _terms: list[Term]
    _contexts: list[EntityContext]
    _cues: frozenset[int]

    def _evidence(
        self,
        entity: int,
        found: list[Occurrence],
        hits: list[Hit],
        strong: set[int],
        document: Document,
    ) -> Evidence:
        words = [word for hit in hits for word in self._context_words(entity, found, hit)]
        specific: dict[str, int] = {}
        country: set[str] = set()
        generic: set[str] = set()
        negative: set[str] = set()
        for word in words:
            if word.kind == "country":
                country.add(word.text)
            elif word.kind == "generic":
                generic.add(word.text)
            elif word.kind == "negative":
                negative.add(word.text)
            else:
                specific[word.text] = max(word.weight, specific.get(word.text, 0))
        others = sorted(self._entities[e].id for e in strong if self._related(entity, e))
        words += [ContextWord(other, "entity", OTHER_ENTITY_WEIGHT, None) for other in others]
        score = (
            sum(specific.values())
            + PLACE_WEIGHT * len(country)
            + min(len(generic), GENERIC_CAP)
            + OTHER_ENTITY_WEIGHT * len(others)
        )
        return Evidence(
            score=score,
            country=PLACE_WEIGHT * len(country),
            specific=bool(specific or others),
            negative=len(negative),
            terms=sorted(specific) + sorted(country) + sorted(generic),
            negative_terms=sorted(negative),
            other_entities=others,
            words=words,
            place_corroborates=place_in_paragraph(found, self._places(entity, hits), document),
            disambiguated=ruling_out(
                found, hits, self._cues, self._own_term(entity), document, CONTEXT_WINDOW
            ),
        )

    def _places(self, entity: int, hits: list[Hit]) -> list[Hit]:
        context = self._contexts[entity]
        return [
            hit
            for hit in hits
            if hit.term in context.country or context.specific.get(hit.term) == PLACE_WEIGHT
        ]

    def _own_term(self, entity: int) -> Callable[[int], bool]:
        context = self._contexts[entity]
        return lambda term: term in context.specific or term in context.country

    def _context_words(self, entity: int, found: list[Occurrence], hit: Hit) -> list[ContextWord]:
        """The hit as context of the entity (positive, negative or both), with its distance in
        words; nothing when it lies outside every window or is a word of the name itself."""
        if any(hit.first <= c.last and c.first <= hit.last for c in found):
            return []  # words of the name itself are no context for it
        context = self._contexts[entity]
        weight = context.specific.get(hit.term)
        text = self._terms[hit.term].text
        if weight == IDENTIFIER_WEIGHT:
            return [ContextWord(text, "identifier", weight, None)]  # anywhere in the document
        near = any(
            c.first - CONTEXT_WINDOW <= hit.first and hit.last <= c.last + CONTEXT_WINDOW
            for c in found
        )
        if not near:
            return []
        distance = min(max(c.first - hit.last, hit.first - c.last, 0) for c in found)
        words: list[ContextWord] = []
        if hit.term in context.country:
            words.append(ContextWord(text, "country", PLACE_WEIGHT, distance))
        elif weight is not None:
            kind: ContextKind = "place" if weight == PLACE_WEIGHT else "specific"
            words.append(ContextWord(text, kind, weight, distance))
        elif hit.term in context.generic:
            words.append(ContextWord(text, "generic", 1, distance))
        if hit.term in context.negative:
            words.append(ContextWord(text, "negative", 1, distance))
        return words

    def _related(self, entity: int, other: int) -> bool:
        """Another entity corroborates only if it shares a programme or the country."""
        this, that = self._entities[entity], self._entities[other]
        if entity == other:
            return False
        shared_country = this.country is not None and this.country == that.country
        return shared_country or bool(set(this.programs) & set(that.programs))


def single_ambiguous_word(candidate: Occurrence) -> bool:
    """An acronym or one everyday word: only entity-specific context confirms it. (An Urdu
    acronym is several words: "این ڈی سی".)"""
    one_word = candidate.first == candidate.last or candidate.name_class == "acronym"
    return one_word and candidate.name_class != "distinctive"


def rule_and_score(first: Occurrence, evidence: Evidence | None) -> tuple[str, float]:
    """The rule that allowed the flag, named after its first mention, and a score in 0..1."""
    if evidence is None:  # the entity has a strong name in the document
        if first.name_class == "legal-reference":
            return "legal-reference", 1.0
        if not first.needs_context:
            return "strong-alias", 1.0
        return f"{_conditional_kind(first)}+strong-name", 0.95
    score = 0.5 + 0.1 * (evidence.score - evidence.negative)
    return f"{_conditional_kind(first)}+context", round(min(0.9, max(0.55, score)), 2)


def _conditional_kind(candidate: Occurrence) -> str:
    if candidate.name_class == "common-words":
        return "common-words"
    if candidate.strength == "weak" or candidate.name_class == "acronym":
        return "weak-alias"
    return "single-word"
