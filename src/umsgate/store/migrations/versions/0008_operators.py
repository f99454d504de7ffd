"""operators, their console sessions and tokens; clients.disabled; the dashboard's
time indexes on messages and the receiver search's index

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07 01:00:00.000000
Phase: pre-deploy

New tables and a column with a default: code of any earlier revision runs unchanged
with them. On PostgreSQL the three index builds on ``messages`` lock writes to it
while they run: on a large table, apply it in a quiet hour. (The receiver index
is the one the message lookup of the native API uses, under the same name.)
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "operators",
        sa.Column("username", sa.String(64), nullable=False),
        sa.Column("password_hash", sa.String(200), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("updated_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("username", name=op.f("pk_operators")),
    )
    op.create_table(
        "operator_sessions",
        sa.Column("hash", sa.String(64), nullable=False),
        sa.Column("username", sa.String(64), nullable=False),
        sa.Column("csrf", sa.String(64), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("last_seen", sa.Float(), nullable=False),
        sa.Column("expires_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("hash", name=op.f("pk_operator_sessions")),
    )
    op.create_table(
        "operator_tokens",
        sa.Column("hash", sa.String(64), nullable=False),
        sa.Column("username", sa.String(64), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("expires_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("hash", name=op.f("pk_operator_tokens")),
    )
    for table in ("operator_sessions", "operator_tokens"):
        for column in ("username", "expires_at"):
            op.create_index(op.f(f"ix_{table}_{column}"), table, [column])
    with op.batch_alter_table("clients", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("disabled", sa.Integer(), server_default="0", nullable=False)
        )
    done = sa.text("done_at IS NOT NULL")
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_messages_created_at"), ["created_at"])
        batch_op.create_index(
            batch_op.f("ix_messages_client_id_receiver_id"),
            ["client_id", "receiver", "id"],
        )
        batch_op.create_index(
            batch_op.f("ix_messages_done_at"),
            ["done_at"],
            sqlite_where=done,
            postgresql_where=done,
        )


def downgrade() -> None:
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_messages_done_at"))
        batch_op.drop_index(batch_op.f("ix_messages_client_id_receiver_id"))
        batch_op.drop_index(batch_op.f("ix_messages_created_at"))
    with op.batch_alter_table("clients", schema=None) as batch_op:
        batch_op.drop_column("disabled")
    for table in ("operator_tokens", "operator_sessions"):
        for column in ("expires_at", "username"):
            op.drop_index(op.f(f"ix_{table}_{column}"), table_name=table)
        op.drop_table(table)
    op.drop_table("operators")
