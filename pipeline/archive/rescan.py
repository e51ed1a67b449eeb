"""Re-match stored articles after a watchlist change.

Only new (story, entity) pairs become flags; existing flags, reviewed or not, are never touched
(the flag table's unique constraint and ON CONFLICT DO NOTHING guarantee it).
"""

from __future__ import annotations

from datetime import datetime

from pipeline.archive import Progress, no_progress
from pipeline.core.clock import utcnow
from pipeline.core.config import Config
from pipeline.match.matcher import Matcher
from pipeline.match.watchlist import load_watchlist
from storage.repository import Repository

BATCH = 200


def rescan_articles(
    repository: Repository,
    config: Config,
    since: datetime | None,
    *,
    progress: Progress = no_progress,
) -> int:
    """Re-match the articles fetched since `since` (all when None); the new flags' number."""
    watchlist = load_watchlist(config.watchlist)
    repository.sync_entities(watchlist.entity_records(), utcnow())
    matcher = Matcher(watchlist)
    total = repository.count_articles(since)
    added = done = 0
    progress(done, total)
    after_id = 0
    while batch := repository.articles_batch(since=since, after_id=after_id, limit=BATCH):
        for article in batch:
            matches, candidates = matcher.match_all(article.title, article.text)
            added += repository.add_flags(article.id, article.story_id, matches, utcnow())
            repository.add_candidates(article.id, article.story_id, candidates, matches, utcnow())
        after_id = batch[-1].id
        done += len(batch)
        progress(done, total)
    return added
