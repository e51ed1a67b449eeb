"""The desk's story-centric queue: one row per story with every entity it names, one story's
page, and decisions over several flags at once."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import case, func, select
from sqlmodel import Session, col

from pipeline.core.errors import NotFoundError
from storage.models import (
    FLAG_STATUSES,
    Article,
    Candidate,
    Entity,
    Feed,
    Flag,
    FlagReview,
    Story,
)
from storage.repository.base import RepositoryBase, distinct_chunks
from storage.repository.filters import flag_filters
from storage.repository.flags import review_json, story_urls
from storage.repository.records import QueuePage, QueueQuery
from storage.views import api_flags

_FLAG_FIELDS = (
    "id",
    "entity_id",
    "entity",
    "status",
    "matched",
    "snippet",
    "mentions",
    "score",
    "rule",
    "note",
    "reviewed_by",
    "reviewed_at",
    "article_id",
    "first_seen_at",
)


class StoryStore(RepositoryBase):
    """Stories as the desk shows them."""

    def desk_stories(self, query: QueueQuery) -> QueuePage:
        """One page of stories that have a flag matching the filters (and the status): stories
        with a `new` flag first, then the most recently flagged first. Each row holds every
        flag of its story (all statuses, so the analyst sees the whole story). `counts` are
        stories per status under the same filters."""
        filters = flag_filters(query)
        if query.status is not None:
            filters.append(api_flags.c.status == query.status)
        has_new = func.min(case((api_flags.c.status == "new", 0), else_=1))
        latest = func.max(api_flags.c.first_seen_at)
        page_query = (
            select(api_flags.c.story_id)
            .where(*filters)
            .group_by(api_flags.c.story_id)
            .order_by(has_new, latest.desc(), api_flags.c.story_id.desc())
            .offset(query.offset)
            .limit(query.limit + 1)
        )
        counts_query = (
            select(api_flags.c.status, func.count(func.distinct(api_flags.c.story_id)))
            .where(*flag_filters(query))
            .group_by(api_flags.c.status)
        )
        with self._session() as session:
            ids = [row[0] for row in session.execute(page_query)]
            counts = {status: int(n) for status, n in session.execute(counts_query).all()}
            stories = story_rows(session, ids[: query.limit])
        return QueuePage(
            rows=stories,
            has_more=len(ids) > query.limit,
            counts={status: counts.get(status, 0) for status in FLAG_STATUSES},
        )

    def desk_story(self, story_id: int) -> dict[str, Any]:
        """One story: its representative text (the copy most of its flags matched in), every
        flag with its offsets, evidence and history, every copy, and one audit trail."""
        with self._session() as session:
            rows = story_rows(session, [story_id])
            if not rows:
                raise NotFoundError(f"no flagged story with id {story_id}")
            story = rows[0]
            flags = {
                flag.id: flag
                for flag in session.execute(
                    select(Flag).where(col(Flag.story_id) == story_id).order_by(col(Flag.id))
                ).scalars()
            }
            article_ids = [flag.article_id for flag in flags.values()]
            shown = max(set(article_ids), key=lambda a: (article_ids.count(a), -a))
            article = session.get_one(Article, shown)
            entities = {
                entity.id: entity
                for entity in session.execute(
                    select(Entity).where(
                        col(Entity.id).in_([flag.entity_id for flag in flags.values()])
                    )
                ).scalars()
            }
            reviews = session.execute(
                select(FlagReview)
                .where(col(FlagReview.flag_id).in_(list(flags)))
                .order_by(col(FlagReview.id))
            ).scalars()
            story["audit"] = [
                {
                    "flag_id": review.flag_id,
                    "entity": entities[flags[review.flag_id].entity_id].name,
                    **review_json(review),
                }
                for review in reviews
            ]
            story["appearances"] = story_appearances(session, story_id)
        story["shown_article_id"] = shown
        story["language"] = article.language
        story["document"] = f"{article.title}\n\n{article.text}"
        for flag in story["flags"]:
            row, entity = flags[flag["id"]], entities[flag["entity_id"]]
            flag["why"] = row.why
            flag["offsets"] = row.offsets if row.article_id == shown else []
            flag["aliases"] = list(entity.aliases)
            flag["programs"] = list(entity.programs)
        return story

    def review_flags(
        self,
        changes: dict[int, str],
        *,
        note: str | None,
        by: str | None,
        now: datetime,
    ) -> dict[int, str]:
        """Move each flag to its status in one transaction, each change audited (a flag's note
        is kept unless a new one is given). Returns every flag's status before, so the desk
        can offer an undo. An unknown id changes nothing: NotFoundError."""
        before: dict[int, str] = {}
        with self._session() as session:
            for flag_id in sorted(changes):
                flag = session.get(Flag, flag_id, with_for_update=True)
                if flag is None:
                    raise NotFoundError(f"no flag with id {flag_id}")
                before[flag_id] = flag.status
                session.add(
                    FlagReview(
                        flag_id=flag_id,
                        from_status=flag.status,
                        to_status=changes[flag_id],
                        note=note,
                        reviewed_by=by,
                        reviewed_at=now,
                    )
                )
                flag.status, flag.reviewed_by, flag.reviewed_at = changes[flag_id], by, now
                if note is not None:
                    flag.note = note
        return before

    def newest_flags(
        self, *, status: str | None, entity_id: str | None, limit: int
    ) -> list[dict[str, Any]]:
        """The newest `limit` api_flags rows (first seen, newest first) in a status and of
        one entity (the Atom feed)."""
        query = select(api_flags)
        if status is not None:
            query = query.where(api_flags.c.status == status)
        if entity_id is not None:
            query = query.where(api_flags.c.entity_id == entity_id)
        query = query.order_by(api_flags.c.first_seen_at.desc(), api_flags.c.id.desc())
        with self._session() as session:
            return [dict(row._mapping) for row in session.execute(query.limit(limit))]

    def export_stories(
        self, *, status: str | None = None, since: datetime | None = None
    ) -> list[dict[str, Any]]:
        """Stories with a flag in `status` first seen since `since`, oldest first, each with
        its first copy's text, every URL and those flags (`pipeline flags export`)."""
        query = select(api_flags)
        if status is not None:
            query = query.where(api_flags.c.status == status)
        if since is not None:
            query = query.where(api_flags.c.first_seen_at >= since)
        query = query.order_by(api_flags.c.story_id, api_flags.c.id)
        with self._session() as session:
            flags = [dict(row._mapping) for row in session.execute(query)]
            ids = sorted({flag["story_id"] for flag in flags})
            urls = story_urls(session, ids)
            stories: list[dict[str, Any]] = []
            for chunk in distinct_chunks(ids):
                rows = session.execute(
                    select(Story, Article, col(Feed.name))
                    .join(Article, col(Article.id) == col(Story.first_article_id))
                    .join(Feed, col(Feed.id) == col(Article.feed_id))
                    .where(col(Story.id).in_(chunk))
                    .order_by(col(Story.id))
                ).all()
                stories += [
                    {
                        "story_id": story.id,
                        "title": article.title or story.title,
                        "text": article.text,
                        "language": article.language,
                        "published_at": article.published_at,
                        "fetched_at": article.fetched_at,
                        "feed": feed,
                        "urls": urls.get(story.id or 0, []),
                    }
                    for story, article, feed in rows
                ]
        by_story: dict[int, list[dict[str, Any]]] = {}
        for flag in flags:
            by_story.setdefault(flag["story_id"], []).append(flag)
        return [{**story, "flags": by_story.get(story["story_id"], [])} for story in stories]


