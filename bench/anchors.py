"""Finds, once, where each corpus page can take a unique sentence: ``python -m bench.anchors``.

For each page: the first words of its human-checked article text (ground-truth.json) are looked
up where a text node starts in <body>; the sentence goes right before them. A position is kept
only if the extractor then returns the sentence in the article text. The result,
``bench/anchors.json`` (page id -> byte offset in ``corpus.cleaned_page``), is committed:
the corpus is fixed, so this never needs to run again unless the extractor changes a lot.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor

from bench.corpus import ANCHORS, cleaned_page, ground_truth, template

MARKER = "Zyxqv dispatch 7781 filed from Karachi by the desk."
_WORD = re.compile(r"\w+")
_BETWEEN_WORDS = r"(?:\W|<[^>]*>|&\w+;|&#\d+;)+"
_INLINE_OPEN = r"(?:<(?:span|strong|b|em|i|a)\b[^>]*>\s*)*"
_STARTS = (0, 5, 12, 20)  # where in the article text to take the five words from


def _candidates(page_id: str, body_text: str) -> Iterator[int]:
    html = cleaned_page(page_id).decode("utf-8")
    body = html.lower().find("<body")
    words = _WORD.findall(body_text)
    for start in _STARTS:
        pattern = _BETWEEN_WORDS.join(map(re.escape, words[start : start + 5]))
        for match in re.finditer(rf">\s*{_INLINE_OPEN}({pattern})", html):
            if match.start() > body >= 0:
                yield len(html[: match.start(1)].encode("utf-8"))


def anchor_of(page_id: str) -> int | None:
    """The first position where the extractor keeps an inserted sentence, or None."""
    from pipeline.core.errors import ExtractionError
    from pipeline.extract.page import extract_page

    body_text = ground_truth()[page_id]["articleBody"]
    for offset in _candidates(page_id, body_text):
        url = "http://127.0.0.2/anchor"
        page = template(page_id, offset).render(url, MARKER)
        try:
            if MARKER in extract_page(page, url=url, content_type="text/html").text:
                return offset
        except ExtractionError:
            continue
    return None


def main() -> None:
    ids = sorted(ground_truth())
    with ProcessPoolExecutor() as pool:
        offsets = dict(zip(ids, pool.map(anchor_of, ids, chunksize=4), strict=True))
    anchors = {page_id: offset for page_id, offset in offsets.items() if offset is not None}
    ANCHORS.write_text(json.dumps(anchors, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    print(f"{len(anchors)} of {len(ids)} pages take a unique sentence; wrote {ANCHORS}")


if __name__ == "__main__":
    main()
