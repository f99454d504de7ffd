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

from umsgate.domain.results import ResultCode


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


#: ``message`` texts the simulator answers with.
MESSAGES: dict[ErrorCode, str] = {
    ErrorCode.INVALID_PARAMETER: "missing or invalid parameter",
    ErrorCode.BAD_TOKEN: "token missing or wrong",
    ErrorCode.UNKNOWN_CLIENT_TAG: "unknown clientTag",
    ErrorCode.DUPLICATE_CLIENT_TAG: "duplicate clientTag",
    ErrorCode.INTERNAL: "internal error",
    ErrorCode.UNKNOWN_SUBSCRIBER: "unknown subscriber",
    ErrorCode.CARRIER_REJECTED: "carrier rejected",
    ErrorCode.EXPIRED: "expired undelivered",
}

#: HTTP status of each refusal (spec §4 proposal).
HTTP_STATUS: dict[ErrorCode, int] = {
    ErrorCode.INVALID_PARAMETER: 400,
    ErrorCode.BAD_TOKEN: 401,
    ErrorCode.UNKNOWN_CLIENT_TAG: 404,
    ErrorCode.DUPLICATE_CLIENT_TAG: 409,
    ErrorCode.INTERNAL: 500,
}

#: Placeholder codes → unified code (docs/protocols/aicross.md renders this table).
#: 40901 is absent: the connector reads it as "accepted earlier" (spec §6).
DEFAULT_RESULTS: dict[str, ResultCode] = {
    ErrorCode.INVALID_PARAMETER: ResultCode.CONTENT_REJECTED,
    ErrorCode.BAD_TOKEN: ResultCode.AUTH_FAILED,
    ErrorCode.UNKNOWN_CLIENT_TAG: ResultCode.FAILED,
    ErrorCode.INTERNAL: ResultCode.PROVIDER_ERROR,
    ErrorCode.UNKNOWN_SUBSCRIBER: ResultCode.INVALID_NUMBER,
    ErrorCode.CARRIER_REJECTED: ResultCode.CARRIER_REJECTED,
    ErrorCode.EXPIRED: ResultCode.EXPIRED,
}


def unified(code: str | None, table: dict[str, ResultCode]) -> ResultCode:
    """The unified code of a raw ``errorCode`` in ``table`` (FAILED when unknown)."""
    if code is None:
        return ResultCode.FAILED
    return table.get(code, ResultCode.FAILED)
