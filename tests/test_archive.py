"""The raw page archive: content-addressed files, idempotent atomic puts, pruning, and the
ingest hook that writes an archived_page row per stored article page."""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml

from pipeline.archive.store import PageArchive, prune_archive
from pipeline.core.config import FeedConfig
from pipeline.core.errors import NotFoundError, StorageError
from storage.db import Database
from storage.repository import ArchivedPageRecord, Repository
from tests.conftest import db_rows, run_once
from tests.site import Page, Site, article_html, rss

PARAGRAPHS = [
    "The Treasury on Tuesday named the National Development Complex in a new round of "
    "designations aimed at suppliers of ballistic missile parts, officials in Washington said.",
    "Officials in Islamabad rejected the decision and called it discriminatory, adding that the "
    "programme is purely defensive and that no law had been broken by any Pakistani body.",
]


def test_put_is_content_addressed_idempotent_and_round_trips(tmp_path: Path) -> None:
    archive = PageArchive(tmp_path / "archive")
    body = b"<html><body>" + b"sanctions " * 5000 + b"</body></html>"

    first = archive.put(body)
    second = archive.put(body)

    sha = hashlib.sha256(body).hexdigest()
    assert first.sha256 == second.sha256 == sha and first.size == len(body)
    path = tmp_path / "archive" / sha[:2] / f"{sha}.zst"
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # one file, no temp left
    assert path.stat().st_size < len(body) // 10  # compressed
    assert archive.get(sha, len(body)) == body


def test_get_refuses_missing_damaged_and_bad_keys(tmp_path: Path) -> None:
    archive = PageArchive(tmp_path)
    stored = archive.put(b"<html>page</html>")
    with pytest.raises(NotFoundError):
        archive.get("0" * 64, 10)
    with pytest.raises(NotFoundError):
        archive.get("../../etc/passwd", 10)
    archive.path_for(stored.sha256).write_bytes(b"not zstd at all")
    with pytest.raises(StorageError):
        archive.get(stored.sha256, stored.size)


