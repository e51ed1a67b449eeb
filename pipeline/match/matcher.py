"""Watchlist -> compiled matcher -> one EntityMatch per entity an article mentions.

How a document is matched (the document is ``title + "\\n\\n" + text``):

1. **One pass.** The document is normalised (``pipeline/match/normalize.py``: NFKC, case folding,
   accents dropped, whitespace folded, "&" = "and", punctuation inside names tolerated,
   sentence ends and paragraph breaks as barriers) and scanned once by a single Aho-Corasick
   automaton holding every searchable form of every alias AND every context term. Forms are
   surrounded by spaces, so only whole words match. Legal references are found by one regular
   expression over the same normalised text.
2. **Legal references.** "Executive Order 13382", "E.O. 13382", "EO 13382", "EO13382",
   "E.O.13382", "Executive Order (E.O.) 13382", "Executive Order (EO) 13382", "Executive Order
   No. 13382", "Executive Orders 13224 and 13382" match the entity of kind ``legal-reference``
   whose name is "Executive Order <number>". A bare number ("13382", "13,382") never does;
   "order 13382" without "executive" or "E.O." (a court order may carry the same number) only
   confirms, like a weak alias: it needs context or another entity of the programme.
3. **Longest match wins.** A candidate lying inside a longer candidate is dropped ("Akhtar and
   Sons" inside "Akhtar and Sons Pvt Ltd").
4. **Case.** Acronyms must be in capitals ("NDC", not "ndc"); names of everyday words, weak
   aliases and person names in title case or capitals ("Affiliates International", not "its
   affiliates international partners"). Small words ("and", "of") may stay lower case.
5. **Acronym defined otherwise.** When the document spells out an acronym as something that is
   not a name of the entity ("National Democratic Congress (NDC)", "the National Defence
   College ... the NDC"): a run of capitalised words whose initials are the acronym), that
   acronym is never a mention in this document.
6. **Strong names flag on their own**: distinctive strong aliases of two or more words (in any
   case), strong names of three or more everyday words (in title case), legal references.
   Rule ``strong-alias`` / ``legal-reference``, score 1.0.
7. **Conditional names only confirm**: weak aliases, acronyms, names of one or two everyday
   words ("Affiliates International", "Rockside Enterprise") and any single-word name ("Salina",
   a vessel). They are accepted
   - when the same document has an accepted strong name of the same entity
     (``weak-alias+strong-name``, ``common-words+strong-name``; score 0.95), or
   - on corroborating context (``weak-alias+context``, ``common-words+context``,
     ``single-word+context``; score 0.55-0.9), counted as distinct terms found within 60 words
     either side of any of the entity's mentions (words of the name itself never count):

       identifier values (tax id) anywhere in the document                       3
       the entity's ``context`` words; address parts (street, building, area)    2
       another watchlist entity of the same programme or country, accepted in
         the document (strong names first, then names confirmed by context)      2
       the city of an address (the last address part before the country)        1
       the country's names (from the ``countries`` table of aliases.yaml)        1
       sanctions vocabulary, the enforcement family and the programme's
         vocabulary (aliases.yaml)                                               1 each, <= 2

     against the entity's ``negative_context`` terms in the same windows (1 each). Accepted
     when (a) the evidence WITHOUT the country's names is at least 2 - the country is named
     everywhere in its own press, so "Pakistani" + "sanctions" is not enough; (b) the whole
     evidence is greater than the negative count; (c) a name of one ambiguous word (an
     acronym, one everyday word) also has an entity-specific term or a related watchlist
     entity, not only sanctions or programme vocabulary. One sense per document: all the
     entity's conditional mentions are accepted together.
     The enforcement family (``enforcement_vocabulary``) is how coverage says "sanctioned"
     without the word: designations, listings, asset freezes, frozen or blocked accounts and
     property, "named by" a government, export controls and entity lists, procurement
     networks, suppliers, front companies. For a strong name of two or more words written in
     title case ("Rockside Enterprise"), the entity's own city or country in the same
     paragraph is corroboration enough (a weak alias such as "Akhtar and Sons", a shop name all
     over the country, keeps the rule above). Negative context outranks positive, and so does
     a disambiguating statement: a cue of ``disambiguation_cues`` ("similarly named", "not to
     be confused") followed within six words, in the same clause, by a term of the entity's
     own ("no connection to a similarly named Karachi company") rules the entity out.
   The context terms are found by the same automaton pass.

Every EntityMatch records the offsets of each accepted mention in the original document, the
text of the first one (``matched``), a snippet of 200-300 characters around it (the sentence,
widened or cut at word boundaries, whitespace folded, the mention wrapped in « », "…" where
text was cut), a score, the rule and ``why``: the alias, its strength and class, the aliases
seen, the context and negative terms found, the evidence count and the confirming entities.

Nothing found is dropped silently: ``match_all`` also returns the possible mentions
(``possible.py``) and ``analyse`` every occurrence with what the rules made of it
(``trace.py``, read by ``explain.py`` for ``pipeline match explain``).
"""

