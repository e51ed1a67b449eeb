"""Flags as FollowTheMoney entities, for Aleph, yente and the `ftm` tools (one JSON object per
line): the watchlist entity with its OFAC identifiers (and its Sanction), an Article per story,
and a Mention per flag that links the story to the entity it names.

Ids are stable, so a second export merges into the first: the entity keeps its watchlist id
(ofac-52049 is also OpenSanctions' id for SDN 52049, so Aleph and yente join the two), a story is
sw-story-ID, a flag sw-flag-ID. Legal references (kind legal-reference, e.g. an executive
order) are no entities in FtM: a story's flags of them go into the Article's `keywords`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import Any

from followthemoney import model
from followthemoney.proxy import EntityProxy

SCHEMA_OF_KIND = {"organisation": "Organization", "person": "Person"}
IDENTIFIER_PROPERTY = {
    "tax_id": "taxNumber",
    "ntn": "taxNumber",
    "registration": "registrationNumber",
    "registration_number": "registrationNumber",
    "established": "incorporationDate",
    "incorporated": "incorporationDate",
}  # any other identifier goes to idNumber


def entity_proxies(entity: dict[str, Any]) -> list[EntityProxy]:
    """The watchlist entity (none for a legal reference) and, with programmes, its Sanction."""
    schema = SCHEMA_OF_KIND.get(entity["kind"])
    if schema is None:
        return []
    proxy = model.make_entity(schema)
    proxy.id = entity["id"]
    proxy.add("name", entity["name"])
    proxy.add("alias", [alias for alias in entity["aliases"] if alias != entity["name"]])
    proxy.add("country", entity["country"])
    proxy.add("program", entity["programs"])
    proxy.add("address", entity.get("addresses", []))
    proxy.add("topics", "sanction")
    proxy.add("notes", entity["source"] or None)
    for key, value in sorted(entity.get("identifiers", {}).items()):
        proxy.add(IDENTIFIER_PROPERTY.get(key, "idNumber"), value)
    proxies = [proxy]
    if entity["programs"]:
        sanction = model.make_entity("Sanction")
        sanction.id = f"{entity['id']}-sanction"
        sanction.add("entity", proxy.id)
        sanction.add("program", entity["programs"])
        sanction.add("authority", "OFAC" if entity["source"].startswith("OFAC") else None)
        sanction.add("description", entity["source"] or None)
        proxies.append(sanction)
    return proxies


def story_proxies(
    story: dict[str, Any], flags: list[dict[str, Any]], entities: dict[str, dict[str, Any]]
) -> list[EntityProxy]:
    """The story's Article (text of its first copy, every URL) and a Mention per flag."""
    article = model.make_entity("Article")
    article.id = f"sw-story-{story['story_id']}"
    article.add("title", story["title"] or None)
    article.add("bodyText", story["text"] or None)
    article.add("sourceUrl", story["urls"])
    article.add("publishedAt", _date(story["published_at"]))
    article.add("retrievedAt", _date(story["fetched_at"]))
    article.add("language", story["language"])
    article.add("publisher", story["feed"])
    proxies = [article]
    for flag in flags:
        entity = entities.get(flag["entity_id"])
        schema = SCHEMA_OF_KIND.get(entity["kind"]) if entity else None
        if entity is None or schema is None:
            article.add("keywords", flag["entity"])
            continue
        mention = model.make_entity("Mention")
        mention.id = f"sw-flag-{flag['id']}"
        mention.add("document", article.id)
        mention.add("resolved", entity["id"])
        mention.add("name", flag["matched"])
        mention.add("detectedSchema", schema)
        mention.add("contextCountry", entity["country"])
        proxies.append(mention)
        article.add("namesMentioned", flag["matched"])
    return proxies


def ftm_lines(proxies: Iterable[EntityProxy]) -> Iterator[str]:
    """One JSON object per line, each entity once (the first version of an id wins)."""
    seen: set[str] = set()
    for proxy in proxies:
        if proxy.id is None or proxy.id in seen:
            continue
        seen.add(proxy.id)
        yield json.dumps(proxy.to_dict(), ensure_ascii=False, sort_keys=True)


def _date(value: Any) -> str | None:
    return value.isoformat() if value is not None else None