def test_put_failure_is_a_storage_error(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("a file where the archive folder should be")
    with pytest.raises(StorageError):
        PageArchive(tmp_path / "file").put(b"body")


def test_prune_deletes_only_old_unreferenced_files(tmp_path: Path) -> None:
    archive = PageArchive(tmp_path)
    old_kept, old_gone, fresh = (archive.put(f"page {n}".encode()) for n in range(3))
    ten_days_ago = time.time() - 10 * 86400
    for body in (old_kept, old_gone):
        os.utime(archive.path_for(body.sha256), (ten_days_ago, ten_days_ago))
    stale_temp = archive.path_for(fresh.sha256).parent / ".x.tmp"
    stale_temp.write_bytes(b"half")
    os.utime(stale_temp, (ten_days_ago, ten_days_ago))
    asked: list[str] = []

    def referenced(shas: Iterable[str]) -> set[str]:
        asked.extend(shas)
        return {old_kept.sha256}

    removed = archive.prune(7, referenced)

    assert removed == 2  # old_gone and the stale temp file
    assert archive.path_for(old_kept.sha256).exists()
    assert not archive.path_for(old_gone.sha256).exists()
    assert archive.path_for(fresh.sha256).exists() and fresh.sha256 not in asked
    assert not stale_temp.exists()


def test_put_renews_an_old_file_so_prune_keeps_it(tmp_path: Path) -> None:
    archive = PageArchive(tmp_path)
    body = archive.put(b"page")
    ten_days_ago = time.time() - 10 * 86400
    os.utime(archive.path_for(body.sha256), (ten_days_ago, ten_days_ago))
    archive.put(b"page")  # fetched again today
    assert archive.prune(7, lambda shas: set()) == 0


def test_ingest_archives_each_stored_page_once(
    site: Site, make_config: Callable[..., Path], tmp_path: Path
) -> None:
    page = article_html("Missile body named", PARAGRAPHS)
    site.add("/a", Page(page, headers={"Set-Cookie": "secret=1", "Last-Modified": "Mon, 06 Jan"}))
    site.add("/pdf", Page(b"%PDF-1.4", content_type="application/pdf"))
    items = [
        {"title": "Missile body named", "link": site.url("/a"), "description": "summary"},
        {"title": "A PDF", "link": site.url("/pdf"), "description": "a pdf summary text"},
    ]
    site.add("/feed.xml", Page(rss(items), content_type="application/rss+xml"))
    config = make_config([{"name": "Test", "url": site.url("/feed.xml")}])

    run_once(config)
    run_once(config)  # nothing new: no second row

    rows = db_rows(
        config, "SELECT url, final_url, sha256, size, http_status, article_id FROM archived_page"
    )
    assert len(rows) == 1  # the PDF is not HTML: not archived
    url, final_url, sha, size, status, article_id = rows[0]
    assert url == final_url == site.url("/a") and status == 200 and size == len(page)
    assert sha == hashlib.sha256(page).hexdigest()
    assert [(article_id,)] == db_rows(config, "SELECT id FROM article WHERE url LIKE '%/a'")
    assert PageArchive(tmp_path / "data" / "archive").get(str(sha), len(page)) == page
    ((headers, entry),) = db_rows(config, "SELECT headers, entry FROM archived_page")
    headers = yaml.safe_load(headers) if isinstance(headers, str) else headers
    entry = yaml.safe_load(entry) if isinstance(entry, str) else entry
    assert headers["content-type"].startswith("text/html") and "set-cookie" not in headers
    assert entry["title"] == "Missile body named" and entry["summary"] == "summary"
    assert entry["published"].startswith("2025-01-06T10:00:00")


def test_archive_disabled_writes_nothing(
    site: Site, make_config: Callable[..., Path], tmp_path: Path
) -> None:
    site.add("/a", Page(article_html("Missile body named", PARAGRAPHS)))
    items = [{"title": "Missile body named", "link": site.url("/a")}]
    site.add("/feed.xml", Page(rss(items), content_type="application/rss+xml"))
    config = make_config(
        [{"name": "Test", "url": site.url("/feed.xml")}], archive={"enabled": False}
    )

    run_once(config)

    assert db_rows(config, "SELECT count(*) FROM article") == [(1,)]
    assert db_rows(config, "SELECT count(*) FROM archived_page") == [(0,)]
    assert not (tmp_path / "data" / "archive").exists()


def test_unwritable_archive_never_costs_the_article(
    site: Site, make_config: Callable[..., Path], tmp_path: Path
) -> None:
    (tmp_path / "blocked").write_text("a file, not a folder")
    site.add("/a", Page(article_html("Missile body named", PARAGRAPHS)))
    items = [{"title": "Missile body named", "link": site.url("/a")}]
    site.add("/feed.xml", Page(rss(items), content_type="application/rss+xml"))
    config = make_config(
        [{"name": "Test", "url": site.url("/feed.xml")}], archive={"path": "blocked/archive"}
    )

    run_once(config)

    assert db_rows(config, "SELECT count(*) FROM article") == [(1,)]
    assert db_rows(config, "SELECT count(*) FROM archived_page") == [(0,)]


def test_prune_archive_forgets_rows_and_files_past_keep_days(database: str, tmp_path: Path) -> None:
    db = Database(database)
    db.ensure_schema()
    repository = Repository(db)
    now = datetime(2025, 6, 1, tzinfo=UTC)
    try:
        repository.sync_feeds(
            [FeedConfig.model_validate({"name": "F", "url": "https://f.example/"})], 900, now
        )
        archive = PageArchive(tmp_path / "archive")
        pages = {"old": now - timedelta(days=100), "new": now - timedelta(days=1)}
        for name, fetched_at in pages.items():
            body = archive.put(f"<html>{name}</html>".encode())
            os.utime(archive.path_for(body.sha256), (fetched_at.timestamp(),) * 2)
            repository.record_archived_page(
                ArchivedPageRecord(
                    feed_id=1, article_id=None, url=f"https://f.example/{name}",
                    final_url=f"https://f.example/{name}", sha256=body.sha256, size=body.size,
                    http_status=200, headers={}, entry={}, fetched_at=fetched_at,
                )
            )  # fmt: skip

        assert prune_archive(repository, archive, 90, now) == (1, 1)
        assert prune_archive(repository, archive, 90, now) == (0, 0)

        remaining = sorted(p.name for p in (tmp_path / "archive").rglob("*.zst"))
        new_sha = hashlib.sha256(b"<html>new</html>").hexdigest()
        assert remaining == [f"{new_sha}.zst"]
        assert repository.archived_shas([new_sha, "f" * 64]) == {new_sha}
    finally:
        db.dispose()
