"""credentials of the compatible faces; the face and target URL of each report

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24 09:00:00.000000
Phase: pre-deploy

Additive only: new columns with defaults and a new index. Code that predates them
neither reads nor writes them (a report it writes gets face "", the native API's).
"""

from __future__ import annotations

import sqlalchemy as sa

from umsgate.store.migrations import _ddl

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    _ddl.add_columns(
        "clients",
        sa.Column(
            "tobetext_token_hash",
            sa.String(length=200),
            server_default="",
            nullable=False,
        ),
        sa.Column("imsms_key_hash", sa.String(length=64), nullable=True),
        sa.Column("imsms_agents", sa.Text(), server_default="{}", nullable=False),
        unique_index=["imsms_key_hash"],
    )
    _ddl.add_columns(
        "reports",
        sa.Column("face", sa.String(length=16), server_default="", nullable=False),
        sa.Column(
            "target_url", sa.String(length=2000), server_default="", nullable=False
        ),
    )


def downgrade() -> None:
    _ddl.drop_columns("reports", "target_url", "face")
    _ddl.drop_columns(
        "clients",
        "imsms_agents",
        "imsms_key_hash",
        "tobetext_token_hash",
        unique_index=["imsms_key_hash"],
    )
