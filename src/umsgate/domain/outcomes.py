"""What a provider answers: a submit's `SubmitResult` (its `Outcome`) and a delivery
`ProviderReport`. The values that cross the `umsgate.types.Connector` seam; the
rules of `umsgate.domain.transitions` read them."""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum

from umsgate.domain.results import ResultCode


class Outcome(enum.StrEnum):
    ACCEPTED = "ACCEPTED"  #: the provider acknowledged it; wait for the report
    REJECTED = "REJECTED"  #: refused for good; the message FAILS with `code`
    RETRY = "RETRY"  #: not acknowledged; send it again later


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class SubmitResult:
    message_id: int
    outcome: Outcome
    provider_msg_id: str | None = None
    #: Unified code for REJECTED/RETRY (None for ACCEPTED).
    code: ResultCode | None = None
    #: The provider's own code, kept raw.
    raw_code: str | None = None
    detail: str = ""
    #: Number of parts the provider will bill or send (SMPP segments).
    segments: int | None = None
    #: When a message went out in several parts with an id each (SMPP long
    #: messages): every part's provider id, ``provider_msg_id`` among them. The
    #: message becomes final when every part has its report (any failure fails it).
    segment_ids: tuple[str, ...] = ()
    #: For RETRY: the earliest the provider wants to see it again (None = policy).
    retry_after: float | None = None


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class ProviderReport:
    """A delivery report from a provider.

    Identifies its message by ``message_id`` when the provider echoes our id, or by
    ``provider_msg_id`` (looked up with the connector's name) when it only knows its
    own.
    ``code`` decides the message's final status: DELIVERED → DELIVERED, EXPIRED →
    EXPIRED, a transient code → the message is queued again, any other → FAILED.
    """

    connector: str
    code: ResultCode
    message_id: int | None = None
    provider_msg_id: str | None = None
    raw_code: str | None = None
    detail: str = ""
    #: Mobile carrier that handled it: SKT, KTF, LGT or "".
    carrier: str = ""
    done_at: dt.datetime | None = None
