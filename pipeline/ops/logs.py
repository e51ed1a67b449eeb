"""Logging set-up: readable lines for people, one JSON object per line for machines.

Structured fields (feed, url, stage, counts) are passed with ``extra=`` and appear in both.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from enum import StrEnum

# Not fields of ours: the record's own attributes, and uvicorn's copy of the message in colour.
_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime", "taskName"}
_STANDARD |= {"color_message"}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        payload: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        payload.update({k: v for k, v in vars(record).items() if k not in _STANDARD})
        if record.exc_info:
            payload["exception"] = self.formatException(record.exc_info)
        return json.dumps(payload, default=str)


class TextFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)-7s %(message)s", "%Y-%m-%d %H:%M:%S")

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        url = getattr(record, "url", None)
        return f"{line} url={url}" if url and "url=" not in line else line


class LogFormat(StrEnum):
    text = "text"
    json = "json"


# Libraries that talk too much at INFO.
_QUIET = ("httpx", "httpcore", "apscheduler", "trafilatura", "htmldate", "alembic", "readability")
# uvicorn's loggers keep their own handlers unless told otherwise: routed to ours instead.
UVICORN_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access")


def configure_logging(fmt: LogFormat | str, verbose: bool) -> None:
    """One handler on stderr for every logger, the project's and the libraries'."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if LogFormat(fmt) is LogFormat.json else TextFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.DEBUG if verbose else logging.INFO)
    for noisy in _QUIET:
        logging.getLogger(noisy).setLevel(logging.WARNING)
    for name in UVICORN_LOGGERS:
        logger = logging.getLogger(name)
        logger.handlers[:] = []
        logger.propagate = True
