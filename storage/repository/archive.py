"""The raw archive: which fetched bodies are kept, and reading them back for reprocessing."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import and_, delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import aliased
from sqlmodel import Session, col

from pipeline.core.errors import StorageError
from storage.models import ArchivedPage
from storage.repository.base import RepositoryBase, dialect_insert, distinct_chunks
from storage.repository.records import ArchivedPageRecord


class ArchiveStore(RepositoryBase):
    """Archived pages."""

    def record_archived_page(self, page: ArchivedPageRecord) -> None:
        """Remember what an archived body was; the same body at the same URL is one row."""
        try:
            with self._session() as session:
                insert_archived_page(session, page)
        except IntegrityError as exc:  # e.g. its feed or article is gone: not worth a poll
            raise StorageError(f"archived page not recorded: {exc}") from exc

    def count_archived_pages(self, since: datetime | None) -> int:
        """Articles `archived_pages_batch` will return: one (the latest page) per article."""
        query = select(func.count()).select_from(ArchivedPage).where(_latest_archived_page())
        if since is not None:
            query = query.where(col(ArchivedPage.fetched_at) >= since)
        with self._session() as session:
            return int(session.execute(query).scalar_one())

    def archived_pages_batch(
        self, *, since: datetime | None, after_id: int, limit: int
    ) -> list[ArchivedPageRecord]:
        """The latest archived page of each article, in id order after `after_id` (keyset
        pagination: constant memory, and an older page never overwrites a newer revision)."""
        query = (
            select(ArchivedPage)
            .where(col(ArchivedPage.id) > after_id, _latest_archived_page())
            .order_by(col(ArchivedPage.id))
            .limit(limit)
        )
        if since is not None:
            query = query.where(col(ArchivedPage.fetched_at) >= since)
        with self._session() as session:
            return [_archived_page_record(row) for row in session.execute(query).scalars()]

    def prune_archived_pages(self, before: datetime) -> int:
        """Forget archived pages fetched before `before`; the number of rows deleted."""
        with self._session() as session:
            result = session.execute(
                delete(ArchivedPage).where(col(ArchivedPage.fetched_at) < before)
            )
            return int(getattr(result, "rowcount", 0) or 0)

    def archived_shas(self, shas: Iterable[str]) -> set[str]:
        """The subset of these body hashes that an archived_page row still names."""
        found: set[str] = set()
        with self._session() as session:
            for chunk in distinct_chunks(shas):
                query = select(col(ArchivedPage.sha256)).where(col(ArchivedPage.sha256).in_(chunk))
                found.update(session.execute(query).scalars().all())
        return found


def _latest_archived_page() -> Any:
    """The page has an article and no newer page of that article exists (an index lookup
    per row)."""
    newer = aliased(ArchivedPage)
    has_newer = (
        select(col(newer.id))
        .where(
            col(newer.article_id) == col(ArchivedPage.article_id),
            col(newer.id) > col(ArchivedPage.id),
        )
        .exists()
    )
    return and_(col(ArchivedPage.article_id).is_not(None), ~has_newer)


def _archived_page_record(row: ArchivedPage) -> ArchivedPageRecord:
    return ArchivedPageRecord(
        feed_id=row.feed_id,
        article_id=row.article_id,
        url=row.url,
        final_url=row.final_url,
        sha256=row.sha256,
        size=row.size,
        http_status=row.http_status,
        headers=dict(row.headers),
        entry=dict(row.entry),
        fetched_at=row.fetched_at,
        id=row.id,
    )


def insert_archived_page(session: Session, page: ArchivedPageRecord) -> None:
    """The archived_page row, in the caller's transaction (an article's own: one commit)."""
    values = {
        "feed_id": page.feed_id,
        "article_id": page.article_id,
        "url": page.url,
        "final_url": page.final_url,
        "sha256": page.sha256,
        "size": page.size,
        "http_status": page.http_status,
        "headers": dict(page.headers),
        "entry": dict(page.entry),
        "fetched_at": page.fetched_at,
    }
    session.execute(
        dialect_insert(session, ArchivedPage)
        .values(**values)
        .on_conflict_do_nothing(index_elements=["url", "sha256"])
    )
