"""Unified result codes: the one vocabulary every provider code is mapped into.

Each provider has one mapping table (``reports/mapping.py`` and the protocol packages)
from its raw codes to these; the raw code is always kept beside the unified one. The
class of a code (final success, permanent failure, transient failure) drives the retry
policy: only transient codes are retried. The table is rendered in
``docs/result-codes.md``.

Codes are 4-digit strings: 1xxx success, 2xxx permanent failure, 3xxx expiry,
4xxx transient failure.

A provider whose codes carry a text and an HTTP status keeps them in one
`CodeTable`, a row per code.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Mapping
from typing import Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")


class ResultCode(enum.StrEnum):
    """A unified delivery result."""

    #: The handset received the message.
    DELIVERED = "1000"
    #: A failure the provider did not explain.
    FAILED = "2000"
    #: The number does not exist or is malformed at the carrier.
    INVALID_NUMBER = "2001"
    #: The number exists but has no service (suspended, ported away, not subscribed).
    NO_SERVICE = "2002"
    #: The handset was off or out of coverage until the carrier gave up.
    UNREACHABLE = "2003"
    #: The handset's message storage was full.
    HANDSET_FULL = "2004"
    #: Blocked as spam by the carrier or the receiver, or the receiver opted out.
    BLOCKED = "2005"
    #: The content was refused (size, format, forbidden words, bad attachment).
    CONTENT_REJECTED = "2006"
    #: The same receiver and content were sent within the duplicate window.
    DUPLICATE = "2007"
    #: The sender number is not registered for sending (Korean sender-number rule).
    SENDER_NOT_REGISTERED = "2008"
    #: The provider refused our credentials or our address.
    AUTH_FAILED = "2009"
    #: The handset or the carrier does not support the channel (MMS, RCS, KakaoTalk).
    UNSUPPORTED = "2010"
    #: The account has no balance left.
    NO_BALANCE = "2011"
    #: The carrier refused the message for a reason of its own.
    CARRIER_REJECTED = "2099"
    #: The validity period or the client's timeout passed before delivery.
    EXPIRED = "3000"
    #: The provider failed (5xx, internal error); a later try may succeed.
    PROVIDER_ERROR = "4000"
    #: The provider asked us to slow down.
    THROTTLED = "4001"
    #: The provider could not be reached or the connection dropped.
    CONNECTION_ERROR = "4002"
    #: The provider did not answer in time.
    TIMEOUT = "4003"
    #: The provider's queue is full or it asked for a resend.
    RETRY_LATER = "4004"

    @property
    def transient(self) -> bool:
        """Whether a later try of the same message may succeed."""
        return self.value.startswith("4")

    @property
    def final_success(self) -> bool:
        return self is ResultCode.DELIVERED

    @property
    def description(self) -> str:
        return _DESCRIPTIONS[self]


_DESCRIPTIONS: dict[ResultCode, str] = {
    ResultCode.DELIVERED: "delivered to the handset",
    ResultCode.FAILED: "failed, reason not given",
    ResultCode.INVALID_NUMBER: "invalid or unknown number",
    ResultCode.NO_SERVICE: "number without service",
    ResultCode.UNREACHABLE: "handset off or out of coverage",
    ResultCode.HANDSET_FULL: "handset storage full",
    ResultCode.BLOCKED: "blocked as spam or by the receiver",
    ResultCode.CONTENT_REJECTED: "content refused",
    ResultCode.DUPLICATE: "duplicate send blocked",
    ResultCode.SENDER_NOT_REGISTERED: "sender number not registered",
    ResultCode.AUTH_FAILED: "provider refused the credentials",
    ResultCode.UNSUPPORTED: "channel not supported by handset or carrier",
    ResultCode.NO_BALANCE: "no balance left",
    ResultCode.CARRIER_REJECTED: "refused by the carrier",
    ResultCode.EXPIRED: "expired before delivery",
    ResultCode.PROVIDER_ERROR: "provider error",
    ResultCode.THROTTLED: "throttled by the provider",
    ResultCode.CONNECTION_ERROR: "provider unreachable",
    ResultCode.TIMEOUT: "provider did not answer in time",
    ResultCode.RETRY_LATER: "provider asked for a resend",
}


class Invalid(enum.StrEnum):
    """Why a request was refused before it was stored (faces map these to their
    codes)."""

    #: The body is not valid JSON, or a field has the wrong type.
    MALFORMED = "malformed"
    #: A required field or header is missing.
    MISSING = "missing"
    #: A value is longer than allowed (bytes in the charset, id length, list size).
    TOO_LONG = "too_long"
    #: A value is not one of the allowed ones, or the text cannot be encoded.
    NOT_ALLOWED = "not_allowed"
    #: The receiver number is not a valid number.
    BAD_RECEIVER = "bad_receiver"
    #: The sender number is not a valid number.
    BAD_SENDER = "bad_sender"
    #: A file id is unknown, foreign, expired, or there are too many.
    BAD_FILE = "bad_file"
    #: The client's message id was used before with different content.
    ID_REUSED = "id_reused"
    #: The same receiver and content were sent within the duplicate window.
    DUPLICATE = "duplicate"


@dataclasses.dataclass(frozen=True, slots=True)
class CodeRow:
    """What goes with one provider code."""

    #: The text answered with the code.
    message: str
    #: The HTTP status of an answer with the code (None: it is not answered).
    http_status: int | None = None
    #: The unified code it maps to (None: success, or read another way).
    unified: ResultCode | None = None


class CodeTable(Generic[K]):
    """A provider's codes, a `CodeRow` each, read by column."""

    def __init__(self, rows: Mapping[K, CodeRow]) -> None:
        self.rows = dict(rows)

    @property
    def messages(self) -> dict[K, str]:
        return {code: row.message for code, row in self.rows.items()}

    @property
    def http_statuses(self) -> dict[K, int]:
        """The codes that are answered, and their HTTP status."""
        return _given({code: row.http_status for code, row in self.rows.items()})

    @property
    def results(self) -> dict[K, ResultCode]:
        """The codes that map to a unified code, and that code."""
        return _given({code: row.unified for code, row in self.rows.items()})


def _given(column: Mapping[K, V | None]) -> dict[K, V]:
    return {key: value for key, value in column.items() if value is not None}