from __future__ import annotations

import re
from collections import defaultdict
from typing import NamedTuple

from pipeline.core.records import CandidateMatch, EntityMatch, Mention
from pipeline.match.aliases import RuleSet, Strength, load_rule_set
from pipeline.match.arabic import has_arabic
from pipeline.match.arabic_names import ArabicMention, ArabicNames
from pipeline.match.compiling import CompiledTerms, EntityContext, Pattern, Term
from pipeline.match.normalize import Document, fold
from pipeline.match.possible import possible_mentions
from pipeline.match.scanning import Scanning, longest_only, words_haystack
from pipeline.match.snippets import snippet
from pipeline.match.trace import (
    Analysis,
    Evidence,
    Fate,
    Hit,
    Occurrence,
)
from pipeline.match.watchlist import Watchlist, WatchlistEntity
from pipeline.match.weighing import Weighing, rule_and_score, single_ambiguous_word

_EXECUTIVE_ORDER_NAME = re.compile(
    r"^\s*(?:executive\s+order|e\.?\s*o\.?)\s*(?:no\.?\s*)?(\d{4,6})\s*$", re.IGNORECASE
)
# The prefilter judges itself on its first texts: when more than half pass, it is dropped.
PREFILTER_SAMPLE = 200
PREFILTER_MAX_PASS = 0.5


# The matcher's own names for the shared values of trace.py.
_Candidate = Occurrence
_Hit = Hit
_Evidence = Evidence


class MatchResult(NamedTuple):
    """What one document gives: the matches (flags) and the possible mentions (candidates)."""

    matches: list[EntityMatch]
    candidates: list[CandidateMatch]


