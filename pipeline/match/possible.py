"""Possible mentions (candidates): what the rules found but did not accept, kept for an analyst.

An occurrence the context rules reject is never silently dropped:

- every occurrence of a **strong** alias that is not accepted becomes a candidate, in any case
  (a lower-case "rockside enterprise") and in any context (a negative one too);
- a **weak** alias or an acronym becomes one only when some of its entity's own context is
  near it (an address part, the city or country, an identifier, an entity-specific term or a
  related watchlist entity), the positive evidence outweighs the negative, no statement rules
  the entity out, and its score reaches ``SCORE_FLOOR``. An acronym that the document spells out
  as another name ("National Democratic Congress (NDC)") never does.

One candidate per (document, entity) and at most ``PER_DOCUMENT`` per document (highest scores
first). Scores lie in 0..``MAX_SCORE``, below every flag score (0.55 and up), so a candidate
never looks more certain than a flag. The reason says in words why it fell short.
"""

from __future__ import annotations

from collections.abc import Sequence

from pipeline.core.records import CandidateMatch
from pipeline.match.snippets import snippet
from pipeline.match.trace import Analysis, ContextWord, Evidence, Occurrence
from pipeline.match.watchlist import WatchlistEntity
from pipeline.match.weighing import CONTEXT_WINDOW

SCORE_FLOOR = 0.2
MAX_SCORE = 0.5
PER_DOCUMENT = 5
STRONG_BASE = 0.3
WEAK_BASE = 0.1
PER_EVIDENCE = 0.05
MISCASED_PENALTY = 0.1
ENTITY_OWN_KINDS = frozenset({"identifier", "specific", "place", "country", "entity"})


def possible_mentions(
    analysis: Analysis, entities: Sequence[WatchlistEntity]
) -> list[CandidateMatch]:
    """The candidates of one analysed document, best first, at most ``PER_DOCUMENT``."""
    found: list[CandidateMatch] = []
    for entity, occurrences in sorted(open_occurrences(analysis).items()):
        candidate = _candidate(analysis, entities[entity], occurrences)
        if candidate is not None:
            found.append(candidate)
    found.sort(key=lambda c: (-c.score, c.start))
    return found[:PER_DOCUMENT]


def open_occurrences(analysis: Analysis) -> dict[int, list[Occurrence]]:
    """Per entity that did not flag: its occurrences that were weighed or found miscased."""
    by_entity: dict[int, list[Occurrence]] = {}
    for occurrence, fate in analysis.fates.items():
        if fate in ("kept", "miscased") and occurrence.entity not in analysis.confirmed:
            by_entity.setdefault(occurrence.entity, []).append(occurrence)
    for occurrences in by_entity.values():
        occurrences.sort(
            key=lambda o: (analysis.fates[o] != "kept", o.strength != "strong", o.start)
        )
    return by_entity


def shortfall(analysis: Analysis, occurrences: list[Occurrence]) -> str:
    """Why the entity's occurrences did not flag, in words."""
    first = occurrences[0]
    evidence = analysis.evidence.get(first.entity)
    parts: list[str] = []
    if analysis.fates[first] == "miscased":
        written = analysis.document.text[first.start : first.end]
        must = "in capitals" if first.case_rule == "upper" else "in title case or capitals"
        parts.append(f"written {written!r}: a {_name_kind(first)} must be {must}")
    elif evidence is not None:
        single = all(o.first == o.last and o.name_class != "distinctive" for o in occurrences)
        lacking = evidence.shortfall(single)
        if lacking is not None:
            window = f" within {CONTEXT_WINDOW} words" if "context" in lacking else ""
            parts.append(f"{_name_kind(first)}, {lacking}{window}")
    return "; ".join(parts) or f"{_name_kind(first)}, not accepted"


def candidate_score(analysis: Analysis, occurrences: list[Occurrence]) -> float:
    first = occurrences[0]
    evidence = analysis.evidence.get(first.entity)
    net = evidence.score - evidence.negative if evidence else 0
    strong = first.strength == "strong"
    score = (STRONG_BASE if strong else WEAK_BASE) + PER_EVIDENCE * net
    if analysis.fates[first] == "miscased":
        score -= MISCASED_PENALTY if strong else PER_EVIDENCE
    low = SCORE_FLOOR if strong else 0.0  # a strong name is always offered
    return round(min(MAX_SCORE, max(low, score)), 2)


def _candidate(
    analysis: Analysis, entity: WatchlistEntity, occurrences: list[Occurrence]
) -> CandidateMatch | None:
    first = occurrences[0]
    evidence = analysis.evidence.get(first.entity)
    if first.strength != "strong" and not _has_own_context(evidence):
        return None
    score = candidate_score(analysis, occurrences)
    if score < SCORE_FLOOR:
        return None
    document = analysis.document
    return CandidateMatch(
        entity_id=entity.id,
        entity_name=entity.name,
        matched=document.text[first.start : first.end],
        snippet=snippet(document, first.start, first.end),
        start=first.start,
        end=first.end,
        reason=shortfall(analysis, occurrences),
        context=list(evidence.terms) if evidence else [],
        score=score,
        why=_why(analysis, occurrences, evidence),
        offsets=[(o.start, o.end) for o in occurrences],
    )


def _has_own_context(evidence: Evidence | None) -> bool:
    """Some of the entity's own context, more positive than negative, nothing ruling it out."""
    if evidence is None or evidence.disambiguated or evidence.score <= evidence.negative:
        return False
    return any(word.kind in ENTITY_OWN_KINDS for word in evidence.words)


def _why(
    analysis: Analysis, occurrences: list[Occurrence], evidence: Evidence | None
) -> dict[str, object]:
    first = occurrences[0]
    why: dict[str, object] = {
        "alias": first.alias,
        "strength": first.strength,
        "name_class": first.name_class,
        "rule": rule_fallen_short(first),
        "written_as_required": analysis.fates[first] == "kept",
        "occurrences": len(occurrences),
    }
    if evidence is not None:
        why |= {
            "evidence": evidence.score,
            "negative_context": evidence.negative_terms,
            "disambiguated_by": evidence.disambiguated,
            "context_words": [_word_json(word) for word in evidence.words],
        }
    return why


def _word_json(word: ContextWord) -> dict[str, object]:
    return {"text": word.text, "kind": word.kind, "weight": word.weight, "distance": word.distance}


def rule_fallen_short(occurrence: Occurrence) -> str:
    """The rule that would have accepted the occurrence, named as flags name their rules."""
    if not occurrence.needs_context:
        return "legal-reference" if occurrence.name_class == "legal-reference" else "strong-alias"
    if occurrence.name_class == "common-words":
        return "common-words+context"
    if occurrence.strength == "weak" or occurrence.name_class in ("acronym", "legal-reference"):
        return "weak-alias+context"
    return "single-word+context"


def _name_kind(occurrence: Occurrence) -> str:
    if occurrence.name_class == "acronym":
        return "acronym"
    if occurrence.name_class == "common-words":
        return "common-word name"
    if occurrence.strength == "weak":
        return "weak alias"
    if occurrence.first == occurrence.last:
        return "single-word name"
    return "name"
