"""Runs the per-article CPU work (extraction and what follows it) off the event loop.

With workers > 0, a process pool spread over the cores: workers fork from a forkserver that
has imported the job's modules once, and are recycled after a number of jobs because
trafilatura's memory grows per page (trafilatura#216). With 0 workers, one thread in this
process (tests, small installs).

Read-only objects a job needs (the watchlist matcher) are published to the pool as pickles
in a folder of its own: each worker keeps the latest version loaded, loads it again only when
a job names a newer one, and a new worker (a recycle) loads the current one in its
initializer, before it takes any job, so no job waits for a cold worker.
"""

from __future__ import annotations

import asyncio
import hashlib
import multiprocessing
import os
import pickle
import shutil
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TypeVar

from pipeline.core.errors import ExtractionError
from pipeline.core.memory import return_freed_memory
from pipeline.core.records import ExtractedPage
from pipeline.extract.lifeline import die_with_parent, parent_identity

PAGES_PER_WORKER = 500
WARMUP_MODULE = "pipeline.extract.warmup"  # imported last by the forkserver
_CURRENT = ".current"  # suffix of the file naming an object's current version

Job = TypeVar("Job")
Result = TypeVar("Result")


@dataclass(frozen=True, slots=True)
class WarmRef:
    """A published object: its name, its version (digest of its pickle) and that pickle."""

    name: str
    digest: str
    path: str


# This process's loaded objects (in a worker; in the thread mode, the main process's).
_warm: dict[str, tuple[str, object]] = {}


def warm(ref: WarmRef) -> object:
    """The object ``ref`` names, unpickled once per process and version."""
    held = _warm.get(ref.name)
    if held is None or held[0] != ref.digest:
        # Our own pickle, written by publish in the pool's private folder (mode 0700).
        held = (ref.digest, pickle.loads(Path(ref.path).read_bytes()))  # noqa: S301
        _warm[ref.name] = held
    return held[1]


def _start_worker(parent_pid: int, parent_started: str, folder: str) -> None:
    """Pool initializer: die with the parent (issue 14), give freed page memory back, then
    load the current objects."""
    die_with_parent(parent_pid, parent_started)
    return_freed_memory()
    for current in Path(folder).glob(f"*{_CURRENT}"):
        name, digest = current.stem, current.read_text(encoding="ascii").strip()
        warm(WarmRef(name, digest, str(current.with_name(f"{name}.{digest}.pickle"))))


class PageExtractor:
    def __init__(
        self, workers: int | None, *, observe: Callable[[float], None] | None = None
    ) -> None:
        self.workers = (os.cpu_count() or 1) if workers is None else workers
        # Seconds per page, waiting for a worker included (the daemon passes its histogram).
        self._observe = observe
        self._folder = Path(tempfile.mkdtemp(prefix="sanctions-watch-pool-"))
        self._preload = ["pipeline.extract.page"]
        self._executor: Executor | None = None  # started on the first job (after preload)

    def preload(self, module: str) -> None:
        """Import ``module`` in the forkserver once (the job's code), if no job ran yet."""
        if module not in self._preload:
            self._preload.append(module)

    def publish(self, name: str, value: object) -> WarmRef:
        """Make ``value`` the current version of ``name`` for every worker, old and new."""
        data = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
        digest = hashlib.sha256(data).hexdigest()[:16]
        path = self._folder / f"{name}.{digest}.pickle"
        if not path.exists():
            path.write_bytes(data)
        temp = self._folder / f".{name}{_CURRENT}.tmp"
        temp.write_text(digest, encoding="ascii")
        os.replace(temp, self._folder / f"{name}{_CURRENT}")  # recycled workers load this one
        _warm[name] = (digest, value)  # the thread mode needs no pickle round trip
        return WarmRef(name, digest, str(path))

    def _new_executor(self) -> Executor:
        if self.workers == 0:
            return ThreadPoolExecutor(max_workers=1, thread_name_prefix="extract")
        context = multiprocessing.get_context("forkserver")
        # The warm-up comes last: it freezes the heap the job modules left behind.
        context.set_forkserver_preload([*self._preload, WARMUP_MODULE])
        return ProcessPoolExecutor(
            max_workers=self.workers,
            mp_context=context,
            max_tasks_per_child=PAGES_PER_WORKER,
            # The workers, then the forkserver and the resource tracker, exit when we die.
            initializer=_start_worker,
            initargs=(*parent_identity(), str(self._folder)),
        )

    async def run(self, function: Callable[[Job], Result], job: Job, *, url: str) -> Result:
        """``function(job)`` in a worker (a module-level function: it is pickled by name)."""
        executor = self._executor or self._new_executor()
        self._executor = executor
        loop = asyncio.get_running_loop()
        started = time.perf_counter()
        try:
            return await loop.run_in_executor(executor, function, job)
        except BrokenProcessPool:
            # A worker died (e.g. killed for memory): replace the pool, report this page.
            executor.shutdown(wait=False, cancel_futures=True)
            self._executor = self._new_executor()
            raise ExtractionError(f"extraction worker died on {url}") from None
        finally:
            if self._observe is not None:
                self._observe(time.perf_counter() - started)

    async def extract(self, body: bytes, *, url: str, content_type: str | None) -> ExtractedPage:
        from pipeline.extract.page import extract_page  # the worker's import (see prepare_article)

        job = partial(extract_page, body, url=url, content_type=content_type)
        return await self.run(_call, job, url=url)

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)
        shutil.rmtree(self._folder, ignore_errors=True)


def _call(job: Callable[[], ExtractedPage]) -> ExtractedPage:
    return job()
