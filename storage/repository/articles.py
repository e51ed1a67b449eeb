"""Articles: their links, storing a new article or a revision, and reading them back."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col

from pipeline.core.config import DedupSettings
from pipeline.core.errors import NotFoundError
from pipeline.core.records import ArticleDraft, KnownEntry, Lease, TextFingerprint
from pipeline.core.textkeys import title_key
from storage.models import Article, ArticleRevision, ArticleUrl, Flag, Story
from storage.repository.archive import insert_archived_page
from storage.repository.base import RepositoryBase, dialect_insert, distinct_chunks
from storage.repository.candidates import record_candidates
from storage.repository.dedup import (
    exact_copy,
    index_text,
    near_copy,
    serialise_writers,
    unindex_text,
)
from storage.repository.flags import insert_flag
from storage.repository.leases import check_lease
from storage.repository.records import (
    ArchivedPageRecord,
    RevisionOutcome,
    StoredText,
    StoreOutcome,
)
from storage.views import api_articles


class ArticleStore(RepositoryBase):
    """Articles, their URLs and revisions."""

    def known_urls(self, urls: Iterable[str]) -> set[str]:
        """The subset of these canonical URLs that already lead to a stored article."""
        found: set[str] = set()
        with self._session() as session:
            for chunk in distinct_chunks(urls):
                query = select(col(ArticleUrl.url)).where(col(ArticleUrl.url).in_(chunk))
                found.update(session.execute(query).scalars().all())
        return found

    def add_url_aliases(self, article_url: str, aliases: Iterable[str]) -> None:
        """Record more URLs (e.g. a tracking-link variant) for the article behind `article_url`."""
        with self._session() as session:
            article_id = session.execute(
                select(col(ArticleUrl.article_id)).where(col(ArticleUrl.url) == article_url)
            ).scalar_one_or_none()
            if article_id is not None:
                _insert_aliases(session, article_id, aliases)

    def known_entries(self, urls: Iterable[str]) -> dict[str, KnownEntry]:
        """The stored links among these canonical URLs, with their entry fingerprints."""
        found: dict[str, KnownEntry] = {}
        with self._session() as session:
            for chunk in distinct_chunks(urls):
                query = select(
                    col(ArticleUrl.url),
                    col(ArticleUrl.article_id),
                    col(ArticleUrl.entry_fingerprint),
                ).where(col(ArticleUrl.url).in_(chunk))
                for url, article_id, fingerprint in session.execute(query).all():
                    found[url] = KnownEntry(url, article_id, fingerprint)
        return found

    def remember_entries(self, entries: Iterable[KnownEntry]) -> None:
        """Record what the feed says about these links now (the baseline for revisions)."""
        with self._session() as session:
            for entry in entries:
                _remember_entry(session, entry.url, entry.article_id, entry.entry_fingerprint)

    def store_article(
        self,
        draft: ArticleDraft,
        now: datetime,
        *,
        dedup: DedupSettings,
        entry_fingerprint: str | None = None,
        lease: Lease | None = None,
        archived: ArchivedPageRecord | None = None,
    ) -> StoreOutcome:
        """Store the article, its URLs, its story and its flags in one transaction.

        Its story: the article behind a known URL ("known"), else the story of an exact copy
        (same content hash; a short text also needs the same title), else of a near copy
        (LSH candidates of `draft.fingerprint` confirmed by estimated Jaccard >=
        dedup.threshold), else a new one. With a `lease`, only while the poll still holds it
        (LeaseLostError otherwise: storage.repository.leases). `archived`: the row of its raw
        page (its article_id filled in here), written in the same transaction.
        """
        try:
            with self._session() as session:
                check_lease(session, lease)
                outcome = _store_article(
                    session, draft, now, draft.fingerprint, dedup.threshold, entry_fingerprint
                )
                _archive_row(session, archived, outcome.article_id)
                return outcome
        except IntegrityError:
            # Another worker stored the same article first: its row wins, we re-read it.
            with self._session() as session:
                known = _article_by_urls(session, draft.known_urls)
                if known is None:
                    raise
                _archive_row(session, archived, known.id or 0)
                return StoreOutcome("known", known.id or 0, known.story_id, 0)

    def store_revision(
        self,
        article_id: int,
        draft: ArticleDraft,
        now: datetime,
        *,
        entry_fingerprint: str | None = None,
        lease: Lease | None = None,
        archived: ArchivedPageRecord | None = None,
    ) -> RevisionOutcome:
        """The page of a stored article, fetched again because its feed entry changed.

        A changed title or text becomes the article's next revision (the previous one is kept
        in article_revision), is re-indexed for near-duplicates, and raises flags for the
        entities it names that the story has no flag for yet; existing flags are never
        touched. The article stays in its story. With a `lease`, only while the poll holds it.
        """
        with self._session() as session:
            check_lease(session, lease)
            outcome = _store_revision(
                session, article_id, draft, now, draft.fingerprint, entry_fingerprint
            )
            _archive_row(session, archived, article_id)
            return outcome

    def list_articles(
        self, since: datetime | None, limit: int | None = None
    ) -> list[dict[str, Any]]:
        query = select(api_articles).order_by(api_articles.c.id)
        if since is not None:
            query = query.where(api_articles.c.fetched_at >= since)
        if limit is not None:
            query = query.limit(limit)
        with self._session() as session:
            return [dict(row._mapping) for row in session.execute(query)]

    def count_articles(self, since: datetime | None) -> int:
        query = select(func.count()).select_from(Article)
        if since is not None:
            query = query.where(col(Article.fetched_at) >= since)
        with self._session() as session:
            return int(session.execute(query).scalar_one())

    def articles_batch(
        self, *, since: datetime | None, after_id: int, limit: int
    ) -> list[StoredText]:
        """Articles in id order after `after_id`: keyset pagination, constant memory."""
        query = (
            select(col(Article.id), col(Article.story_id), col(Article.title), col(Article.text))
            .where(col(Article.id) > after_id)
            .order_by(col(Article.id))
            .limit(limit)
        )
        if since is not None:
            query = query.where(col(Article.fetched_at) >= since)
        with self._session() as session:
            return [StoredText(*row) for row in session.execute(query).all()]

    def stored_text(self, article_id: int) -> StoredText:
        with self._session() as session:
            article = session.get(Article, article_id)
            if article is None:
                raise NotFoundError(f"no article with id {article_id}")
            return StoredText(article_id, article.story_id, article.title, article.text)

    def article_detail(self, article_id: int) -> dict[str, Any]:
        """The api_articles row, every URL known to lead to it, and its flags' ids."""
        with self._session() as session:
            row = session.execute(
                select(api_articles).where(api_articles.c.id == article_id)
            ).first()
            if row is None:
                raise NotFoundError(f"no article with id {article_id}")
            detail = dict(row._mapping)
            detail["urls"] = list(
                session.execute(
                    select(col(ArticleUrl.url))
                    .where(col(ArticleUrl.article_id) == article_id)
                    .order_by(col(ArticleUrl.url))
                ).scalars()
            )
            detail["flag_ids"] = list(
                session.execute(
                    select(col(Flag.id))
                    .where(col(Flag.article_id) == article_id)
                    .order_by(col(Flag.id))
                ).scalars()
            )
        return detail


