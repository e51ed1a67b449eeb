"""The watchlist: the entities whose mentions we flag, loaded and validated from YAML.

A watchlist file (``pipeline/watchlist.yaml`` is the shipped one) is a mapping with ``version``,
``description`` and ``entities``; each entity is a ``WatchlistEntity``::

    - id: ofac-52049                   # stable, unique: "<source>-<number>" for list imports
      name: National Development Complex
      kind: organisation               # organisation | person | legal-reference
      country: PK                      # ISO code or a country name; null if none
      programs: [NPWMD]                # sanctions programme tags
      identifiers: {tax_id: "9010629"} # values corroborate a weak or common-words mention
      addresses: ["NESCOM Complex, H-11/4, Islamabad, Pakistan"]
      strong_aliases: [NATIONAL DEFENSE COMPLEX]   # flag on their own
      weak_aliases: [NDC]                          # only confirm (see pipeline/match/matcher.py)
      context: [Shaheen, Fateh Jang]               # corroborating words and phrases
      negative_context: [National Democratic Congress]  # phrases of another meaning
      source: OFAC SDN 52049 (18 Dec 2024)

The canonical ``name`` is itself a strong alias. A bad file raises ``ConfigError`` naming the
file, the key path and the value, e.g. ``watchlist.yaml: entities[2].kind: Input should be
'organisation', 'person' or 'legal-reference' (got 'company')``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from pipeline.core.errors import ConfigError
from pipeline.core.records import EntityRecord
from pipeline.core.yamlfile import describe_validation_error, read_mapping

EntityKind = Literal["organisation", "person", "legal-reference"]

_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:-]*$"


class WatchlistEntity(BaseModel):
    """One watched entity with every name it goes by and the words that corroborate it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(min_length=1, max_length=200, pattern=_ID_PATTERN)
    name: str = Field(min_length=1, max_length=500)
    kind: EntityKind = "organisation"
    country: str | None = None
    programs: list[str] = Field(default_factory=list)
    identifiers: dict[str, str] = Field(default_factory=dict)
    addresses: list[str] = Field(default_factory=list)
    strong_aliases: list[str] = Field(default_factory=list)
    weak_aliases: list[str] = Field(default_factory=list)
    context: list[str] = Field(default_factory=list)
    negative_context: list[str] = Field(default_factory=list)
    source: str = ""

    @field_validator("name")
    @classmethod
    def _name_not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be blank")
        return value.strip()

    @field_validator("identifiers", mode="before")
    @classmethod
    def _identifier_values_as_text(cls, value: object) -> object:
        # YAML reads 0686371 as an int and drops the zero; ids are text, so quote them.
        if isinstance(value, dict):
            for key, item in value.items():
                if not isinstance(item, str):
                    raise ValueError(f"{key}: identifier values must be quoted strings")
        return value

    @property
    def all_strong_names(self) -> list[str]:
        """The canonical name followed by the strong aliases, without repeats."""
        return list(dict.fromkeys([self.name, *self.strong_aliases]))


class Watchlist(BaseModel):
    """The whole watchlist; entity ids are unique."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    version: int = 1
    description: str = ""
    entities: list[WatchlistEntity] = Field(default_factory=list)

    @model_validator(mode="after")
    def _unique_ids(self) -> Watchlist:
        seen: set[str] = set()
        for index, entity in enumerate(self.entities):
            if entity.id in seen:
                raise ValueError(f"entities[{index}].id: duplicate entity id {entity.id!r}")
            seen.add(entity.id)
        return self

    def get(self, entity_id: str) -> WatchlistEntity:
        """The entity with this id; KeyError if there is none."""
        for entity in self.entities:
            if entity.id == entity_id:
                return entity
        raise KeyError(entity_id)

    def entity_records(self) -> list[EntityRecord]:
        """The entities as the entity table keeps them (every alias, strong or weak)."""
        return [
            EntityRecord(
                id=entity.id,
                name=entity.name,
                kind=entity.kind,
                country=entity.country,
                programs=list(entity.programs),
                aliases=[*entity.strong_aliases, *entity.weak_aliases],
                source=entity.source,
                identifiers=dict(entity.identifiers),
                addresses=list(entity.addresses),
            )
            for entity in self.entities
        ]


def load_watchlist(path: Path) -> Watchlist:
    """Read and validate a watchlist file; raise ConfigError with the key path on a bad one."""
    raw = read_mapping(path)
    try:
        return Watchlist.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(f"{path}: {describe_validation_error(exc, raw)}") from None


def save_watchlist(watchlist: Watchlist, path: Path) -> None:
    """Write a watchlist as YAML that ``load_watchlist`` reads back unchanged.

    Written to a temporary file and renamed over ``path``, so a reader (or a crash) never sees
    half a file; the C dumper when PyYAML has it (imported lists hold thousands of entities).
    """
    data = watchlist.model_dump(mode="json")
    dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
    text = yaml.dump(data, Dumper=dumper, allow_unicode=True, sort_keys=False, width=100)
    partial = path.with_name(f".{path.name}.partial")
    try:
        partial.write_text(text, encoding="utf-8")
        os.replace(partial, path)
    except OSError as exc:
        partial.unlink(missing_ok=True)
        raise ConfigError(f"{path}: cannot write: {exc}") from None
