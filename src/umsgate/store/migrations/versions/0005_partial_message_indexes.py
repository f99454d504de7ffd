"""messages: the provider-id and parent indexes hold only the rows that have one

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02 04:00:00.000000
Phase: pre-deploy

The same lookups, served by smaller indexes that accepting a message does not touch
(a new message has neither a provider id nor a parent). Code of any earlier revision
runs unchanged on them. On PostgreSQL the index builds lock writes to ``messages``
while they run: on a large table, apply it in a quiet hour.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

_INDEXES = (
    ("ix_messages_connector_provider_msg_id", ["connector", "provider_msg_id"]),
    ("ix_messages_parent_id", ["parent_id"]),
)


def _where(column: str) -> dict[str, sa.TextClause]:
    clause = sa.text(f"{column} IS NOT NULL")
    return {"sqlite_where": clause, "postgresql_where": clause}


def upgrade() -> None:
    with op.batch_alter_table("messages", schema=None) as batch_op:
        for name, columns in _INDEXES:
            batch_op.drop_index(batch_op.f(name))
            batch_op.create_index(
                batch_op.f(name), columns, unique=False, **_where(columns[-1])
            )


def downgrade() -> None:
    with op.batch_alter_table("messages", schema=None) as batch_op:
        for name, columns in _INDEXES:
            batch_op.drop_index(batch_op.f(name))
            batch_op.create_index(batch_op.f(name), columns, unique=False)
