"""The raw page archive: fetched article bodies kept zstd-compressed, content-addressed.

A body lives at ``<archive.path>/<sha[:2]>/<sha>.zst`` where ``sha`` is the SHA-256 of the raw
(decoded) bytes, so the same page fetched twice, or by two workers at once, is one file.
Writes go to a temporary file in the same folder and are renamed into place: a reader never
sees half a file, and a crash leaves at most a stray ``.tmp`` that ``prune`` removes.

What each body was (URL, headers, the feed entry) is a row of ``archived_page`` in the
database; this module only knows files. ``prune`` deletes files older than ``keep_days`` that no
row names any more (the rows are deleted first, by ``Repository.prune_archived_pages``).
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import zstandard

from pipeline.archive.compress import CompressedBody, compress_body
from pipeline.core.errors import NotFoundError, StorageError
from pipeline.core.records import FeedEntry, FetchedResponse
from storage.repository import ArchivedPageRecord, Repository

log = logging.getLogger("pipeline.archive.store")

SUFFIX = ".zst"
_STALE_TEMP_SECONDS = 3600.0  # a temp file this old belongs to no write in progress
# Response headers worth keeping: what the extractor reads (content-type) and what tells when
# and which version of the page it was. Cookies and the rest stay out.
KEPT_HEADERS = (
    "content-type",
    "content-language",
    "etag",
    "last-modified",
    "date",
    "age",
    "cache-control",
    "expires",
    "content-location",
    "link",
)


@dataclass(frozen=True, slots=True)
class ArchivedBody:
    """A body now in the archive: its name there and its raw size."""

    sha256: str
    size: int


@dataclass(frozen=True, slots=True)
class ArchivedResponse:
    """A page response whose body is in the archive: all a row of archived_page needs."""

    sha256: str
    size: int
    final_url: str
    status: int
    headers: dict[str, str]


class PageArchive:
    """Content-addressed, compressed page bodies in one folder."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def path_for(self, sha256: str) -> Path:
        if len(sha256) != 64 or not all(c in "0123456789abcdef" for c in sha256):
            raise NotFoundError(f"{sha256!r} is not an archive key (a SHA-256 in hex)")
        return self.root / sha256[:2] / f"{sha256}{SUFFIX}"

    def put(self, body: bytes) -> ArchivedBody:
        """Store the body (nothing to do when it is there already); raise StorageError."""
        return self.put_compressed(compress_body(body))

    def put_compressed(self, body: CompressedBody) -> ArchivedBody:
        """Store a body compressed elsewhere (an extraction worker): only file I/O here."""
        target = self.path_for(body.sha256)
        try:
            if target.exists():
                os.utime(target)  # referenced again now: prune must not take it
                return ArchivedBody(body.sha256, body.size)
            target.parent.mkdir(parents=True, exist_ok=True)
            _write_atomically(target, body.compressed)
        except OSError as exc:
            raise StorageError(f"archive: cannot write {target}: {exc}") from exc
        return ArchivedBody(body.sha256, body.size)

    def get(self, sha256: str, size: int) -> bytes:
        """The raw body; NotFoundError when the file is gone, StorageError when it is damaged."""
        path = self.path_for(sha256)
        try:
            compressed = path.read_bytes()
        except FileNotFoundError:
            raise NotFoundError(f"archive: {path} is missing") from None
        except OSError as exc:
            raise StorageError(f"archive: cannot read {path}: {exc}") from exc
        try:
            # The row's size bounds the output: a damaged frame cannot claim gigabytes.
            body = zstandard.ZstdDecompressor().decompress(compressed, max_output_size=size)
        except zstandard.ZstdError as exc:
            raise StorageError(f"archive: {path} is damaged: {exc}") from exc
        if hashlib.sha256(body).hexdigest() != sha256:
            raise StorageError(f"archive: {path} does not hold the body it is named after")
        return body

    def prune(
        self,
        keep_days: int,
        referenced: Callable[[Iterable[str]], set[str]],
        *,
        now: float | None = None,
    ) -> int:
        """Delete files older than ``keep_days`` whose key ``referenced`` does not return (no
        row names them); the number deleted. One sub-folder at a time keeps memory flat."""
        current = time.time() if now is None else now
        cutoff = current - keep_days * 86400.0
        removed = 0
        if not self.root.is_dir():
            return 0
        for folder in sorted(self.root.iterdir()):
            if not folder.is_dir():
                continue
            old = _old_files(folder, cutoff)
            removed += _remove_stale_temps(folder, current - _STALE_TEMP_SECONDS)
            if not old:
                continue
            still_named = referenced(old)
            for sha256, path in old.items():
                # Checked again just before deleting: a put may have renewed it meanwhile.
                if sha256 not in still_named and _mtime(path) < cutoff:
                    path.unlink(missing_ok=True)
                    removed += 1
        return removed


