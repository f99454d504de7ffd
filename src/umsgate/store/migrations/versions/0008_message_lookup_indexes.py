"""messages: indexes for looking messages up by client, and by client and receiver

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07 01:00:00.000000
Phase: pre-deploy

The native API's ``GET /v1/messages`` and ``umsgate messages search`` page through
one client's messages newest first, optionally to one receiver
(`umsgate.store.lookup`). Code of any earlier revision runs unchanged with them. On
PostgreSQL the index builds lock writes to ``messages`` while they run: on a large
table, apply it in a quiet hour.
"""

from __future__ import annotations

from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

_INDEXES = (
    ("ix_messages_client_id_id", ["client_id", "id"]),
    ("ix_messages_client_id_receiver_id", ["client_id", "receiver", "id"]),
)


def upgrade() -> None:
    with op.batch_alter_table("messages", schema=None) as batch_op:
        for name, columns in _INDEXES:
            batch_op.create_index(batch_op.f(name), columns, unique=False)


def downgrade() -> None:
    with op.batch_alter_table("messages", schema=None) as batch_op:
        for name, _columns in _INDEXES:
            batch_op.drop_index(batch_op.f(name))
