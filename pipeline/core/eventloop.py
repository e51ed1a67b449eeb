"""The event loop the daemon runs on: uvloop's (libuv) rather than asyncio's own.

A 304 poll is nearly all event-loop work (socket readiness, callbacks, transports): on uvloop
it costs 12% less CPU (2.37 -> 2.08 ms per poll, `python -m bench.profile_304 --plain 3`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

import uvloop

Result = TypeVar("Result")


def run(main: Coroutine[Any, Any, Result]) -> Result:
    """``asyncio.run(main)`` on the daemon's loop."""
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(main)
