"""The limit: extraction alone on the workload's page bytes, one process per core.

No network, no database: each worker renders the pages itself (the bytes the server sends,
decompressed) and runs the pipeline's extraction (``pipeline.extract.page.extract_page``) on them.
Workers are warmed up (imports, lazily compiled patterns, and what the pipeline's forkserver
loads: pipeline.extract.warmup) before the clock starts. The
figure is pages per second over a sample of the pages the pipeline fetches; plain
``trafilatura.extract`` (default options) is timed too, for reference.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from functools import partial

from bench.corpus import templates
from bench.workload import Workload

_workload: Workload | None = None


@dataclass(frozen=True, slots=True)
class Limit:
    pages: int
    seconds: float
    workers: int
    cpu_seconds: float  # the workers' own CPU over the batch (trustworthy on a busy machine)

    @property
    def cpu_ms_per_page(self) -> float:
        return 1000 * self.cpu_seconds / self.pages

    @property
    def pages_per_second(self) -> float:
        return self.pages / self.seconds


def cores() -> int:
    return len(os.sched_getaffinity(0))


def fetched_pages(workload: Workload) -> list[int]:
    """Entries whose page the pipeline fetches and extracts (tracking variants are not)."""
    return [entry.index for entry in workload.entries() if entry.kind != "tracking"]


def _init(articles: int, port: int, seed: int) -> None:
    global _workload
    _workload = Workload.on_corpus(articles, port=port, seed=seed)
    # Warmed as the pipeline's workers are (its forkserver imports this module): the
    # language model and dateparser's locales, which it would otherwise load within the
    # timed pages, are not part of extraction's cost per page.
    import pipeline.extract.warmup  # noqa: F401

    _extract_chunk([0], "pipeline")  # warm up: imports, regex and date-parser caches
    _extract_chunk([0], "trafilatura")


def _page(k: int) -> tuple[bytes, str]:
    assert _workload is not None
    entry = _workload.entry(k)
    path = entry.link.split(f":{_workload.port}", 1)[1].split("?")[0]
    page = _workload.page_of(path)
    assert page is not None, path
    index, url, sentence = page
    return templates()[index].render(url, sentence), url


def _extract_chunk(indexes: Sequence[int], how: str) -> tuple[int, float]:
    import trafilatura

    from pipeline.core.errors import ExtractionError
    from pipeline.extract.page import extract_page

    cpu = 0.0
    for k in indexes:
        body, url = _page(k)
        started = time.process_time()  # the extraction only, not the page's rendering
        if how == "pipeline":
            with contextlib.suppress(ExtractionError):
                extract_page(body, url=url, content_type="text/html; charset=utf-8")
        else:
            trafilatura.extract(body, url=url)
        cpu += time.process_time() - started
    return len(indexes), cpu


def measure(workload: Workload, sample: Sequence[int], how: str = "pipeline") -> Limit:
    """Extract ``sample`` (entry indexes) with one process per core; time the whole batch."""
    workers = cores()
    chunks = [list(sample[i : i + 4]) for i in range(0, len(sample), 4)]
    initializer = partial(_init, workload.articles, workload.port, workload.seed)
    with ProcessPoolExecutor(workers, initializer=initializer) as pool:
        list(pool.map(_noop, range(workers * 4)))  # every worker started and warm
        started = time.perf_counter()
        results = list(pool.map(partial(_extract_chunk, how=how), chunks))
        seconds = time.perf_counter() - started
    return Limit(sum(n for n, _ in results), seconds, workers, sum(c for _, c in results))


def _noop(_: int) -> None:
    time.sleep(0.05)  # long enough that each worker gets some (and so is initialised)
