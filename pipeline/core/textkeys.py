"""How texts are compared: normalised words, a title's key, two signatures' similarity.

pipeline.dedup computes fingerprints from these; storage compares stored titles and signatures
with them. One definition, so both sides always agree on what "the same" means.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence

_WORD = re.compile(r"\w+")


def normalised_words(text: str) -> list[str]:
    """Words of the text after NFKC and case folding: the unit every fingerprint is built on."""
    return _WORD.findall(unicodedata.normalize("NFKC", text).casefold())


def normalised_text(text: str) -> str:
    """The normalised words joined by single spaces (case, punctuation, whitespace gone)."""
    return " ".join(normalised_words(text))


def title_key(title: str) -> str:
    """The title as compared for short texts: its normalised words."""
    return normalised_text(title)


def estimated_jaccard(first: Sequence[int], second: Sequence[int]) -> float:
    """Share of equal slots of two MinHash signatures of one length: an unbiased estimate of
    the Jaccard similarity of their shingle sets."""
    return sum(a == b for a, b in zip(first, second, strict=True)) / len(first)