def _archive_row(session: Session, archived: ArchivedPageRecord | None, article_id: int) -> None:
    if archived is not None:
        insert_archived_page(session, replace(archived, article_id=article_id))


def _article_by_urls(session: Session, urls: Sequence[str]) -> Article | None:
    query = (
        select(Article)
        .join(ArticleUrl, col(ArticleUrl.article_id) == col(Article.id))
        .where(col(ArticleUrl.url).in_(list(urls)))
        .limit(1)
    )
    return session.execute(query).scalars().first()


def _insert_aliases(session: Session, article_id: int, urls: Iterable[str]) -> None:
    for url in dict.fromkeys(urls):
        session.execute(
            dialect_insert(session, ArticleUrl)
            .values(url=url, article_id=article_id)
            .on_conflict_do_nothing(index_elements=["url"])
        )


def _store_article(
    session: Session,
    draft: ArticleDraft,
    now: datetime,
    fingerprint: TextFingerprint,
    threshold: float,
    entry_fingerprint: str | None,
) -> StoreOutcome:
    serialise_writers(session, draft.content_hash, fingerprint)
    known = _article_by_urls(session, draft.known_urls)
    if known is not None:
        _insert_aliases(session, known.id or 0, draft.known_urls)
        return StoreOutcome("known", known.id or 0, known.story_id, 0)
    original = exact_copy(session, draft.content_hash, fingerprint) or near_copy(
        session, fingerprint, threshold
    )
    if original is not None:
        story_id, duplicate_of = original.story_id, original.first_article_id
    else:
        story = Story(title=draft.title, created_at=now)
        session.add(story)
        session.flush()
        story_id, duplicate_of = story.id or 0, None
    article = Article(
        feed_id=draft.feed_id,
        story_id=story_id,
        duplicate_of=duplicate_of,
        url=draft.url,
        canonical_url=draft.canonical_url,
        final_url=draft.final_url,
        guid=draft.guid,
        title=draft.title,
        author=draft.author,
        published_at=draft.published_at,
        fetched_at=now,
        language=draft.language,
        text=draft.text,
        text_source=draft.text_source,
        content_hash=draft.content_hash,
        extractor=draft.extractor,
        extractor_version=draft.extractor_version,
    )
    session.add(article)
    session.flush()
    article_id = article.id or 0
    if original is None:
        session.execute(
            update(Story).where(col(Story.id) == story_id).values(first_article_id=article_id)
        )
    index_text(session, article_id, fingerprint)
    _insert_aliases(session, article_id, draft.known_urls)
    _remember_entry(session, draft.canonical_url, article_id, entry_fingerprint)
    new_flags = sum(
        insert_flag(session, story_id, article_id, match, now) for match in draft.matches
    )
    record_candidates(session, story_id, article_id, draft.candidates, draft.matches, now)
    return StoreOutcome("duplicate" if original else "stored", article_id, story_id, new_flags)


