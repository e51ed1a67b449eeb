"""Entities: the watchlist's items as the flags name them."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from pipeline.core.records import EntityRecord
from storage.models import Entity
from storage.repository.base import RepositoryBase, dialect_insert


class EntityStore(RepositoryBase):
    """The entity table."""

    def sync_entities(self, entities: Iterable[EntityRecord], now: datetime) -> None:
        """Make the entity table hold these entities (old ones stay: flags name them)."""
        with self._session() as session:
            for entity in entities:
                values = {
                    "name": entity.name,
                    "kind": entity.kind,
                    "country": entity.country,
                    "programs": entity.programs,
                    "aliases": entity.aliases,
                    "source": entity.source,
                    "identifiers": entity.identifiers,
                    "addresses": entity.addresses,
                    "updated_at": now,
                }
                statement = dialect_insert(session, Entity).values(id=entity.id, **values)
                session.execute(statement.on_conflict_do_update(index_elements=["id"], set_=values))


def entity_json(entity: Entity) -> dict[str, Any]:
    """An entity row as the desk and the API show it (one shape everywhere)."""
    return {
        "id": entity.id,
        "name": entity.name,
        "kind": entity.kind,
        "country": entity.country,
        "programs": list(entity.programs),
        "aliases": list(entity.aliases),
        "source": entity.source,
        "identifiers": dict(entity.identifiers),
        "addresses": list(entity.addresses),
    }
