"""What every HTTP connector is made of: its name and parsed options, the gateway's
context (the shared HTTP client, the clock, routes for callbacks), a `HealthMeter`,
a bound on requests at once, the messages whose final state it still awaits
(counted in flight beside the requests), and its timed jobs (polls, expiries: an
`Agenda` each, started and stopped with it). A connector says how it sends one
message (`_submit_one`) and how many it awaits (`awaited`); ``submit`` sends a batch
at once, each message within the bound. A connector whose provider reports to a
gateway endpoint reads those requests with `_read_report` and answers errors with
`_refuse_report`, and hands what they report on with `_record_report`.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import dataclasses
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import ClassVar, Generic, Protocol, TypeVar

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from umsgate.domain.message import Message
from umsgate.domain.results import ResultCode
from umsgate.errors import RemoteProtocolError
from umsgate.protocols._http.exchange import Failure
from umsgate.protocols._http.health import HealthMeter
from umsgate.protocols._http.schedule import Agenda
from umsgate.protocols.registry import ConnectorContext
from umsgate.request_body import read_body
from umsgate.types import Health, Outcome, ReportSink, SubmitResult


class _Bounded(Protocol):
    @property
    def concurrency(self) -> int: ...


class _Timed(Protocol):
    def start(self) -> None: ...

    async def stop(self) -> None: ...


C = TypeVar("C", bound=_Bounded)
J = TypeVar("J")
T = TypeVar("T")


class HttpConnector(Generic[C]):
    #: The protocol, in the names of the connector's tasks.
    protocol: ClassVar[str] = "http"
    #: What the provider's requests to the gateway are called (in refusals).
    report_name: ClassVar[str] = "report"

    def __init__(self, name: str, config: C, context: ConnectorContext) -> None:
        self.name = name
        self.config = config
        self._context = context
        self._sink: ReportSink | None = None
        self._meter = HealthMeter()
        self._slots = asyncio.Semaphore(config.concurrency)
        self._agendas: list[_Timed] = []

    def _agenda(
        self, job: Callable[[J], Awaitable[None]], *, concurrency: int, what: str
    ) -> Agenda[J]:
        """An agenda of timed jobs run by ``job``, started and stopped with the
        connector (its task named after ``what`` it does)."""
        agenda: Agenda[J] = Agenda(
            job,
            concurrency=concurrency,
            clock=self._context.clock,
            name=f"{self.protocol} {self.name} {what}",
        )
        self._agendas.append(agenda)
        return agenda

    async def start(self, sink: ReportSink) -> None:
        self._sink = sink
        for agenda in self._agendas:
            agenda.start()

    async def stop(self) -> None:
        for agenda in self._agendas:
            await agenda.stop()

    @property
    def awaited(self) -> int:
        """Messages sent whose final state is still to come."""
        raise NotImplementedError

    def health(self) -> Health:
        health = self._meter.health()
        return dataclasses.replace(health, in_flight=health.in_flight + self.awaited)

    async def submit(self, messages: Sequence[Message]) -> Sequence[SubmitResult]:
        return await asyncio.gather(*(self._submit_one(m) for m in messages))

    async def _submit_one(self, message: Message) -> SubmitResult:
        raise NotImplementedError

    @contextlib.asynccontextmanager
    async def _request_slot(self) -> AsyncIterator[None]:
        """One of the requests at once, counted in flight while it lasts."""
        async with self._slots:
            self._meter.in_flight += 1
            try:
                yield
            finally:
                self._meter.in_flight -= 1

    async def _read_report(
        self, request: Request, limit: int, parse: Callable[[bytes], T]
    ) -> T | Response:
        """What ``parse`` reads in the body of a provider's request to the gateway,
        or the refusal to answer: a body over ``limit`` bytes (413) or one that
        ``parse`` refuses (400)."""
        body = await read_body(request, limit)
        if body is None:
            return self._refuse_report(f"{self.report_name} too large", 413)
        try:
            return parse(body)
        except RemoteProtocolError as exc:
            return self._refuse_report(f"malformed {self.report_name}: {exc}", 400)

    async def _record_report(
        self, key: str, message_id: int | None, deliver: Callable[[], Awaitable[T]]
    ) -> T | Response:
        """What ``deliver()`` returns once it handed a provider's report to the sink,
        or the refusal to answer: 503 before the connector is started, 500 (logged)
        when the report could not be recorded."""
        if self._sink is None:
            return self._refuse_report("not ready", 503, key)
        try:
            return await deliver()
        except Exception:
            logging.getLogger(type(self).__module__).exception(
                "report not recorded",
                extra={
                    "event": f"{self.protocol}_report_failed",
                    "message_id": message_id,
                },
            )
            return self._refuse_report("report not recorded", 500, key)

    def _refuse_report(self, why: str, status: int, key: str = "") -> Response:
        """Answer a provider's request with an error (counted in
        ``health().refused``)."""
        self._meter.refused_report(f"{self.report_name} {key}: {why}" if key else why)
        return PlainTextResponse(why, status_code=status)


def message_id_in(key: str) -> int | None:
    """The gateway message id that a provider's key is (ToBeText's ``CKey`` and AI
    CROSS's ``clientTag`` are the message id), or None when it cannot be one: only
    ASCII digits count (``str.isdigit`` also takes "²", which `int` refuses, and
    "١٢", which it reads as 12)."""
    return int(key) if key.isascii() and key.isdigit() and len(key) <= 19 else None


def remember(table: collections.OrderedDict[str, None], key: str, limit: int) -> None:
    """Put ``key`` last in ``table``, dropping the oldest keys beyond ``limit``."""
    table[key] = None
    table.move_to_end(key)
    while len(table) > limit:
        table.popitem(last=False)


def rejected(message: Message, code: ResultCode, detail: str) -> SubmitResult:
    """The message refused before any request: it can never go as it is."""
    return SubmitResult(
        message_id=message.id, outcome=Outcome.REJECTED, code=code, detail=detail
    )


def retry(message: Message, failure: Failure) -> SubmitResult:
    """The message to be tried again after ``failure`` (no usable answer), after the
    wait the provider asked for, if any."""
    return SubmitResult(
        message_id=message.id,
        outcome=Outcome.RETRY,
        code=failure.code,
        detail=failure.detail,
        retry_after=failure.retry_after,
    )
