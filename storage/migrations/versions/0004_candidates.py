"""candidates

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-03 07:00:00

Possible mentions: the ``candidate`` table (one per story and entity), its audit trail
``candidate_review`` and the contract view ``api_candidates``. Only new tables: a 0002 or 0003
database is upgraded in place, nothing existing is rebuilt.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.types
from storage.views import API_CANDIDATES, DROP_API_CANDIDATES

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "candidate",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("story_id", sa.Integer(), nullable=False),
        sa.Column("entity_id", sa.String(), nullable=False),
        sa.Column("article_id", sa.Integer(), nullable=False),
        sa.Column("matched", sa.String(), nullable=False),
        sa.Column("snippet", sa.Text(), nullable=False),
        sa.Column("offsets", sa.JSON(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("context", sa.JSON(), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("why", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("note", sa.String(), nullable=True),
        sa.Column("reviewed_by", sa.String(), nullable=True),
        sa.Column("reviewed_at", storage.types.UTCDateTime(), nullable=True),
        sa.Column("flag_id", sa.Integer(), nullable=True),
        sa.Column("promoted_rule", sa.String(), nullable=True),
        sa.Column("created_at", storage.types.UTCDateTime(), nullable=False),
        sa.Column("updated_at", storage.types.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["article_id"], ["article.id"]),
        sa.ForeignKeyConstraint(["entity_id"], ["entity.id"]),
        sa.ForeignKeyConstraint(["flag_id"], ["flag.id"]),
        sa.ForeignKeyConstraint(["story_id"], ["story.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("story_id", "entity_id", name="uq_candidate_story_entity"),
    )
    with op.batch_alter_table("candidate", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_candidate_article_id"), ["article_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_candidate_entity_id"), ["entity_id"], unique=False)
        batch_op.create_index("ix_candidate_status_created", ["status", "created_at"], unique=False)
    op.create_table(
        "candidate_review",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("candidate_id", sa.Integer(), nullable=False),
        sa.Column("from_status", sa.String(), nullable=False),
        sa.Column("to_status", sa.String(), nullable=False),
        sa.Column("note", sa.String(), nullable=True),
        sa.Column("reviewed_by", sa.String(), nullable=True),
        sa.Column("reviewed_at", storage.types.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["candidate_id"], ["candidate.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("candidate_review", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_candidate_review_candidate_id"), ["candidate_id"], unique=False
        )
    op.execute(API_CANDIDATES)


def downgrade() -> None:
    op.execute(DROP_API_CANDIDATES)
    with op.batch_alter_table("candidate_review", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_candidate_review_candidate_id"))
    op.drop_table("candidate_review")
    with op.batch_alter_table("candidate", schema=None) as batch_op:
        batch_op.drop_index("ix_candidate_status_created")
        batch_op.drop_index(batch_op.f("ix_candidate_entity_id"))
        batch_op.drop_index(batch_op.f("ix_candidate_article_id"))
    op.drop_table("candidate")
