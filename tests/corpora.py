"""The shared real-data corpora (../shared/corpora beside the work tree, as in CI; env
PIPELINE_CORPORA overrides) and the marker of the tests that read them.

`@needs(path)` (or `pytestmark = needs(path)`): where `path` is missing, the test is skipped
outside CI, with one summary line at the end of the run (tests/conftest.py), and fails in CI
(env CI=true), where the corpora are always there. The project's own small fixtures in
tests/fixtures/ keep the same code paths exercised on a fresh clone.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CORPORA = Path(os.environ.get("PIPELINE_CORPORA", ROOT.parent / "shared" / "corpora"))
MARKER = "corpora"
SKIP_REASON = "../shared/corpora not found"


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def needs(path: Path = CORPORA) -> pytest.MarkDecorator:
    """Mark tests that read `path` (a part of the corpora)."""
    return getattr(pytest.mark, MARKER)(path=str(path))


def check(item: pytest.Item) -> None:
    """Before a marked test runs: skip or fail it when its corpus is missing."""
    marker = item.get_closest_marker(MARKER)
    if marker is None:
        return
    path = Path(marker.kwargs.get("path", CORPORA))
    if path.exists():
        return
    if in_ci():
        pytest.fail(f"the shared corpora are missing at {path} (CI runs every real-data test)")
    pytest.skip(SKIP_REASON)
