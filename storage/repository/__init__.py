"""Every query the application needs, named for what it does, one module per concern.

Each public method is one short transaction. Values going in and out are plain (dataclasses,
dicts); ORM objects never leave this package. Races between workers end in one row thanks to
the unique constraints of ``storage.models``: the loser re-reads and moves on.
"""

from __future__ import annotations

# The values stages hand to storage live in pipeline.core.records; re-exported for callers.
from pipeline.core.records import EntityRecord, FeedDuplicate, FeedToPoll, KnownEntry, PollRecord
from storage.repository.alerts import AlertStore
from storage.repository.archive import ArchiveStore
from storage.repository.articles import ArticleStore
from storage.repository.candidates import CandidateStore
from storage.repository.dedup import DedupStore
from storage.repository.desk import DeskStore
from storage.repository.entities import EntityStore
from storage.repository.feeds import FeedStore
from storage.repository.flags import FlagStore
from storage.repository.hosts import HostStore
from storage.repository.leases import LeaseStore
from storage.repository.polls import PollStore
from storage.repository.quality import QualityStore
from storage.repository.records import (
    ArchivedPageRecord,
    DueDelivery,
    LeaseHolder,
    MetricsSnapshot,
    QueuePage,
    QueueQuery,
    RevisionOutcome,
    StoredText,
    StoreOutcome,
    UserRecord,
)
from storage.repository.signin import SignInStore
from storage.repository.stats import StatsStore
from storage.repository.stories import StoryStore
from storage.repository.timeline import TimelineStore
from storage.repository.users import UserStore


class Repository(
    FeedStore,
    PollStore,
    LeaseStore,  # worker leases (issue 14)
    HostStore,
    ArticleStore,
    DedupStore,
    EntityStore,
    DeskStore,
    FlagStore,
    CandidateStore,  # possible mentions (issue 17)
    QualityStore,
    ArchiveStore,
    AlertStore,
    UserStore,
    StatsStore,
    StoryStore,  # the desk (issue 20): stories, entities over time, sign-in throttling
    TimelineStore,
    SignInStore,
):
    """The whole repository: one database, every concern's queries."""


__all__ = [
    "ArchivedPageRecord",
    "DueDelivery",
    "EntityRecord",
    "FeedDuplicate",
    "FeedToPoll",
    "KnownEntry",
    "LeaseHolder",
    "MetricsSnapshot",
    "PollRecord",
    "QueuePage",
    "QueueQuery",
    "Repository",
    "RevisionOutcome",
    "StoreOutcome",
    "StoredText",
    "UserRecord",
]
