"""Runs page extraction (CPU-bound trafilatura) off the event loop.

With workers > 0, a process pool spread over the cores: workers fork from a forkserver that
has imported trafilatura once, and are recycled after a number of pages because trafilatura's
memory grows per page (trafilatura#216). With 0 workers, one thread in this process (tests,
small installs).
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from functools import partial

from pipeline.core.errors import ExtractionError
from pipeline.core.records import ExtractedPage
from pipeline.extract.page import extract_page
from pipeline.ops.metrics import EXTRACTION_SECONDS

PAGES_PER_WORKER = 500


class PageExtractor:
    def __init__(self, workers: int | None) -> None:
        self.workers = (os.cpu_count() or 1) if workers is None else workers
        self._executor = self._new_executor()

    def _new_executor(self) -> Executor:
        if self.workers == 0:
            return ThreadPoolExecutor(max_workers=1, thread_name_prefix="extract")
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(["pipeline.extract.page"])
        return ProcessPoolExecutor(
            max_workers=self.workers, mp_context=context, max_tasks_per_child=PAGES_PER_WORKER
        )

    async def extract(self, body: bytes, *, url: str, content_type: str | None) -> ExtractedPage:
        loop = asyncio.get_running_loop()
        job = partial(extract_page, body, url=url, content_type=content_type)
        try:
            with EXTRACTION_SECONDS.time():
                return await loop.run_in_executor(self._executor, job)
        except BrokenProcessPool:
            # A worker died (e.g. killed for memory): replace the pool, report this page.
            self._executor.shutdown(wait=False, cancel_futures=True)
            self._executor = self._new_executor()
            raise ExtractionError(f"extraction worker died on {url}") from None

    def close(self) -> None:
        self._executor.shutdown(wait=True, cancel_futures=True)
