"""the shared send schedule of paced connectors

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26 09:00:00.000000
Phase: pre-deploy

Additive only: a new table, written only by code that paces connectors.
"""

from __future__ import annotations

import sqlalchemy as sa

from umsgate.store.migrations import _ddl

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    _ddl.create_table(
        "connector_pace",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("tat", sa.Float(), nullable=False),
        key=["name"],
    )


def downgrade() -> None:
    _ddl.drop_table("connector_pace")
