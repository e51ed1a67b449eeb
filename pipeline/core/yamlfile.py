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
    """The first problem of `exc` as one line (see `describe_validation_errors`)."""
    return describe_validation_errors(exc, raw)[0]


def describe_validation_errors(exc: ValidationError, raw: dict[str, Any]) -> list[str]:
    """Every problem, one line each, in the one wording: 'key.path[2].name: VALUE reason'.

    The reasons are ours, never the library's, so every bad value reads the same way.
    """
    del raw  # each error carries its input
    return [_describe(error) for error in exc.errors()]


def _describe(error: Any) -> str:
    location = tuple(error["loc"])
    key_path = format_key_path(location)
    kind, context, value = error["type"], error.get("ctx") or {}, error.get("input")
    if kind == "extra_forbidden":
        return f"{key_path}: unknown key (check the spelling; see docs/operating.md)"
    if kind == "missing":
        return f"{key_path}: missing (this key is required)"
    if kind in ("value_error", "assertion_error"):  # our own validators name the value
        reason = str(context.get("error") or error["msg"]).removeprefix("Value error, ")
        return f"{key_path}: {reason}" if location else reason
    return f"{key_path}: {_SHORT_REPR.repr(value)} {_reason(kind, context)}"


def _reason(kind: str, context: dict[str, Any]) -> str:
    bounds = {
        "greater_than_equal": ("must be at least {}", "ge"),
        "greater_than": ("must be more than {}", "gt"),
        "less_than_equal": ("must be at most {}", "le"),
        "less_than": ("must be less than {}", "lt"),
        "string_too_short": ("is too short (at least {} characters)", "min_length"),
        "string_too_long": ("is too long (at most {} characters)", "max_length"),
        "too_short": ("has too few items (at least {})", "min_length"),
        "too_long": ("has too many items (at most {})", "max_length"),
    }
    if kind in bounds:
        template, key = bounds[kind]
        return template.format(_number(context.get(key)))
    if kind.startswith("url_"):
        return "is not an http(s) URL"
    if kind == "literal_error":
        return f"is not one of {context.get('expected', 'the allowed values')}"
    return _TYPE_REASONS.get(kind.removesuffix("_type").split("_")[0], "is not a valid value")


_TYPE_REASONS = {
    "int": "is not a whole number",
    "float": "is not a number",
    "decimal": "is not a number",
    "bool": "is not true or false",
    "string": "is not text",
    "list": "is not a list",
    "tuple": "is not a list",
    "set": "is not a list",
    "dict": "is not a mapping (key: value lines)",
    "model": "is not a mapping (key: value lines)",
    "path": "is not a file path",
}


def _number(value: object) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def format_key_path(location: tuple[int | str, ...]) -> str:
    text = ""
    for part in location:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "(top level)"
