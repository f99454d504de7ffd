"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-22 00:08:44.929260
Phase: pre-deploy
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from umsgate.store.migrations import _ddl

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

#: The tables in the order they are made, and the indexes of each.
_INDEXES: dict[str, list[_ddl.Index]] = {
    "clients": [],
    "events": [["message_id"]],
    "files": [["client_id", "md5"], ["expires_at"]],
    "message_parts": [["message_id"]],
    "messages": [["connector", "provider_msg_id"], ["parent_id"], ["status", "due_at"]],
    "nodes": [],
    "pending_reports": [],
    "reports": [["client_id", "ums_msg_id"], ["webhook_state", "next_at"]],
    "tokens": [["expires_at"]],
}


def upgrade() -> None:
    _ddl.create_table(
        "clients",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("secret_hash", sa.String(length=200), nullable=False),
        sa.Column("key_hash", sa.String(length=64), nullable=False),
        sa.Column("signing_key", sa.String(length=64), nullable=False),
        sa.Column(
            "report_url", sa.String(length=2000), server_default="", nullable=False
        ),
        sa.Column("tps", sa.Text(), nullable=False),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.Column("last_report_check", sa.Float(), nullable=True),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("updated_at", sa.Float(), nullable=False),
        key=["id"],
        indexes=_INDEXES["clients"],
    )
    _ddl.create_table(
        "events",
        _ddl.serial_id(),
        sa.Column("message_id", sa.BigInteger(), nullable=False),
        sa.Column("at", sa.Float(), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("code", sa.String(length=8), nullable=True),
        sa.Column("detail", sa.Text(), server_default="", nullable=False),
        key=["id"],
        indexes=_INDEXES["events"],
    )
    _ddl.create_table(
        "files",
        sa.Column("id", sa.String(length=20), nullable=False),
        sa.Column("client_id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("md5", sa.String(length=32), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("expires_at", sa.Float(), nullable=False),
        key=["id"],
        indexes=_INDEXES["files"],
    )
    _ddl.create_table(
        "message_parts",
        sa.Column("connector", sa.String(length=64), nullable=False),
        sa.Column("provider_msg_id", sa.String(length=100), nullable=False),
        sa.Column("message_id", sa.BigInteger(), nullable=False),
        sa.Column("part", sa.Integer(), nullable=False),
        sa.Column("result_code", sa.String(length=8), nullable=True),
        sa.Column("raw_code", sa.String(length=60), nullable=True),
        key=["connector", "provider_msg_id"],
        indexes=_INDEXES["message_parts"],
    )
    _ddl.create_table(
        "messages",
        sa.Column("id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("client_id", sa.String(length=64), nullable=False),
        sa.Column("src_msg_id", sa.String(length=40), nullable=False),
        sa.Column("kind", sa.Integer(), server_default="0", nullable=False),
        sa.Column("parent_id", sa.BigInteger(), nullable=True),
        sa.Column(
            "cmp_msg_id", sa.String(length=40), server_default="", nullable=False
        ),
        sa.Column("channel", sa.String(length=3), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("sender", sa.String(length=20), nullable=False),
        sa.Column("receiver", sa.String(length=20), nullable=False),
        sa.Column("subject", sa.Text(), server_default="", nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("charset", sa.String(length=10), nullable=False),
        sa.Column("file_ids", sa.Text(), server_default="[]", nullable=False),
        sa.Column("extra", sa.Text(), server_default="{}", nullable=False),
        sa.Column("fallback", sa.Text(), nullable=True),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("due_at", sa.Float(), nullable=False),
        sa.Column("expires_at", sa.Float(), nullable=False),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("connector", sa.String(length=64), nullable=True),
        sa.Column("provider_msg_id", sa.String(length=100), nullable=True),
        sa.Column("owner", sa.String(length=40), nullable=True),
        sa.Column("claimed_at", sa.Float(), nullable=True),
        sa.Column("sent_at", sa.Float(), nullable=True),
        sa.Column("done_at", sa.Float(), nullable=True),
        sa.Column("result_code", sa.String(length=8), nullable=True),
        sa.Column("raw_code", sa.String(length=60), nullable=True),
        sa.Column("result_message", sa.Text(), nullable=True),
        sa.Column("carrier", sa.String(length=8), server_default="", nullable=False),
        sa.Column("segments", sa.Integer(), server_default="1", nullable=False),
        sa.UniqueConstraint(
            "client_id",
            "src_msg_id",
            "kind",
            name=op.f("uq_messages_client_id_src_msg_id_kind"),
        ),
        key=["id"],
        indexes=_INDEXES["messages"],
    )
    _ddl.create_table(
        "nodes",
        sa.Column("slot", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("node_id", sa.String(length=40), nullable=False),
        sa.Column("heartbeat", sa.Float(), nullable=False),
        sa.Column("started_at", sa.Float(), nullable=False),
        key=["slot"],
        indexes=_INDEXES["nodes"],
    )
    _ddl.create_table(
        "pending_reports",
        _ddl.serial_id(),
        sa.Column("connector", sa.String(length=64), nullable=False),
        sa.Column("provider_msg_id", sa.String(length=100), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        key=["id"],
        indexes=_INDEXES["pending_reports"],
    )
    _ddl.create_table(
        "reports",
        _ddl.serial_id(),
        sa.Column("message_id", sa.BigInteger(), nullable=False),
        sa.Column("client_id", sa.String(length=64), nullable=False),
        sa.Column("ums_msg_id", sa.BigInteger(), nullable=False),
        sa.Column("channel", sa.String(length=3), nullable=False),
        sa.Column("origin_channel", sa.String(length=3), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("webhook_state", sa.String(length=8), nullable=False),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("next_at", sa.Float(), nullable=False),
        sa.Column("last_error", sa.Text(), server_default="", nullable=False),
        key=["id"],
        indexes=_INDEXES["reports"],
    )
    _ddl.create_table(
        "tokens",
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.Column("client_id", sa.String(length=64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("expires_at", sa.Float(), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        key=["hash"],
        indexes=_INDEXES["tokens"],
    )


def downgrade() -> None:
    for table, indexes in reversed(_INDEXES.items()):
        _ddl.drop_table(table, indexes)
