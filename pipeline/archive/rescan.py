"""Re-match stored articles after a watchlist change.

Only new (story, entity) pairs become flags; existing flags, reviewed or not, are never touched
(the flag table's unique constraint and ON CONFLICT DO NOTHING guarantee it).
"""

from __future__ import annotations

from datetime import datetime

from rich.console import Console
from rich.progress import Progress

from pipeline.core.clock import utcnow
from pipeline.core.config import Config
from pipeline.match.matcher import Matcher
from pipeline.match.watchlist import load_watchlist
from storage.db import Database
from storage.repository import Repository

BATCH = 200


def rescan_articles(config: Config, since: datetime | None, console: Console) -> int:
    database = Database(config.database)
    try:
        database.ensure_schema()
        repository = Repository(database)
        watchlist = load_watchlist(config.watchlist)
        repository.sync_watchlist(watchlist, utcnow())
        matcher = Matcher(watchlist)
        total = repository.count_articles(since)
        added = 0
        with Progress(console=console, transient=True) as progress:
            task = progress.add_task("re-matching articles", total=total)
            after_id = 0
            while batch := repository.articles_batch(since=since, after_id=after_id, limit=BATCH):
                for article in batch:
                    matches = matcher.match(article.title, article.text)
                    added += repository.add_flags(article.id, article.story_id, matches, utcnow())
                after_id = batch[-1].id
                progress.advance(task, len(batch))
        return added
    finally:
        database.dispose()
