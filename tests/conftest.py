"""Shared fixtures: a loopback site, a config file with its own SQLite database, a runner."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from pipeline.core.config import Config, load_config
from tests import corpora
from tests.db_engines import ENGINES, database_url
from tests.site import Site, serve


@pytest.fixture(autouse=True)
def _root_logging_restored() -> Iterator[None]:
    """A CLI run through CliRunner points the root handler at the runner's stderr, which is
    closed when the run returns; threads that log later (aiosmtpd, servers) would then print
    "Logging error" tracebacks. Each test gets the root logger back as it found it."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.fixture
def site() -> Iterator[Site]:
    with serve() as running:
        yield running


@pytest.fixture(params=ENGINES)
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh database URL, once on SQLite and once on PostgreSQL."""
    with database_url(request.param, tmp_path) as url:
        yield url


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'pipeline.db'}"


@pytest.fixture
def make_config(tmp_path: Path, database: str) -> Callable[..., Path]:
    """Write a feeds.yaml in tmp_path (database: SQLite and PostgreSQL in turn); article
    servers on loopback are allowed unless told."""

    def write(feeds: list[dict[str, Any]], **overrides: Any) -> Path:
        # host_delay 0: the politeness gap between requests to one host (default 1 s) would
        # only slow down tests whose every page is on one loopback server.
        fetch = {
            "allow_private_addresses": True,
            "extract_workers": 0,
            "timeout": 5,
            "host_delay": 0,
        }
        fetch.update(overrides.pop("fetch", {}))
        document = {
            "database": database,
            "fetch": fetch,
            "schedule": {"interval": "15m"},
            "feeds": feeds,
            **overrides,
        }
        path = tmp_path / "feeds.yaml"
        path.write_text(yaml.safe_dump(document), encoding="utf-8")
        return path

    return write


def run_once(config_path: Path) -> list[Any]:
    """One `pipeline run --once` round in this process."""
    from pipeline.poll.scheduler import Worker

    config: Config = load_config(config_path)
    return asyncio.run(Worker(config).run(once=True))


def db_rows(config_path: Path, query: str) -> list[tuple[Any, ...]]:
    """Read the database the way a downstream tool would: plain SQL."""
    from sqlalchemy import create_engine, text

    engine = create_engine(load_config(config_path).database)
    try:
        with engine.connect() as connection:
            return [tuple(row) for row in connection.execute(text(query))]
    finally:
        engine.dispose()


# ---- tests that read ../shared/corpora (tests/corpora.py) -------------------------------------


def pytest_configure(config: pytest.Config) -> None:
    what = "reads the shared corpora; skipped outside CI when missing"
    config.addinivalue_line("markers", f"{corpora.MARKER}(path): {what}")


@pytest.hookimpl(tryfirst=True)  # before an empty parametrisation's own skip
def pytest_runtest_setup(item: pytest.Item) -> None:
    corpora.check(item)


@pytest.hookimpl(hookwrapper=True, tryfirst=True)  # around the short summary
def pytest_terminal_summary(terminalreporter: Any) -> Iterator[None]:
    """One line for every test skipped for want of the corpora, instead of one per test."""
    skipped = terminalreporter.stats.get("skipped", [])
    missing = [report for report in skipped if corpora.SKIP_REASON in str(report.longrepr)]
    terminalreporter.stats["skipped"] = [report for report in skipped if report not in missing]
    yield
    terminalreporter.stats["skipped"] = skipped  # the final count still includes them
    if missing:
        terminalreporter.write_line(
            f"{len(missing)} tests skipped: {corpora.SKIP_REASON}; set "
            f"PIPELINE_CORPORA=/path/to/shared/corpora or run in CI (CI=true) to run them",
            yellow=True,
        )
