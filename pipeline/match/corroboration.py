"""Two context rules that look at where terms stand, not only whether they are near.

- **The entity's own place.** For a multi-word strong name written in title case ("Rockside
  Enterprise", "Affiliates International"), the entity's own city or country in the same
  paragraph is corroboration enough: the name plus "Karachi" is this entity, unless negative
  context outranks it. (Weak aliases such as "Akhtar and Sons" are shop names all over the
  country: for them the place stays weak evidence.)
- **Statements that rule the entity out.** A disambiguation cue ("similarly named", "not to be
  confused") followed within a few words, in the same clause, by a term of the entity's own (its
  city, country, address, context word: "no connection to a similarly named Karachi company")
  says that the entity is the *other* party. It outranks everything positive.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Callable, Collection, Sequence

from pipeline.match.normalize import BARRIER, COMMA, Document
from pipeline.match.trace import Hit, Occurrence

CUE_REACH = 6  # tokens after a cue where the entity's own term must stand
_PARAGRAPH_BREAK = re.compile(r"\n[ \t\r\f\v\u00a0]*\n")


def names_its_place(occurrence: Occurrence) -> bool:
    """A strong name of two or more words, written in title case, as the rule requires."""
    return (
        occurrence.strength == "strong"
        and occurrence.last > occurrence.first
        and occurrence.case_rule == "title"
        and occurrence.name_class in ("common-words", "distinctive")
    )


def place_in_paragraph(
    found: Sequence[Occurrence], places: Sequence[Hit], document: Document
) -> bool:
    """Whether the entity's city or country stands in the paragraph of one of its names."""
    names = [o for o in found if names_its_place(o)]
    if not names or not places:
        return False
    breaks = [m.start() for m in _PARAGRAPH_BREAK.finditer(document.text)]
    name_paragraphs = {bisect.bisect_right(breaks, o.start) for o in names}
    tokens = document.tokens
    return any(
        bisect.bisect_right(breaks, tokens[h.first].start) in name_paragraphs for h in places
    )


def ruling_out(
    found: Sequence[Occurrence],
    hits: Sequence[Hit],
    cues: Collection[int],
    own: Callable[[int], bool],
    document: Document,
    window: int,
) -> list[str]:
    """The statements near the entity's names where a cue is followed by a term of the
    entity's own, as written ("similarly named company in Karachi")."""
    tokens = document.tokens
    by_start: dict[int, list[Hit]] = {}
    for hit in hits:
        by_start.setdefault(hit.first, []).append(hit)
    spans: list[tuple[int, int]] = []
    for cue in hits:
        if cue.term not in cues or not any(
            o.first - window <= cue.first and cue.last <= o.last + window for o in found
        ):
            continue
        for position in range(cue.last + 1, min(len(tokens), cue.last + 1 + CUE_REACH)):
            if tokens[position].text in (BARRIER, COMMA):
                break
            if any(own(h.term) for h in by_start.get(position, [])):
                spans.append((tokens[cue.first].start, tokens[position].end))
                break
    # As written, and once: "confused it with a similarly named Karachi" holds the cue
    # "similarly named Karachi".
    kept = [s for s in spans if not any(o != s and o[0] <= s[0] and s[1] <= o[1] for o in spans)]
    return [" ".join(document.text[a:b].split()) for a, b in sorted(set(kept))]