class Matcher(CompiledTerms, Scanning, Weighing):
    """Compiled once per watchlist; ``match`` is then one automaton pass per document."""

    def __init__(self, watchlist: Watchlist, rules: RuleSet | None = None) -> None:
        self._rules = rules if rules is not None else load_rule_set()
        self._entities = list(watchlist.entities)
        self._patterns: list[Pattern] = []
        self._terms: list[Term] = []
        self._term_ids: dict[str, int] = {}  # normalised key -> term id
        self._term_by_text: dict[str, int | None] = {}  # as written -> term id, None: no words
        self._generic_by_programs: dict[tuple[str, ...], frozenset[int]] = {}
        self._payloads: defaultdict[str, list[int]] = defaultdict(list)
        self._orders: dict[str, list[int]] = defaultdict(list)  # "13382" -> entity indexes
        self._arabic = ArabicNames(self._rules)  # Urdu names: arabic_names.py
        self._contexts = [self._compile_entity(i, e) for i, e in enumerate(self._entities)]
        self._cues = self._terms_of(self._rules.rules.disambiguation_cues)
        self._automaton = self._build_automaton()
        self._prefilter = self._build_prefilter()
        self._prefiltered = self._prefilter_passed = 0
        self.prefilter_sample = PREFILTER_SAMPLE

    # ---- compiling -------------------------------------------------------------------------

    def _compile_entity(self, index: int, entity: WatchlistEntity) -> EntityContext:
        keys: set[str] = set()
        for alias, strength in _aliases(entity):
            if self._arabic.add(index, alias, strength, entity.kind == "legal-reference"):
                continue  # written in Arabic script: compared without case (arabic_names.py)
            if entity.kind == "legal-reference" and (order := _EXECUTIVE_ORDER_NAME.match(alias)):
                self._orders[order.group(1)].append(index)
                continue
            kind = "organisation" if entity.kind == "legal-reference" else entity.kind
            for form in self._rules.forms(alias, strength, kind):
                keys.add(form.key)
                self._add_pattern(index, form)
        return EntityContext(
            specific=self._specific_terms(entity),
            country=self._terms_of(self._country_names(entity.country)),
            generic=self._generic_terms(entity),
            negative=self._terms_of(entity.negative_context),
            keys=frozenset(keys),
        )

    def _may_match(self, text: str) -> bool:
        return self._may_match_folded(fold(text)[0])

    def _may_match_folded(self, folded: str) -> bool:
        if self._prefilter is None:
            return True
        passed = self._passes_prefilter(self._prefilter, folded)
        self._prefiltered += 1
        self._prefilter_passed += passed
        if (
            self._prefiltered == self.prefilter_sample
            and self._prefilter_passed > PREFILTER_MAX_PASS * self.prefilter_sample
        ):
            # Most texts hold a name's words (a large list of common names): the check costs
            # more than it saves. Results are the same either way.
            self._prefilter = None
        return passed

    @property
    def entities(self) -> list[WatchlistEntity]:
        """The watchlist's entities, in the order the matcher indexes them."""
        return self._entities

    # ---- matching --------------------------------------------------------------------------

    def match(self, title: str, text: str) -> list[EntityMatch]:
        """Every watchlist entity the document mentions, with offsets into title+"\\n\\n"+text."""
        analysis = self.analyse(title, text)
        return analysis.matches if analysis is not None else []

    def match_all(self, title: str, text: str) -> MatchResult:
        """The flags' matches and the possible mentions (candidates) of one document: a pure
        function of the text, so it runs wherever the text is (ingest, workers, rescan)."""
        analysis = self.analyse(title, text)
        if analysis is None:
            return MatchResult([], [])
        return MatchResult(analysis.matches, possible_mentions(analysis, self._entities))

    def analyse(self, title: str, text: str) -> Analysis | None:
        """Every occurrence found and what the rules made of it; None when the prefilter shows
        that no name can be in the text."""
        combined = f"{title}\n\n{text}"
        folded = fold(combined)  # once, for the prefilter and the tokenizer
        if not (self._arabic_may_match(combined) or self._may_match_folded(folded[0])):
            return None
        document = self._rules.normalizer.document(combined, folded)
        haystack, starts = words_haystack(document.tokens)
        found, hits = self._scan(haystack, starts, document)
        found += self._legal_references(haystack, starts, document)
        found += self._arabic_occurrences(document)
        longest = longest_only(found)
        fates: dict[Occurrence, Fate] = dict.fromkeys(found, "inside-longer")
        fitting: list[Occurrence] = []
        for occurrence in longest:
            fits = self._case_fits(occurrence, document)
            fates[occurrence] = "kept" if fits else "miscased"
            if fits:
                fitting.append(occurrence)
        kept, defined_as = self._drop_acronyms_defined_otherwise(fitting, document)
        fates |= dict.fromkeys(defined_as, "defined-otherwise")
        analysis = self._decide(kept, hits, document)
        analysis.fates, analysis.defined_as = fates, defined_as
        self._weigh_set_aside(analysis, hits)
        return analysis

    def _weigh_set_aside(self, analysis: Analysis, hits: list[Hit]) -> None:
        """Evidence for entities found only in the wrong case: a possible mention needs it."""
        miscased: defaultdict[int, list[Occurrence]] = defaultdict(list)
        for occurrence, fate in analysis.fates.items():
            if fate == "miscased" and occurrence.entity not in analysis.confirmed:
                miscased[occurrence.entity].append(occurrence)
        for entity, found in miscased.items():
            if entity not in analysis.evidence:
                analysis.evidence[entity] = self._evidence(
                    entity, found, hits, analysis.confirmed, analysis.document
                )

    # ---- Arabic script (issue 18): names without case, see pipeline/match/arabic_names.py --

    def _arabic_may_match(self, text: str) -> bool:
        return not self._arabic.empty and has_arabic(text)

    def _arabic_occurrences(self, document: Document) -> list[_Candidate]:
        if self._arabic.empty:
            return []
        names = [(m, m.form.name_class) for m in self._arabic.find(document)]
        orders = [(m, "legal-reference") for m in self._arabic.orders(document)]
        return [_arabic_occurrence(mention, kind) for mention, kind in names + orders]

    def _decide(
        self, candidates: list[_Candidate], hits: list[_Hit], document: Document
    ) -> Analysis:
        by_entity: defaultdict[int, list[_Candidate]] = defaultdict(list)
        for candidate in candidates:
            by_entity[candidate.entity].append(candidate)
        strong = {e for e, found in by_entity.items() if any(not c.needs_context for c in found)}
        # Round one: conditional names against context and the strong names. Round two: the
        # ones still waiting also count the entities accepted in round one (never each other).
        evidence: dict[int, _Evidence] = {}
        confirmed = set(strong)
        for _round in range(2):
            accepted_now: set[int] = set()
            for entity, found in by_entity.items():
                if entity in confirmed:
                    continue
                evidence[entity] = self._evidence(entity, found, hits, confirmed, document)
                if evidence[entity].accepts(
                    all(single_ambiguous_word(c) for c in found)
                ) and _strong_enough_for_urdu_acronyms(found, evidence[entity]):
                    accepted_now.add(entity)
            confirmed |= accepted_now
        matches = [
            self._entity_match(entity, by_entity[entity], evidence.get(entity), document)
            for entity in sorted(confirmed)
        ]
        return Analysis(document, {}, {}, dict(by_entity), evidence, confirmed, matches, strong)

    def _entity_match(
        self,
        entity: int,
        found: list[_Candidate],
        evidence: _Evidence | None,
        document: Document,
    ) -> EntityMatch:
        found = sorted(found, key=lambda c: (c.start, c.end))
        first = found[0]
        rule, score = rule_and_score(first, evidence)
        mentions = [Mention(c.start, c.end, document.text[c.start : c.end], c.alias) for c in found]
        why: dict[str, object] = {
            "alias": first.alias,
            "strength": first.strength,
            "name_class": first.name_class,
            "rule": rule,
            "aliases": sorted({c.alias for c in found}),
            "mentions": len(found),
        }
        if evidence is not None:
            why |= {
                "context": evidence.terms,
                "negative_context": evidence.negative_terms,
                "evidence": evidence.score,
                "confirmed_by": evidence.other_entities,
                "own_place_in_paragraph": evidence.place_corroborates,
                # Each counted word with its distance from the mention (the desk shows them).
                "context_words": [
                    {"text": w.text, "kind": w.kind, "weight": w.weight, "distance": w.distance}
                    for w in evidence.words
                ],
            }
        return EntityMatch(
            entity_id=self._entities[entity].id,
            entity_name=self._entities[entity].name,
            matched=mentions[0].matched,
            snippet=snippet(document, first.start, first.end),
            mentions=mentions,
            score=score,
            rule=rule,
            why=why,
        )


def _aliases(entity: WatchlistEntity) -> list[tuple[str, Strength]]:
    strong: list[tuple[str, Strength]] = [(name, "strong") for name in entity.all_strong_names]
    return strong + [(name, "weak") for name in entity.weak_aliases]


def _strong_enough_for_urdu_acronyms(found: list[_Candidate], evidence: _Evidence) -> bool:
    """An Urdu acronym ("این ڈی سی") alone needs strong context: a term of the entity's own or
    a related entity, not only its city (Islamabad has a National Development Council too)."""
    if not all(c.name_class == "acronym" and has_arabic(c.alias) for c in found):
        return True
    return any(word.kind in ("specific", "identifier", "entity") for word in evidence.words)


def _arabic_occurrence(mention: ArabicMention, name_class: str) -> _Candidate:
    form = mention.form
    return _Candidate(
        entity=form.entity,
        first=mention.first,
        last=mention.last,
        start=mention.start,
        end=mention.end,
        alias=form.alias,
        strength=form.strength,
        name_class=name_class,
        needs_context=form.needs_context and name_class != "legal-reference",
        case_rule="any",  # Arabic script has no case
    )
