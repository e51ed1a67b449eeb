"""The 123 real news pages of the shared corpus, turned into page templates.

A template is a real page with two slots: its canonical link (each copy of a page gets its own
URL, so cycling the pages never makes two articles "the same page") and a sentence inserted at
the start of the article's first paragraph (so each article's text, hence its content hash, is
unique). ``bench/anchors.json`` says where that sentence goes in each page: the position was
checked once by extracting the page (``python -m bench.anchors``); pages without a position
where the extractor keeps the sentence are left out of the rotation.

Bodies are served gzip-compressed as real sites do. The static parts of each template are
compressed once into byte-aligned deflate blocks (``Z_FULL_FLUSH``), so a response is the
concatenation of those blocks with the two small slots compressed on the fly: the benchmark
server spends microseconds, not milliseconds, per page, and leaves the cores to the pipeline.
"""

from __future__ import annotations

import gzip
import json
import os
import re
import struct
import zlib
from dataclasses import dataclass
from functools import cache
from pathlib import Path

CORPUS_ENV = "BENCH_CORPUS"
CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpora" / "news-pages"
ANCHORS = Path(__file__).with_name("anchors.json")

_CANONICAL_TAGS = re.compile(
    rb"<link\b[^>]*\brel\s*=\s*[\"']?canonical[^>]*>|<meta\b[^>]*\bog:url\b[^>]*>",
    re.IGNORECASE,
)
_HEAD_OPEN = re.compile(rb"<head\b[^>]*>", re.IGNORECASE)
_META_CHARSET = re.compile(rb"<meta\b[^>]*charset[^>]*>", re.IGNORECASE)
_GZIP_HEADER = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"  # deflate, no name, no mtime


def corpus_dir() -> Path:
    return Path(os.environ.get(CORPUS_ENV) or CORPUS)


@dataclass(frozen=True, slots=True)
class _Part:
    raw: bytes
    deflated: bytes  # raw deflate blocks ending byte-aligned (Z_FULL_FLUSH)


def _deflate(data: bytes, *, last: bool) -> bytes:
    compressor = zlib.compressobj(6, zlib.DEFLATED, -zlib.MAX_WBITS)
    return compressor.compress(data) + compressor.flush(
        zlib.Z_FINISH if last else zlib.Z_FULL_FLUSH
    )


@dataclass(frozen=True, slots=True)
class PageTemplate:
    """A real page with a canonical-link slot in <head> and a sentence slot in the article."""

    page_id: str
    words: int  # of the page's human-checked article text
    head: _Part  # up to and including <head ...>
    middle: _Part  # from there to the first paragraph's first word
    tail: _Part  # the rest of the page

    def render(self, url: str, sentence: str) -> bytes:
        """The page as UTF-8 HTML."""
        return b"".join((self.head.raw, _canonical(url), self.middle.raw, _text(sentence),
                         self.tail.raw))  # fmt: skip

    def render_gzip(self, url: str, sentence: str) -> bytes:
        """The same page as a gzip body (what the server sends)."""
        link, text = _canonical(url), _text(sentence)
        crc = zlib.crc32(self.head.raw)
        for piece in (link, self.middle.raw, text, self.tail.raw):
            crc = zlib.crc32(piece, crc)
        size = len(self.head.raw) + len(link) + len(self.middle.raw) + len(text)
        size += len(self.tail.raw)
        return b"".join((
            _GZIP_HEADER,
            self.head.deflated,
            _deflate(link, last=False),
            self.middle.deflated,
            _deflate(text, last=False),
            self.tail.deflated,
            struct.pack("<II", crc, size & 0xFFFFFFFF),
        ))  # fmt: skip


def _canonical(url: str) -> bytes:
    return f'<link rel="canonical" href="{url}">'.encode()


def _text(sentence: str) -> bytes:
    return f"{sentence} ".encode()


def page_ids() -> list[str]:
    return sorted(json.loads((corpus_dir() / "ground-truth.json").read_text(encoding="utf-8")))


@cache
def ground_truth() -> dict[str, dict[str, str]]:
    truth: dict[str, dict[str, str]] = json.loads(
        (corpus_dir() / "ground-truth.json").read_text(encoding="utf-8")
    )
    return truth


def cleaned_page(page_id: str) -> bytes:
    """The page as UTF-8, without its own canonical links and charset declarations."""
    from pipeline.extract.page import decode_html

    raw = gzip.decompress((corpus_dir() / "html" / f"{page_id}.html.gz").read_bytes())
    html = decode_html(raw, "text/html").encode("utf-8")
    return _META_CHARSET.sub(b"", _CANONICAL_TAGS.sub(b"", html))


def template(page_id: str, anchor: int) -> PageTemplate:
    """The template of a page whose sentence goes at byte ``anchor`` of ``cleaned_page``."""
    html = cleaned_page(page_id)
    head = _HEAD_OPEN.search(html)
    head_end = head.end() if head else 0
    if head is None or anchor <= head_end:
        raise ValueError(f"page {page_id}: no <head> before the anchor")
    meta = b'<meta charset="utf-8">'
    return PageTemplate(
        page_id=page_id,
        words=len(ground_truth()[page_id]["articleBody"].split()),
        head=_part(html[:head_end] + meta, last=False),
        middle=_part(html[head_end:anchor], last=False),
        tail=_part(html[anchor:], last=True),
    )


def _part(raw: bytes, *, last: bool) -> _Part:
    return _Part(raw, _deflate(raw, last=last))


@cache
def templates() -> tuple[PageTemplate, ...]:
    """Every page of the rotation, in a fixed order (cached: compressing takes a second)."""
    anchors: dict[str, int] = json.loads(ANCHORS.read_text(encoding="utf-8"))
    return tuple(template(page_id, anchors[page_id]) for page_id in sorted(anchors))