def story_rows(session: Session, story_ids: Sequence[int]) -> list[dict[str, Any]]:
    """Stories in the given order: headline, feed and language of the first-seen copy, first
    seen, copies, and every flag (`flags`, by entity name)."""
    if not story_ids:
        return []
    copies = (
        select(col(Article.story_id), func.count().label("copies"))
        .where(col(Article.story_id).in_(list(story_ids)))
        .group_by(col(Article.story_id))
        .subquery()
    )
    first = session.execute(
        select(
            col(Story.id),
            col(Story.title),
            col(Story.created_at),
            col(Article.id),
            col(Article.title),
            col(Article.url),
            col(Article.language),
            col(Feed.name),
            copies.c.copies,
        )
        .join(Article, col(Article.id) == col(Story.first_article_id), isouter=True)
        .join(Feed, col(Feed.id) == col(Article.feed_id), isouter=True)
        .join(copies, copies.c.story_id == col(Story.id), isouter=True)
        .where(col(Story.id).in_(list(story_ids)))
    ).all()
    stories: dict[int, dict[str, Any]] = {}
    for sid, story_title, created, article_id, title, url, language, feed, n in first:
        stories[sid] = {
            "story_id": sid,
            "title": title or story_title,
            "url": url,
            "article_id": article_id,
            "feed": feed,
            "language": language,
            "first_seen_at": created,
            "copies": int(n or 0),
            "flags": [],
        }
    flag_query = (
        select(*(api_flags.c[name] for name in (*_FLAG_FIELDS, "story_id", "url", "feed")))
        .where(api_flags.c.story_id.in_(list(story_ids)))
        .order_by(api_flags.c.entity, api_flags.c.id)
    )
    for row in session.execute(flag_query):
        flag = dict(row._mapping)
        story = stories.get(flag["story_id"])
        if story is None:
            continue
        if story["url"] is None:  # a story without a recorded first article: its flagged copy
            story.update(url=flag["url"], feed=flag["feed"], article_id=flag["article_id"])
        story["flags"].append({name: flag[name] for name in _FLAG_FIELDS})
    _add_possible(session, stories)
    return [stories[sid] for sid in story_ids if sid in stories]


def _add_possible(session: Session, stories: dict[int, dict[str, Any]]) -> None:
    """Each story's open candidates (issue 17's possible mentions), as `possible`."""
    for story in stories.values():
        story["possible"] = []
    query = (
        select(
            col(Candidate.id),
            col(Candidate.story_id),
            col(Candidate.entity_id),
            col(Entity.name),
            col(Candidate.matched),
            col(Candidate.reason),
            col(Candidate.score),
        )
        .join(Entity, col(Entity.id) == col(Candidate.entity_id))
        .where(col(Candidate.story_id).in_(list(stories)), col(Candidate.status) == "new")
        .order_by(col(Entity.name))
    )
    for candidate_id, story_id, entity_id, entity, matched, reason, score in session.execute(query):
        stories[story_id]["possible"].append(
            {
                "id": candidate_id,
                "entity_id": entity_id,
                "entity": entity,
                "matched": matched,
                "reason": reason,
                "score": score,
            }
        )


def story_appearances(session: Session, story_id: int) -> list[dict[str, Any]]:
    """Every copy of the story, oldest first: its addresses, feed, fetch time and language."""
    rows = session.execute(
        select(
            col(Article.id),
            col(Article.url),
            col(Article.final_url),
            col(Feed.name),
            col(Article.fetched_at),
            col(Article.language),
        )
        .join(Feed, col(Feed.id) == col(Article.feed_id))
        .where(col(Article.story_id) == story_id)
        .order_by(col(Article.id))
    ).all()
    return [
        {
            "article_id": article_id,
            "url": url,
            "final_url": final_url if final_url and final_url != url else None,
            "feed": feed,
            "fetched_at": fetched_at,
            "language": language,
        }
        for article_id, url, final_url, feed, fetched_at, language in rows
    ]
