"""The shipped Urdu sources: at least eight outlets tagged ``urdu``, each with its evidence."""

from __future__ import annotations

import re
from pathlib import Path

from pipeline.core.config import load_config

FEEDS_YAML = Path(__file__).resolve().parents[1] / "feeds.yaml"


def test_at_least_eight_urdu_outlets_are_configured() -> None:
    urdu = [feed for feed in load_config(FEEDS_YAML).feeds if "urdu" in feed.tags]
    assert len(urdu) >= 8
    assert all(str(feed.url).startswith("https://") for feed in urdu)
    assert any(feed.kind == "sitemap" for feed in urdu)  # outlets without a feed


def test_every_urdu_outlet_says_where_its_url_comes_from() -> None:
    # Each entry is "- name: ..." then its keys, then "# ..." evidence lines.
    entries = re.split(r"\n  - name: ", FEEDS_YAML.read_text(encoding="utf-8"))[1:]
    urdu = [entry for entry in entries if re.search(r"tags: \[[^\]]*\burdu\b", entry)]
    assert len(urdu) >= 8
    for entry in urdu:
        evidence = re.findall(r"^    # (.+)$", entry, flags=re.MULTILINE)
        assert evidence, entry.splitlines()[0]
        assert re.search(r"\[(list|code x\d+|captured)\]|Low|low", " ".join(evidence))
