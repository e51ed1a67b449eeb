"""Content fingerprints for duplicate detection: exact, near, and of feed entries.

**Exact.** ``content_hash`` is a SHA-256 of the normalised words (case, punctuation and
whitespace do not count): a verbatim copy on another site has the same hash.

**Near.** A syndicated copy (other boilerplate, other headline, an editor's note, the last
paragraph cut) shares most of its word shingles (``SHINGLE_WORDS`` consecutive normalised
words) with the original. ``near_signature`` estimates the Jaccard similarity of two shingle
sets with a MinHash signature of ``SLOTS`` values, computed by one-permutation hashing with
optimal densification (Shrivastava, ICML 2017): each shingle is hashed once (BLAKE2b, 64 bits),
its low bits choose a slot and the rest is the value kept if it is the slot's minimum; an
empty slot borrows the value of the first filled slot on its own fixed probe sequence. The
share of equal slots of two signatures estimates their Jaccard similarity (one hash call per
shingle instead of one per shingle and slot: about 1 ms for a 700-word article in pure Python).

**LSH.** The signature is cut into ``BANDS`` bands of ``ROWS`` slots; each band becomes a
64-bit key, stored in the database (``dedup_band``), so the candidates of a new article are
the stored articles sharing at least one key: an index lookup whose cost does not grow with
the archive. A pair with Jaccard J becomes a candidate with probability 1 - (1 - J^3)^42:
0.04 at J = 0.1, 0.29 at 0.2, 0.94 at 0.4, 0.995 at 0.5, 0.99999 at 0.6 (distinct articles
have J near 0). Candidates are then confirmed by the estimated Jaccard against
``dedup.threshold`` (0.5 by measurement: see docs/pipeline.md, "Deduplication").

**Short texts** (fewer than ``dedup.min_words`` words: feed summaries, teasers, paywall stubs)
have too few shingles for an estimate and too often share a generic text: they are matched by
exact hash *and* the same normalised title only (``TextFingerprint.signature`` is None).

**Feed entries.** ``entry_fingerprint`` summarises what a feed says about an entry (title,
summary, content, date); when it changes for a link we already stored, the page is fetched
again to look for a revision.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from pipeline.core.records import FeedEntry, TextFingerprint
from pipeline.core.textkeys import estimated_jaccard, normalised_text, normalised_words, title_key

__all__ = [  # TextFingerprint and the comparisons are defined in core, shared with storage
    "TextFingerprint",
    "band_keys",
    "content_hash",
    "entry_fingerprint",
    "estimated_jaccard",
    "near_signature",
    "normalised_words",
    "shingles",
    "text_fingerprint",
    "title_key",
]

SHINGLE_WORDS = 5
SLOT_BITS = 7
SLOTS = 1 << SLOT_BITS  # signature length
BANDS = 42
ROWS = 3  # slots per band (42 x 3 = 126 of the 128 slots; all 128 count in the estimate)
_VALUE_MASK = 0xFFFFFFFF  # 32 bits of each slot's minimum are kept (b-bit minwise hashing)
_EMPTY = 1 << 64


def _probe_order(slot: int) -> tuple[int, ...]:
    """The order in which an empty slot looks at the others: a fixed pseudo-random order from
    BLAKE2b, so every process, machine and Python version fills it the same way (signatures
    are stored, so they must never change)."""
    return tuple(
        sorted(range(SLOTS), key=lambda other: hashlib.blake2b(bytes([slot, other])).digest())
    )


_PROBES: tuple[tuple[int, ...], ...] = tuple(_probe_order(slot) for slot in range(SLOTS))


def content_hash(text: str) -> str:
    """SHA-256 of the normalised words: equal for texts that differ only in case,
    punctuation or whitespace."""
    return hashlib.sha256(normalised_text(text).encode("utf-8")).hexdigest()


def text_fingerprint(title: str, text: str, *, min_words: int) -> TextFingerprint:
    """What storage needs to find the article's exact and near copies (computed here, once)."""
    words = normalised_words(text)
    signature = near_signature(words) if len(words) >= min_words else None
    keys = band_keys(signature) if signature is not None else []
    return TextFingerprint(title_key(title), len(words), signature, keys)


def shingles(words: Sequence[str]) -> set[str]:
    """Runs of SHINGLE_WORDS consecutive words (the whole text if it is shorter)."""
    if len(words) <= SHINGLE_WORDS:
        return {" ".join(words)}
    return {" ".join(words[i : i + SHINGLE_WORDS]) for i in range(len(words) - SHINGLE_WORDS + 1)}


def near_signature(words: Sequence[str]) -> tuple[int, ...]:
    """MinHash signature (SLOTS 32-bit values) of the text's word shingles."""
    slots = [_EMPTY] * SLOTS
    blake2b, from_bytes, slot_mask = hashlib.blake2b, int.from_bytes, SLOTS - 1  # hot loop
    for shingle in shingles(words):
        hashed = from_bytes(blake2b(shingle.encode("utf-8"), digest_size=8).digest(), "little")
        slot, value = hashed & slot_mask, hashed >> SLOT_BITS
        if value < slots[slot]:
            slots[slot] = value
    return tuple(_filled(slots, slot) & _VALUE_MASK for slot in range(SLOTS))


def _filled(slots: list[int], slot: int) -> int:
    if slots[slot] != _EMPTY:
        return slots[slot]
    return next(slots[probe] for probe in _PROBES[slot] if slots[probe] != _EMPTY)


def band_keys(signature: Sequence[int]) -> list[int]:
    """One signed 64-bit key per band (the band's number is part of the key)."""
    keys = []
    for band in range(BANDS):
        rows = signature[band * ROWS : (band + 1) * ROWS]
        data = bytes([band]) + b"".join(value.to_bytes(4, "little") for value in rows)
        digest = hashlib.blake2b(data, digest_size=8, person=b"dedup-band").digest()
        keys.append(int.from_bytes(digest, "little", signed=True))
    return keys


def entry_fingerprint(entry: FeedEntry) -> str:
    """What the feed says about an entry; a change means the article may have been revised.

    Normalised words of title, summary and content plus the date (feeds give the
    ``updated`` date when there is no ``published``), so re-serialised whitespace or markup
    does not count as a change.
    """
    published = entry.published.isoformat() if entry.published else ""
    parts = (*map(normalised_text, (entry.title, entry.summary, entry.content)), published)
    return hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()[:32]
