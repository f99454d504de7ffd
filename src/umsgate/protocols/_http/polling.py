"""What the connectors that ask a provider for a message's state (AI CROSS, IMS SMS)
do the same way: one `Poll` per message awaited, asked again on the configured
schedule until its state is final, expired once its deadline has passed, and asked
again when its report could not be recorded.

The messages a connector awaits are kept here by the provider's name of each
(`PollingConnector._awaiting`); a connector says what it asks (`_ask`) and how a
report is handed on (`_deliver`).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
from collections.abc import Callable
from typing import ClassVar, Protocol, TypeVar

from umsgate.domain.results import ResultCode
from umsgate.protocols._http.base import HttpConnector
from umsgate.protocols._http.exchange import Answer, Failure, read_answer
from umsgate.protocols._http.schedule import Agenda, AgendaFull
from umsgate.protocols.registry import ConnectorContext
from umsgate.types import ProviderReport


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Poll:
    message_id: int
    #: The provider's name of the message (clientTag, imsId).
    key: str
    #: Polls made so far.
    polls: int
    deadline: dt.datetime


class _Polled(Protocol):
    @property
    def concurrency(self) -> int: ...

    @property
    def poll_concurrency(self) -> int: ...

    @property
    def poll_schedule(self) -> tuple[float, ...]: ...

    @property
    def poll_give_up(self) -> float: ...


P = TypeVar("P", bound=_Polled)
T = TypeVar("T")


class PollingConnector(HttpConnector[P]):
    #: Why a message is expired, formatted with ``give_up`` (seconds).
    expiry_detail: ClassVar[str] = "no final state within {give_up:g} s"
    #: What becomes of a message not polled because the agenda is full.
    unpolled: ClassVar[str] = "message left to the gateway's expiry"

    def __init__(self, name: str, config: P, context: ConnectorContext) -> None:
        super().__init__(name, config, context)
        self._log = logging.getLogger(type(self).__module__)
        self._poller: Agenda[Poll] = self._agenda(
            self._poll, concurrency=config.poll_concurrency, what="poller"
        )
        #: The provider's name (clientTag, imsId) → message id of every message
        #: whose final state is awaited.
        self._awaiting: dict[str, int] = {}

    @property
    def awaited(self) -> int:
        """Messages whose final state is awaited."""
        return len(self._awaiting)

    def _awaits(self, key: str) -> bool:
        return key in self._awaiting

    def _give_up_at(self, since: dt.datetime) -> dt.datetime:
        """When a message awaited since ``since`` is given up (``poll_give_up``
        later)."""
        return since + dt.timedelta(seconds=self.config.poll_give_up)

    async def _ask(self, item: Poll) -> ProviderReport | None:
        """One state request; a report when the state is final, else None."""
        raise NotImplementedError

    async def _deliver(self, item: Poll, report: ProviderReport) -> bool:
        """Hand ``report`` on; False when the message is to be polled again."""
        raise NotImplementedError

    def _read_poll(
        self,
        item: Poll,
        what: str,
        result: Answer | Failure,
        parse: Callable[[Answer], T],
    ) -> T | None:
        """What ``parse`` reads in the answer to a poll of ``item`` (``what`` it
        asked for); None, counted as failed, when no usable answer came."""
        answer = read_answer(result, parse, unreadable="answer unreadable: {error}")
        if isinstance(answer, Failure):
            self._meter.failed(f"{what} of {item.key}: {answer.detail}")
            return None
        return answer

    def _schedule_poll(
        self, message_id: int, key: str, deadline: dt.datetime, *, delay: float
    ) -> bool:
        """Poll ``key`` first in ``delay`` seconds; False when the agenda is full."""
        try:
            self._poller.add(
                Poll(message_id=message_id, key=key, polls=0, deadline=deadline),
                delay=delay,
            )
        except AgendaFull:
            self._log.warning(
                "poll agenda full; %s",
                self.unpolled,
                extra={
                    "event": f"{self.protocol}_poller_full",
                    "message_id": message_id,
                },
            )
            return False
        return True

    def _next_delay(self, polls: int) -> float:
        schedule = self.config.poll_schedule
        return schedule[min(polls, len(schedule) - 1)]

    def _report(
        self,
        item: Poll,
        code: ResultCode,
        raw_code: str | None,
        detail: str,
        *,
        done_at: dt.datetime | None = None,
    ) -> ProviderReport:
        """The report of the message ``item`` polls for (done now unless said)."""
        return ProviderReport(
            connector=self.name,
            code=code,
            message_id=item.message_id,
            provider_msg_id=item.key,
            raw_code=raw_code,
            detail=detail,
            done_at=done_at or self._context.clock.now(),
        )

    def _expired(self, item: Poll) -> ProviderReport:
        return self._report(
            item,
            ResultCode.EXPIRED,
            None,
            self.expiry_detail.format(give_up=self.config.poll_give_up),
        )

    async def _poll(self, item: Poll) -> None:
        if not self._awaits(item.key):
            return
        polled = dataclasses.replace(item, polls=item.polls + 1)
        report = await self._ask(polled)
        if report is None and self._context.clock.now() >= item.deadline:
            report = self._expired(polled)
        if report is not None:
            try:
                if await self._deliver(polled, report):
                    return
            except Exception:
                self._log.exception(
                    "report not recorded; polling again",
                    extra={
                        "event": f"{self.protocol}_report_failed",
                        "message_id": item.message_id,
                    },
                )
        if self._awaits(item.key):
            self._poller.add(polled, delay=self._next_delay(polled.polls))
