"""Reading the project's YAML files (feeds.yaml, watchlists) with errors a person can act on:
one line naming the file, the key path and the offending value."""

from __future__ import annotations

import reprlib
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from pipeline.core.errors import ConfigError

# A hostile value (a YAML alias bomb) must not blow up the one error line: its repr is clipped.
_SHORT_REPR = reprlib.Repr()
_SHORT_REPR.maxlevel, _SHORT_REPR.maxlist, _SHORT_REPR.maxdict = 2, 4, 4
_SHORT_REPR.maxstring = _SHORT_REPR.maxother = 80


def read_mapping(path: Path, *, empty_ok: bool = False) -> dict[str, Any]:
    """The YAML mapping in `path`; ConfigError for a missing, unreadable or malformed file."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read: {exc}") from None
    try:
        # The C safe loader when PyYAML has it: 3x faster on large imported watchlists.
        raw = yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))  # noqa: S506
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        problem = getattr(exc, "problem", None) or "invalid YAML"
        raise ConfigError(f"{path}: YAML syntax error{where}: {problem}") from None
    if raw is None and empty_ok:
        return {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: the top level must be a mapping, not {type(raw).__name__}")
    return raw


def describe_validation_error(exc: ValidationError, raw: dict[str, Any]) -> str:
    """The first pydantic error as 'key.path[2].name: message (got value)'."""
    error = exc.errors()[0]
    location = tuple(error["loc"])
    key_path = format_key_path(location)
    message = str(error["msg"]).removeprefix("Value error, ")
    if error["type"] == "extra_forbidden":
        return f"{key_path}: unknown key (check the spelling; see the README)"
    if not location:  # model-level validators carry their own key path in the message
        return message
    return f"{key_path}: {message} (got {_SHORT_REPR.repr(value_at(raw, location))})"


def format_key_path(location: tuple[int | str, ...]) -> str:
    text = ""
    for part in location:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "(top level)"


def value_at(raw: object, location: tuple[int | str, ...]) -> object:
    value = raw
    for part in location:
        try:
            value = value[part]  # type: ignore[index]
        except (KeyError, IndexError, TypeError):
            return None
    return value
