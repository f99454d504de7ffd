"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-22 00:08:44.929260
Phase: pre-deploy
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
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
        sa.PrimaryKeyConstraint("id", name=op.f("pk_clients")),
    )
    op.create_table(
        "events",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("message_id", sa.BigInteger(), nullable=False),
        sa.Column("at", sa.Float(), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("code", sa.String(length=8), nullable=True),
        sa.Column("detail", sa.Text(), server_default="", nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_events")),
    )
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_events_message_id"), ["message_id"], unique=False
        )

    op.create_table(
        "files",
        sa.Column("id", sa.String(length=20), nullable=False),
        sa.Column("client_id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("md5", sa.String(length=32), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("expires_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_files")),
    )
    with op.batch_alter_table("files", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_files_client_id_md5"), ["client_id", "md5"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_files_expires_at"), ["expires_at"], unique=False
        )

    op.create_table(
        "message_parts",
        sa.Column("connector", sa.String(length=64), nullable=False),
        sa.Column("provider_msg_id", sa.String(length=100), nullable=False),
        sa.Column("message_id", sa.BigInteger(), nullable=False),
        sa.Column("part", sa.Integer(), nullable=False),
        sa.Column("result_code", sa.String(length=8), nullable=True),
        sa.Column("raw_code", sa.String(length=60), nullable=True),
        sa.PrimaryKeyConstraint(
            "connector", "provider_msg_id", name=op.f("pk_message_parts")
        ),
    )
    with op.batch_alter_table("message_parts", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_message_parts_message_id"), ["message_id"], unique=False
        )

    op.create_table(
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
        sa.PrimaryKeyConstraint("id", name=op.f("pk_messages")),
        sa.UniqueConstraint(
            "client_id",
            "src_msg_id",
            "kind",
            name=op.f("uq_messages_client_id_src_msg_id_kind"),
        ),
    )
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_messages_connector_provider_msg_id"),
            ["connector", "provider_msg_id"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_messages_parent_id"), ["parent_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_messages_status_due_at"), ["status", "due_at"], unique=False
        )

    op.create_table(
        "nodes",
        sa.Column("slot", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("node_id", sa.String(length=40), nullable=False),
        sa.Column("heartbeat", sa.Float(), nullable=False),
        sa.Column("started_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("slot", name=op.f("pk_nodes")),
    )
    op.create_table(
        "pending_reports",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("connector", sa.String(length=64), nullable=False),
        sa.Column("provider_msg_id", sa.String(length=100), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pending_reports")),
    )
    op.create_table(
        "reports",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
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
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reports")),
    )
    with op.batch_alter_table("reports", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_reports_client_id_ums_msg_id"),
            ["client_id", "ums_msg_id"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_reports_webhook_state_next_at"),
            ["webhook_state", "next_at"],
            unique=False,
        )

    op.create_table(
        "tokens",
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.Column("client_id", sa.String(length=64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("expires_at", sa.Float(), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("hash", name=op.f("pk_tokens")),
    )
    with op.batch_alter_table("tokens", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_tokens_expires_at"), ["expires_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("tokens", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_tokens_expires_at"))

    op.drop_table("tokens")
    with op.batch_alter_table("reports", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_reports_webhook_state_next_at"))
        batch_op.drop_index(batch_op.f("ix_reports_client_id_ums_msg_id"))

    op.drop_table("reports")
    op.drop_table("pending_reports")
    op.drop_table("nodes")
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_messages_status_due_at"))
        batch_op.drop_index(batch_op.f("ix_messages_parent_id"))
        batch_op.drop_index(batch_op.f("ix_messages_connector_provider_msg_id"))

    op.drop_table("messages")
    with op.batch_alter_table("message_parts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_message_parts_message_id"))

    op.drop_table("message_parts")
    with op.batch_alter_table("files", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_files_expires_at"))
        batch_op.drop_index(batch_op.f("ix_files_client_id_md5"))

    op.drop_table("files")
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_events_message_id"))

    op.drop_table("events")
    op.drop_table("clients")
