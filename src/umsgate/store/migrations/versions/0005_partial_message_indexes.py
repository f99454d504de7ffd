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

from umsgate.store.migrations import _ddl

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

_INDEXES = (["connector", "provider_msg_id"], ["parent_id"])


def upgrade() -> None:
    for columns in _INDEXES:
        _ddl.drop_indexes("messages", columns)
        _ddl.create_indexes("messages", columns, where=f"{columns[-1]} IS NOT NULL")


def downgrade() -> None:
    for columns in _INDEXES:
        _ddl.drop_indexes("messages", columns)
        _ddl.create_indexes("messages", columns)
