"""The contract views downstream tools read (DESIGN.md, "The database as an interface").

Their names and columns are stable; a migration that changes them keeps the old columns working.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnClause, Float, Integer, String, TableClause, column, table

from storage.types import UTCDateTime

API_ARTICLES = """
CREATE VIEW api_articles AS
SELECT a.id, a.url, a.canonical_url, a.final_url, f.name AS feed, a.title, a.author,
       a.published_at, a.fetched_at, a.language, a.text, a.text_source, a.story_id,
       a.duplicate_of
FROM article a JOIN feed f ON f.id = a.feed_id
"""

API_FLAGS = """
CREATE VIEW api_flags AS
SELECT fl.id, fl.article_id, a.url, a.title, f.name AS feed, a.published_at,
       fl.created_at AS first_seen_at, fl.entity_id, e.name AS entity, fl.matched, fl.snippet,
       fl.mentions, fl.status, fl.note, fl.reviewed_by, fl.reviewed_at, fl.story_id,
       fl.score, fl.rule,
       (SELECT COUNT(*) FROM article d
         WHERE d.story_id = fl.story_id AND d.id <> fl.article_id) AS duplicates_count
FROM flag fl
JOIN article a ON a.id = fl.article_id
JOIN feed f ON f.id = a.feed_id
JOIN entity e ON e.id = fl.entity_id
"""

CREATE_VIEWS = (API_ARTICLES, API_FLAGS)
DROP_VIEWS = ("DROP VIEW IF EXISTS api_flags", "DROP VIEW IF EXISTS api_articles")

# Created by migration 0004 (the candidate table came then); kept apart from the two above,
# which migrations 0001/0002 create and drop.
API_CANDIDATES = """
CREATE VIEW api_candidates AS
SELECT c.id, c.article_id, a.url, a.title, f.name AS feed, a.published_at,
       c.created_at AS first_seen_at, c.entity_id, e.name AS entity, c.matched, c.snippet,
       c.reason, c.score, c.status, c.note, c.reviewed_by, c.reviewed_at, c.story_id,
       c.flag_id, c.promoted_rule,
       (SELECT COUNT(*) FROM article d
         WHERE d.story_id = c.story_id AND d.id <> c.article_id) AS duplicates_count
FROM candidate c
JOIN article a ON a.id = c.article_id
JOIN feed f ON f.id = a.feed_id
JOIN entity e ON e.id = c.entity_id
"""
DROP_API_CANDIDATES = "DROP VIEW IF EXISTS api_candidates"


# Selectable handles on the views, so queries over them are built with bound parameters.
api_articles = table(
    "api_articles",
    column("id", Integer),
    column("url", String),
    column("canonical_url", String),
    column("final_url", String),
    column("feed", String),
    column("title", String),
    column("author", String),
    column("published_at", UTCDateTime),
    column("fetched_at", UTCDateTime),
    column("language", String),
    column("text", String),
    column("text_source", String),
    column("story_id", Integer),
    column("duplicate_of", Integer),
)


def _mention_view(
    name: str, before_review: list[ColumnClause[Any]], after_review: list[ColumnClause[Any]]
) -> TableClause:
    """A view of one entity's mention in an article (a flag, a candidate): the columns both
    kinds share, in the contract's order, around the kind's own."""
    return table(
        name,
        column("id", Integer),
        column("article_id", Integer),
        column("url", String),
        column("title", String),
        column("feed", String),
        column("published_at", UTCDateTime),
        column("first_seen_at", UTCDateTime),
        column("entity_id", String),
        column("entity", String),
        column("matched", String),
        column("snippet", String),
        *before_review,
        column("status", String),
        column("note", String),
        column("reviewed_by", String),
        column("reviewed_at", UTCDateTime),
        column("story_id", Integer),
        *after_review,
        column("duplicates_count", Integer),
    )


api_flags = _mention_view(
    "api_flags",
    [column("mentions", Integer)],
    [column("score", Float), column("rule", String)],
)

api_candidates = _mention_view(
    "api_candidates",
    [column("reason", String), column("score", Float)],
    [column("flag_id", Integer), column("promoted_rule", String)],
)