def _store_revision(
    session: Session,
    article_id: int,
    draft: ArticleDraft,
    now: datetime,
    fingerprint: TextFingerprint,
    entry_fingerprint: str | None,
) -> RevisionOutcome:
    article = session.get(Article, article_id, with_for_update=True)  # one reviser at a time
    if article is None:
        raise NotFoundError(f"no article with id {article_id}")
    _remember_entry(session, draft.canonical_url, article_id, entry_fingerprint)
    same_text = draft.content_hash == article.content_hash
    if same_text and fingerprint.title_key == title_key(article.title):
        return RevisionOutcome("unchanged", article_id, article.story_id, article.revision, 0)
    if draft.text_source == "feed" and article.text_source == "page":
        return RevisionOutcome("kept", article_id, article.story_id, article.revision, 0)
    session.add(
        ArticleRevision(
            article_id=article_id,
            revision=article.revision,
            title=article.title,
            text=article.text,
            text_source=article.text_source,
            content_hash=article.content_hash,
            stored_at=article.revised_at or article.fetched_at,
            replaced_at=now,
        )
    )
    article.title, article.text = draft.title or article.title, draft.text
    article.text_source, article.content_hash = draft.text_source, draft.content_hash
    article.extractor, article.extractor_version = draft.extractor, draft.extractor_version
    article.author = draft.author or article.author
    article.revision, article.revised_at = article.revision + 1, now
    unindex_text(session, article_id)
    index_text(session, article_id, fingerprint)
    new_flags = sum(
        insert_flag(session, article.story_id, article_id, match, now) for match in draft.matches
    )
    record_candidates(session, article.story_id, article_id, draft.candidates, draft.matches, now)
    return RevisionOutcome("revised", article_id, article.story_id, article.revision, new_flags)


def _remember_entry(
    session: Session, url: str, article_id: int, entry_fingerprint: str | None
) -> None:
    """Record the feed entry's fingerprint on its link (adding the link if it is new)."""
    if entry_fingerprint is None:
        return
    session.execute(
        dialect_insert(session, ArticleUrl)
        .values(url=url, article_id=article_id, entry_fingerprint=entry_fingerprint)
        .on_conflict_do_update(
            index_elements=["url"], set_={"entry_fingerprint": entry_fingerprint}
        )
    )
