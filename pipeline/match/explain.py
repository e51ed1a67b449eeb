"""``pipeline match explain``: every occurrence of a watchlist name in a text and what the rules
made of it - the tool an analyst uses to ask "why was this not flagged?".

Built from the same ``Matcher.analyse`` pass that ingest uses, so it cannot disagree with
what ``run --once`` stored for the same text and watchlist.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from pipeline.core.records import CandidateMatch, EntityMatch
from pipeline.match.matcher import Matcher
from pipeline.match.possible import possible_mentions, rule_fallen_short, shortfall
from pipeline.match.trace import Analysis, ContextWord, Occurrence

Verdict = Literal["flag", "candidate", "rejected"]


@dataclass(frozen=True, slots=True)
class ExplainedOccurrence:
    entity_id: str
    entity: str
    matched: str  # as written
    start: int  # offsets into title + "\n\n" + text
    end: int
    alias: str
    name_class: str
    strength: str
    verdict: Verdict
    rule: str  # the rule that accepted it, or the one it fell short of
    reason: str  # in words
    score: float | None
    context: list[ContextWord]  # the entity's context words, with their distance

    def as_json(self) -> dict[str, object]:
        return {
            "entity_id": self.entity_id,
            "entity": self.entity,
            "matched": self.matched,
            "start": self.start,
            "end": self.end,
            "alias": self.alias,
            "name_class": self.name_class,
            "strength": self.strength,
            "verdict": self.verdict,
            "rule": self.rule,
            "reason": self.reason,
            "score": self.score,
            "context": [
                {"text": w.text, "kind": w.kind, "weight": w.weight, "distance": w.distance}
                for w in self.context
            ],
        }


def explain(matcher: Matcher, title: str, text: str) -> list[ExplainedOccurrence]:
    """Every occurrence found in the document, in the order of the text."""
    analysis = matcher.analyse(title, text)
    if analysis is None:
        return []
    entities = matcher.entities
    flags = {m.entity_id: m for m in analysis.matches}
    offered = {c.entity_id: c for c in possible_mentions(analysis, entities)}
    explained: list[ExplainedOccurrence] = []
    for occurrence in sorted(analysis.fates, key=lambda o: (o.start, o.end, o.entity)):
        entity = entities[occurrence.entity]
        verdict, rule, reason, score = _verdict(
            analysis, occurrence, flags.get(entity.id), offered.get(entity.id)
        )
        evidence = analysis.evidence.get(occurrence.entity)
        explained.append(
            ExplainedOccurrence(
                entity_id=entity.id,
                entity=entity.name,
                matched=analysis.document.text[occurrence.start : occurrence.end],
                start=occurrence.start,
                end=occurrence.end,
                alias=occurrence.alias,
                name_class=occurrence.name_class,
                strength=occurrence.strength,
                verdict=verdict,
                rule=rule,
                reason=reason,
                score=score,
                context=list(evidence.words) if evidence else [],
            )
        )
    return explained


def _verdict(
    analysis: Analysis,
    occurrence: Occurrence,
    flag: EntityMatch | None,
    candidate: CandidateMatch | None,
) -> tuple[Verdict, str, str, float | None]:
    fate = analysis.fates[occurrence]
    if fate == "inside-longer":
        return "rejected", rule_fallen_short(occurrence), "inside a longer name found here", None
    if fate == "defined-otherwise":
        spelt = analysis.defined_as.get(occurrence, "another name")
        reason = f"acronym spelt out in this document as {spelt!r}: never a mention here"
        return "rejected", rule_fallen_short(occurrence), reason, None
    if flag is not None:
        if fate == "kept":
            return "flag", flag.rule, _accepted(flag), flag.score
        reason = f"{shortfall(analysis, [occurrence])} (the entity flags on other mentions)"
        return "rejected", rule_fallen_short(occurrence), reason, None
    occurrences = _entity_occurrences(analysis, occurrence.entity)
    if candidate is not None and (occurrence.start, occurrence.end) in candidate.offsets:
        return "candidate", rule_fallen_short(occurrence), candidate.reason, candidate.score
    reason = shortfall(analysis, occurrences)
    if candidate is None:
        reason += "; not offered: no context of the entity's own, or below the score floor"
    return "rejected", rule_fallen_short(occurrence), reason, None


def _entity_occurrences(analysis: Analysis, entity: int) -> list[Occurrence]:
    found = [
        o
        for o, fate in analysis.fates.items()
        if o.entity == entity and fate in ("kept", "miscased")
    ]
    found.sort(key=lambda o: (analysis.fates[o] != "kept", o.strength != "strong", o.start))
    return found


def _accepted(flag: EntityMatch) -> str:
    context = flag.why.get("context")
    confirmed = flag.why.get("confirmed_by")
    if flag.rule in ("strong-alias", "legal-reference"):
        return "accepted: a strong name flags on its own"
    if flag.rule.endswith("+strong-name"):
        return "accepted: the document also has a strong name of the entity"
    parts = [f"context {', '.join(map(str, context))}" if isinstance(context, list) else ""]
    if isinstance(confirmed, list) and confirmed:
        parts.append(f"confirmed by {', '.join(map(str, confirmed))}")
    if flag.why.get("own_place_in_paragraph"):
        parts.append("the entity's own city or country in the same paragraph")
    return "accepted on " + "; ".join(p for p in parts if p)
