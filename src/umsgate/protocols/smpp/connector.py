"""The SMPP connector (ESME): `umsgate.types.Connector` over one transceiver bind, or
a transmitter bind plus a receiver bind.

Theory of operation
-------------------
``submit`` turns each message into its submit_sm parts (`outbound.plan`) and sends
them through the submitting link, the window and the route's `RateLimiter`:

* every part ESME_ROK → ACCEPTED, with every part's SMSC message id in
  ``segment_ids`` (the first is ``provider_msg_id``) and the part count in
  ``segments``;
* ESME_RTHROTTLED or ESME_RMSGQFUL → the route slows down (`RateLimiter.throttled`)
  and the same part is submitted again here, up to ``throttle_retries`` times, so a
  throttling SMSC costs time, not failures; past that, RETRY with ``retry_after``;
* any other error status → REJECTED, or RETRY when the status is transient
  (`results.for_status`);
* the session ended or timed out before the response → RETRY: the SMSC may or may
  not have the part, and sending it again is the at-least-once choice (a handset may
  see a part twice; it never misses one). A message of several parts goes again
  whole.

Receipts: a deliver_sm with the SMSC-delivery-receipt message type is read for its
id (receipted_message_id TLV, else the ``id:`` of the text) and state
(message_state TLV, else ``stat:``), handed to the sink as a `ProviderReport` for
that part's id, and answered once the sink has committed it: ESME_ROK, or
ESME_RX_T_APPN when it could not, so that the SMSC sends it again. ENROUTE is
answered and not reported (it is not final). A deliver_sm that is not a receipt (a
mobile-originated message) has nowhere to go in the gateway and is answered
ESME_RX_P_APPN.

An SMSC often sends a receipt right behind its submit_sm_resp, before ``submit``
has returned the batch's results to the gateway. So the connector keeps the SMSC
ids of its last `RECENT_IDS` one-part messages with their message ids, and a
receipt for one of them names its message (``ProviderReport.message_id``): the
ledger applies it at once, with no lookup and whatever arrives first. Other
receipts (parts of long messages, older ids) are matched by the SMSC id.

Every receipt refused (ESME_RX_T_APPN, ESME_RX_P_APPN) is counted in ``health()``
(``refused``) and logged once with its id.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import itertools
import logging
import random
import zoneinfo
from collections.abc import Awaitable, Sequence

from umsgate.clock import SystemClock
from umsgate.config import ConnectorSettings
from umsgate.domain.message import Message
from umsgate.domain.results import ResultCode
from umsgate.errors import LocalProtocolError, TransientConnectorError
from umsgate.protocols.ratelimit import RateLimiter
from umsgate.protocols.registry import ConnectorContext
from umsgate.protocols.smpp import options as smpp_options
from umsgate.protocols.smpp import outbound, receipt, results
from umsgate.protocols.smpp import pdu as pdus
from umsgate.protocols.smpp.codes import (
    ESM_MESSAGE_TYPE_MASK,
    CommandStatus,
    EsmClass,
    MessageState,
    status_name,
)
from umsgate.protocols.smpp.connection import Connection
from umsgate.protocols.smpp.link import EsmeLink, LinkDown
from umsgate.protocols.smpp.options import SmppOptions
from umsgate.types import (
    Clock,
    Health,
    Outcome,
    ProviderReport,
    QueueingSink,
    ReportSink,
    SubmitResult,
)

log = logging.getLogger("umsgate.protocols.smpp")

#: SMSC ids of the last one-part messages kept with their message ids (about 150
#: bytes each): at 4,000 messages a second, the last five seconds.
RECENT_IDS = 20_000


def build(settings: ConnectorSettings, context: ConnectorContext) -> SmppConnector:
    """The connector a ``[[connectors]]`` table with ``protocol = "smpp"`` describes.

    Raises:
        ConfigError: an option is unknown, missing or bad (named in the message).
    """
    return SmppConnector(
        settings.name,
        smpp_options.parse(
            settings.name, settings.options_with_limits("tps", "window")
        ),
        clock=context.clock,
    )


class _Part:
    """How one part ended."""

    __slots__ = ("code", "detail", "message_id", "raw", "retry_after", "transient")

    def __init__(
        self,
        *,
        message_id: str = "",
        code: ResultCode | None = None,
        raw: str | None = None,
        detail: str = "",
        retry_after: float | None = None,
    ) -> None:
        self.message_id = message_id
        self.code = code
        self.raw = raw
        self.detail = detail
        self.retry_after = retry_after
        self.transient = code is not None and code.transient


class SmppConnector:
    """An ESME connector; see the module docstring. Build it with `build`."""

    def __init__(
        self, name: str, options: SmppOptions, *, clock: Clock | None = None
    ) -> None:
        self.name = name
        self.options = options
        self._clock: Clock = clock or SystemClock()
        self._limiter = RateLimiter(options.tps, hold=options.throttle_hold)
        self._references = itertools.count(random.randrange(0x10000))
        self._receipt_tz = zoneinfo.ZoneInfo(options.receipt_timezone)
        self._sink: ReportSink | None = None
        self._links: list[EsmeLink] = []
        self._submitter: EsmeLink | None = None
        #: Receipts read this turn, to be handed over at its end (`_hand_over`),
        #: and the commits of those handed over and not yet answered.
        self._arrived: list[tuple[Connection, int, ProviderReport]] = []
        self._in_hand: set[asyncio.Future[None]] = set()
        #: SMSC id → message id of the last one-part messages (`RECENT_IDS`).
        self._recent: dict[str, int] = {}
        #: Receipts refused to the SMSC since the start, and the last one's why.
        self._refused = 0
        self._last_refusal = ""

    # ------------------------------------------------------------ lifecycle

    async def start(self, sink: ReportSink) -> None:
        """Start binding; returns once the first try of each bind ended (bound or
        not: the links keep reconnecting on their own)."""
        self._sink = sink
        if self.options.transceiver:
            link = EsmeLink(
                self.name, self.options, "transceiver", on_deliver=self._deliver
            )
            self._links = [link]
        else:
            link = EsmeLink(
                self.name, self.options, "transmitter", on_deliver=self._deliver
            )
            receiver = EsmeLink(
                self.name, self.options, "receiver", on_deliver=self._deliver
            )
            self._links = [link, receiver]
        self._submitter = link
        for each in self._links:
            each.start()
        wait = self.options.connect_timeout + 2 * self.options.response_timeout
        try:
            await asyncio.wait_for(
                asyncio.gather(*(each.tried.wait() for each in self._links)), wait
            )
        except TimeoutError:
            pass

    async def stop(self) -> None:
        """Answer the receipts in hand, unbind, close."""
        timeout = self.options.response_timeout
        await asyncio.sleep(0)  # receipts read this turn are handed over
        if self._in_hand:
            await asyncio.wait(set(self._in_hand), timeout=timeout)
        await asyncio.gather(*(link.stop(timeout) for link in self._links))
        self._links = []
        self._submitter = None

    def health(self) -> Health:
        links = self._links
        if not links:
            return Health(up=False, detail="not started")
        up = all(link.bound for link in links)
        o = self.options
        if up:
            detail = f"bound {o.bind} to {o.host}:{o.port} as {o.system_id!r}"
        else:
            detail = "; ".join(
                f"{link.kind}: {link.last_error or 'binding'}"
                for link in links
                if not link.bound
            )
        if self._limiter.slowed and self._limiter.rate is not None:
            detail += f"; slowed to {self._limiter.rate:.0f}/s by the SMSC"
        return Health(
            up=up,
            detail=detail,
            in_flight=sum(link.in_flight for link in links),
            refused=self._refused,
            last_refusal=self._last_refusal,
        )

    # ------------------------------------------------------------ submit

    async def submit(self, messages: Sequence[Message]) -> Sequence[SubmitResult]:
        """Submit every message; one result each (see the module docstring).

        Raises:
            TransientConnectorError: no bind came up within ``connect_timeout``.
        """
        link = self._submitter
        if link is None:
            raise TransientConnectorError("the connector is not started")
        if not link.bound:
            try:
                await asyncio.wait_for(link.up.wait(), self.options.connect_timeout)
            except TimeoutError:
                raise TransientConnectorError(
                    f"{self.name}: not bound ({link.last_error})"
                ) from None
        return await self._submit_all(link, messages)

    async def _submit_all(
        self, link: EsmeLink, messages: Sequence[Message]
    ) -> list[SubmitResult]:
        """One-part messages go out at once while the window has free permits
        (`EsmeLink.send_now`: no coroutine or task each); from the first that finds
        the window full, and for messages of several parts, `_submit_one` (a task
        each, waiting in order for the window). A part the SMSC throttled goes
        again `_submit_part`'s way."""
        results: list[SubmitResult | None] = [None] * len(messages)
        sent: list[tuple[int, Message, outbound.Plan]] = []
        futures: list[asyncio.Future[pdus.Response]] = []
        waiting: list[tuple[int, Awaitable[SubmitResult]]] = []
        pace = self._limiter.reserve
        for i, message in enumerate(messages):
            planned = self._plan(message)
            if isinstance(planned, SubmitResult):
                results[i] = planned
            elif waiting or len(planned.parts) != 1:
                waiting.append((i, self._submit_planned(link, message, planned)))
            else:
                future = link.send_now(planned.parts[0], pace)
                if future is None:
                    waiting.append((i, self._submit_planned(link, message, planned)))
                else:
                    sent.append((i, message, planned))
                    futures.append(future)
        outcomes, done = await asyncio.gather(
            asyncio.gather(*futures, return_exceptions=True),
            asyncio.gather(*(c for _, c in waiting)),
        )
        again: list[tuple[int, Awaitable[SubmitResult]]] = []
        for (i, message, planned), outcome in zip(sent, outcomes, strict=True):
            part = self._part_of(outcome, message.id)
            if part is None:  # throttled: its re-submits go the waiting way
                retries = self.options.throttle_retries
                again.append(
                    (i, self._submit_planned(link, message, planned, tries=retries))
                )
            else:
                results[i] = self._result_of(message, planned, [part])
        for (i, _), result in zip(waiting, done, strict=True):
            results[i] = result
        if again:
            for (i, _), result in zip(
                again, await asyncio.gather(*(c for _, c in again)), strict=True
            ):
                results[i] = result
        return [r for r in results if r is not None]

    def _plan(self, message: Message) -> outbound.Plan | SubmitResult:
        """The message's submit_sm parts, or its refusal."""
        try:
            return outbound.plan(
                message,
                self.options,
                reference=next(self._references),
                now=self._clock.now(),
            )
        except outbound.Refused as exc:
            return SubmitResult(
                message_id=message.id,
                outcome=Outcome.REJECTED,
                code=exc.code,
                detail=exc.detail,
            )

    async def _submit_one(self, link: EsmeLink, message: Message) -> SubmitResult:
        planned = self._plan(message)
        if isinstance(planned, SubmitResult):
            return planned
        return await self._submit_planned(link, message, planned)

    async def _submit_planned(
        self,
        link: EsmeLink,
        message: Message,
        planned: outbound.Plan,
        *,
        tries: int | None = None,
    ) -> SubmitResult:
        if len(planned.parts) == 1:
            parts = [
                await self._submit_part(link, planned.parts[0], message.id, tries=tries)
            ]
        else:
            parts = list(
                await asyncio.gather(
                    *(self._submit_part(link, f, tries=tries) for f in planned.parts)
                )
            )
        return self._result_of(message, planned, parts)

    @staticmethod
    def _result_of(
        message: Message, planned: outbound.Plan, parts: Sequence[_Part]
    ) -> SubmitResult:
        failed = [part for part in parts if part.code is not None]
        if not failed:
            ids = tuple(part.message_id for part in parts)
            return SubmitResult(
                message_id=message.id,
                outcome=Outcome.ACCEPTED,
                provider_msg_id=ids[0],
                segments=planned.segments,
                segment_ids=ids,
            )
        permanent = [part for part in failed if not part.transient]
        worst = permanent[0] if permanent else failed[0]
        return SubmitResult(
            message_id=message.id,
            outcome=Outcome.REJECTED if permanent else Outcome.RETRY,
            code=worst.code,
            raw_code=worst.raw,
            detail=worst.detail,
            segments=planned.segments,
            retry_after=None if permanent else worst.retry_after,
        )

    async def _submit_part(
        self,
        link: EsmeLink,
        make: outbound.PartFactory,
        whole: int | None = None,
        *,
        tries: int | None = None,
    ) -> _Part:
        """Submit one part, up to ``tries`` times while the SMSC throttles (default:
        once and ``throttle_retries`` re-submits); ``whole``: the message id, when it
        is the message's only part (its SMSC id is then kept in `_recent`)."""
        options = self.options
        limiter = self._limiter
        if tries is None:
            tries = options.throttle_retries + 1
        for _ in range(tries):
            outcome: pdus.Response | BaseException
            try:
                outcome = await link.request(make, limiter.reserve)
            except (LinkDown, TimeoutError, LocalProtocolError) as exc:
                outcome = exc
            part = self._part_of(outcome, whole)
            if part is not None:
                return part
        return _Part(
            code=ResultCode.THROTTLED,
            raw=status_name(CommandStatus.RTHROTTLED),
            detail=f"still throttled after {options.throttle_retries} re-submits",
            retry_after=options.throttle_hold,
        )

    def _part_of(
        self, outcome: pdus.Response | BaseException, whole: int | None
    ) -> _Part | None:
        """How a part ended, from its submit_sm's response or the failure to get
        one; None when the SMSC throttled it (the route slows down, and the part is
        to be submitted again)."""
        if isinstance(outcome, BaseException):
            if isinstance(outcome, LinkDown):
                return _Part(code=ResultCode.CONNECTION_ERROR, detail=str(outcome))
            if isinstance(outcome, TimeoutError):
                return _Part(code=ResultCode.TIMEOUT, detail=str(outcome))
            if isinstance(outcome, LocalProtocolError):
                # A field that does not fit SMPP carries its command_status; any
                # other refusal is the session's state, which a new bind mends.
                code = (
                    ResultCode.CONTENT_REJECTED
                    if outcome.code is not None
                    else ResultCode.CONNECTION_ERROR
                )
                return _Part(code=code, detail=str(outcome))
            raise outcome
        status = outcome.status
        if status == CommandStatus.ROK and isinstance(outcome, pdus.SubmitSmResp):
            if whole is not None:
                recent = self._recent
                recent[outcome.message_id] = whole
                if len(recent) > RECENT_IDS:
                    del recent[next(iter(recent))]
            return _Part(message_id=outcome.message_id)
        if status in results.THROTTLING_STATUSES:
            self._limiter.throttled(asyncio.get_running_loop().time())
            return None
        if status == CommandStatus.ROK:  # a generic_nack without a status
            status = CommandStatus.RUNKNOWNERR
        return _Part(
            code=results.for_status(status, self.options.retry_statuses),
            raw=status_name(status),
            detail=f"submit_sm refused: {status_name(status)}",
        )

    # ------------------------------------------------------------ resume

    async def resume(self, messages: Sequence[Message]) -> None:
        """Ask the SMSC (query_sm) the state of SENT messages whose receipt did not
        come, and report the final ones. Only ``provider_msg_id`` (the first part)
        is asked; the other parts' receipts come as the SMSC sends them again."""
        link = self._submitter
        if link is None or not link.bound or self._sink is None:
            return
        await asyncio.gather(
            *(self._query(link, m) for m in messages if m.provider_msg_id),
            return_exceptions=True,
        )

    async def _query(self, link: EsmeLink, message: Message) -> None:
        assert message.provider_msg_id is not None and self._sink is not None
        o = self.options
        try:
            source = outbound.address(message.sender, o.source_ton)
        except ValueError:
            return
        make = functools.partial(
            pdus.QuerySm,
            message_id=message.provider_msg_id,
            source_addr_ton=o.source_ton,
            source_addr_npi=o.source_npi,
            source_addr=source,
        )
        try:
            resp = await link.request(make)
        except (LinkDown, TimeoutError, LocalProtocolError):
            return
        if not isinstance(resp, pdus.QuerySmResp) or not resp.ok:
            return
        try:
            state = MessageState(resp.message_state)
        except ValueError:
            return
        code = results.for_stat(state.stat)
        if code is None:
            return
        await self._sink.report(
            ProviderReport(
                connector=self.name,
                provider_msg_id=message.provider_msg_id,
                code=code,
                raw_code=f"{state.stat}/{resp.error_code:03d}",
                detail="query_sm",
            )
        )

    # ------------------------------------------------------------ receipts

    def _deliver(self, connection: Connection, deliver: pdus.DeliverSm) -> None:
        if deliver.esm_class & ESM_MESSAGE_TYPE_MASK != EsmClass.DELIVERY_RECEIPT:
            log.warning(
                "%s: a deliver_sm that is not a receipt (esm_class 0x%02X) has nowhere "
                "to go; refused",
                self.name,
                deliver.esm_class,
                extra={"event": "smpp.mo_refused", "route": self.name},
            )
            self._note_refusal("a deliver_sm that is not a receipt")
            connection.send(
                pdus.DeliverSmResp(
                    sequence=deliver.sequence, status=CommandStatus.RX_P_APPN
                )
            )
            return
        report = self._report_of(deliver)
        if report is None:
            self._note_refusal("a receipt without an id or a state")
            connection.send(
                pdus.DeliverSmResp(
                    sequence=deliver.sequence, status=CommandStatus.RX_P_APPN
                )
            )
            return
        if report is _NOT_FINAL:
            connection.send(pdus.DeliverSmResp(sequence=deliver.sequence))
            return
        # Handed over at the end of the turn, all of this turn's receipts together
        # (one commit to wait for, no task each).
        if not self._arrived:
            asyncio.get_running_loop().call_soon(self._hand_over)
        self._arrived.append((connection, deliver.sequence, report))

    def _report_of(self, deliver: pdus.DeliverSm) -> ProviderReport | None:
        """The report a receipt carries; `_NOT_FINAL` for ENROUTE; None when it
        cannot be read (logged)."""
        tlvs = deliver.tlvs
        raw = deliver.short_message or tlvs.message_payload or b""
        text = raw.decode("latin-1")
        parsed: receipt.Receipt | None
        try:
            parsed = receipt.parse(text)
        except receipt.NotAReceipt:
            parsed = None
        message_id = tlvs.receipted_message_id or (parsed.id if parsed else None)
        if tlvs.message_state is not None:
            stat = tlvs.message_state.stat
        elif parsed is not None:
            stat = parsed.stat
        else:
            stat = None
        if not message_id or stat is None:
            log.warning(
                "%s: a receipt without an id or a state: %r",
                self.name,
                text[:120],
                extra={"event": "smpp.receipt_unreadable", "route": self.name},
            )
            return None
        code = results.for_stat(stat, tlvs.network_error_code)
        if code is None:
            return _NOT_FINAL
        err = parsed.err if parsed is not None and parsed.err else "000"
        if tlvs.network_error_code is not None and (parsed is None or not parsed.err):
            err = f"{tlvs.network_error_code.error_code:03d}"
        done_at = (
            receipt.parse_date(parsed.done_date, self._receipt_tz)
            if parsed is not None
            else None
        )
        return ProviderReport(
            connector=self.name,
            provider_msg_id=message_id,
            code=code,
            raw_code=f"{stat}/{err}",
            detail=(
                f"network error {nec.network_type}/{nec.error_code}"
                if (nec := tlvs.network_error_code) is not None
                else ""
            ),
            done_at=done_at,
        )

    def _hand_over(self) -> None:
        """Hand this turn's receipts to the sink; each is answered once they are
        committed (ESME_ROK), or refused (ESME_RX_T_APPN) so that the SMSC sends
        it again.

        It runs a loop turn after the receipts were read: a submit_sm_resp read
        just before them (in the same TCP read) has been recorded in `_recent` by
        then, so a receipt right behind its resp names its message."""
        assert self._sink is not None
        arrived, self._arrived = self._arrived, []
        recent = self._recent
        reports = []
        for _, _, report in arrived:
            whole = recent.pop(report.provider_msg_id or "", None)
            if whole is not None:
                report = dataclasses.replace(report, message_id=whole)
            reports.append(report)
        sink = self._sink
        if isinstance(sink, QueueingSink):
            try:
                committed = sink.report_soon(reports)
            except Exception as exc:
                self._answer(arrived, exc)
                return
        else:
            committed = asyncio.ensure_future(sink.report_many(reports))
        self._in_hand.add(committed)

        def answer(fut: asyncio.Future[None]) -> None:
            self._in_hand.discard(fut)
            error = asyncio.CancelledError() if fut.cancelled() else fut.exception()
            self._answer(arrived, error)

        committed.add_done_callback(answer)

    def _answer(
        self,
        arrived: list[tuple[Connection, int, ProviderReport]],
        error: BaseException | None,
    ) -> None:
        status: int = CommandStatus.ROK
        if error is not None:
            status = CommandStatus.RX_T_APPN
            for _, _, report in arrived:
                log.warning(
                    "%s: the receipt of %s was refused, not recorded (%s); the SMSC "
                    "should send it again",
                    self.name,
                    report.provider_msg_id,
                    error,
                    extra={
                        "event": "smpp.report_failed",
                        "route": self.name,
                        "provider_msg_id": report.provider_msg_id,
                    },
                )
                self._note_refusal(f"receipt of {report.provider_msg_id}: {error}")
        for connection, sequence, _ in arrived:
            if not connection.alive:
                continue  # the session ended meanwhile: the SMSC sends it again
            try:
                connection.send(pdus.DeliverSmResp(sequence=sequence, status=status))
            except (LocalProtocolError, ConnectionError):
                pass

    def _note_refusal(self, why: str) -> None:
        self._refused += 1
        self._last_refusal = why[:200]


#: Marks a receipt that is not final (acknowledged, not reported).
_NOT_FINAL = ProviderReport(connector="", code=ResultCode.FAILED)
