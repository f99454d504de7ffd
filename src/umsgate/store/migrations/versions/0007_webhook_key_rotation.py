"""clients: room for sealed signing keys, and the previous key of a rotation

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-07 01:00:00.000000
Phase: pre-deploy

``signing_key`` widens from 64 to 255 characters: a key sealed with the
operator's secret key (``fernet:`` and a Fernet token, about 190 characters) takes
more than its 64 hex digits. ``previous_signing_key`` and ``previous_key_until``
keep the key replaced by ``umsgate client rotate-webhook-key``, which still signs
reports, beside the new one, until that time. Additive: code of any earlier
revision reads the clear keys it wrote, and ignores the new columns.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("clients", schema=None) as batch_op:
        batch_op.alter_column(
            "signing_key",
            existing_type=sa.String(length=64),
            type_=sa.String(length=255),
            existing_nullable=False,
        )
        batch_op.add_column(
            sa.Column(
                "previous_signing_key",
                sa.String(length=255),
                server_default="",
                nullable=False,
            )
        )
        batch_op.add_column(
            sa.Column(
                "previous_key_until", sa.Float(), server_default="0", nullable=False
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("clients", schema=None) as batch_op:
        batch_op.drop_column("previous_key_until")
        batch_op.drop_column("previous_signing_key")
        batch_op.alter_column(
            "signing_key",
            existing_type=sa.String(length=255),
            type_=sa.String(length=64),
            existing_nullable=False,
        )
