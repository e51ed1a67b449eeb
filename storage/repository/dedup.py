"""Deduplication: the exact-copy lookup and the near-copy (MinHash LSH) index."""

from __future__ import annotations

import hashlib
import sys
from array import array
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import delete, func, insert, select, text
from sqlmodel import Session, col

from pipeline.core.records import TextFingerprint
from pipeline.core.textkeys import estimated_jaccard, title_key
from storage.models import Article, DedupBand, DedupSignature, Story
from storage.repository.base import RepositoryBase

EXACT_CANDIDATES = 100  # articles with one content hash looked at for a short text's title
NEAR_CANDIDATES = 100  # LSH candidates confirmed per article, those sharing most bands first
_U32 = next(code for code in "IL" if array(code).itemsize == 4)  # array typecode of 32 bits


@dataclass(frozen=True, slots=True)
class StoryRef:
    story_id: int
    first_article_id: int | None


class DedupStore(RepositoryBase):
    """The read-only story lookup the dedup benchmark times."""

    def find_story(
        self, content_hash: str, fingerprint: TextFingerprint, threshold: float
    ) -> int | None:
        """The story an article with this text would join (an exact or near copy), or None:
        the read-only half of `store_article`, which the dedup benchmark times."""
        with self._session() as session:
            original = exact_copy(session, content_hash, fingerprint) or near_copy(
                session, fingerprint, threshold
            )
        return original.story_id if original is not None else None


def exact_copy(
    session: Session, content_hash: str, fingerprint: TextFingerprint
) -> StoryRef | None:
    """The story of the first article with the same normalised text. A short text must also
    have the same title: generic stubs ("Subscribe to read on") are not one story."""
    query = (
        select(col(Article.story_id), col(Article.title), col(Story.first_article_id))
        .join(Story, col(Story.id) == col(Article.story_id))
        .where(col(Article.content_hash) == content_hash)
        .order_by(col(Article.id))
        .limit(EXACT_CANDIDATES)
    )
    for story_id, title, first_article_id in session.execute(query).all():
        if fingerprint.signature is not None or title_key(title) == fingerprint.title_key:
            return StoryRef(story_id, first_article_id)
    return None


def near_copy(session: Session, fingerprint: TextFingerprint, threshold: float) -> StoryRef | None:
    """The story of the most similar indexed article: the LSH candidates (articles sharing a
    band key, an index lookup) whose estimated Jaccard similarity reaches the threshold."""
    if fingerprint.signature is None:
        return None
    shared_bands = func.count()
    candidates = (
        select(col(DedupBand.article_id))
        .where(col(DedupBand.key).in_(fingerprint.band_keys))
        .group_by(col(DedupBand.article_id))
        .order_by(shared_bands.desc(), col(DedupBand.article_id))
        .limit(NEAR_CANDIDATES)
    )
    candidate_ids = list(session.execute(candidates).scalars())
    if not candidate_ids:
        return None
    # A second query by primary keys (not a join on the first): its plan stays index lookups
    # whatever the planner's statistics, so the cost never grows with the archive.
    query = (
        select(
            col(DedupSignature.article_id),
            col(DedupSignature.signature),
            col(Article.story_id),
            col(Story.first_article_id),
        )
        .join(Article, col(Article.id) == col(DedupSignature.article_id))
        .join(Story, col(Story.id) == col(Article.story_id))
        .where(col(DedupSignature.article_id).in_(candidate_ids))
    )
    best: tuple[float, int, StoryRef] | None = None
    for article_id, signature, story_id, first_article_id in session.execute(query).all():
        similarity = estimated_jaccard(fingerprint.signature, signature_from_bytes(signature))
        ranked = (similarity, -article_id, StoryRef(story_id, first_article_id))
        if similarity >= threshold and (best is None or ranked[:2] > best[:2]):
            best = ranked
    return best[2] if best is not None else None


def index_text(session: Session, article_id: int, fingerprint: TextFingerprint) -> None:
    """Add the article to the near-duplicate index (short texts are not indexed)."""
    if fingerprint.signature is None:
        return
    session.execute(
        insert(DedupSignature).values(
            article_id=article_id, signature=signature_to_bytes(fingerprint.signature)
        )
    )
    session.execute(
        insert(DedupBand), [{"key": key, "article_id": article_id} for key in fingerprint.band_keys]
    )


def unindex_text(session: Session, article_id: int) -> None:
    session.execute(delete(DedupBand).where(col(DedupBand.article_id) == article_id))
    session.execute(delete(DedupSignature).where(col(DedupSignature.article_id) == article_id))


def serialise_writers(session: Session, content_hash: str, fingerprint: TextFingerprint) -> None:
    """Two workers storing copies of one story at once must agree on one story.

    SQLite serialises writers already (BEGIN IMMEDIATE). On PostgreSQL the transaction takes
    a transaction-scoped advisory lock on every key it could match by: its content hash and
    each of its LSH band keys. Two copies that can match share a key, so the second waits
    for the first to commit and then finds it. The keys are taken in ascending order, so two
    writers never wait on each other in a cycle.
    """
    if session.get_bind().dialect.name != "postgresql":
        return
    # 60 bits of a stable digest: the same key in every worker process (unlike hash()).
    content_key = int(hashlib.sha256(content_hash.encode()).hexdigest()[:15], 16)
    keys = sorted({content_key, *fingerprint.band_keys})
    session.execute(
        text("SELECT pg_advisory_xact_lock(key) FROM unnest(CAST(:keys AS BIGINT[])) AS key"),
        {"keys": keys},
    )


def signature_to_bytes(signature: Sequence[int]) -> bytes:
    """A signature as dedup_signature stores it: 32-bit values, little-endian."""
    values = array(_U32, signature)
    if sys.byteorder == "big":  # stored little-endian, whatever machine wrote it
        values.byteswap()
    return values.tobytes()


def signature_from_bytes(data: bytes) -> tuple[int, ...]:
    values = array(_U32, data)
    if sys.byteorder == "big":
        values.byteswap()
    return tuple(values)
