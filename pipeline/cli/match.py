"""`pipeline match explain`: every occurrence of a watchlist name in a text, the rule that
accepted or rejected it, the context words counted with their distance, and the score.

The text comes from a FILE (plain text; an .html/.htm file goes through the extractor), a
`--url` (fetched by the pipeline's own Fetcher, with its address guard, then extracted) or a
stored `--article ID` (exactly the text the pipeline matched).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated

import typer

from pipeline.cli.context import EXIT_USAGE, fail, guard, session
from pipeline.cli.render import Format, FormatOption, write
from pipeline.core import output
from pipeline.core.config import Config
from pipeline.core.errors import ExtractionError, PipelineError
from pipeline.fetch.client import Fetcher
from pipeline.match.explain import ExplainedOccurrence, explain
from pipeline.match.matcher import Matcher
from pipeline.match.watchlist import load_watchlist

group = typer.Typer(no_args_is_help=True, help="Why a text was (or was not) flagged.")

HTML_SUFFIXES = (".html", ".htm")


@group.command("explain")
def match_explain(
    ctx: typer.Context,
    file: Annotated[
        Path | None, typer.Argument(metavar="[FILE]", help="A text or HTML file.")
    ] = None,
    url: Annotated[str | None, typer.Option(help="Fetch and extract this page.")] = None,
    article: Annotated[int | None, typer.Option(help="A stored article's id.")] = None,
    title: Annotated[str, typer.Option(help="The title, for a FILE of plain text.")] = "",
    fmt: FormatOption = Format.table,
) -> None:
    """Every occurrence of a watchlist name, with the rule that accepted or rejected it."""
    if sum(source is not None for source in (file, url, article)) != 1:
        fail("give exactly one of FILE, --url URL or --article ID", EXIT_USAGE)
    state = session(ctx)
    config = state.config()
    if article is not None:
        stored = guard(lambda: state.repository().stored_text(article))
        heading, text = stored.title, stored.text
    elif url is not None:
        heading, text = guard(lambda: asyncio.run(_fetched(config, url)))
    else:
        assert file is not None
        heading, text = guard(lambda: _read(file, title))
    matcher = guard(lambda: Matcher(load_watchlist(config.watchlist)))
    found = explain(matcher, heading, text)
    if fmt is not Format.table:
        write(output.render_json([occurrence.as_json() for occurrence in found]))
        return
    for line in _lines(found):
        write(line)


def _read(path: Path, title: str) -> tuple[str, str]:
    try:
        body = path.read_bytes()
    except OSError as exc:
        raise PipelineError(f"{path}: cannot read: {exc.strerror or exc}") from None
    if path.suffix.lower() in HTML_SUFFIXES:
        return _extracted(body, path.resolve().as_uri(), "text/html")
    try:
        return title, body.decode("utf-8")
    except UnicodeDecodeError:
        raise PipelineError(f"{path}: not UTF-8 text") from None


async def _fetched(config: Config, url: str) -> tuple[str, str]:
    async with Fetcher(config.fetch) as fetcher:
        response = await fetcher.fetch(url)
    return _extracted(response.body, response.final_url, response.content_type)


def _extracted(body: bytes, url: str, content_type: str | None) -> tuple[str, str]:
    from pipeline.extract.page import extract_page  # trafilatura: only when a page is read

    try:
        page = extract_page(body, url=url, content_type=content_type)
    except ExtractionError as exc:
        raise PipelineError(f"{url}: {exc}") from None
    return page.title or "", page.text


def _lines(found: list[ExplainedOccurrence]) -> Iterator[str]:
    if not found:
        yield "no watchlist name occurs in this text"
        return
    for item in found:
        score = "-" if item.score is None else f"{item.score:.2f}"
        yield (
            f"[{item.start}-{item.end}] {item.matched!r} -> {item.entity} ({item.entity_id}): "
            f"{item.verdict.upper()} {item.rule} score {score}"
        )
        yield f"    {item.reason}"
        yield f"    name: {item.alias!r}, {item.strength}, {item.name_class}"
        for word in item.context:
            distance = "anywhere" if word.distance is None else f"{word.distance} words"
            yield f"    context: {word.text!r} {word.kind} {word.weight:+d} at {distance}"
