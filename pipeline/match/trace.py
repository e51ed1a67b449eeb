"""What the matcher found in one document and why it decided as it did: the plain values shared
by the matcher (``matcher.py``), the possible mentions (``possible.py``) and ``match explain``.

Every name form found in the text is an ``Occurrence``; every context term found near one is a
``ContextWord`` with its distance in words; an entity's ``Evidence`` adds them up. An
``Analysis`` keeps all of it, including the occurrences the rules set aside and the reason.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from pipeline.core.records import EntityMatch
from pipeline.match.normalize import Document

MIN_EVIDENCE = 2

# What set an occurrence aside before any context was weighed.
Fate = Literal["kept", "inside-longer", "miscased", "defined-otherwise"]
ContextKind = Literal[
    "identifier", "specific", "place", "country", "generic", "entity", "negative", "disambiguation"
]


@dataclass(frozen=True, slots=True)
class Occurrence:
    """One place where a name form of an entity was found (token indexes and offsets)."""

    entity: int
    first: int  # token indexes, inclusive
    last: int
    start: int  # original offsets
    end: int
    alias: str
    strength: str
    name_class: str  # distinctive | common-words | acronym | legal-reference
    needs_context: bool
    case_rule: str  # any | title | upper


@dataclass(frozen=True, slots=True)
class Hit:
    term: int
    first: int
    last: int


@dataclass(frozen=True, slots=True)
class ContextWord:
    """A context term counted for (or against) an entity."""

    text: str  # as written in the watchlist or aliases.yaml
    kind: ContextKind
    weight: int  # what it adds to the evidence (negative kinds: what it takes away)
    distance: int | None  # words from the nearest mention; None: counted anywhere


@dataclass(frozen=True, slots=True)
class Evidence:
    score: int  # everything found, the country's names included
    country: int  # the part of ``score`` that comes from the country's names
    specific: bool  # an entity-specific term (not the country) or another watchlist entity
    negative: int
    terms: list[str]
    negative_terms: list[str]
    other_entities: list[str]
    words: list[ContextWord] = field(default_factory=list)
    place_corroborates: bool = False  # a multi-word title-case name with its city or country
    disambiguated: list[str] = field(default_factory=list)  # statements that rule it out

    def accepts(self, single_words_only: bool) -> bool:
        return self.shortfall(single_words_only) is None

    def shortfall(self, single_words_only: bool) -> str | None:
        """Why the evidence does not confirm the entity, in words; None when it does."""
        # A statement that rules the entity out ("no connection to a similarly named Karachi
        # company") and negative terms outrank everything positive.
        if self.disambiguated:
            return f"ruled out by a disambiguating statement ({', '.join(self.disambiguated)})"
        if self.negative and self.score <= self.negative:
            return f"negative context outranks ({', '.join(self.negative_terms)})"
        # The country's names are everywhere in the country's own press: they help to outweigh
        # negative terms but never make up the minimum, except as the place of a multi-word
        # title-case name. A name of one word (an acronym, one everyday word) also needs
        # something that belongs to this entity, not only sanctions or programme vocabulary.
        counted = self.score - self.country
        if counted < MIN_EVIDENCE and not self.place_corroborates:
            if not self.terms:
                return "no corroborating context"
            return f"corroborating context too weak (evidence {counted}, needs {MIN_EVIDENCE})"
        if single_words_only and not self.specific:
            return "only sanctions or programme vocabulary, nothing of the entity's own"
        return None


@dataclass(slots=True)
class Analysis:
    """Everything one document gave the matcher: the basis of flags, candidates and explain."""

    document: Document
    fates: dict[Occurrence, Fate]  # every occurrence found, with what became of it
    defined_as: dict[Occurrence, str]  # acronym -> the other name the document spells out
    kept: dict[int, list[Occurrence]]  # entity -> occurrences weighed against context
    evidence: dict[int, Evidence]  # entity -> evidence (entities that needed context)
    confirmed: set[int]
    matches: list[EntityMatch]
    strong: set[int] = field(default_factory=set)  # entities with a strong name of their own
