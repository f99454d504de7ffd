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

from umsgate.store.migrations import _ddl

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


_INDEXES = [["expires_at"]]


def upgrade() -> None:
    _ddl.add_columns(
        "clients",
        sa.Column("dup_window", sa.Float(), server_default="0", nullable=False),
    )
    _ddl.create_table(
        "send_guards",
        sa.Column("client_id", sa.String(length=64), nullable=False),
        sa.Column("receiver", sa.String(length=20), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("src_msg_id", sa.String(length=40), nullable=False),
        sa.Column("at", sa.Float(), nullable=False),
        sa.Column("expires_at", sa.Float(), nullable=False),
        key=["client_id", "receiver", "digest"],
        indexes=_INDEXES,
    )


def downgrade() -> None:
    _ddl.drop_table("send_guards", _INDEXES)
    _ddl.drop_columns("clients", "dup_window")
