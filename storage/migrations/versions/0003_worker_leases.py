"""worker leases

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-03 07:00:00

`feed.lease_generation`: the fencing token of a feed's lease (pipeline.poll.leases). A plain
ADD COLUMN on both engines: no table rebuild, so the views that read `feed` stay as they are.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "feed",
        sa.Column("lease_generation", sa.Integer(), nullable=False, server_default="0"),
    )


def downgrade() -> None:
    # SQLite >= 3.35 drops a plain column in place (a batch rebuild would break the views).
    op.drop_column("feed", "lease_generation")
