"""The analysts' desk (pipeline serve) and its read API."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import and_, or_, select
from sqlmodel import Session, col

from storage.models import Article, Entity, Flag
from storage.repository.entities import entity_json
from storage.repository.filters import flag_filters
from storage.repository.flags import FlagStore, flag_rows_with_duplicates
from storage.repository.records import QueueQuery
from storage.repository.stories import story_appearances
from storage.views import api_flags


class DeskStore(FlagStore):
    """The flag page and the API's flag pages (the queue of stories is in stories.py)."""

    def desk_flag(self, flag_id: int) -> dict[str, Any]:
        """`flag_detail` plus what the flag page shows: the article's full text, every address
        of every copy of the story, the entity with its aliases and source, and the previous
        and next `new` flags in queue order (for j/k)."""
        detail = self.flag_detail(flag_id)
        with self._session() as session:
            article = session.get_one(Article, detail["article_id"])
            entity = session.get_one(Entity, detail["entity_id"])
            detail["appearances"] = story_appearances(session, detail["story_id"])
            detail["previous_id"], detail["next_id"] = _queue_neighbours(
                session, flag_id, detail["first_seen_at"]
            )
        detail["text"] = article.text
        detail["fetched_at"] = article.fetched_at
        detail["entity_record"] = entity_json(entity)
        return detail

    def api_flags_page(
        self,
        *,
        status: str | None,
        since: datetime | None,
        entity: str | None,
        after_id: int,
        limit: int,
    ) -> list[dict[str, Any]]:
        """Flags in id order after `after_id` (keyset pagination: a stable order in which new
        flags only ever appear at the end), each with its duplicates' URLs."""
        query = select(api_flags).where(
            api_flags.c.id > after_id,
            *flag_filters(QueueQuery(entity=entity, since=since)),
        )
        if status is not None:
            query = query.where(api_flags.c.status == status)
        query = query.order_by(api_flags.c.id).limit(limit)
        with self._session() as session:
            return flag_rows_with_duplicates(session, query)


def _queue_neighbours(
    session: Session, flag_id: int, first_seen_at: datetime
) -> tuple[int | None, int | None]:
    """The `new` flags just before and after this one in queue order (newest first)."""
    is_new = col(Flag.status) == "new"
    created, ident = col(Flag.created_at), col(Flag.id)
    newer = or_(created > first_seen_at, and_(created == first_seen_at, ident > flag_id))
    older = or_(created < first_seen_at, and_(created == first_seen_at, ident < flag_id))
    previous = session.execute(
        select(ident).where(is_new, newer).order_by(created, ident).limit(1)
    ).scalar_one_or_none()
    following = session.execute(
        select(ident).where(is_new, older).order_by(created.desc(), ident.desc()).limit(1)
    ).scalar_one_or_none()
    return previous, following
