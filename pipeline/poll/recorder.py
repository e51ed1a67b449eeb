"""Writes poll records in batches: every poll that ends while a write is in progress joins the
next one, so a busy round costs a few transactions instead of one per feed.

Each caller still awaits its own record: it learns whether it was stored (a StorageError stops
the worker, as before). If a batch fails, its records are written one by one, so one bad record
never takes the others down with it. A record whose lease another worker took over meanwhile
is not written (storage fences it): its caller gets LeaseLostError.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

from pipeline.core.errors import LeaseLostError
from storage.repository import FeedDuplicate, PollRecord, Repository

log = logging.getLogger("pipeline.poll.recorder")

MAX_BATCH = 500


class PollRecorder:
    def __init__(self, repository: Repository, *, max_batch: int = MAX_BATCH) -> None:
        self._repository = repository
        self._max_batch = max_batch
        self._pending: list[tuple[PollRecord, asyncio.Future[None]]] = []
        self._writer: asyncio.Task[None] | None = None

    async def record(self, record: PollRecord) -> None:
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._pending.append((record, done))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write_pending())
        await done

    async def _write_pending(self) -> None:
        while self._pending:
            batch = self._pending[: self._max_batch]
            del self._pending[: self._max_batch]
            records = [record for record, _ in batch]
            try:
                lost = await self._write(records)
            except Exception as exc:
                if len(batch) == 1:
                    _settle(batch[0][1], error=exc)
                else:
                    await self._write_one_by_one(batch)
                continue
            for record, done in batch:
                _settle(done, error=_lost(record) if record.feed_id in lost else None)

    async def _write_one_by_one(self, batch: list[tuple[PollRecord, asyncio.Future[None]]]) -> None:
        for record, done in batch:
            try:
                lost = await self._write([record])
            except Exception as exc:
                _settle(done, error=exc)
            else:
                _settle(done, error=_lost(record) if lost else None)

    async def _write(self, records: list[PollRecord]) -> set[int]:
        """Write the records; the feeds of those fenced out (lease lost) are returned."""
        duplicates, lost = await asyncio.to_thread(self._repository.record_polls_fenced, records)
        _report(duplicates)
        return lost


def _lost(record: PollRecord) -> LeaseLostError:
    return LeaseLostError(f"the lease on feed {record.feed_id} was taken over: poll not recorded")


def _report(duplicates: Sequence[FeedDuplicate]) -> None:
    for duplicate in duplicates:
        log.warning(
            "feed %r is the same feed as %r (%s): polling only %r",
            duplicate.feed,
            duplicate.original,
            duplicate.address,
            duplicate.original,
            extra={"feed": duplicate.feed, "stage": "schedule"},
        )


def _settle(done: asyncio.Future[None], *, error: BaseException | None = None) -> None:
    if done.done():  # its caller was cancelled meanwhile
        return
    if error is None:
        done.set_result(None)
    else:
        done.set_exception(error)
