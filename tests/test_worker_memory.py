"""What keeps the daemon's memory down (issue 19): the extraction workers fork from a
forkserver that already holds what every worker needs (the language model, dateparser's
locales) with its heap frozen; the process that only fetches and stores never imports the
extraction libraries nor Apprise; freed page memory goes back to the system."""

from __future__ import annotations

import asyncio
import gc
import platform
import subprocess
import sys

from pipeline.core.memory import return_freed_memory
from pipeline.extract.pool import PageExtractor


def _worker_state(_: object) -> dict[str, object]:
    """Runs in a worker: what it found loaded before doing any work of its own."""
    from dateparser.languages.loader import default_loader
    from py3langid import langid

    return {
        "model_loaded": langid.IDENTIFIER is not None,
        "locales": len(default_loader._loaded_locales),
        "frozen": gc.get_freeze_count(),
    }


def test_workers_start_with_the_model_and_the_locales_loaded_before_the_fork() -> None:
    extractor = PageExtractor(1)
    try:
        state = asyncio.run(extractor.run(_worker_state, None, url="-"))
    finally:
        extractor.close()
    assert state["model_loaded"] is True
    assert isinstance(state["locales"], int) and state["locales"] > 200  # dateparser has 205
    assert isinstance(state["frozen"], int) and state["frozen"] > 10_000  # the imports, frozen


def test_the_process_that_fetches_and_stores_loads_no_extraction_library() -> None:
    heavy = ("trafilatura", "readability", "py3langid", "htmldate", "apprise")
    code = (
        "import sys\n"
        "from pipeline.cli.app import main\n"
        "from pipeline.poll.scheduler import Worker\n"
        f"print(','.join(m for m in {heavy!r} if m in sys.modules))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == ""


def test_freed_memory_is_returned_where_the_c_library_is_glibc() -> None:
    assert return_freed_memory() is (platform.libc_ver()[0] == "glibc")
