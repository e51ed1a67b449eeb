"""CPU cost of the extraction chain against trafilatura alone, on the 123 real news pages.

``python -m bench.extraction [--repeats N]`` extracts every page of shared/corpora/news-pages
with ``extract_page(chain=False)`` (trafilatura alone with its built-in fallback, the
configuration before the chain) and with the chain, alternating the two N times, and prints
the CPU time per page (median over the repeats) and the ratio. The budget is 1.5x.
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import time
from collections.abc import Callable

from pipeline.core.errors import ExtractionError
from pipeline.extract.chain import FIRST_ANSWER_KEPT, readability_text
from pipeline.extract.page import explain_extraction, extract_page
from pipeline.tools.eval_extraction import NOW, CorpusPage, load_corpus

BUDGET = 1.5


def cpu_seconds(pages: list[CorpusPage], extract: Callable[[CorpusPage], object]) -> float:
    started = time.process_time()
    for page in pages:
        with contextlib.suppress(ExtractionError):  # a page without text costs CPU too
            extract(page)
    return time.process_time() - started


def alone(page: CorpusPage) -> object:
    return extract_page(page.body, url=page.url, now=NOW, chain=False)


def chain(page: CorpusPage) -> object:
    return extract_page(page.body, url=page.url, now=NOW)


def readability_only(page: CorpusPage) -> object:
    return readability_text(page.html)


def second_opinions(pages: list[CorpusPage]) -> int:
    count = 0
    for page in pages:
        try:
            _, result = explain_extraction(page.body, url=page.url, now=NOW)
        except ExtractionError:
            continue
        count += result.reason != FIRST_ANSWER_KEPT
    return count


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.extraction")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    pages = load_corpus()
    for page in pages:
        _ = page.html  # decode once, outside the timings (both configurations decode anyway)
    cpu_seconds(pages[:5], chain)  # warm up imports and lazy caches
    timings: dict[str, list[float]] = {"alone": [], "chain": [], "readability": []}
    for _ in range(args.repeats):
        timings["alone"].append(cpu_seconds(pages, alone))
        timings["chain"].append(cpu_seconds(pages, chain))
        timings["readability"].append(cpu_seconds(pages, readability_only))
    per_page = {name: statistics.median(values) / len(pages) for name, values in timings.items()}
    ratio = per_page["chain"] / per_page["alone"]
    print(f"news-pages: {len(pages)} pages, median of {args.repeats} runs, CPU time per page")
    print(f"  trafilatura alone (built-in fallback): {per_page['alone'] * 1000:7.1f} ms")
    print(f"  chain:                                 {per_page['chain'] * 1000:7.1f} ms")
    print(f"  readability-lxml alone (for scale):    {per_page['readability'] * 1000:7.1f} ms")
    print(f"  second opinion run on {second_opinions(pages)}/{len(pages)} pages")
    verdict = "within" if ratio <= BUDGET else "OVER"
    print(f"  chain / trafilatura alone = {ratio:.2f}x ({verdict} the {BUDGET}x budget)")


if __name__ == "__main__":
    main()
