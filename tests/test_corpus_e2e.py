"""`pipeline run --once` over a local feed of the 123 real news pages of the shared corpus."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest
import yaml
from sqlalchemy import create_engine, text

from pipeline.core.config import load_config
from tests import corpora
from tests.conftest import run_once
from tests.site import Page, Site, rss

CORPUS = corpora.CORPORA / "news-pages"


@pytest.mark.slow
@corpora.needs(CORPUS)  # skipped outside CI when missing, fails in CI
def test_every_real_page_is_stored_with_page_text(site: Site, tmp_path: Path) -> None:
    # SQLite only: this is the extraction corpus; storage runs on both engines elsewhere.
    truth = json.loads((CORPUS / "ground-truth.json").read_text())
    items = []
    for page_id in sorted(truth):
        body = gzip.decompress((CORPUS / "html" / f"{page_id}.html.gz").read_bytes())
        site.add(f"/p/{page_id}", Page(body, content_type="text/html"))
        items.append({"title": f"page {page_id[:8]}", "link": site.url(f"/p/{page_id}")})
    site.add("/feed.xml", Page(rss(items), content_type="application/rss+xml"))
    config = tmp_path / "feeds.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "database": f"sqlite:///{tmp_path / 'corpus.db'}",
                "fetch": {
                    "allow_private_addresses": True,
                    "extract_workers": 2,  # the process pool, as in production
                    "concurrency": 16,
                    "per_host": 16,
                    "host_delay": 0,  # every page is on this one loopback host
                },
                "feeds": [{"name": "Corpus", "url": site.url("/feed.xml")}],
            }
        )
    )

    (record,) = run_once(config)

    assert record.errors == 0 and record.new_entries == len(truth)
    engine = create_engine(load_config(config).database)
    with engine.connect() as connection:
        rows = connection.execute(text("SELECT text_source, length(text) FROM article")).all()
    engine.dispose()
    assert len(rows) == len(truth)
    assert all(source == "page" and length > 100 for source, length in rows)
