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
   whose name is "Executive Order <number>". A bare number ("13382", "13,382") never does.
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
       sanctions vocabulary and the programme's vocabulary (aliases.yaml)        1 each, <= 2

     against the entity's ``negative_context`` terms in the same windows (1 each). Accepted
     when (a) the evidence WITHOUT the country's names is at least 2 - the country is named
     everywhere in its own press, so "Pakistani" + "sanctions" is not enough; (b) the whole
     evidence is greater than the negative count; (c) a name of one ambiguous word (an
     acronym, one everyday word) also has an entity-specific term or a related watchlist
     entity, not only sanctions or programme vocabulary. One sense per document: all the
     entity's conditional mentions are accepted together.
   The context terms are found by the same automaton pass.

Every EntityMatch records the offsets of each accepted mention in the original document, the
text of the first one (``matched``), a snippet of 200-300 characters around it (the sentence,
widened or cut at word boundaries, whitespace folded, the mention wrapped in « », "…" where
text was cut), a score, the rule and ``why``: the alias, its strength and class, the aliases
seen, the context and negative terms found, the evidence count and the confirming entities.
"""

from __future__ import annotations

import bisect
import re
from collections import defaultdict
from dataclasses import dataclass, field

import ahocorasick

from pipeline.core.records import EntityMatch, Mention
from pipeline.match.aliases import NameForm, RuleSet, Strength, load_rule_set
from pipeline.match.normalize import BARRIER, COMMA, Document, Token, fold, written_words
from pipeline.match.watchlist import Watchlist, WatchlistEntity

CONTEXT_WINDOW = 60  # words either side of a mention where context counts
MIN_EVIDENCE = 2
GENERIC_CAP = 2  # sanctions/programme vocabulary counts at most this much together
IDENTIFIER_WEIGHT = 3
SPECIFIC_WEIGHT = 2
OTHER_ENTITY_WEIGHT = 2
PLACE_WEIGHT = 1
MIN_IDENTIFIER_LENGTH = 5
SNIPPET_MIN = 200
SNIPPET_MAX = 300

_EXECUTIVE_ORDER_NAME = re.compile(
    r"^\s*(?:executive\s+order|e\.?\s*o\.?)\s*(?:no\.?\s*)?(\d{4,6})\s*$", re.IGNORECASE
)
# Over the normalised text: words separated by single spaces, "E.O." -> "e o".
_EXECUTIVE_ORDER_REFERENCE = re.compile(
    r"(?<= )(?:executive orders?(?: (?:e o|eo)s?)?|(?:e o|eo)s?)"
    r"(?: (?:no|nos|number|numbers))? ?"
    r"(?P<numbers>\d{4,6}(?:(?: ,)? (?:and |or )?\d{4,6})*)(?= )"
)
_NUMBER = re.compile(r"\d{4,6}")
# The prefilter judges itself on its first texts: when more than half pass, it is dropped.
PREFILTER_SAMPLE = 200
PREFILTER_MAX_PASS = 0.5


@dataclass(frozen=True, slots=True)
class _Pattern:
    entity: int
    form: NameForm
    length: int  # characters of " key "


@dataclass(frozen=True, slots=True)
class _Term:
    text: str  # as written in the watchlist or aliases.yaml
    length: int  # characters of " key "


@dataclass(slots=True)
class _EntityContext:
    specific: dict[int, int] = field(default_factory=dict)  # term id -> weight
    country: frozenset[int] = frozenset()  # the country's names (also in ``specific``)
    generic: frozenset[int] = frozenset()
    negative: frozenset[int] = frozenset()
    keys: frozenset[str] = frozenset()  # every form key: an acronym spelt out as one is fine


@dataclass(frozen=True, slots=True)
class _Candidate:
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
class _Hit:
    term: int
    first: int
    last: int


@dataclass(frozen=True, slots=True)
class _Evidence:
    score: int  # everything found, the country's names included
    country: int  # the part of ``score`` that comes from the country's names
    specific: bool  # an entity-specific term (not the country) or another watchlist entity
    negative: int
    terms: list[str]
    negative_terms: list[str]
    other_entities: list[str]

    def accepts(self, single_words_only: bool) -> bool:
        # The country's names are everywhere in the country's own press: they help to outweigh
        # negative terms but never make up the minimum. A name of one word (an acronym, one
        # everyday word) also needs something that belongs to this entity, not only sanctions
        # or programme vocabulary.
        if self.score - self.country < MIN_EVIDENCE or self.score <= self.negative:
            return False
        return self.specific or not single_words_only


class Matcher:
    """Compiled once per watchlist; ``match`` is then one automaton pass per document."""

    def __init__(self, watchlist: Watchlist, rules: RuleSet | None = None) -> None:
        self._rules = rules if rules is not None else load_rule_set()
        self._entities = list(watchlist.entities)
        self._patterns: list[_Pattern] = []
        self._terms: list[_Term] = []
        self._term_ids: dict[str, int] = {}  # normalised key -> term id
        self._term_by_text: dict[str, int | None] = {}  # as written -> term id, None: no words
        self._generic_by_programs: dict[tuple[str, ...], frozenset[int]] = {}
        self._payloads: defaultdict[str, list[int]] = defaultdict(list)
        self._orders: dict[str, list[int]] = defaultdict(list)  # "13382" -> entity indexes
        self._contexts = [self._compile_entity(i, e) for i, e in enumerate(self._entities)]
        self._automaton = self._build_automaton()
        self._prefilter = self._build_prefilter()
        self._prefiltered = self._prefilter_passed = 0
        self.prefilter_sample = PREFILTER_SAMPLE

    # ---- compiling -------------------------------------------------------------------------

    def _compile_entity(self, index: int, entity: WatchlistEntity) -> _EntityContext:
        keys: set[str] = set()
        for alias, strength in _aliases(entity):
            if entity.kind == "legal-reference" and (order := _EXECUTIVE_ORDER_NAME.match(alias)):
                self._orders[order.group(1)].append(index)
                continue
            kind = "organisation" if entity.kind == "legal-reference" else entity.kind
            for form in self._rules.forms(alias, strength, kind):
                keys.add(form.key)
                self._add_pattern(index, form)
        return _EntityContext(
            specific=self._specific_terms(entity),
            country=self._terms_of(self._country_names(entity.country)),
            generic=self._generic_terms(entity),
            negative=self._terms_of(entity.negative_context),
            keys=frozenset(keys),
        )

    def _add_pattern(self, entity: int, form: NameForm) -> None:
        existing = [self._patterns[p] for p in self._payloads[form.key] if p >= 0]
        if any(p.entity == entity and p.form.strength <= form.strength for p in existing):
            return  # the same words already searched for this entity ("strong" < "weak")
        self._payloads[form.key].append(len(self._patterns))
        self._patterns.append(_Pattern(entity, form, len(form.key) + 2))

    def _term(self, text: str) -> int | None:
        """The id of a context term (registered in the automaton once); None if it has no words."""
        if text in self._term_by_text:
            return self._term_by_text[text]
        key = self._rules.key(text).strip(f" {BARRIER}{COMMA}")
        term: int | None = None
        if key:
            if key not in self._term_ids:
                self._term_ids[key] = len(self._terms)
                self._terms.append(_Term(text, len(key) + 2))
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
            words = list(self._rules.rules.sanctions_vocabulary)
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

    # ---- matching --------------------------------------------------------------------------

    def match(self, title: str, text: str) -> list[EntityMatch]:
        """Every watchlist entity the document mentions, with offsets into title+"\\n\\n"+text."""
        combined = f"{title}\n\n{text}"
        folded = fold(combined)  # once, for the prefilter and the tokenizer
        if not self._may_match_folded(folded[0]):
            return []
        document = self._rules.normalizer.document(combined, folded)
        haystack, starts = _haystack(document.tokens)
        candidates, hits = self._scan(haystack, starts, document)
        candidates += self._legal_references(haystack, starts, document)
        candidates = [c for c in _longest(candidates) if self._case_fits(c, document)]
        candidates = self._drop_acronyms_defined_otherwise(candidates, document)
        return self._decide(candidates, hits, document)

    def _scan(
        self, haystack: str, starts: list[int], document: Document
    ) -> tuple[list[_Candidate], list[_Hit]]:
        candidates: list[_Candidate] = []
        hits: list[_Hit] = []
        if self._automaton is None:
            return candidates, hits
        for end, payload in self._automaton.iter(haystack):
            for code in payload:
                length = self._patterns[code].length if code >= 0 else self._terms[-code - 1].length
                first = bisect.bisect_left(starts, end - length + 2)
                last = bisect.bisect_right(starts, end - 1) - 1
                if code < 0:
                    hits.append(_Hit(-code - 1, first, last))
                else:
                    candidates.append(self._candidate(self._patterns[code], first, last, document))
        return candidates, hits

    def _candidate(
        self, pattern: _Pattern, first: int, last: int, document: Document
    ) -> _Candidate:
        form = pattern.form
        return _Candidate(
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
    ) -> list[_Candidate]:
        found: list[_Candidate] = []
        for reference in _EXECUTIVE_ORDER_REFERENCE.finditer(haystack):
            first = bisect.bisect_left(starts, reference.start())
            for number in _NUMBER.finditer(reference.group("numbers")):
                last = bisect.bisect_right(starts, reference.start("numbers") + number.start()) - 1
                for entity in self._orders.get(number.group(), []):
                    found.append(self._reference(entity, first, last, document))
        return found

    def _reference(self, entity: int, first: int, last: int, document: Document) -> _Candidate:
        return _Candidate(
            entity=entity,
            first=first,
            last=last,
            start=document.tokens[first].start,
            end=document.tokens[last].end,
            alias=self._entities[entity].name,
            strength="strong",
            name_class="legal-reference",
            needs_context=False,
            case_rule="any",
        )

    def _case_fits(self, candidate: _Candidate, document: Document) -> bool:
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
        self, candidates: list[_Candidate], document: Document
    ) -> list[_Candidate]:
        defined: dict[tuple[int, str], str | None] = {}
        kept: list[_Candidate] = []
        for candidate in candidates:
            if candidate.name_class == "acronym":
                acronym = document.tokens[candidate.first].text
                marker = (candidate.entity, acronym)
                if marker not in defined:
                    defined[marker] = self._spelt_out_otherwise(acronym, candidate.entity, document)
                if defined[marker] is not None:
                    continue
            kept.append(candidate)
        return kept

    def _spelt_out_otherwise(self, acronym: str, entity: int, document: Document) -> str | None:
        tokens = document.tokens
        for index, token in enumerate(tokens):
            if token.text[:1] != acronym[0] or not _capitalised(token, document):
                continue
            words = _initials_run(tokens, index, acronym, document, self._rules.small_words)
            if words and " ".join(t.text for t in words) not in self._contexts[entity].keys:
                return document.text[words[0].start : words[-1].end]
        return None

    def _decide(
        self, candidates: list[_Candidate], hits: list[_Hit], document: Document
    ) -> list[EntityMatch]:
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
                evidence[entity] = self._evidence(entity, found, hits, confirmed)
                if evidence[entity].accepts(all(_single_ambiguous_word(c) for c in found)):
                    accepted_now.add(entity)
            confirmed |= accepted_now
        return [
            self._entity_match(entity, by_entity[entity], evidence.get(entity), document)
            for entity in sorted(confirmed)
        ]

    def _evidence(
        self, entity: int, found: list[_Candidate], hits: list[_Hit], strong: set[int]
    ) -> _Evidence:
        context = self._contexts[entity]
        specific: dict[str, int] = {}
        country: set[str] = set()
        generic: set[str] = set()
        negative: set[str] = set()
        for hit in hits:
            if any(hit.first <= c.last and c.first <= hit.last for c in found):
                continue  # words of the name itself are no context for it
            weight = context.specific.get(hit.term)
            doc_level = weight == IDENTIFIER_WEIGHT
            near = doc_level or any(
                c.first - CONTEXT_WINDOW <= hit.first and hit.last <= c.last + CONTEXT_WINDOW
                for c in found
            )
            if not near:
                continue
            text = self._terms[hit.term].text
            if hit.term in context.country:
                country.add(text)
            elif weight is not None:
                specific[text] = max(weight, specific.get(text, 0))
            elif hit.term in context.generic:
                generic.add(text)
            if hit.term in context.negative:
                negative.add(text)
        others = sorted(self._entities[e].id for e in strong if self._related(entity, e))
        score = (
            sum(specific.values())
            + PLACE_WEIGHT * len(country)
            + min(len(generic), GENERIC_CAP)
            + OTHER_ENTITY_WEIGHT * len(others)
        )
        return _Evidence(
            score=score,
            country=PLACE_WEIGHT * len(country),
            specific=bool(specific or others),
            negative=len(negative),
            terms=sorted(specific) + sorted(country) + sorted(generic),
            negative_terms=sorted(negative),
            other_entities=others,
        )

    def _related(self, entity: int, other: int) -> bool:
        """Another entity corroborates only if it shares a programme or the country."""
        this, that = self._entities[entity], self._entities[other]
        if entity == other:
            return False
        shared_country = this.country is not None and this.country == that.country
        return shared_country or bool(set(this.programs) & set(that.programs))

    def _entity_match(
        self,
        entity: int,
        found: list[_Candidate],
        evidence: _Evidence | None,
        document: Document,
    ) -> EntityMatch:
        found = sorted(found, key=lambda c: (c.start, c.end))
        first = found[0]
        rule, score = _rule_and_score(first, evidence)
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


def _single_ambiguous_word(candidate: _Candidate) -> bool:
    """An acronym or one everyday word: only entity-specific context confirms it."""
    return candidate.first == candidate.last and candidate.name_class != "distinctive"


def _haystack(tokens: list[Token]) -> tuple[str, list[int]]:
    """The normalised words joined by single spaces (with a space at both ends) and where each
    word starts in it: a form " k1 k2 " found there is a run of whole words."""
    starts: list[int] = []
    position = 1
    for token in tokens:
        starts.append(position)
        position += len(token.text) + 1
    return " " + " ".join(t.text for t in tokens) + " ", starts


def _longest(candidates: list[_Candidate]) -> list[_Candidate]:
    """Drop candidates inside a longer one, and repeats of one span for the same entity."""
    best: dict[tuple[int, int, int], _Candidate] = {}
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


def _rule_and_score(first: _Candidate, evidence: _Evidence | None) -> tuple[str, float]:
    """The rule that allowed the flag, named after its first mention, and a score in 0..1."""
    if evidence is None:  # the entity has a strong name in the document
        if first.name_class == "legal-reference":
            return "legal-reference", 1.0
        if not first.needs_context:
            return "strong-alias", 1.0
        return f"{_conditional_kind(first)}+strong-name", 0.95
    score = 0.5 + 0.1 * (evidence.score - evidence.negative)
    return f"{_conditional_kind(first)}+context", round(min(0.9, max(0.55, score)), 2)


def _conditional_kind(candidate: _Candidate) -> str:
    if candidate.name_class == "common-words":
        return "common-words"
    if candidate.strength == "weak" or candidate.name_class == "acronym":
        return "weak-alias"
    return "single-word"


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
    opening = "…" if text[:left].strip() and text[:left].rstrip()[-1] not in ".!?" else ""
    closing = "…" if text[right:].strip() and text[:right].rstrip()[-1:] not in ".!?" else ""
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
