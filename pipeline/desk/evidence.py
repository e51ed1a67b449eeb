"""A flag's `why` (pipeline.match.matcher) in the words the CLI's `flags show` uses: the alias
and its strength, the context words with their distance, the negative ones, confirmations."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

_AGAINST = ("negative", "disambiguation")  # kinds that count against the entity


@dataclass(frozen=True, slots=True)
class ContextTerm:
    text: str
    kind: str
    distance: int | None  # words from the nearest mention; None: counted anywhere
    times: int = 1  # occurrences of the term (the nearest one's distance is shown)


@dataclass(frozen=True, slots=True)
class Evidence:
    alias: str | None
    strength: str | None
    name_class: str | None
    context: list[ContextTerm]
    negative: list[ContextTerm]
    confirmed_by: list[str]
    score: object


def evidence(why: dict[str, Any]) -> Evidence:
    """Read defensively: flags stored by older versions hold fewer keys or plain strings."""
    words = _collapsed(_terms(why.get("context_words")))  # with distances (newer flags)
    if words:
        context = [word for word in words if word.kind not in _AGAINST]
        negative = [word for word in words if word.kind in _AGAINST]
    else:
        context, negative = _terms(why.get("context")), _terms(why.get("negative_context"))
    return Evidence(
        alias=_text(why.get("alias")),
        strength=_text(why.get("strength")),
        name_class=_text(why.get("name_class")),
        context=context,
        negative=negative,
        confirmed_by=[str(item) for item in why.get("confirmed_by") or []],
        score=why.get("evidence"),
    )


def _terms(value: Any) -> list[ContextTerm]:
    terms: list[ContextTerm] = []
    for item in value or []:
        if isinstance(item, dict):
            distance = item.get("distance")
            terms.append(
                ContextTerm(
                    str(item.get("text", "")),
                    str(item.get("kind", "")),
                    int(distance) if isinstance(distance, int | float) else None,
                )
            )
        elif isinstance(item, list | tuple) and item:
            distance = item[-1] if len(item) > 1 and isinstance(item[-1], int) else None
            terms.append(ContextTerm(str(item[0]), "", distance))
        else:
            terms.append(ContextTerm(str(item), "", None))
    return terms


def _collapsed(terms: list[ContextTerm]) -> list[ContextTerm]:
    """One entry per term and kind: its nearest distance and how often it occurs, nearest
    first (the matcher lists every occurrence)."""
    grouped: dict[tuple[str, str], list[ContextTerm]] = {}
    for term in terms:
        grouped.setdefault((term.text.lower(), term.kind), []).append(term)
    collapsed = []
    for found in grouped.values():
        distances = [term.distance for term in found if term.distance is not None]
        nearest = min(distances) if distances else None
        collapsed.append(ContextTerm(found[0].text, found[0].kind, nearest, len(found)))
    return sorted(collapsed, key=lambda t: (t.distance is None, t.distance or 0, t.text))


def _text(value: Any) -> str | None:
    return None if value is None else str(value)
