"""The daemon's event loop (pipeline.core.eventloop): uvloop, and asyncio's semantics kept."""

from __future__ import annotations

import asyncio

import pytest
import uvloop

from pipeline.core import eventloop


async def _loop_and_result() -> tuple[type, int]:
    await asyncio.sleep(0)
    result = await asyncio.to_thread(sum, [1, 2, 3])
    return type(asyncio.get_running_loop()), result


def test_the_daemon_runs_on_uvloop_and_returns_the_coroutines_result() -> None:
    loop_type, result = eventloop.run(_loop_and_result())
    assert issubclass(loop_type, uvloop.Loop)
    assert result == 6


async def _fails() -> None:
    raise LookupError("from the coroutine")


def test_an_exception_of_the_coroutine_reaches_the_caller() -> None:
    with pytest.raises(LookupError, match="from the coroutine"):
        eventloop.run(_fails())
