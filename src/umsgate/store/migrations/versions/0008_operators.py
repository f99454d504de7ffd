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

from umsgate.store.migrations import _ddl

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

#: The indexes of the two tables of operators' credentials.
_CREDENTIAL_INDEXES = [["username"], ["expires_at"]]
#: The dashboard's time indexes and the receiver search's, on ``messages``.
_MESSAGE_INDEXES = [["created_at"], ["client_id", "receiver", "id"]]
_DONE_INDEX = ["done_at"]


def upgrade() -> None:
    _ddl.create_table(
        "operators",
        sa.Column("username", sa.String(64), nullable=False),
        sa.Column("password_hash", sa.String(200), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("updated_at", sa.Float(), nullable=False),
        key=["username"],
    )
    _ddl.create_table(
        "operator_sessions",
        sa.Column("hash", sa.String(64), nullable=False),
        sa.Column("username", sa.String(64), nullable=False),
        sa.Column("csrf", sa.String(64), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("last_seen", sa.Float(), nullable=False),
        sa.Column("expires_at", sa.Float(), nullable=False),
        key=["hash"],
    )
    _ddl.create_table(
        "operator_tokens",
        sa.Column("hash", sa.String(64), nullable=False),
        sa.Column("username", sa.String(64), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("expires_at", sa.Float(), nullable=False),
        key=["hash"],
    )
    for table in ("operator_sessions", "operator_tokens"):
        _ddl.create_indexes(table, *_CREDENTIAL_INDEXES)
    _ddl.add_columns(
        "clients",
        sa.Column("disabled", sa.Integer(), server_default="0", nullable=False),
    )
    _ddl.create_indexes("messages", *_MESSAGE_INDEXES)
    _ddl.create_indexes("messages", _DONE_INDEX, where="done_at IS NOT NULL")


def downgrade() -> None:
    _ddl.drop_indexes("messages", _DONE_INDEX)
    _ddl.drop_indexes("messages", *_MESSAGE_INDEXES)
    _ddl.drop_columns("clients", "disabled")
    for table in ("operator_tokens", "operator_sessions"):
        _ddl.drop_table(table, _CREDENTIAL_INDEXES)
    _ddl.drop_table("operators")
