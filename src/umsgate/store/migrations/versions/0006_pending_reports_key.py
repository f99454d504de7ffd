"""pending_reports: an index on (connector, provider_msg_id)

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06 22:00:00.000000
Phase: pre-deploy

The ledger deletes the reports parked for a provider id in the batch that records
its submit (a receipt that overtook its submit_sm_resp). Code of any earlier
revision runs unchanged with it.
"""

from __future__ import annotations

from umsgate.store.migrations import _ddl

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

_INDEX = ["connector", "provider_msg_id"]


def upgrade() -> None:
    _ddl.create_indexes("pending_reports", _INDEX)


def downgrade() -> None:
    _ddl.drop_indexes("pending_reports", _INDEX)
