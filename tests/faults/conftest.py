"""Fixtures of the fault suite."""

from __future__ import annotations

import logging

import pytest


def drop_handlers_of_closed_streams() -> None:
    """CLI tests (CliRunner) leave the root logger writing to a stream they have closed:
    drop such handlers, so in-process runs here do not print '--- Logging error ---'."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        stream = getattr(handler, "stream", None)
        if isinstance(handler, logging.StreamHandler) and getattr(stream, "closed", False):
            root.removeHandler(handler)


@pytest.fixture(autouse=True, scope="module")
def _live_log_streams_per_module() -> None:
    drop_handlers_of_closed_streams()  # before the module-scoped runs


@pytest.fixture(autouse=True)
def _live_log_streams() -> None:
    drop_handlers_of_closed_streams()
