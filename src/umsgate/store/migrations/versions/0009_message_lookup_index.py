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

from umsgate.store.migrations import _ddl

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

_INDEX = ["client_id", "id"]


def upgrade() -> None:
    _ddl.create_indexes("messages", _INDEX)


def downgrade() -> None:
    _ddl.drop_indexes("messages", _INDEX)
