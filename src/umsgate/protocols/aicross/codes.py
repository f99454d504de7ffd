"""AI CROSS codes: the proposal's placeholders and their unified mapping.

The seed (a blog outline) states only that p5 errors are 5-digit numeric codes and
that results are 送達 (delivered), 失敗 (failed) or 配信中 (in delivery); it gives no
table. Every code below is a **placeholder** of aicross spec §5, used by the
simulator; the connector's ``code_map`` option maps the provider's real codes once
its specification (downloaded from the web console) is at hand. A code found in
neither table is a permanent failure with the raw code kept (spec §7.6).
"""

from __future__ import annotations

import enum

from umsgate.domain.results import CodeRow, CodeTable, ResultCode


class ErrorCode(enum.StrEnum):
    """``errorCode`` placeholders (spec §5: "5-digit strings, as S5 requires")."""

    #: "40001 missing or invalid parameter (recipient, text)" — permanent.
    INVALID_PARAMETER = "40001"
    #: "40101 token missing or wrong" — permanent (configuration).
    BAD_TOKEN = "40101"
    #: "40401 unknown clientTag (result API)".
    UNKNOWN_CLIENT_TAG = "40401"
    #: "40901 duplicate clientTag" — an earlier attempt was accepted (spec §6).
    DUPLICATE_CLIENT_TAG = "40901"
    #: "50001 internal error" — transient.
    INTERNAL = "50001"
    #: "60001 delivery failed: unknown subscriber" — permanent.
    UNKNOWN_SUBSCRIBER = "60001"
    #: "60002 delivery failed: carrier rejected" — permanent.
    CARRIER_REJECTED = "60002"
    #: "60003 delivery failed: expired undelivered" — permanent (EXPIRED).
    EXPIRED = "60003"


class Status(enum.StrEnum):
    """``status`` values of the proposal (spec §4, §7.5)."""

    #: Send answer: the message was taken.
    ACCEPTED = "accepted"
    #: Any answer: the request was refused; ``errorCode`` says why.
    ERROR = "error"
    #: 送達 — delivered.
    DELIVERED = "delivered"
    #: 失敗 — failed; ``errorCode`` says why.
    FAILED = "failed"
    #: 配信中 — in delivery.
    DELIVERING = "delivering"


#: Per code: the ``message`` text the simulator answers with, the HTTP status of a
#: refusal with it (spec §4 proposal; none for delivery failures), and its unified
#: code (none for 40901: the connector reads it as "accepted earlier", spec §6).
TABLE: CodeTable[ErrorCode] = CodeTable(
    {
        ErrorCode.INVALID_PARAMETER: CodeRow(
            "missing or invalid parameter", 400, ResultCode.CONTENT_REJECTED
        ),
        ErrorCode.BAD_TOKEN: CodeRow(
            "token missing or wrong", 401, ResultCode.AUTH_FAILED
        ),
        ErrorCode.UNKNOWN_CLIENT_TAG: CodeRow(
            "unknown clientTag", 404, ResultCode.FAILED
        ),
        ErrorCode.DUPLICATE_CLIENT_TAG: CodeRow("duplicate clientTag", 409),
        ErrorCode.INTERNAL: CodeRow("internal error", 500, ResultCode.PROVIDER_ERROR),
        ErrorCode.UNKNOWN_SUBSCRIBER: CodeRow(
            "unknown subscriber", None, ResultCode.INVALID_NUMBER
        ),
        ErrorCode.CARRIER_REJECTED: CodeRow(
            "carrier rejected", None, ResultCode.CARRIER_REJECTED
        ),
        ErrorCode.EXPIRED: CodeRow("expired undelivered", None, ResultCode.EXPIRED),
    }
)
MESSAGES = TABLE.messages
HTTP_STATUS = TABLE.http_statuses
#: Placeholder codes → unified code (docs/protocols/aicross.md renders this table).
DEFAULT_RESULTS: dict[str, ResultCode] = {
    code.value: unified for code, unified in TABLE.results.items()
}


def unified(code: str | None, table: dict[str, ResultCode]) -> ResultCode:
    """The unified code of a raw ``errorCode`` in ``table`` (FAILED when unknown)."""
    if code is None:
        return ResultCode.FAILED
    return table.get(code, ResultCode.FAILED)
