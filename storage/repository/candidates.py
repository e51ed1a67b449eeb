"""Candidates (possible mentions): storing them with an article, listing, promoting, dismissing.

One candidate per (story, entity), as for flags. Storing again (a duplicate, a rescan, a
reprocess) updates a candidate that is still ``new``; a dismissed one is never offered again
for that story, and a story that already has a flag for the entity gets no candidate. When the
rules later flag the entity (after a watchlist change), the open candidate is closed as
promoted by that rule. Every status change is written to ``candidate_review``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Select, func, or_, select
from sqlmodel import Session, col

# CandidateStateError is imported from here too (pipeline.desk.possible): re-exported.
from pipeline.core.errors import CandidateStateError as CandidateStateError
from pipeline.core.errors import NotFoundError
from pipeline.core.records import CandidateMatch, EntityMatch
from storage.models import Article, Candidate, CandidateReview, Flag, FlagReview
from storage.repository.base import RepositoryBase, dialect_insert
from storage.repository.flags import flag_rows_with_duplicates, review_json, story_urls
from storage.views import api_candidates

ANALYST_RULE = "analyst"


class CandidateStore(RepositoryBase):
    """Candidates and their reviews."""

    def add_candidates(
        self,
        article_id: int,
        story_id: int,
        candidates: Sequence[CandidateMatch],
        matches: Sequence[EntityMatch],
        now: datetime,
    ) -> int:
        """Store a document's candidates and close those its flags confirm; the number added."""
        with self._session() as session:
            return record_candidates(session, story_id, article_id, candidates, matches, now)

    def list_candidates(
        self,
        *,
        status: str | None = None,
        entity: str | None = None,
        since: datetime | None = None,
    ) -> list[dict[str, Any]]:
        query: Select[Any] = select(api_candidates)
        if status is not None:
            query = query.where(api_candidates.c.status == status)
        if entity:
            pattern = f"%{entity.lower()}%"
            query = query.where(
                or_(
                    func.lower(api_candidates.c.entity).like(pattern),
                    func.lower(api_candidates.c.entity_id) == entity.lower(),
                )
            )
        if since is not None:
            query = query.where(api_candidates.c.first_seen_at >= since)
        query = query.order_by(api_candidates.c.first_seen_at.desc(), api_candidates.c.id.desc())
        with self._session() as session:
            return flag_rows_with_duplicates(session, query)

    def candidate_detail(self, candidate_id: int) -> dict[str, Any]:
        with self._session() as session:
            query = select(api_candidates).where(api_candidates.c.id == candidate_id)
            row = session.execute(query).first()
            if row is None:
                raise NotFoundError(f"no candidate with id {candidate_id}")
            detail = dict(row._mapping)
            candidate = session.get_one(Candidate, candidate_id)
            article = session.get_one(Article, candidate.article_id)
            urls = story_urls(session, [candidate.story_id]).get(candidate.story_id, [])
            detail["duplicates"] = [url for url in urls if url != detail["url"]]
            detail["context"] = candidate.context
            detail["why"] = candidate.why
            detail["offsets"] = candidate.offsets
            detail["document"] = f"{article.title}\n\n{article.text}"
            detail["history"] = _history(session, candidate_id)
        return detail

    def promote_candidate(
        self, candidate_id: int, *, note: str | None, by: str | None, now: datetime
    ) -> int:
        """Make the candidate a flag (rule ``analyst``, reviewed relevant, alerting as any
        flag); the flag's id. A story that has a flag for the entity already keeps that one."""
        with self._session() as session:
            candidate = _locked(session, candidate_id)
            if candidate.status == "promoted":
                raise CandidateStateError(
                    f"candidate {candidate_id} is already promoted (flag {candidate.flag_id})"
                )
            flag_id = _existing_flag(session, candidate.story_id, candidate.entity_id)
            if flag_id is None:
                flag_id = _insert_analyst_flag(session, candidate, note, by, now)
            _decide(session, candidate, "promoted", note, by, now)
            candidate.flag_id, candidate.promoted_rule = flag_id, ANALYST_RULE
            return flag_id

    def dismiss_candidate(
        self, candidate_id: int, *, note: str | None, by: str | None, now: datetime
    ) -> None:
        with self._session() as session:
            candidate = _locked(session, candidate_id)
            if candidate.status == "promoted":
                raise CandidateStateError(
                    f"candidate {candidate_id} is already promoted (flag {candidate.flag_id}): "
                    "review the flag instead"
                )
            _decide(session, candidate, "dismissed", note, by, now)


