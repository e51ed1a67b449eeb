"""The compiled watchlist: every name form and context term in one Aho-Corasick automaton,
each entity's context terms with their weights, and the prefilter's index of name words.

A mixin of ``Matcher`` (``matcher.py``), which builds these once per watchlist.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

import ahocorasick

from pipeline.match.aliases import NameForm, RuleSet
from pipeline.match.normalize import BARRIER, COMMA, written_words
from pipeline.match.watchlist import WatchlistEntity

IDENTIFIER_WEIGHT = 3
SPECIFIC_WEIGHT = 2
PLACE_WEIGHT = 1
MIN_IDENTIFIER_LENGTH = 5


@dataclass(frozen=True, slots=True)
class Pattern:
    entity: int
    form: NameForm
    length: int  # characters of " key "


@dataclass(frozen=True, slots=True)
class Term:
    text: str  # as written in the watchlist or aliases.yaml
    length: int  # characters of " key "


@dataclass(slots=True)
class EntityContext:
    specific: dict[int, int] = field(default_factory=dict)  # term id -> weight
    country: frozenset[int] = frozenset()  # the country's names (also in ``specific``)
    generic: frozenset[int] = frozenset()
    negative: frozenset[int] = frozenset()
    keys: frozenset[str] = frozenset()  # every form key: an acronym spelt out as one is fine


class CompiledTerms:
    """Registering name forms and context terms; the automaton and the prefilter's index."""

    _rules: RuleSet
    _patterns: list[Pattern]
    _terms: list[Term]
    _term_ids: dict[str, int]
    _term_by_text: dict[str, int | None]
    _generic_by_programs: dict[tuple[str, ...], frozenset[int]]
    _payloads: defaultdict[str, list[int]]
    _orders: dict[str, list[int]]

    def _add_pattern(self, entity: int, form: NameForm) -> None:
        existing = [self._patterns[p] for p in self._payloads[form.key] if p >= 0]
        if any(p.entity == entity and p.form.strength <= form.strength for p in existing):
            return  # the same words already searched for this entity ("strong" < "weak")
        self._payloads[form.key].append(len(self._patterns))
        self._patterns.append(Pattern(entity, form, len(form.key) + 2))

    def _term(self, text: str) -> int | None:
        """The id of a context term (registered in the automaton once); None if it has no words."""
        if text in self._term_by_text:
            return self._term_by_text[text]
        key = self._rules.key(text).strip(f" {BARRIER}{COMMA}")
        term: int | None = None
        if key:
            if key not in self._term_ids:
                self._term_ids[key] = len(self._terms)
                self._terms.append(Term(text, len(key) + 2))
                self._payloads[key].append(-len(self._terms))  # term id t is stored as -(t + 1)
            term = self._term_ids[key]
        self._term_by_text[text] = term
        return term

    def _terms_of(self, texts: list[str]) -> frozenset[int]:
        return frozenset(term for term in map(self._term, texts) if term is not None)

    def _specific_terms(self, entity: WatchlistEntity) -> dict[int, int]:
        weights: dict[int, int] = {}

        def add(text: str, weight: int) -> None:
            term = self._term(text)
            if term is not None:
                weights[term] = max(weight, weights.get(term, 0))

        country = self._terms_of(self._country_names(entity.country))
        for address in entity.addresses:
            parts = [p.strip() for p in address.split(",") if p.strip()]
            parts = [p for p in parts if self._term(p) not in country]
            for position, part in enumerate(parts):  # the last part is the city
                add(part, PLACE_WEIGHT if position == len(parts) - 1 else SPECIFIC_WEIGHT)
        for text in entity.context:
            add(text, SPECIFIC_WEIGHT)
        if entity.kind != "legal-reference":
            for value in entity.identifiers.values():
                if len(value.strip()) >= MIN_IDENTIFIER_LENGTH:
                    add(value, IDENTIFIER_WEIGHT)
        return weights

    def _generic_terms(self, entity: WatchlistEntity) -> frozenset[int]:
        programs = tuple(sorted(entity.programs))
        if programs not in self._generic_by_programs:
            words = [*self._rules.rules.sanctions_vocabulary]
            words += self._rules.rules.enforcement_vocabulary
            for program in programs:
                words += self._rules.rules.program_vocabulary.get(program, [])
            self._generic_by_programs[programs] = self._terms_of(words)
        return self._generic_by_programs[programs]

    def _country_names(self, country: str | None) -> list[str]:
        if not country:
            return []
        return self._rules.rules.countries.get(country.upper(), [country])

    def _build_prefilter(self) -> dict[str, list[tuple[frozenset[str], ...]]] | None:
        """The written words a matching text must hold: every word of some name form (in a
        spelling that normalises to it). Forms are indexed by
        one word each (the rarest: not an everyday word, then the longest), so a text is
        checked only against the forms whose index word it holds. Most articles hold none
        completely, and then the tokenizer, the costly part, never runs."""
        index: dict[str, list[tuple[frozenset[str], ...]]] = defaultdict(list)
        normalizer, common = self._rules.normalizer, self._rules.common_words
        for key, payload in self._payloads.items():
            if all(code < 0 for code in payload):
                continue  # context terms only: they never make a candidate on their own
            words = [word for word in key.split(" ") if word and word not in (BARRIER, COMMA)]
            if not words:
                return None  # a form without words: no safe prefilter, always tokenize
            form = tuple(frozenset(normalizer.surface_forms(word)) for word in words)
            rarest = max(words, key=lambda word: (word not in common, len(word)))
            for written in normalizer.surface_forms(rarest):
                index[written].append(form)
        return dict(index) if index or self._orders else None

    def _passes_prefilter(
        self, prefilter: dict[str, list[tuple[frozenset[str], ...]]], folded: str
    ) -> bool:
        words = written_words(folded)
        if self._orders:  # "EO13382": an order number may be glued to the word before it
            joined = " ".join(words)
            if any(number in joined for number in self._orders):
                return True
        for word in words & prefilter.keys():
            for form in prefilter[word]:
                if all(not spellings.isdisjoint(words) for spellings in form):
                    return True
        return False

    def _build_automaton(self) -> ahocorasick.Automaton | None:
        if not self._payloads:
            return None
        automaton = ahocorasick.Automaton()
        for key, payload in self._payloads.items():
            automaton.add_word(f" {key} ", tuple(payload))
        automaton.make_automaton()
        return automaton