def _write_atomically(target: Path, data: bytes) -> None:
    handle, temp_name = tempfile.mkstemp(dir=target.parent, prefix=".", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as temp:
            temp.write(data)
        os.replace(temp_name, target)  # atomic on POSIX; two writers of one key agree anyway
    except BaseException:
        Path(temp_name).unlink(missing_ok=True)
        raise


def _old_files(folder: Path, cutoff: float) -> dict[str, Path]:
    old: dict[str, Path] = {}
    for path in folder.glob(f"*{SUFFIX}"):
        if _mtime(path) < cutoff:
            old[path.name.removesuffix(SUFFIX)] = path
    return old


def _remove_stale_temps(folder: Path, cutoff: float) -> int:
    stale = [path for path in folder.glob(".*.tmp") if _mtime(path) < cutoff]
    for path in stale:
        path.unlink(missing_ok=True)
    return len(stale)


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except FileNotFoundError:
        return float("inf")  # gone already: never "old"


def prune_archive(
    repository: Repository, archive: PageArchive, keep_days: int, now: datetime
) -> tuple[int, int]:
    """Forget pages fetched more than ``keep_days`` ago: their rows, then the files no row
    names any more. (rows deleted, files deleted)."""
    rows = repository.prune_archived_pages(now - timedelta(days=keep_days))
    try:
        files = archive.prune(keep_days, repository.archived_shas, now=now.timestamp())
    except OSError as exc:
        raise StorageError(f"archive: cannot prune {archive.root}: {exc}") from exc
    return rows, files


# ---------------------------------------------------------------------------------------------
# The ingest side: keep a response, then remember it once its article is stored


def keep_response(
    archive: PageArchive, response: FetchedResponse, compressed: CompressedBody | None = None
) -> ArchivedResponse | None:
    """Put the body (``compressed``: already compressed by a worker) in the archive; None (and
    a warning) when that fails: a full archive disk must never cost an article."""
    try:
        body = archive.put_compressed(compressed or compress_body(response.body))
    except StorageError as exc:
        log.warning("not archived: %s", exc, extra={"url": response.url, "stage": "archive"})
        return None
    headers = {name: response.headers[name] for name in KEPT_HEADERS if name in response.headers}
    return ArchivedResponse(body.sha256, body.size, response.final_url, response.status, headers)


def remember_response(
    repository: Repository,
    *,
    feed_id: int,
    article_id: int,
    entry: FeedEntry,
    url: str,
    kept: ArchivedResponse,
    now: datetime,
) -> None:
    """Write the archived_page row of a stored article's page; a failure is only a warning."""
    record = archived_page_record(feed_id=feed_id, entry=entry, url=url, kept=kept, now=now)
    try:
        repository.record_archived_page(replace(record, article_id=article_id))
    except StorageError as exc:
        log.warning("archive row not written: %s", exc, extra={"url": url, "stage": "archive"})


def archived_page_record(
    *, feed_id: int, entry: FeedEntry, url: str, kept: ArchivedResponse, now: datetime
) -> ArchivedPageRecord:
    """The archived_page row of a page, before its article is stored (storage fills the id
    in, in the article's own transaction: Repository.store_article's ``archived``)."""
    return ArchivedPageRecord(
        feed_id=feed_id,
        article_id=None,
        url=url,
        final_url=kept.final_url,
        sha256=kept.sha256,
        size=kept.size,
        http_status=kept.status,
        headers=kept.headers,
        entry=entry_to_json(entry),
        fetched_at=now,
    )


def entry_to_json(entry: FeedEntry) -> dict[str, Any]:
    return {
        "title": entry.title,
        "link": entry.link,
        "guid": entry.guid,
        "summary": entry.summary,
        "content": entry.content,
        "published": entry.published.isoformat() if entry.published else None,
    }


def entry_from_json(data: Mapping[str, Any]) -> FeedEntry:
    published = data.get("published")
    return FeedEntry(
        link=data.get("link"),
        guid=data.get("guid"),
        title=str(data.get("title") or ""),
        published=datetime.fromisoformat(published) if isinstance(published, str) else None,
        summary=str(data.get("summary") or ""),
        content=str(data.get("content") or ""),
    )