def record_candidates(
    session: Session,
    story_id: int,
    article_id: int,
    candidates: Sequence[CandidateMatch],
    matches: Sequence[EntityMatch],
    now: datetime,
) -> int:
    """Within the caller's transaction: add or update the candidates, then close the open
    candidates of the story that the flags (``matches``) now confirm. The number added."""
    flagged = {match.entity_id: match.rule for match in matches}
    added = 0
    for candidate in candidates:
        if candidate.entity_id not in flagged:
            added += _upsert(session, story_id, article_id, candidate, now)
    if flagged:
        _close_flagged(session, story_id, flagged, now)
    return added


def _upsert(
    session: Session, story_id: int, article_id: int, found: CandidateMatch, now: datetime
) -> int:
    if _existing_flag(session, story_id, found.entity_id) is not None:
        return 0  # the story is flagged for this entity already: nothing to offer
    values = {
        "article_id": article_id,
        "matched": found.matched,
        "snippet": found.snippet,
        "offsets": [list(pair) for pair in found.offsets] or [[found.start, found.end]],
        "reason": found.reason,
        "context": list(found.context),
        "score": found.score,
        "why": json.loads(json.dumps(found.why, default=str)),
        "updated_at": now,
    }
    statement = (
        dialect_insert(session, Candidate)
        .values(
            story_id=story_id, entity_id=found.entity_id, status="new", created_at=now, **values
        )
        .on_conflict_do_nothing(index_elements=["story_id", "entity_id"])
        .returning(col(Candidate.id))
    )
    if session.execute(statement).scalar_one_or_none() is not None:
        return 1
    existing = session.execute(
        select(Candidate)
        .where(col(Candidate.story_id) == story_id, col(Candidate.entity_id) == found.entity_id)
        .with_for_update()
    ).scalar_one()
    # A rescan or reprocess of the same copy refreshes an open candidate; another copy of the
    # story only joins it (as `duplicates`); decided ones stay as the analyst left them.
    if existing.status == "new" and existing.article_id == article_id:
        for key, value in values.items():
            setattr(existing, key, value)
    return 0


def _close_flagged(session: Session, story_id: int, flagged: dict[str, str], now: datetime) -> None:
    open_ones = session.execute(
        select(Candidate)
        .where(
            col(Candidate.story_id) == story_id,
            col(Candidate.entity_id).in_(sorted(flagged)),
            col(Candidate.status) == "new",
        )
        .with_for_update()
    ).scalars()
    for candidate in open_ones:
        rule = flagged[candidate.entity_id]
        _decide(session, candidate, "promoted", f"flagged by rule {rule}", None, now)
        candidate.flag_id = _existing_flag(session, story_id, candidate.entity_id)
        candidate.promoted_rule = rule


def _decide(
    session: Session,
    candidate: Candidate,
    status: str,
    note: str | None,
    by: str | None,
    now: datetime,
) -> None:
    session.add(
        CandidateReview(
            candidate_id=candidate.id or 0,
            from_status=candidate.status,
            to_status=status,
            note=note,
            reviewed_by=by,
            reviewed_at=now,
        )
    )
    candidate.status, candidate.note, candidate.reviewed_by = status, note, by
    candidate.reviewed_at = candidate.updated_at = now


def _locked(session: Session, candidate_id: int) -> Candidate:
    # Locked: two reviewers deciding at once each record the status they really changed.
    candidate = session.get(Candidate, candidate_id, with_for_update=True)
    if candidate is None:
        raise NotFoundError(f"no candidate with id {candidate_id}")
    return candidate


def _existing_flag(session: Session, story_id: int, entity_id: str) -> int | None:
    query = select(col(Flag.id)).where(
        col(Flag.story_id) == story_id, col(Flag.entity_id) == entity_id
    )
    return session.execute(query).scalar_one_or_none()


def _insert_analyst_flag(
    session: Session, candidate: Candidate, note: str | None, by: str | None, now: datetime
) -> int:
    why = {**candidate.why, "promoted_from_candidate": candidate.id, "reason": candidate.reason}
    flag = Flag(
        story_id=candidate.story_id,
        entity_id=candidate.entity_id,
        article_id=candidate.article_id,
        matched=candidate.matched,
        snippet=candidate.snippet,
        mentions=len(candidate.offsets) or 1,
        score=1.0,  # a person read it
        rule=ANALYST_RULE,
        why=why,
        offsets=candidate.offsets,
        status="relevant",
        note=note,
        reviewed_by=by,
        reviewed_at=now,
        created_at=now,
    )
    session.add(flag)
    session.flush()
    flag_id = flag.id or 0
    session.add(
        FlagReview(
            flag_id=flag_id,
            from_status="new",
            to_status="relevant",
            note=note,
            reviewed_by=by,
            reviewed_at=now,
        )
    )
    return flag_id


def _history(session: Session, candidate_id: int) -> list[dict[str, Any]]:
    reviews = session.execute(
        select(CandidateReview)
        .where(col(CandidateReview.candidate_id) == candidate_id)
        .order_by(col(CandidateReview.id))
    ).scalars()
    return [review_json(review) for review in reviews]
