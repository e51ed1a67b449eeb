"""desk stories sign-in: sign-in throttling state and its audit trail; entity identifiers
and addresses (for the entity pages and the FtM export)

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03 07:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.types

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("entity") as batch:
        batch.add_column(sa.Column("identifiers", sa.JSON(), server_default="{}", nullable=False))
        batch.add_column(sa.Column("addresses", sa.JSON(), server_default="[]", nullable=False))
    op.create_table(
        "sign_in_throttle",
        sa.Column("key", sa.String(), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("last_failure_at", storage.types.UTCDateTime(), nullable=False),
        sa.Column("locked_until", storage.types.UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("key"),
    )
    op.create_table(
        "sign_in_event",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", storage.types.UTCDateTime(), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("address", sa.String(), nullable=False),
        sa.Column("outcome", sa.String(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_sign_in_event_name_at", "sign_in_event", ["name", "at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_sign_in_event_name_at", table_name="sign_in_event")
    op.drop_table("sign_in_event")
    op.drop_table("sign_in_throttle")
    with op.batch_alter_table("entity") as batch:
        batch.drop_column("addresses")
        batch.drop_column("identifiers")
