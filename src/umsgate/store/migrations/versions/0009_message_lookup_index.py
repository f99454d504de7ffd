"""messages: an index (client_id, id) for looking a client's messages up

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07 02:20:00.000000
Phase: pre-deploy

The native API's ``GET /v1/messages`` and ``umsgate messages search`` page through
one client's messages newest first (`umsgate.store.lookup`); those to one receiver
use the (client_id, receiver, id) index of revision 0008. Code of any earlier
revision runs unchanged with it. On PostgreSQL the index build locks writes to
``messages`` while it runs: on a large table, apply it in a quiet hour.
"""

from __future__ import annotations

from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

_NAME = "ix_messages_client_id_id"


def upgrade() -> None:
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.create_index(batch_op.f(_NAME), ["client_id", "id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f(_NAME))
