"""Raw pages kept content-addressed; reprocess and rescan from what is stored."""

from __future__ import annotations

from collections.abc import Callable

# How a long job reports its progress, (done, total), to whoever shows it (the CLI draws a
# bar): the jobs themselves never write to the terminal.
Progress = Callable[[int, int], None]


def no_progress(done: int, total: int) -> None:
    """The default: nobody is watching."""
