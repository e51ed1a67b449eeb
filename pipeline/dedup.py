"""Content fingerprints for duplicate detection.

First version: an exact hash of the normalised text (case, punctuation and whitespace do not
count), so the same story reached by another link or re-published verbatim joins the first
article's story. The near-duplicate index (MinHash/LSH, stored in the database) plugs in beside
`content_hash` in ``storage.repository`` where an article's story is chosen.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata

_WORD = re.compile(r"\w+")


def normalised_words(text: str) -> list[str]:
    """Words of the text after NFKC and case folding: the unit every fingerprint is built on."""
    return _WORD.findall(unicodedata.normalize("NFKC", text).casefold())


def content_hash(text: str) -> str:
    """SHA-256 of the normalised words: equal for texts that differ only in case,
    punctuation or whitespace."""
    return hashlib.sha256(" ".join(normalised_words(text)).encode("utf-8")).hexdigest()
