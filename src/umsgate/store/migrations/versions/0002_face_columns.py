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
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("clients", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "tobetext_token_hash",
                sa.String(length=200),
                server_default="",
                nullable=False,
            )
        )
        batch_op.add_column(
            sa.Column("imsms_key_hash", sa.String(length=64), nullable=True)
        )
        batch_op.add_column(
            sa.Column("imsms_agents", sa.Text(), server_default="{}", nullable=False)
        )
        batch_op.create_index(
            batch_op.f("ix_clients_imsms_key_hash"), ["imsms_key_hash"], unique=True
        )
    with op.batch_alter_table("reports", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("face", sa.String(length=16), server_default="", nullable=False)
        )
        batch_op.add_column(
            sa.Column(
                "target_url", sa.String(length=2000), server_default="", nullable=False
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("reports", schema=None) as batch_op:
        batch_op.drop_column("target_url")
        batch_op.drop_column("face")
    with op.batch_alter_table("clients", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_clients_imsms_key_hash"))
        batch_op.drop_column("imsms_agents")
        batch_op.drop_column("imsms_key_hash")
        batch_op.drop_column("tobetext_token_hash")
