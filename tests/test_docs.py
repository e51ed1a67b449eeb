"""Every feeds.yaml key, every CLI command and every database table and column is documented.

The datasette pattern (``tests/test_docs.py`` there): the reference is read as text and each
name the code defines must appear in it, so a new setting, command or column cannot ship
undocumented.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import typer
from pydantic import BaseModel
from sqlmodel import SQLModel

import storage.models  # noqa: F401  (registers every table on SQLModel.metadata)
from pipeline.cli.app import app
from pipeline.core.config import Config

DOCS = Path(__file__).resolve().parent.parent / "docs"


def _doc(name: str) -> str:
    return (DOCS / name).read_text(encoding="utf-8")


def _config_keys(model: type[BaseModel], prefix: str = "") -> Iterator[str]:
    """Dotted key paths as the reference writes them: `fetch.timeout`, `feeds[].url`."""
    for name, field in model.model_fields.items():
        yield prefix + name
        annotation = field.annotation
        marker = "[]" if getattr(annotation, "__origin__", None) is list else ""
        for kind in (annotation, *getattr(annotation, "__args__", ())):
            if isinstance(kind, type) and issubclass(kind, BaseModel):
                yield from _config_keys(kind, f"{prefix}{name}{marker}.")


def _commands(group: Any, prefix: str = "") -> Iterator[str]:
    for name, command in group.commands.items():
        path = f"{prefix}{name}"
        if hasattr(command, "commands"):  # a command group (typer vendors its own click)
            yield from _commands(command, path + " ")
        else:
            yield path


CONFIG_KEYS = sorted(set(_config_keys(Config)))
COMMANDS = sorted(_commands(typer.main.get_group(app)))
TABLES = sorted(SQLModel.metadata.tables)


@pytest.mark.parametrize("key", CONFIG_KEYS)
def test_every_config_key_is_documented(key: str) -> None:
    # Either the key path in the reference table, or the key inside a YAML example there.
    text = _doc("operating.md")
    leaf = key.rsplit(".", 1)[-1]
    in_table = f"`{key}`" in text or f"`{key}." in text  # a section: its keys are listed
    in_example = re.search(rf"^\s*(- )?{re.escape(leaf)}:", text, re.M)
    assert in_table or in_example, f"feeds.yaml key {key!r} is not documented in docs/operating.md"


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_is_documented(command: str) -> None:
    text = re.sub(r"\s+", " ", _doc("operating.md") + _doc("analysing.md"))
    assert f"pipeline {command}" in text or f"`{command}" in text, (
        f"command `pipeline {command}` is not documented in docs/operating.md or analysing.md"
    )


def _table_sections(reference: str) -> dict[str, str]:
    """Each table's paragraph (one opening with `name`, plus the column table after it).

    A paragraph may document two tables ("`dedup_signature` (...) and `dedup_band` (...)").
    """
    sections: dict[str, str] = {}
    names: list[str] = []
    for paragraph in reference.split("### Tables", 1)[-1].split("\n\n"):
        opening = re.match(r"`(\w+)`", paragraph)
        if opening and opening.group(1) in TABLES:
            names = [n for n in re.findall(r"`(\w+)`", paragraph) if n in TABLES]
            for name in names:
                sections[name] = paragraph
        elif paragraph.lstrip().startswith("|"):
            for name in names:
                sections[name] += "\n" + paragraph
        else:
            names = []
    return sections


@pytest.mark.parametrize("table", TABLES)
def test_every_table_and_column_is_documented(table: str) -> None:
    section = _table_sections(_doc("database.md")).get(table)
    assert section, f"table {table!r} is not documented in docs/database.md"
    missing = [
        column.name
        for column in SQLModel.metadata.tables[table].columns
        if not re.search(rf"(?<![\w.]){re.escape(column.name)}(?!\w)", section)
    ]
    assert not missing, f"docs/database.md, table {table!r}: columns not documented: {missing}"


def test_the_reference_lists_something() -> None:
    # Guards the parametrisation itself: an empty list would make the tests above vacuous.
    assert len(CONFIG_KEYS) > 30 and len(COMMANDS) > 15 and len(TABLES) > 10
