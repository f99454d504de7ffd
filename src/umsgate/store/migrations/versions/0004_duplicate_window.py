"""duplicate-send blocking: each client's window and the guards of recent sends

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26 12:00:00.000000
Phase: pre-deploy

Additive only: a column with a default (0: not blocked, what code that predates it
does) and a new table that only the new code reads and writes.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("clients", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("dup_window", sa.Float(), server_default="0", nullable=False)
        )
    op.create_table(
        "send_guards",
        sa.Column("client_id", sa.String(length=64), nullable=False),
        sa.Column("receiver", sa.String(length=20), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("src_msg_id", sa.String(length=40), nullable=False),
        sa.Column("at", sa.Float(), nullable=False),
        sa.Column("expires_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint(
            "client_id", "receiver", "digest", name=op.f("pk_send_guards")
        ),
    )
    with op.batch_alter_table("send_guards", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_send_guards_expires_at"), ["expires_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("send_guards", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_send_guards_expires_at"))
    op.drop_table("send_guards")
    with op.batch_alter_table("clients", schema=None) as batch_op:
        batch_op.drop_column("dup_window")
