"""Feed leases from a worker's side: who it is, claiming, the heartbeat, dead workers.

A worker names itself `host:pid:start:namespace:token` (start: the process start time, which
tells a reused pid apart; namespace: the pid namespace, since containers may share a host
name; token: random). Recovery from a dead worker:

- on its own host (same host name and pid namespace), a claimant sees that the owner's
  process is gone (or that its pid now belongs to a process started at another time) and takes
  its feeds over at once, saying so once;
- from another host, the lease runs out: a live worker renews its leases every `lease / 4`
  (the heartbeat, also during a long poll and in `run --once`), a dead one stops, and its feeds
  are claimable `schedule.lease` after its last renewal at the latest.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import socket
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from pipeline.core import processes
from pipeline.core.errors import PipelineError
from pipeline.core.records import FeedToPoll
from storage.repository import LeaseHolder, Repository

log = logging.getLogger("pipeline.poll.leases")


@dataclass(frozen=True, slots=True)
class LeaseOwner:
    host: str
    pid: int
    started: str  # processes.start_time of the pid ("" where unknown)
    namespace: str  # processes.pid_namespace ("" where unknown)
    token: str

    def __str__(self) -> str:
        return f"{self.host}:{self.pid}:{self.started}:{self.namespace}:{self.token}"

    @property
    def name(self) -> str:
        """host:pid, for people."""
        return f"{self.host}:{self.pid}"

    @classmethod
    def current(cls) -> LeaseOwner:
        pid = os.getpid()
        started = processes.start_time(pid) or ""
        host = socket.gethostname()
        return cls(host, pid, started, processes.pid_namespace(), secrets.token_hex(3))

    @classmethod
    def parse(cls, owner: str) -> LeaseOwner | None:
        """The owner a lease names; None for a name in another form (an older release's
        host:pid:token): such leases simply run out."""
        parts = owner.rsplit(":", 4)
        if len(parts) != 5 or not parts[1].isdigit():
            return None
        host, pid, started, namespace, token = parts
        return cls(host, int(pid), started, namespace, token)

    def is_dead_neighbour(self, me: LeaseOwner) -> bool:
        """An owner on this host (and pid namespace) whose process no longer runs."""
        if (self.host, self.namespace) != (me.host, me.namespace) or self == me:
            return False
        return not processes.is_running(self.pid, self.started)


def holder_name(owner: str) -> str:
    parsed = LeaseOwner.parse(owner)
    return parsed.name if parsed else owner


class LeaseKeeper:
    """One worker's leases: claims (taking over dead neighbours first), the heartbeat that
    renews them, and the feeds it lost to another worker."""

    def __init__(
        self,
        repository: Repository,
        *,
        lease_seconds: float,
        clock: Callable[[], datetime],
        owner: LeaseOwner | None = None,
    ) -> None:
        self.repository = repository
        self.owner = owner or LeaseOwner.current()
        self.id = str(self.owner)
        self.lease_seconds = lease_seconds
        self.clock = clock
        self.lost: set[int] = set()  # feeds taken over while this worker polled them
        self._dead_seen: set[str] = set()

    @property
    def heartbeat_seconds(self) -> float:
        """Renewal period: a quarter of the lease, so three renewals may fail in a row."""
        return max(self.lease_seconds / 4, 0.1)

    def claim(self, *, due_only: bool, limit: int) -> list[FeedToPoll]:
        self.take_over_dead()
        now = self.clock()
        return self.repository.claim_feeds(
            now=now,
            owner=self.id,
            lease_until=now + timedelta(seconds=self.lease_seconds),
            due_only=due_only,
            limit=limit,
        )

    def take_over_dead(self) -> None:
        """Free the leases of dead workers of this host, logging once per dead worker."""
        holders = {holder.owner for holder in self.repository.lease_holders(self.clock())}
        dead = [
            owner
            for owner in holders - {self.id}
            if (parsed := LeaseOwner.parse(owner)) and parsed.is_dead_neighbour(self.owner)
        ]
        if not dead:
            return
        for owner, feeds in self.repository.free_leases_of(dead).items():
            if owner in self._dead_seen:
                continue
            self._dead_seen.add(owner)
            log.warning(
                "taking over %d feeds from dead worker %s",
                feeds,
                holder_name(owner),
                extra={"stage": "schedule", "worker": owner},
            )

    def renew(self, feed_ids: Iterable[int]) -> None:
        ids = [feed_id for feed_id in feed_ids if feed_id not in self.lost]
        until = self.clock() + timedelta(seconds=self.lease_seconds)
        lost = self.repository.renew_leases(ids, self.id, until)
        if lost:
            self.note_lost(lost)

    def note_lost(self, feed_ids: Collection[int], feed: str | None = None) -> None:
        """Say once per feed that another worker took it over mid-poll."""
        new = set(feed_ids) - self.lost
        if not new:
            return
        self.lost |= new
        what = f"feed {feed!r}" if feed else f"{len(new)} feeds"
        log.warning(
            "lost the lease on %s to another worker (this one was stopped or cut off for "
            "longer than schedule.lease): dropping those polls' results",
            what,
            extra={"stage": "schedule", **({"feed": feed} if feed else {})},
        )

    async def heartbeat(self, feed_ids: Callable[[], Collection[int]]) -> None:
        """Renew the leases of `feed_ids()` every heartbeat_seconds, until cancelled."""
        while True:
            await asyncio.sleep(self.heartbeat_seconds)
            try:
                await asyncio.to_thread(self.renew, list(feed_ids()))
            except PipelineError as exc:
                log.warning("cannot renew leases: %s", exc, extra={"stage": "schedule"})

    def release(self, feed_ids: Iterable[int]) -> None:
        self.repository.release_feeds(list(feed_ids), self.id)

    def held_by_others(self, feed_ids: Collection[int] | None = None) -> list[LeaseHolder]:
        """Leases other workers hold now (on `feed_ids` only, if given)."""
        holders = self.repository.lease_holders(self.clock())
        return [
            holder
            for holder in holders
            if holder.owner != self.id and (feed_ids is None or holder.feed_id in feed_ids)
        ]


def not_polled_line(holders: list[LeaseHolder]) -> str | None:
    """One line for `run --once`: the feeds it left to their holders, who, until when."""
    if not holders:
        return None
    by_holder: dict[tuple[str, datetime], list[str]] = {}
    for holder in holders:
        by_holder.setdefault((holder_name(holder.owner), holder.until), []).append(holder.feed)
    parts = [
        f"{', '.join(repr(feed) for feed in feeds)} leased by {name} until "
        f"{until.strftime('%Y-%m-%d %H:%M:%S')} UTC"
        for (name, until), feeds in sorted(by_holder.items(), key=lambda item: item[0][1])
    ]
    count = len(holders)
    return f"{count} feed{'s' if count != 1 else ''} not polled: {'; '.join(parts)}"
