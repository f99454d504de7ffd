"""The frozen rows the ledger hands the store name the columns they fill."""

from __future__ import annotations

import dataclasses

from umsgate.domain.records import FallbackRow, ReportRow
from umsgate.store import messages, reports


def test_a_report_row_has_a_field_for_every_column_of_reports() -> None:
    fields = tuple(f.name for f in dataclasses.fields(ReportRow))
    assert sorted(fields) == sorted(reports.REPORT_COLUMNS)


def test_a_fallback_row_fills_columns_of_messages_only() -> None:
    fields = {f.name for f in dataclasses.fields(FallbackRow)}
    assert fields <= set(messages.MESSAGE_COLUMNS)
    # What it leaves out (NULL) is what a message gets only once it is tried.
    assert set(messages.MESSAGE_COLUMNS) - fields == {
        "owner",
        "claimed_at",
        "connector",
        "provider_msg_id",
        "sent_at",
        "done_at",
        "result_code",
        "raw_code",
        "result_message",
    }
