"""Shared seams: the `Connector` protocol every upstream provider implements, the values
that cross it, and the `ReportSink` reports flow into.

Contract of a connector
-----------------------
* ``start(sink)`` opens whatever sessions it needs and keeps them open (reconnecting by
  itself); it returns when the connector is ready to take ``submit`` calls or has
  scheduled its own reconnects. ``stop()`` closes everything and returns.
* ``submit(messages)`` hands a batch to the provider and returns one `SubmitResult` per
  message, in any order, each naming its message id. It must not raise for a
  per-message problem; it may raise `TransientConnectorError` when the whole batch
  could not be tried (not connected), and the dispatcher then retries the batch.
  ``ACCEPTED`` means the provider acknowledged the message (the gateway records SENT
  and will not send it again); ``RETRY`` means it was not acknowledged and may be sent
  again; ``REJECTED`` means it never will be.
* Delivery reports arrive whenever the provider gives them (a TCP report session, an
  HTTP callback, polling) and are handed to ``sink.report(...)``; the connector
  acknowledges a report to its provider only after ``report`` returned, which is after
  the report was committed.
* ``resume(messages)`` is called with SENT messages of this connector whose report
  has not come and whose process died; a connector that can learn their fate (poll,
  re-query) does so, others may ignore the call.
* ``health()`` is cheap and synchronous.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Sequence
from typing import Protocol, runtime_checkable

from umsgate.clock import Clock as Clock  # the one clock seam, named here too
from umsgate.domain.message import Message

# The values that cross a connector are the domain's; named here with the seam.
from umsgate.domain.outcomes import Outcome as Outcome
from umsgate.domain.outcomes import ProviderReport as ProviderReport
from umsgate.domain.outcomes import SubmitResult as SubmitResult


class ReportSink(Protocol):
    async def report(self, report: ProviderReport) -> None:
        """Record a report durably; returns after it is committed."""
        ...

    async def report_many(self, reports: Sequence[ProviderReport]) -> None:
        """Record many reports in one go (cheaper per report); returns after commit."""
        ...


@runtime_checkable
class QueueingSink(ReportSink, Protocol):
    """A sink that can also take reports without a task of the caller's: for a
    caller that answers many reports by callbacks (`umsgate.hosting`), each await
    of `report_many` would be a task and loop turns of latency."""

    def report_soon(self, reports: Sequence[ProviderReport]) -> asyncio.Future[None]:
        """Queue ``reports`` now; the future is resolved once they are committed."""
        ...


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Health:
    up: bool
    detail: str = ""
    in_flight: int = 0
    #: Reports refused to the provider since the start (it may send them again,
    #: or not), and why the last one was.
    refused: int = 0
    last_refusal: str = ""


@runtime_checkable
class Connector(Protocol):
    #: Unique name of this connector in the configuration.
    name: str

    async def start(self, sink: ReportSink) -> None: ...

    async def stop(self) -> None: ...

    async def submit(self, messages: Sequence[Message]) -> Sequence[SubmitResult]: ...

    async def resume(self, messages: Sequence[Message]) -> None: ...

    def health(self) -> Health: ...
