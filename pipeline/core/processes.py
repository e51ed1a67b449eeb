"""Who a process is: its pid plus its start time, which tells a reused pid apart.

Linux reads /proc/<pid>/stat (field 22, the start time in clock ticks since boot); elsewhere
only "a process with this pid exists" can be known, and the start time is "".
"""

from __future__ import annotations

import os
from pathlib import Path

PROC = Path("/proc")


def start_time(pid: int) -> str | None:
    """The start time of the live process `pid`, "" where it cannot be read, None when there
    is no such process (or only its zombie: it has exited)."""
    if pid <= 0:
        return None
    if not (PROC / "self" / "stat").exists():
        return "" if _pid_exists(pid) else None
    try:
        stat = (PROC / str(pid) / "stat").read_text(encoding="ascii", errors="replace")
    except OSError:
        return None
    # The command name (field 2) is in parentheses and may hold spaces: split after it.
    fields = stat[stat.rindex(")") + 2 :].split()
    state, started = fields[0], fields[19]  # fields 3 and 22
    return None if state in ("Z", "X") else started


def is_running(pid: int, started: str) -> bool:
    """Whether the process that had `pid` and started at `started` still runs ("" matches any
    start time: nothing better is known)."""
    current = start_time(pid)
    if current is None:
        return False
    return not started or not current or current == started


def pid_namespace() -> str:
    """This process's pid namespace (containers sharing a host name have different ones):
    pids compare only within one."""
    try:
        link = os.readlink(PROC / "self" / "ns" / "pid")  # "pid:[4026531836]"
    except OSError:
        return ""
    return link.partition("[")[2].rstrip("]")


def _pid_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: it exists
        return True
    return True
