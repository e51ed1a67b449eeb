"""Extraction workers die with the process that started them.

A pool worker is forked by the forkserver and holds, like every client of it, the write ends
of the forkserver's "alive" pipe, of the resource tracker's pipe and of its own call queue: as
long as one worker lives, neither the forkserver nor the tracker sees EOF, and a worker whose
parent was SIGKILLed waits on its queue forever. So each worker watches the parent itself:

- Linux: prctl(PR_SET_PDEATHSIG, SIGKILL): the kernel kills it when its forkserver exits;
- everywhere: a daemon thread that exits the worker once the pool's parent process is gone
  (pid and start time, pipeline.core.processes; a zombie counts as gone).

Once the workers are gone, the forkserver and the resource tracker see EOF and exit.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import signal
import sys
import threading
import time

from pipeline.core import processes

PR_SET_PDEATHSIG = 1
WATCH_EVERY = 0.5  # seconds between looks at the parent


def parent_identity() -> tuple[int, str]:
    """What a worker needs to recognise this process: its pid and start time."""
    pid = os.getpid()
    return pid, processes.start_time(pid) or ""


def die_with_parent(parent_pid: int, parent_started: str) -> None:
    """A pool initializer: the worker exits when the process that made the pool is gone."""
    _kill_on_forkserver_exit()
    watchdog = threading.Thread(
        target=_watch, args=(parent_pid, parent_started), name="lifeline", daemon=True
    )
    watchdog.start()


def _kill_on_forkserver_exit() -> None:
    if not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):  # no libc.prctl: the watchdog alone will do
        return


def _watch(parent_pid: int, parent_started: str) -> None:
    while processes.is_running(parent_pid, parent_started):
        time.sleep(WATCH_EVERY)
    os._exit(0)  # no clean-up to wait for: the parent that would read our results is gone
