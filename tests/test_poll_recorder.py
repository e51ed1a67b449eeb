"""The batched poll recorder: every caller learns its own outcome, and a bad record never takes
the rest of its batch down with it."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime

import pytest

from pipeline.core.errors import StorageError
from pipeline.poll.recorder import PollRecorder
from storage.repository import FeedDuplicate, PollRecord, Repository


def _record(feed_id: int) -> PollRecord:
    moment = datetime(2026, 1, 1, tzinfo=UTC)
    return PollRecord(
        feed_id=feed_id,
        worker="w",
        started_at=moment,
        duration_seconds=0.1,
        outcome="not_modified",
        next_poll_at=moment,
        status="ok",
        consecutive_failures=0,
    )


class _Recording(Repository):
    """Records which batches were written; feed 13 cannot be written."""

    def __init__(self) -> None:
        self.batches: list[list[int]] = []

    def record_polls_fenced(
        self, records: Sequence[PollRecord]
    ) -> tuple[list[FeedDuplicate], set[int]]:
        ids = [record.feed_id for record in records]
        if 13 in ids:
            raise StorageError("feed 13 is cursed")
        self.batches.append(ids)
        return [], {feed_id for feed_id in ids if feed_id == 7}  # feed 7: its lease was lost


def test_polls_ending_together_share_one_write_and_a_bad_one_fails_alone() -> None:
    repository = _Recording()
    recorder = PollRecorder(repository, max_batch=4)

    async def main() -> list[BaseException | None]:
        return await asyncio.gather(
            *(recorder.record(_record(feed_id)) for feed_id in (1, 2, 13, 4, 5, 6)),
            return_exceptions=True,
        )

    outcomes = asyncio.run(main())
    assert [type(outcome).__name__ for outcome in outcomes] == [
        "NoneType", "NoneType", "StorageError", "NoneType", "NoneType", "NoneType",
    ]  # fmt: skip
    written = sorted(feed_id for batch in repository.batches for feed_id in batch)
    assert written == [1, 2, 4, 5, 6]
    # The first poll writes alone; the five that ended meanwhile go in batches of at most 4,
    # and the batch holding feed 13 is retried one record at a time.
    assert repository.batches[0] == [1]
    assert max(len(batch) for batch in repository.batches) <= 4
    assert any(len(batch) > 1 for batch in repository.batches)


def test_a_record_whose_lease_was_lost_raises_lease_lost_to_its_caller_only() -> None:
    recorder = PollRecorder(_Recording())

    async def main() -> list[BaseException | None]:
        records = (recorder.record(_record(feed_id)) for feed_id in (6, 7, 8))
        return await asyncio.gather(*records, return_exceptions=True)

    outcomes = asyncio.run(main())
    assert [type(outcome).__name__ for outcome in outcomes] == [
        "NoneType", "LeaseLostError", "NoneType",
    ]  # fmt: skip


def test_a_single_failing_record_raises_to_its_caller() -> None:
    recorder = PollRecorder(_Recording())
    with pytest.raises(StorageError, match="cursed"):
        asyncio.run(recorder.record(_record(13)))
